package controller

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Entry is one change of a tenant's balance. Every entry has an idempotency
// key, unique in its account: posting the same key again (a retried top-up,
// a call charge delivered twice) returns the first entry and changes
// nothing. The balance is the sum of the entries.
type Entry struct {
	Seq     uint64    `json:"seq"`
	Key     string    `json:"key"`
	Kind    string    `json:"kind"`
	Amount  Amount    `json:"amount"`  // positive credits, negative debits
	Balance Amount    `json:"balance"` // after this entry
	At      time.Time `json:"at"`
	// Call, Destination and Seconds describe a call's charge.
	Call        string `json:"call,omitempty"`
	Destination string `json:"destination,omitempty"`
	Seconds     int    `json:"seconds,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Kinds of entries.
const (
	KindTopUp     = "topup"
	KindCall      = "call"
	KindNumberFee = "number_fee"
)

// maxKey bounds idempotency keys.
const maxKey = 200

// post appends e to account's ledger in tx unless its key is there; existed
// says it was. A key reused with another kind or amount is refused.
func post(tx *bolt.Tx, account string, e Entry) (Entry, bool, error) {
	if e.Key == "" || len(e.Key) > maxKey {
		return Entry{}, false, fmt.Errorf("idempotency key: %w: want 1-%d characters", ErrInvalid, maxKey)
	}
	keys, err := bucket(tx, bucketKeys).CreateBucketIfNotExists([]byte(account))
	if err != nil {
		return Entry{}, false, err
	}
	ledger, err := bucket(tx, bucketLedger).CreateBucketIfNotExists([]byte(account))
	if err != nil {
		return Entry{}, false, err
	}
	if seq := keys.Get([]byte(e.Key)); seq != nil {
		var old Entry
		if err := json.Unmarshal(ledger.Get(seq), &old); err != nil {
			return Entry{}, false, fmt.Errorf("ledger entry %x of %s is damaged: %w", seq, account, err)
		}
		if old.Kind != e.Kind || old.Amount != e.Amount {
			return old, true, fmt.Errorf("key %q is entry %d (%s %s): %w", e.Key, old.Seq, old.Kind, old.Amount, ErrIdempotency)
		}
		return old, true, nil
	}
	if e.Seq, err = ledger.NextSequence(); err != nil {
		return Entry{}, false, err
	}
	e.Balance = balance(tx, account) + e.Amount
	data, err := json.Marshal(e)
	if err != nil {
		return Entry{}, false, err
	}
	if err := ledger.Put(u64(e.Seq), data); err != nil {
		return Entry{}, false, err
	}
	if err := keys.Put([]byte(e.Key), u64(e.Seq)); err != nil {
		return Entry{}, false, err
	}
	return e, false, bucket(tx, bucketBalances).Put([]byte(account), u64(uint64(e.Balance)))
}

func balance(tx *bolt.Tx, account string) Amount {
	v := bucket(tx, bucketBalances).Get([]byte(account))
	if len(v) != 8 {
		return 0
	}
	return Amount(int64(binary.BigEndian.Uint64(v)))
}

// TopUp credits amount to account once per key.
func (c *Controller) TopUp(ctx context.Context, account string, amount Amount, key, note string) (Entry, error) {
	if amount <= 0 {
		return Entry{}, fmt.Errorf("top-up of %s: %w: want a positive amount", amount, ErrInvalid)
	}
	return c.postEntry(ctx, account, Entry{Key: key, Kind: KindTopUp, Amount: amount, Note: note})
}

func (c *Controller) postEntry(ctx context.Context, account string, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	e.At = c.opts.Now().UTC()
	err := c.db.Update(func(tx *bolt.Tx) error {
		if _, err := tenant(tx, account); err != nil {
			return err
		}
		var err error
		e, _, err = post(tx, account, e)
		return err
	})
	return e, err
}

// Balance is a tenant's balance in its currency.
type Balance struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Balance  Amount `json:"balance"`
}

// Balance returns account's balance.
func (c *Controller) Balance(ctx context.Context, account string) (Balance, error) {
	if err := ctx.Err(); err != nil {
		return Balance{}, err
	}
	var b Balance
	err := c.db.View(func(tx *bolt.Tx) error {
		a, err := tenant(tx, account)
		if err != nil {
			return err
		}
		b = Balance{Account: a.ID, Currency: a.Currency, Balance: balance(tx, account)}
		return nil
	})
	return b, err
}

// Ledger lists account's entries after seq after, at most limit (default
// 100); next is the after of the next page, 0 at the end.
func (c *Controller) Ledger(ctx context.Context, account string, after uint64, limit int) (list []Entry, next uint64, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	list = []Entry{}
	err = c.db.View(func(tx *bolt.Tx) error {
		if _, err := tenant(tx, account); err != nil {
			return err
		}
		ledger := bucket(tx, bucketLedger).Bucket([]byte(account))
		if ledger == nil {
			return nil
		}
		cur := ledger.Cursor()
		for k, v := cur.Seek(u64(after + 1)); k != nil; k, v = cur.Next() {
			if len(list) == limit {
				next = list[len(list)-1].Seq
				return nil
			}
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("ledger entry %x of %s is damaged: %w", k, account, err)
			}
			list = append(list, e)
		}
		return nil
	})
	return list, next, err
}
