// Package support owns support staff's access to a tenant's data (S16): the
// tenant grants a time-limited, read-only consent; staff read the account
// and its call logs only while it holds; every attempt, allowed or not, lands
// in an audit log the tenant reads.
package support

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers test with errors.Is.
var (
	// ErrNoConsent: no consent, or it expired or was revoked. The API
	// answers 404, as for an account that does not exist.
	ErrNoConsent = errors.New("no support consent")
	ErrInvalid   = errors.New("invalid")
)

// MaxConsent bounds how long one consent lasts.
const MaxConsent = 30 * 24 * time.Hour

// Consent is a tenant's permission for support to read its data.
type Consent struct {
	Account string    `json:"account"`
	Granted time.Time `json:"granted"`
	Expires time.Time `json:"expires"`
	Note    string    `json:"note,omitempty"` // why: the tenant's ticket
}

// Entry is one line of an account's audit log.
type Entry struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Staff   string    `json:"staff"`
	Action  string    `json:"action"` // what was read: "account", "calls", "log CALL_ID"
	Allowed bool      `json:"allowed"`
}

// Layout:
//
//	support/consents         account -> Consent JSON
//	support/audit/<account>  seq (uint64) -> Entry JSON
var (
	bucketRoot     = []byte("support")
	bucketConsents = []byte("consents")
	bucketAudit    = []byte("audit")
)

var staffPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Service keeps consents and the audit log in their own buckets.
type Service struct {
	db  *bolt.DB
	now func() time.Time
}

// Open makes the buckets in db when missing; now is the clock (nil:
// time.Now).
func Open(db *bolt.DB, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(bucketConsents); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketAudit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open support access: %w", err)
	}
	return &Service{db: db, now: now}, nil
}

// Grant lets support read the account's data for d from now, replacing any
// earlier consent.
func (s *Service) Grant(ctx context.Context, account string, d time.Duration, note string) (Consent, error) {
	if err := ctx.Err(); err != nil {
		return Consent{}, err
	}
	if d <= 0 || d > MaxConsent {
		return Consent{}, fmt.Errorf("%w: a consent lasts from a minute to %d days", ErrInvalid, int(MaxConsent/(24*time.Hour)))
	}
	if len(note) > 500 {
		return Consent{}, fmt.Errorf("%w: the note is over 500 bytes", ErrInvalid)
	}
	now := s.now().UTC()
	c := Consent{Account: account, Granted: now, Expires: now.Add(d), Note: note}
	v, err := json.Marshal(c)
	if err != nil {
		return Consent{}, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketConsents).Put([]byte(account), v)
	})
	if err != nil {
		return Consent{}, fmt.Errorf("grant support access to %s: %w", account, err)
	}
	return c, nil
}

// Revoke ends the account's consent now.
func (s *Service) Revoke(ctx context.Context, account string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketConsents).Delete([]byte(account))
	})
	if err != nil {
		return fmt.Errorf("revoke support access to %s: %w", account, err)
	}
	return nil
}

// Consent returns the account's consent in force, or ErrNoConsent.
func (s *Service) Consent(ctx context.Context, account string) (Consent, error) {
	var c Consent
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = consentIn(tx, account, s.now())
		return err
	})
	return c, err
}

func consentIn(tx *bolt.Tx, account string, now time.Time) (Consent, error) {
	v := tx.Bucket(bucketRoot).Bucket(bucketConsents).Get([]byte(account))
	if v == nil {
		return Consent{}, ErrNoConsent
	}
	var c Consent
	if err := json.Unmarshal(v, &c); err != nil {
		return Consent{}, fmt.Errorf("consent of %s: %w", account, err)
	}
	if !now.Before(c.Expires) {
		return Consent{}, ErrNoConsent
	}
	return c, nil
}

// Access asks, for staff, to read what action names of account: it is
// allowed only under a consent in force, and logged either way, in the same
// transaction, so no read goes unaudited.
func (s *Service) Access(ctx context.Context, staff, account, action string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !staffPattern.MatchString(staff) {
		return fmt.Errorf("%w: staff name %q", ErrInvalid, staff)
	}
	now := s.now().UTC()
	var allowed error
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, allowed = consentIn(tx, account, now)
		if allowed != nil && !errors.Is(allowed, ErrNoConsent) {
			return allowed
		}
		audit, err := tx.Bucket(bucketRoot).Bucket(bucketAudit).CreateBucketIfNotExists([]byte(account))
		if err != nil {
			return err
		}
		seq, err := audit.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(Entry{Seq: seq, At: now, Staff: staff, Action: action, Allowed: allowed == nil})
		if err != nil {
			return err
		}
		return audit.Put(binary.BigEndian.AppendUint64(nil, seq), v)
	})
	if err != nil {
		return fmt.Errorf("support access to %s: %w", account, err)
	}
	if allowed != nil {
		return fmt.Errorf("%s: %w", account, allowed)
	}
	return nil
}

// Audit lists the account's audit log after seq after, oldest first, at most
// limit entries (default 100); next is the after of the next page, 0 at the
// end.
func (s *Service) Audit(ctx context.Context, account string, after uint64, limit int) (list []Entry, next uint64, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	list = []Entry{}
	err = s.db.View(func(tx *bolt.Tx) error {
		audit := tx.Bucket(bucketRoot).Bucket(bucketAudit).Bucket([]byte(account))
		if audit == nil {
			return nil
		}
		c := audit.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil; k, v = c.Next() {
			if len(list) == limit {
				next = list[len(list)-1].Seq
				return nil
			}
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			list = append(list, e)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("audit log of %s: %w", account, err)
	}
	return list, next, nil
}
