// Package history owns call records (S5, S21): one record per finished call
// session, written once however often it is delivered, queried by account
// with filters and a cursor, exported as CSV and summed per day and month. It
// also keeps the calls' session logs (S13) for a configurable time. Records
// keep only the URL of a recording, never the audio (S17).
package history

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
)

// Directions of a call.
const (
	Incoming = "incoming"
	Outgoing = "outgoing"
)

// Statuses of a call.
const (
	Answered = "answered"
	Busy     = "busy"      // 486, 600
	NoAnswer = "no-answer" // 408, 480, 487: nobody picked up, or the caller gave up
	Rejected = "rejected"  // 603
	Failed   = "failed"    // anything else
)

// Devices on the far end of the call (S21).
const (
	Phone  = "PHONE"
	WebRTC = "WEBRTC"
)

// Record is one finished call session.
type Record struct {
	CallID    string    `json:"callId"`
	Account   string    `json:"account"`
	Direction string    `json:"direction"`
	From      string    `json:"from"` // international digits when it is a number (S18)
	To        string    `json:"to"`
	Start     time.Time `json:"start"`
	Duration  int64     `json:"duration"` // talk time, seconds
	Status    string    `json:"status"`
	Code      int       `json:"code"` // the SIP status that ended it (S24)
	// Cost is in millionths of the account's currency, as the controller's
	// ledger keeps money.
	Cost      int64   `json:"cost"`
	Device    string  `json:"device"`
	Quality   float64 `json:"quality,omitempty"` // MOS, 1 to 5; 0: not measured
	RecordURL string  `json:"recordUrl,omitempty"`
	Release   string  `json:"release"`
}

// StatusOf names the status of a call that ended with a SIP code.
func StatusOf(code int) string {
	switch {
	case code >= 200 && code < 300:
		return Answered
	case code == 486 || code == 600:
		return Busy
	case code == 408 || code == 480 || code == 487:
		return NoAnswer
	case code == 603:
		return Rejected
	}
	return Failed
}

var (
	accountPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	callIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	validStatus    = map[string]bool{Answered: true, Busy: true, NoAnswer: true, Rejected: true, Failed: true}
	validDirection = map[string]bool{Incoming: true, Outgoing: true}
)

// ValidCallID tells whether id can name a call (and its log file).
func ValidCallID(id string) bool { return callIDPattern.MatchString(id) }

func (r *Record) validate() error {
	switch {
	case !accountPattern.MatchString(r.Account):
		return fmt.Errorf("%w: account %q", ErrInvalid, r.Account)
	case !ValidCallID(r.CallID):
		return fmt.Errorf("%w: call id %q", ErrInvalid, r.CallID)
	case !validDirection[r.Direction]:
		return fmt.Errorf("%w: direction %q", ErrInvalid, r.Direction)
	case !validStatus[r.Status]:
		return fmt.Errorf("%w: status %q", ErrInvalid, r.Status)
	case r.Start.IsZero():
		return fmt.Errorf("%w: no start time", ErrInvalid)
	case r.Duration < 0 || r.Cost < 0:
		return fmt.Errorf("%w: negative duration or cost", ErrInvalid)
	}
	if r.Device == "" {
		r.Device = Phone
	}
	return nil
}

// Layout of the buckets:
//
//	history/calls/<account>  start (uint64 Unix ns) + call id -> Record JSON
//	history/ids/<account>    call id -> the key in calls
//	history/days/<account>   "2006-01-02" (UTC) -> Totals JSON
var (
	bucketRoot  = []byte("history")
	bucketCalls = []byte("calls")
	bucketIDs   = []byte("ids")
	bucketDays  = []byte("days")
)

// Store keeps call records in their own buckets of the platform's bbolt file.
type Store struct {
	db *bolt.DB
}

// Open makes the store's buckets in db when missing.
func Open(db *bolt.DB) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketCalls, bucketIDs, bucketDays} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open call history: %w", err)
	}
	return &Store{db: db}, nil
}

