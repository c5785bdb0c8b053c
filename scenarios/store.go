package scenarios

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Layout of the scenarios buckets in the platform's bbolt file:
//
//	scenarios/meta            "schema" -> schema version (uint32, big endian)
//	scenarios/apps/<app>/releases    release number (uint32, big endian) -> Release JSON
//	scenarios/apps/<app>/meta        "policy" -> Policy JSON, "published" -> newest non-draft release
//	scenarios/apps/<app>/placements  account -> Placement JSON
var (
	bucketRoot       = []byte("scenarios")
	bucketMeta       = []byte("meta")
	bucketApps       = []byte("apps")
	bucketReleases   = []byte("releases")
	bucketPlacements = []byte("placements")
	keySchema        = []byte("schema")
	keyPolicy        = []byte("policy")
	keyPublished     = []byte("published")
)

// SchemaVersion is the layout this code reads and writes.
const SchemaVersion = 1

// Migration upgrades the buckets from one schema version to the next inside the
// transaction that opens the store.
type Migration func(tx *bolt.Tx, root *bolt.Bucket) error

// migrations[v] upgrades version v to v+1. Version 0 is an empty file.
var migrations = map[int]Migration{
	0: func(tx *bolt.Tx, root *bolt.Bucket) error {
		_, err := root.CreateBucketIfNotExists(bucketApps)
		return err
	},
}

// Options tune a Store. The zero value works but checks nothing but structure.
type Options struct {
	Compile Compiler
	Warn    Warner
	Now     func() time.Time
}

// Store is the scenarios' part of the bbolt file.
type Store struct {
	db         *bolt.DB
	opts       Options
	cache      releaseCache
	placements placementCache
}

// update is db.Update for every write to the store's buckets: whatever it
// changed, Resolve's cached placements are forgotten.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	defer s.placements.invalidate()
	return s.db.Update(fn)
}

// Open prepares the scenarios buckets in db, migrating them to SchemaVersion. A
// file written by a newer Vox is refused rather than misread.
func Open(db *bolt.DB, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		meta, err := root.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		version := 0
		if v := meta.Get(keySchema); len(v) == 4 {
			version = int(binary.BigEndian.Uint32(v))
		}
		if version > SchemaVersion {
			return fmt.Errorf("the data file has scenarios schema %d; this Vox reads up to %d", version, SchemaVersion)
		}
		for ; version < SchemaVersion; version++ {
			if err := migrations[version](tx, root); err != nil {
				return fmt.Errorf("migrate scenarios schema %d to %d: %w", version, version+1, err)
			}
		}
		return meta.Put(keySchema, u32(SchemaVersion))
	})
	if err != nil {
		return nil, fmt.Errorf("open scenarios store: %w", err)
	}
	return &Store{db: db, opts: opts}, nil
}

func u32(n int) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(n))
	return b
}

func apps(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(bucketRoot).Bucket(bucketApps) }

func appBucket(tx *bolt.Tx, app string) (*bolt.Bucket, error) {
	b := apps(tx).Bucket([]byte(app))
	if b == nil {
		return nil, fmt.Errorf("application %q: %w", app, ErrNotFound)
	}
	return b, nil
}

// PushResult is a stored release and what was worth warning about.
type PushResult struct {
	Release  *Release `json:"release"`
	Warnings []string `json:"warnings,omitempty"`
}

// Push validates p and stores it as the application's next release, in one
// transaction: a crash leaves either the whole release or none of it.
func (s *Store) Push(ctx context.Context, p Push) (*PushResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	warnings, err := p.validate(s.opts.Compile, s.opts.Warn)
	if err != nil {
		return nil, err
	}
	rel := &Release{App: p.App, Files: p.Files, Rules: p.Rules, Author: p.Author, Message: p.Message, Created: s.opts.Now().UTC(), Draft: p.Draft}
	err = s.update(func(tx *bolt.Tx) error {
		app, err := apps(tx).CreateBucketIfNotExists([]byte(p.App))
		if err != nil {
			return err
		}
		releases, err := app.CreateBucketIfNotExists(bucketReleases)
		if err != nil {
			return err
		}
		if _, err := app.CreateBucketIfNotExists(bucketPlacements); err != nil {
			return err
		}
		if _, err := app.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		rel.Number = lastNumber(releases) + 1
		data, err := json.Marshal(rel)
		if err != nil {
			return err
		}
		if err := releases.Put(u32(rel.Number), data); err != nil {
			return err
		}
		if p.Draft {
			return nil
		}
		if err := app.Bucket(bucketMeta).Put(keyPublished, u32(rel.Number)); err != nil {
			return err
		}
		policy, err := readPolicy(app)
		if err != nil {
			return err
		}
		policy = policy.afterPush()
		if p.Canary > 0 {
			policy = policy.withCanary(p.Canary, rel.Number)
		}
		return writePolicy(app, policy)
	})
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", p.App, err)
	}
	return &PushResult{Release: rel, Warnings: warnings}, nil
}

