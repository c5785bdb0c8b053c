// Package controller owns the telephony controller that a SaaS portal puts in
// front of the core (seed requirements S1, S4, S6-S9, S15): tenants' accounts
// under a master account per currency, lazy creation on first use after a
// licence check, SIP users, rented numbers, tariffs and the balance ledger,
// the signed REST API the portal talks to, and the export of an account to
// another server. It keeps its state in its own buckets of the platform's
// bbolt file. Call history, webhooks, alerts and support access live in its
// subpackages.
package controller

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors the controller's callers test with errors.Is; the API maps them to
// statuses and stable codes.
var (
	// ErrNotFound is also what a tenant gets for another tenant's things (S1:
	// existence is not leaked).
	ErrNotFound    = errors.New("not found")
	ErrInvalid     = errors.New("invalid")
	ErrConflict    = errors.New("conflict")
	ErrNoLicence   = errors.New("no valid licence")
	ErrIdempotency = errors.New("idempotency key reused for something else")
	// Refusals of a call (Authorize).
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrNotAllowed        = errors.New("destination not allowed for the account")
	ErrTooManyCalls      = errors.New("too many concurrent calls")
	ErrNoTariff          = errors.New("no tariff for the destination")
)

// Layout of the controller's buckets in the platform's bbolt file:
//
//	controller/meta                 "schema" -> uint32
//	controller/accounts             account id -> Account JSON
//	controller/balances             account id -> int64 Amount (the ledger's sum)
//	controller/ledger/<account>     seq (uint64) -> Entry JSON
//	controller/keys/<account>       idempotency key -> seq (uint64)
//	controller/sipusers             SIP login -> SIPUser JSON
//	controller/numbers              number (international digits) -> Number JSON
//	controller/numconfig            number -> the number's settings JSON, opaque
//	controller/tariffs              currency -> []Tariff JSON
//	controller/owned/<account>      "user/"+login, "number/"+number -> empty: what
//	                                an account has, so that listing it reads
//	                                its own things, not every tenant's
var (
	bucketRoot      = []byte("controller")
	bucketMeta      = []byte("meta")
	bucketAccounts  = []byte("accounts")
	bucketBalances  = []byte("balances")
	bucketLedger    = []byte("ledger")
	bucketKeys      = []byte("keys")
	bucketSIPUsers  = []byte("sipusers")
	bucketNumbers   = []byte("numbers")
	bucketNumConfig = []byte("numconfig")
	bucketTariffs   = []byte("tariffs")
	bucketOwned     = []byte("owned")
	keySchema       = []byte("schema")
)

// schemaVersion is the layout this code reads and writes.
const schemaVersion = 1

// DefaultCurrencies get a master account each unless Options say otherwise.
var DefaultCurrencies = []string{"RUB", "UAH", "USD", "EUR"}

// accountID is what a tenant's id may look like: it names directories of
// logs and recordings too.
var accountID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Options configure a Controller; the zero value works with the defaults.
type Options struct {
	// Currencies get a master account each (default DefaultCurrencies).
	Currencies []string
	// Licences checks a tenant's licence at its first use (S4); nil: no
	// tenant is created lazily.
	Licences LicenceVerifier
	// Rollouts records the scenario release of a new account (S11); nil:
	// none.
	Rollouts Rollouts
	// HA1 turns a SIP user's password into the digest hashes the registrar
	// keeps (sip.HA1 for MD5 and SHA-256 in the registrar's realm); it is
	// required to make SIP users.
	HA1 func(name, password string) (md5, sha256 string)
	// UserChanged is called after a SIP user's password changed or it was
	// disabled, so that the registrar drops its bindings at once (S7).
	UserChanged func(name string)
	// Sections are parts of an account's export kept by others (history,
	// scenario pins), by name.
	Sections []Section
	// DefaultLimits are a new account's limits.
	DefaultLimits Limits
	Now           func() time.Time
}

// Rollouts places an account on its scenario release (scenarios.Store.Resolve
// in vox serve).
type Rollouts interface {
	Place(ctx context.Context, account, trigger string) error
}

// Controller is the controller's state in the bbolt file and the calls it
// is authorizing.
type Controller struct {
	db   *bolt.DB
	opts Options

	mu    sync.Mutex
	calls map[string]*activeCall // by call id: authorized calls not yet charged
}

// Open prepares the controller's buckets in db and its master accounts.
func Open(db *bolt.DB, opts Options) (*Controller, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Currencies) == 0 {
		opts.Currencies = DefaultCurrencies
	}
	if opts.DefaultLimits.MaxConcurrentCalls == 0 {
		opts.DefaultLimits = DefaultLimits
	}
	c := &Controller{db: db, opts: opts, calls: map[string]*activeCall{}}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketMeta, bucketAccounts, bucketBalances, bucketLedger, bucketKeys, bucketSIPUsers, bucketNumbers, bucketNumConfig, bucketTariffs, bucketOwned} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := root.Bucket(bucketMeta)
		if v := meta.Get(keySchema); len(v) == 4 && binary.BigEndian.Uint32(v) > schemaVersion {
			return fmt.Errorf("the data file has controller schema %d; this Vox reads up to %d", binary.BigEndian.Uint32(v), schemaVersion)
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, schemaVersion)); err != nil {
			return err
		}
		for _, cur := range opts.Currencies {
			if err := c.ensureMaster(tx, cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open controller store: %w", err)
	}
	return c, nil
}

func root(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(bucketRoot) }

func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket { return root(tx).Bucket(name) }

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Kinds of things an account owns, prefixes of its owned keys.
const (
	ownedUser   = "user/"
	ownedNumber = "number/"
)

// own records that account has (or, with has false, no longer has) the
// thing kind+id.
func own(tx *bolt.Tx, account, kind, id string, has bool) error {
	b, err := bucket(tx, bucketOwned).CreateBucketIfNotExists([]byte(account))
	if err != nil {
		return err
	}
	if has {
		return b.Put([]byte(kind+id), nil)
	}
	return b.Delete([]byte(kind + id))
}

// owned calls each with the ids of account's things of kind, in order.
func owned(tx *bolt.Tx, account, kind string, each func(id string) error) error {
	b := bucket(tx, bucketOwned).Bucket([]byte(account))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	prefix := []byte(kind)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := each(string(k[len(prefix):])); err != nil {
			return err
		}
	}
	return nil
}
