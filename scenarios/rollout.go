package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Policy says which release an account gets (S11). With no pins and no Stable,
// every account gets the latest release: "latest", the default.
type Policy struct {
	// Stable is the release accounts outside the canary get; 0 means the latest.
	// A rollback sets it.
	Stable int `json:"stable,omitempty"`
	// CanaryPercent of accounts, chosen by a stable hash of the account id, get
	// the latest release while the others stay on Stable.
	CanaryPercent int `json:"canary_percent,omitempty"`
	// Pins hold single accounts on a release whatever else the policy says.
	Pins map[string]int `json:"pins,omitempty"`
}

// Mode names the policy for people: "latest", "canary 10%", "rollback to 8".
func (p Policy) Mode() string {
	switch {
	case p.Stable == 0:
		return "latest"
	case p.CanaryPercent > 0:
		return fmt.Sprintf("canary %d%% (others on %d)", p.CanaryPercent, p.Stable)
	default:
		return fmt.Sprintf("rollback to %d", p.Stable)
	}
}

// effective is the release account should run when latest is the newest.
func (p Policy) effective(account string, latest int) int {
	if n, ok := p.Pins[account]; ok {
		return n
	}
	if p.Stable == 0 {
		return latest
	}
	if p.CanaryPercent > 0 && CanaryBucket(account) < p.CanaryPercent {
		return latest
	}
	return p.Stable
}

// afterPush is the policy once a new release exists: a canary goes on offering
// the newest release to its share; otherwise (latest, or a rollback that the new
// release supersedes) everyone moves to it.
func (p Policy) afterPush() Policy {
	if p.CanaryPercent == 0 {
		p.Stable = 0
	}
	return p
}

// withCanary offers the latest release to percent of accounts; the others stay on
// what they get now. From "latest", that is the release before the latest. 100%
// ends the canary: everyone gets the latest.
func (p Policy) withCanary(percent, latest int) Policy {
	if percent >= 100 {
		p.Stable, p.CanaryPercent = 0, 0
		return p
	}
	if p.Stable == 0 {
		p.Stable = max(latest-1, 1)
	}
	p.CanaryPercent = percent
	return p
}

// CanaryBucket places an account in 0..99 by a hash of its id that never changes,
// so an account stays in or out of a canary from call to call.
func CanaryBucket(account string) int {
	h := fnv.New32a()
	h.Write([]byte(account))
	return int(h.Sum32() % 100)
}

func readPolicy(app *bolt.Bucket) (Policy, error) {
	var p Policy
	meta := app.Bucket(bucketMeta)
	if meta == nil {
		return p, nil
	}
	if data := meta.Get(keyPolicy); data != nil {
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("rollout policy is damaged: %w", err)
		}
	}
	return p, nil
}

func writePolicy(app *bolt.Bucket, p Policy) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return app.Bucket(bucketMeta).Put(keyPolicy, data)
}

// changePolicy applies change to app's policy in one transaction.
func (s *Store) changePolicy(ctx context.Context, app string, change func(p Policy, app *bolt.Bucket) (Policy, error)) (Policy, error) {
	if err := ctx.Err(); err != nil {
		return Policy{}, err
	}
	var out Policy
	err := s.update(func(tx *bolt.Tx) error {
		b, err := appBucket(tx, app)
		if err != nil {
			return err
		}
		p, err := readPolicy(b)
		if err != nil {
			return err
		}
		if out, err = change(p, b); err != nil {
			return err
		}
		return writePolicy(b, out)
	})
	return out, err
}

func mustExist(b *bolt.Bucket, app string, n int) error {
	if n < 1 || b.Bucket(bucketReleases).Get(u32(n)) == nil {
		return fmt.Errorf("release %s@%d: %w", app, n, ErrNotFound)
	}
	return nil
}

// Rollback makes release n current for everyone not pinned, and ends a canary.
// Accounts move to it lazily, on their next call.
func (s *Store) Rollback(ctx context.Context, app string, n int) (Policy, error) {
	return s.changePolicy(ctx, app, func(p Policy, b *bolt.Bucket) (Policy, error) {
		if err := mustExist(b, app, n); err != nil {
			return p, err
		}
		rel, err := readRelease(b.Bucket(bucketReleases), app, n)
		if err != nil {
			return p, err
		}
		if rel.Draft {
			return p, fmt.Errorf("release %s@%d is a draft: %w: pin an account to it, or push it without --draft", app, n, ErrInvalid)
		}
		if n == published(b) {
			n = 0 // rolling "back" to the latest is the latest policy
		}
		p.Stable, p.CanaryPercent = n, 0
		return p, nil
	})
}

