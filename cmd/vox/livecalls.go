package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/controller/history"
	"vox/numbers"
	"vox/runtime"
)

// liveCalls marks the sessions in progress in the data file, so that a
// server that dies mid-call (kill -9, a power cut) still gives the tenant
// a record of each: the next start turns what is marked into failed
// records. A session that ends normally unmarks itself once its record is
// committed; since records are idempotent by call id, a mark left by a
// crash between the two adds nothing.
type liveCalls struct {
	db   *bolt.DB
	hist *history.Store
}

var liveCallsBucket = []byte("live_calls")

// liveCall is what is known of a call when its session starts.
type liveCall struct {
	Account   string    `json:"account"`
	Direction string    `json:"direction"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Start     time.Time `json:"start"`
}

// mark notes that cs's session is starting now. It returns once the mark is
// committed; calls starting together share the commit (bbolt's Batch, whose
// function may run twice: a Put is the same either way), so that at hundreds
// of calls a second each start does not wait its turn for a sync of its own.
func (l *liveCalls) mark(cs runtime.CallStart, now time.Time) error {
	c := liveCall{Account: cs.Account, Direction: history.Outgoing, To: cs.Destination, Start: now.UTC()}
	if cs.Incoming != nil {
		c.Direction, c.From = history.Incoming, cs.Incoming.CallerID
	}
	value, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = l.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(liveCallsBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(cs.Info.SessionID), value)
	})
	if err != nil {
		return fmt.Errorf("mark call %s live: %w", cs.Info.SessionID, err)
	}
	return nil
}

// unmark forgets a session that ended. Unmarks of calls ending together
// share a commit (bbolt's Batch): nothing waits for them, and a mark left
// by a crash before its commit only repeats a record already there.
func (l *liveCalls) unmark(sessionID string) error {
	err := l.db.Batch(func(tx *bolt.Tx) error {
		if b := tx.Bucket(liveCallsBucket); b != nil {
			return b.Delete([]byte(sessionID))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unmark call %s: %w", sessionID, err)
	}
	return nil
}

// recover records every call still marked, which a previous run did not
// see end, as failed (500: the server failed it), and unmarks it. It runs
// at start, before any call is taken. country says how an account writes
// numbers.
func (l *liveCalls) recover(ctx context.Context, country func(string) string) (int, error) {
	marked := map[string]liveCall{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(liveCallsBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c liveCall
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("live call %s: %w", k, err)
			}
			marked[string(k)] = c
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read live calls: %w", err)
	}
	for id, c := range marked {
		pref := numbers.Preference{Country: country(c.Account)}
		rec := history.Record{
			CallID: id, Account: c.Account, Direction: c.Direction,
			From: normalised(c.From, pref), To: normalised(c.To, pref), Start: c.Start,
			Status: history.Failed, Code: 500, Device: history.Phone,
		}
		if _, err := l.hist.Commit(ctx, rec); err != nil {
			return 0, err
		}
		if err := l.unmark(id); err != nil {
			return 0, err
		}
	}
	return len(marked), nil
}

// accountCountry says how an account's people write numbers, as the
// controller knows it.
func accountCountry(ctrl *controller.Controller) func(string) string {
	return func(account string) string {
		a, err := ctrl.Account(context.Background(), account)
		if err != nil {
			return ""
		}
		return a.Country
	}
}
