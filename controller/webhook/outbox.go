// Package webhook owns what the controller tells tenants' portals (S8, S21):
// the StartCall, HangupCall and AddCallHistory events and low-balance alerts,
// queued durably in bbolt and delivered signed, at least once, with retries
// that back off; and the synchronous incoming-call lookup that asks a portal
// who answers a call. A portal that is down delays only its own events: calls
// and other tenants never wait for it.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers test with errors.Is.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNoPortal = errors.New("the account has no portal")
	ErrTimeout  = errors.New("the portal did not answer in time")
)

// The events of S21, and the alert of S14.
const (
	StartCall      = "StartCall"
	HangupCall     = "HangupCall"
	AddCallHistory = "AddCallHistory"
	LowBalance     = "LowBalance"
)

// Event is one webhook: the JSON body a portal receives.
type Event struct {
	// ID is the same on every delivery of the event, so the portal can drop
	// a repeat (delivery is at least once).
	ID      string          `json:"id"`
	Type    string          `json:"event"`
	Account string          `json:"account"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

var (
	eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,160}$`)
	typePattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}$`)
)

// MaxData bounds an event's data.
const MaxData = 64 << 10

// Portal is where an account's webhooks go and the key they are signed with.
type Portal struct {
	URL string
	Key []byte
}

// Portals tells where an account's portal is; ErrNoPortal when it has none.
type Portals interface {
	Portal(ctx context.Context, account string) (Portal, error)
}

// Signer signs a request with body under key (controller/signature.Sign).
type Signer func(req *http.Request, body, key []byte) error

// Options configure an Outbox; zero values get the defaults written here.
type Options struct {
	Portals Portals
	Sign    Signer
	Client  *http.Client // default: http.Client with no timeout of its own
	Logger  *slog.Logger
	Now     func() time.Time
	// Timeout bounds one delivery attempt (default 10 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry: it doubles
	// from MinBackoff with each failure, up to MaxBackoff, and a random part
	// (jitter) spreads retries of many events (defaults 1 s and 10 min).
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long an event is retried before it is given up and kept
	// among the dead (default 72 h).
	MaxAge time.Duration
	// Workers is how many deliveries run at once (default 16), and
	// PerAccount how many of them one account may have (default 2): a dead
	// portal holds at most that many.
	Workers, PerAccount int
	// LookupTimeout bounds the incoming-call lookup (default 3 s): the
	// caller hears ringing meanwhile, and the scenario falls back after it.
	LookupTimeout time.Duration
}

// Layout of the buckets:
//
//	webhook/queue  event id -> item JSON
//	webhook/due    due (uint64 Unix ns) + account + 0 + event id -> nothing: the delivery order
//	webhook/dead   event id -> item JSON, given up
var (
	bucketRoot  = []byte("webhook")
	bucketQueue = []byte("queue")
	bucketDue   = []byte("due")
	bucketDead  = []byte("dead")
)

// item is an event in the queue with its delivery state.
type item struct {
	Event     Event     `json:"event"`
	Attempts  int       `json:"attempts"`
	Due       time.Time `json:"due"`
	LastError string    `json:"lastError,omitempty"`
}

// Outbox is the durable queue of webhooks and the loop that delivers them.
type Outbox struct {
	db   *bolt.DB
	opts Options
	wake chan struct{}

	mu       sync.Mutex
	inFlight map[string]bool // event ids being delivered
	perAcct  map[string]int
}

// Open makes the outbox's buckets in db when missing.
func Open(db *bolt.DB, opts Options) (*Outbox, error) {
	if opts.Portals == nil || opts.Sign == nil {
		return nil, errors.New("open webhook outbox: Portals and Sign are required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 72 * time.Hour
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.PerAccount <= 0 {
		opts.PerAccount = 2
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = 3 * time.Second
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketQueue, bucketDue, bucketDead} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open webhook outbox: %w", err)
	}
	return &Outbox{db: db, opts: opts, wake: make(chan struct{}, 1), inFlight: map[string]bool{}, perAcct: map[string]int{}}, nil
}

// NewEventID makes a random event id.
func NewEventID() string { return rand.Text() }

// Enqueue commits ev to the queue; it returns once the event is on disk. An
// event without an ID gets a random one; one whose ID is already queued is
// not queued twice. It returns the event's ID.
func (o *Outbox) Enqueue(ctx context.Context, ev Event) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ev.ID == "" {
		ev.ID = NewEventID()
	}
	switch {
	case !eventIDPattern.MatchString(ev.ID):
		return "", fmt.Errorf("queue webhook: %w: event id %q", ErrInvalid, ev.ID)
	case !typePattern.MatchString(ev.Type):
		return "", fmt.Errorf("queue webhook: %w: event %q", ErrInvalid, ev.Type)
	case ev.Account == "" || strings.ContainsRune(ev.Account, 0):
		return "", fmt.Errorf("queue webhook: %w: account %q", ErrInvalid, ev.Account)
	case len(ev.Data) > MaxData:
		return "", fmt.Errorf("queue webhook: %w: data over %d bytes", ErrInvalid, MaxData)
	case len(ev.Data) > 0 && !json.Valid(ev.Data):
		return "", fmt.Errorf("queue webhook: %w: data is not JSON", ErrInvalid)
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage("{}")
	}
	now := o.opts.Now().UTC()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	it := item{Event: ev, Due: now}
	value, err := json.Marshal(it)
	if err != nil {
		return "", fmt.Errorf("queue webhook: %w", err)
	}
	err = o.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		queue := root.Bucket(bucketQueue)
		if queue.Get([]byte(ev.ID)) != nil {
			return nil
		}
		if err := queue.Put([]byte(ev.ID), value); err != nil {
			return err
		}
		return root.Bucket(bucketDue).Put(dueKey(it.Due, ev.Account, ev.ID), nil)
	})
	if err != nil {
		return "", fmt.Errorf("queue webhook %s: %w", ev.Type, err)
	}
	o.poke()
	return ev.ID, nil
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// dueKey orders the queue by due time and names the event's account, so
// that a dispatch passes over the events of accounts at their share without
// reading them.
func dueKey(t time.Time, account, id string) []byte {
	k := make([]byte, 8, 9+len(account)+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	k = append(k, account...)
	k = append(k, 0)
	return append(k, id...)
}

// parseDueKey is dueKey's inverse.
func parseDueKey(k []byte) (due time.Time, account, id string, ok bool) {
	if len(k) < 9 {
		return time.Time{}, "", "", false
	}
	account, id, ok = strings.Cut(string(k[8:]), "\x00")
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))), account, id, ok
}

// Counts tells how many events wait in the queue and how many were given up.
func (o *Outbox) Counts() (queued, dead int, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		queued = root.Bucket(bucketQueue).Stats().KeyN
		dead = root.Bucket(bucketDead).Stats().KeyN
		return nil
	})
	return queued, dead, err
}

// Run delivers queued events until ctx ends, events queued before a restart
// included. Deliveries in flight when ctx ends are cut; they stay queued and
// go out after the next start.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := o.dispatch(ctx, &wg)
		wait := time.Second
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(o.opts.Now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// dispatch starts deliveries of the events that are due, as far as the
// workers and each account's share allow, and returns when the next event not
// started is due (zero when none waits).
func (o *Outbox) dispatch(ctx context.Context, wg *sync.WaitGroup) time.Time {
	now := o.opts.Now()
	var start []item
	var next time.Time
	err := o.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		queue := root.Bucket(bucketQueue)
		c := root.Bucket(bucketDue).Cursor()
		o.mu.Lock()
		defer o.mu.Unlock()
		busy := len(o.inFlight)
		for k, _ := c.First(); k != nil && busy < o.opts.Workers; k, _ = c.Next() {
			due, acct, id, ok := parseDueKey(k)
			if !ok {
				return fmt.Errorf("due key %x is damaged", k)
			}
			if due.After(now) {
				next = due
				break
			}
			if o.inFlight[id] || o.perAcct[acct] >= o.opts.PerAccount {
				continue
			}
			var it item
			if err := json.Unmarshal(queue.Get([]byte(id)), &it); err != nil {
				return fmt.Errorf("event %s: %w", id, err)
			}
			busy++
			o.inFlight[id] = true
			o.perAcct[acct]++
			start = append(start, it)
		}
		return nil
	})
	if err != nil {
		o.opts.Logger.Error("webhook queue", "err", err)
	}
	for _, it := range start {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.deliver(ctx, it)
		}()
	}
	return next
}

// deliver makes one attempt and records its outcome.
func (o *Outbox) deliver(ctx context.Context, it item) {
	defer func() {
		o.mu.Lock()
		delete(o.inFlight, it.Event.ID)
		if o.perAcct[it.Event.Account]--; o.perAcct[it.Event.Account] <= 0 {
			delete(o.perAcct, it.Event.Account)
		}
		o.mu.Unlock()
		o.poke()
	}()
	err := o.post(ctx, it.Event)
	if ctx.Err() != nil {
		return // shutting down: the event stays queued as it was
	}
	it.Attempts++
	if err == nil {
		o.finish(it, false)
		return
	}
	it.LastError = err.Error()
	var perm *permanentError
	expired := o.opts.Now().Sub(it.Event.Time) > o.opts.MaxAge
	if errors.As(err, &perm) || expired {
		o.opts.Logger.Warn("webhook given up", "event", it.Event.Type, "id", it.Event.ID, "account", it.Event.Account, "attempts", it.Attempts, "err", err)
		o.finish(it, true)
		return
	}
	// An account without a portal (yet) is the usual state of a tenant that
	// has not set one: its events wait for it without a line per retry.
	level := slog.LevelInfo
	if errors.Is(err, ErrNoPortal) {
		level = slog.LevelDebug
	}
	o.opts.Logger.Log(ctx, level, "webhook will be retried", "event", it.Event.Type, "id", it.Event.ID, "account", it.Event.Account, "attempts", it.Attempts, "err", err)
	o.retry(it)
}

// permanentError is a portal's refusal that a retry cannot change (a 4xx).
type permanentError struct{ status int }

func (e *permanentError) Error() string {
	return fmt.Sprintf("the portal refused the event: HTTP %d", e.status)
}

// post sends ev to its account's portal, signed.
func (o *Outbox) post(ctx context.Context, ev Event) error {
	portal, err := o.opts.Portals.Portal(ctx, ev.Account)
	if err != nil {
		return fmt.Errorf("portal of %s: %w", ev.Account, err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.opts.Timeout)
	defer cancel()
	resp, err := o.send(ctx, portal, ev, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return &permanentError{status: resp.StatusCode}
	}
	return fmt.Errorf("the portal answered HTTP %d", resp.StatusCode)
}

// send posts body to the portal signed as ev's.
func (o *Outbox) send(ctx context.Context, portal Portal, ev Event, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, portal.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("portal URL %q: %w", portal.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Vox-Account", ev.Account)
	req.Header.Set("X-Vox-Event", ev.Type)
	req.Header.Set("X-Vox-Event-Id", ev.ID)
	if err := o.opts.Sign(req, body, portal.Key); err != nil {
		return nil, err
	}
	return o.opts.Client.Do(req)
}

// finish removes a delivered or given-up event from the queue, keeping a
// given-up one among the dead.
func (o *Outbox) finish(it item, dead bool) {
	err := o.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		if err := root.Bucket(bucketDue).Delete(dueKey(it.Due, it.Event.Account, it.Event.ID)); err != nil {
			return err
		}
		if err := root.Bucket(bucketQueue).Delete([]byte(it.Event.ID)); err != nil {
			return err
		}
		if !dead {
			return nil
		}
		v, err := json.Marshal(it)
		if err != nil {
			return err
		}
		return root.Bucket(bucketDead).Put([]byte(it.Event.ID), v)
	})
	if err != nil {
		o.opts.Logger.Error("webhook queue", "id", it.Event.ID, "err", err)
	}
}

// retry puts the event back with its next due time.
func (o *Outbox) retry(it item) {
	old := dueKey(it.Due, it.Event.Account, it.Event.ID)
	it.Due = o.opts.Now().Add(o.backoff(it.Attempts)).UTC()
	v, err := json.Marshal(it)
	if err == nil {
		err = o.db.Update(func(tx *bolt.Tx) error {
			root := tx.Bucket(bucketRoot)
			due := root.Bucket(bucketDue)
			if err := due.Delete(old); err != nil {
				return err
			}
			if err := due.Put(dueKey(it.Due, it.Event.Account, it.Event.ID), nil); err != nil {
				return err
			}
			return root.Bucket(bucketQueue).Put([]byte(it.Event.ID), v)
		})
	}
	if err != nil {
		o.opts.Logger.Error("webhook queue", "id", it.Event.ID, "err", err)
	}
}

// backoff is the wait after the n-th failed attempt: MinBackoff doubled n-1
// times, capped at MaxBackoff, of which a random half is taken away so that
// many events failing together do not retry together.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.opts.MinBackoff
	for i := 1; i < n && d < o.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.opts.MaxBackoff)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}