// Canary offers the latest release to percent (0-100) of accounts.
func (s *Store) Canary(ctx context.Context, app string, percent int) (Policy, error) {
	if percent < 0 || percent > 100 {
		return Policy{}, fmt.Errorf("canary share %d%%: %w: want 0 to 100", percent, ErrInvalid)
	}
	return s.changePolicy(ctx, app, func(p Policy, b *bolt.Bucket) (Policy, error) {
		return p.withCanary(percent, published(b)), nil
	})
}

// Pin holds account on release n; n == 0 removes the pin.
func (s *Store) Pin(ctx context.Context, account, app string, n int) (Policy, error) {
	if account == "" {
		return Policy{}, fmt.Errorf("pin: %w: no account", ErrInvalid)
	}
	return s.changePolicy(ctx, app, func(p Policy, b *bolt.Bucket) (Policy, error) {
		pins := make(map[string]int, len(p.Pins)+1)
		for k, v := range p.Pins {
			pins[k] = v
		}
		if n == 0 {
			delete(pins, account)
		} else {
			if err := mustExist(b, app, n); err != nil {
				return p, err
			}
			pins[account] = n
		}
		p.Pins = pins
		return p, nil
	})
}

// Triggers of a resolution (S11): what the account was doing when it moved.
const (
	TriggerIncoming = "incoming call"
	TriggerOutgoing = "outgoing call"
	TriggerBalance  = "balance check"
	TriggerDev      = "vox dev"
)

// Placement records which release an account runs and when it last moved.
type Placement struct {
	Account  string    `json:"account"`
	Release  int       `json:"release"`
	Previous int       `json:"previous,omitempty"`
	At       time.Time `json:"at"`
	Trigger  string    `json:"trigger"`
}