// Commit writes rec once: a record whose call id is already stored changes
// nothing, so a re-delivered record never counts twice. It reports whether
// rec was new.
func (s *Store) Commit(ctx context.Context, rec Record) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := rec.validate(); err != nil {
		return false, fmt.Errorf("commit call record: %w", err)
	}
	// A re-delivery is found by a read, without taking the writer's lock.
	var known bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketRoot).Bucket(bucketIDs).Bucket([]byte(rec.Account))
		known = ids != nil && ids.Get([]byte(rec.CallID)) != nil
		return nil
	})
	if err != nil || known {
		return false, err
	}
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		created, err = put(tx, rec)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("commit call record %s: %w", rec.CallID, err)
	}
	return created, nil
}

// CommitAll writes many records in one transaction (an imported history),
// each once; it reports how many were new.
func (s *Store) CommitAll(ctx context.Context, records []Record) (int, error) {
	for i := range records {
		if err := records[i].validate(); err != nil {
			return 0, fmt.Errorf("commit call record %d: %w", i, err)
		}
	}
	created := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, rec := range records {
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := put(tx, rec)
			if err != nil {
				return fmt.Errorf("call record %s: %w", rec.CallID, err)
			}
			if ok {
				created++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("commit call records: %w", err)
	}
	return created, nil
}

// put writes a validated record unless its call id is there, with its id
// index and its day's totals.
func put(tx *bolt.Tx, rec Record) (bool, error) {
	rec.Start = rec.Start.UTC()
	value, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	root := tx.Bucket(bucketRoot)
	ids, err := root.Bucket(bucketIDs).CreateBucketIfNotExists([]byte(rec.Account))
	if err != nil {
		return false, err
	}
	if ids.Get([]byte(rec.CallID)) != nil {
		return false, nil
	}
	calls, err := root.Bucket(bucketCalls).CreateBucketIfNotExists([]byte(rec.Account))
	if err != nil {
		return false, err
	}
	days, err := root.Bucket(bucketDays).CreateBucketIfNotExists([]byte(rec.Account))
	if err != nil {
		return false, err
	}
	key := callKey(rec.Start, rec.CallID)
	if err := calls.Put(key, value); err != nil {
		return false, err
	}
	if err := ids.Put([]byte(rec.CallID), key); err != nil {
		return false, err
	}
	day := []byte(rec.Start.Format(time.DateOnly))
	var t Totals
	if v := days.Get(day); v != nil {
		if err := json.Unmarshal(v, &t); err != nil {
			return false, fmt.Errorf("day %s: %w", day, err)
		}
	}
	t.add(rec)
	v, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	return true, days.Put(day, v)
}

func callKey(start time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(start.UnixNano()))
	return append(k, id...)
}

// Get returns the record of one call of the account.
func (s *Store) Get(ctx context.Context, account, callID string) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRoot)
		ids := root.Bucket(bucketIDs).Bucket([]byte(account))
		if ids == nil {
			return ErrNotFound
		}
		key := ids.Get([]byte(callID))
		if key == nil {
			return ErrNotFound
		}
		return json.Unmarshal(root.Bucket(bucketCalls).Bucket([]byte(account)).Get(key), &rec)
	})
	if err != nil {
		return Record{}, fmt.Errorf("call %s: %w", callID, err)
	}
	return rec, nil
}

// Filter selects records of one account. Zero fields select everything.
type Filter struct {
	Since, Until time.Time // Since <= start < Until
	Direction    string
	Status       string
	Number       string // the call's from or to
}

func (f Filter) validate() error {
	if f.Direction != "" && !validDirection[f.Direction] {
		return fmt.Errorf("%w: direction %q (incoming or outgoing)", ErrInvalid, f.Direction)
	}
	if f.Status != "" && !validStatus[f.Status] {
		return fmt.Errorf("%w: status %q (answered, busy, no-answer, rejected or failed)", ErrInvalid, f.Status)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("%w: the range ends before it starts", ErrInvalid)
	}
	return nil
}