// published is the newest release that is not a draft: what "latest" means to
// the rollout. 0 when there is none.
func published(app *bolt.Bucket) int {
	if v := app.Bucket(bucketMeta).Get(keyPublished); len(v) == 4 {
		return int(binary.BigEndian.Uint32(v))
	}
	return 0
}

func lastNumber(releases *bolt.Bucket) int {
	k, _ := releases.Cursor().Last()
	if len(k) != 4 {
		return 0
	}
	return int(binary.BigEndian.Uint32(k))
}

// Release returns release n of app, or its latest published release when n is 0.
func (s *Store) Release(ctx context.Context, app string, n int) (*Release, error) {
	var rel *Release
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := appBucket(tx, app)
		if err != nil {
			return err
		}
		if n == 0 {
			n = published(b)
		}
		rel, err = readRelease(b.Bucket(bucketReleases), app, n)
		return err
	})
	return rel, err
}

func readRelease(releases *bolt.Bucket, app string, n int) (*Release, error) {
	data := releases.Get(u32(n))
	if data == nil {
		return nil, fmt.Errorf("release %s@%d: %w", app, n, ErrNotFound)
	}
	var rel Release
	if err := json.Unmarshal(data, &rel); err != nil {
		return nil, fmt.Errorf("release %s@%d is damaged: %w", app, n, err)
	}
	return &rel, nil
}

// ReleaseSummary is a release without its sources, for listings.
type ReleaseSummary struct {
	App     string    `json:"app"`
	Number  int       `json:"number"`
	Files   int       `json:"files"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Created time.Time `json:"created"`
	Draft   bool      `json:"draft,omitempty"`
}

// Releases lists app's releases newest first, at most limit of them, starting
// below the release number before (0: from the newest). next is the cursor for
// the following page, 0 when there is none.
func (s *Store) Releases(ctx context.Context, app string, before, limit int) (list []ReleaseSummary, next int, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b, err := appBucket(tx, app)
		if err != nil {
			return err
		}
		c := b.Bucket(bucketReleases).Cursor()
		var k, v []byte
		if before > 0 {
			c.Seek(u32(before))
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			if len(list) == limit {
				next = int(binary.BigEndian.Uint32(k)) + 1
				break
			}
			var rel Release
			if err := json.Unmarshal(v, &rel); err != nil {
				return fmt.Errorf("release %s@%d is damaged: %w", app, binary.BigEndian.Uint32(k), err)
			}
			list = append(list, ReleaseSummary{App: rel.App, Number: rel.Number, Files: len(rel.Files), Author: rel.Author, Message: rel.Message, Created: rel.Created, Draft: rel.Draft})
		}
		return nil
	})
	return list, next, err
}

// AppSummary is one application in a listing.
type AppSummary struct {
	Name     string `json:"name"`
	Releases int    `json:"releases"`
	Latest   int    `json:"latest"` // newest published (non-draft) release
	Policy   Policy `json:"policy"`
}

// Apps lists the applications by name.
func (s *Store) Apps(ctx context.Context) ([]AppSummary, error) {
	var out []AppSummary
	err := s.db.View(func(tx *bolt.Tx) error {
		return apps(tx).ForEachBucket(func(name []byte) error {
			b := apps(tx).Bucket(name)
			policy, err := readPolicy(b)
			if err != nil {
				return err
			}
			out = append(out, AppSummary{Name: string(name), Releases: lastNumber(b.Bucket(bucketReleases)), Latest: published(b), Policy: policy})
			return nil
		})
	})
	return out, err
}