// Resolve returns the release account's call should run, moving the account to
// it now if the policy says it should have moved (S11: lazily, when the account
// places or receives a call or checks its balance; never in a mass update). The
// move is recorded with its time and trigger.
func (s *Store) Resolve(ctx context.Context, account, app, trigger string) (*Release, *Placement, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	key := placementKey{account, app}
	if placement, ok := s.placements.get(key); ok {
		rel, err := s.cachedRelease(ctx, app, placement.Release)
		if err != nil {
			return nil, nil, err
		}
		return rel, &placement, nil
	}
	gen := s.placements.generation()
	var (
		placement Placement
		moved     bool
	)
	read := func(tx *bolt.Tx) error {
		placement, moved = Placement{}, false
		b, err := appBucket(tx, app)
		if err != nil {
			return err
		}
		policy, err := readPolicy(b)
		if err != nil {
			return err
		}
		want := policy.effective(account, published(b))
		if want == 0 {
			return fmt.Errorf("application %q has no published release: %w", app, ErrNotFound)
		}
		if data := b.Bucket(bucketPlacements).Get([]byte(account)); data != nil {
			if err := json.Unmarshal(data, &placement); err != nil {
				return fmt.Errorf("placement of %s is damaged: %w", account, err)
			}
		}
		moved = placement.Release != want
		if moved {
			placement = Placement{Account: account, Release: want, Previous: placement.Release, At: s.opts.Now().UTC(), Trigger: trigger}
		}
		return nil
	}
	if err := s.db.View(read); err != nil {
		return nil, nil, fmt.Errorf("resolve %s for %s: %w", app, account, err)
	}
	if moved {
		// Most calls find the account where it was; only a move writes, and
		// the write decides again inside its own transaction in case a push or
		// rollback happened in between.
		err := s.update(func(tx *bolt.Tx) error {
			if err := read(tx); err != nil {
				return err
			}
			if !moved {
				return nil
			}
			data, err := json.Marshal(placement)
			if err != nil {
				return err
			}
			b, _ := appBucket(tx, app)
			return b.Bucket(bucketPlacements).Put([]byte(account), data)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("resolve %s for %s: %w", app, account, err)
		}
	}
	rel, err := s.cachedRelease(ctx, app, placement.Release)
	if err != nil {
		return nil, nil, err
	}
	s.placements.put(gen, key, placement)
	return rel, &placement, nil
}

// placementCache keeps what Resolve found for each account, so that a call
// whose account has not moved costs no transaction and no JSON decoding. An
// entry holds while the store is not written (Store.update), which is when
// nothing it was decided from can have changed: the policy, the releases
// and the placement are the store's, and the decision depends on nothing
// else.
type placementCache struct {
	mu sync.Mutex
	// gen counts the writes; a Resolve that read before one must not
	// cache what it read.
	gen uint64
	m   map[placementKey]Placement
}

type placementKey struct{ account, app string }

// maxCachedPlacements bounds the cache, which is cleared when full.
const maxCachedPlacements = 100_000

func (c *placementCache) get(k placementKey) (Placement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[k]
	return p, ok
}

func (c *placementCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps p for k, unless the store was written since gen.
func (c *placementCache) put(gen uint64, k placementKey, p Placement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedPlacements {
		c.m = make(map[placementKey]Placement)
	}
	c.m[k] = p
}

func (c *placementCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// releaseCache keeps decoded releases: they never change, and decoding a release
// of a 3000-line scenario on every call would cost more than the lookup.
type releaseCache struct {
	mu sync.Mutex
	m  map[releaseKey]*Release
}

type releaseKey struct {
	app string
	n   int
}

// maxCachedReleases bounds the cache; it is cleared when full, which is cheap
// next to how rarely that happens.
const maxCachedReleases = 512

func (s *Store) cachedRelease(ctx context.Context, app string, n int) (*Release, error) {
	key := releaseKey{app, n}
	s.cache.mu.Lock()
	rel, ok := s.cache.m[key]
	s.cache.mu.Unlock()
	if ok {
		return rel, nil
	}
	rel, err := s.Release(ctx, app, n)
	if err != nil {
		return nil, err
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.cache.m == nil || len(s.cache.m) >= maxCachedReleases {
		s.cache.m = map[releaseKey]*Release{}
	}
	s.cache.m[key] = rel
	return rel, nil
}

// Rollout reports where an application's accounts are (vox scenario rollout).
type Rollout struct {
	App      string         `json:"app"`
	Latest   int            `json:"latest"`
	Mode     string         `json:"mode"`
	Policy   Policy         `json:"policy"`
	Releases []ReleaseCount `json:"releases"`
	Accounts int            `json:"accounts"`
	// Untouched counts the accounts not seen since the latest release was
	// pushed; they move when they next call. UntouchedSample names some.
	Untouched       int      `json:"untouched"`
	UntouchedSample []string `json:"untouched_sample,omitempty"`
}

// ReleaseCount is how many accounts sit on a release.
type ReleaseCount struct {
	Release  int `json:"release"`
	Accounts int `json:"accounts"`
}

const untouchedSample = 20

// Rollout counts app's accounts per release.
func (s *Store) Rollout(ctx context.Context, app string) (*Rollout, error) {
	out := &Rollout{App: app}
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := appBucket(tx, app)
		if err != nil {
			return err
		}
		out.Latest = published(b)
		if out.Policy, err = readPolicy(b); err != nil {
			return err
		}
		out.Mode = out.Policy.Mode()
		latest, err := readRelease(b.Bucket(bucketReleases), app, out.Latest)
		if err != nil {
			return err
		}
		counts := map[int]int{}
		err = b.Bucket(bucketPlacements).ForEach(func(k, v []byte) error {
			var p Placement
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("placement of %s is damaged: %w", k, err)
			}
			out.Accounts++
			counts[p.Release]++
			if p.At.Before(latest.Created) {
				out.Untouched++
				if len(out.UntouchedSample) < untouchedSample {
					out.UntouchedSample = append(out.UntouchedSample, p.Account)
				}
			}
			return nil
		})
		out.Releases = sortedCounts(counts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rollout of %s: %w", app, err)
	}
	return out, nil
}

func sortedCounts(counts map[int]int) []ReleaseCount {
	dst := make([]ReleaseCount, 0, len(counts))
	for n, c := range counts {
		dst = append(dst, ReleaseCount{Release: n, Accounts: c})
	}
	sort.Slice(dst, func(i, j int) bool { return dst[i].Release > dst[j].Release })
	return dst
}