func (f Filter) match(r *Record) bool {
	return (f.Direction == "" || r.Direction == f.Direction) &&
		(f.Status == "" || r.Status == f.Status) &&
		(f.Number == "" || r.From == f.Number || r.To == f.Number)
}

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query returns the account's records that match f, newest first, at most
// limit of them, after cursor (from an earlier page; "" for the first). next
// is the cursor of the following page, "" when there is none.
func (s *Store) Query(ctx context.Context, account string, f Filter, cursor string, limit int) (page []Record, next string, err error) {
	if err := f.validate(); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var after []byte
	if cursor != "" {
		if after, err = base64.RawURLEncoding.DecodeString(cursor); err != nil || len(after) < 8 {
			return nil, "", fmt.Errorf("%w: cursor %q", ErrInvalid, cursor)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		calls := tx.Bucket(bucketRoot).Bucket(bucketCalls).Bucket([]byte(account))
		if calls == nil {
			return nil
		}
		c := calls.Cursor()
		// Newest first: start below the cursor, else below Until, else at the end.
		var k, v []byte
		bound := after
		if bound == nil && !f.Until.IsZero() {
			bound = callKey(f.Until, "")
		}
		if bound == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(bound); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		var floor []byte
		if !f.Since.IsZero() {
			floor = callKey(f.Since, "")
		}
		for ; k != nil; k, v = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if floor != nil && bytes.Compare(k, floor) < 0 {
				return nil
			}
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			if !f.match(&r) {
				continue
			}
			if len(page) == limit {
				next = base64.RawURLEncoding.EncodeToString(callKey(page[len(page)-1].Start, page[len(page)-1].CallID))
				return nil
			}
			page = append(page, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("query calls of %s: %w", account, err)
	}
	return page, next, nil
}

// Totals are the sums of a period's calls.
type Totals struct {
	Period   string `json:"period"` // "2026-11-26" or "2026-11"
	Calls    int64  `json:"calls"`
	Answered int64  `json:"answered"`
	Seconds  int64  `json:"seconds"`
	Cost     int64  `json:"cost"`
}

func (t *Totals) add(r Record) {
	t.Calls++
	if r.Status == Answered {
		t.Answered++
	}
	t.Seconds += r.Duration
	t.Cost += r.Cost
}

// Periods of Stats.
const (
	Day   = "day"
	Month = "month"
)

// Stats sums the account's calls per day or per month (UTC) from since up to
// until (whole days), oldest first; periods without calls are left out.
func (s *Store) Stats(ctx context.Context, account, period string, since, until time.Time) ([]Totals, error) {
	if period != Day && period != Month {
		return nil, fmt.Errorf("%w: period %q (day or month)", ErrInvalid, period)
	}
	var out []Totals
	err := s.db.View(func(tx *bolt.Tx) error {
		days := tx.Bucket(bucketRoot).Bucket(bucketDays).Bucket([]byte(account))
		if days == nil {
			return nil
		}
		c := days.Cursor()
		k, v := c.First()
		if !since.IsZero() {
			k, v = c.Seek([]byte(since.UTC().Format(time.DateOnly)))
		}
		for ; k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !until.IsZero() && string(k) >= until.UTC().Format(time.DateOnly) {
				break
			}
			var t Totals
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("day %s: %w", k, err)
			}
			t.Period = string(k)
			if period == Month {
				t.Period = t.Period[:7]
			}
			if n := len(out); n > 0 && out[n-1].Period == t.Period {
				out[n-1].Calls += t.Calls
				out[n-1].Answered += t.Answered
				out[n-1].Seconds += t.Seconds
				out[n-1].Cost += t.Cost
				continue
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statistics of %s: %w", account, err)
	}
	return out, nil
}

// FormatCost writes a cost in millionths as a decimal: "1.5", "0.000125".
func FormatCost(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", c%1_000_000), "0")
	if frac == "" {
		return fmt.Sprintf("%s%d", sign, c/1_000_000)
	}
	return fmt.Sprintf("%s%d.%s", sign, c/1_000_000, frac)
}
