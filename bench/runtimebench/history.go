package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/history"
)

// The call history's part of make bench (issue 8): call-record commits per
// second (the id index checked, the record, its index and the day's totals
// written in one transaction, fsync'd) against a bare bbolt write of one key
// of the record's size in the same file, alternating in rounds like the
// controller's section.
func benchHistory(out io.Writer) error {
	db, done, err := tempDB("vox-bench-history-", nil)
	if err != nil {
		return err
	}
	defer done()
	store, err := history.Open(db)
	if err != nil {
		return err
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("bench-bare")); return err }); err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var calls, bareKeys atomic.Uint64
	record := func(n uint64) history.Record {
		return history.Record{
			CallID: fmt.Sprintf("call-%d", n), Account: "acme", Direction: history.Incoming,
			From: "79112233444", To: "74954451120", Start: start.Add(time.Duration(n) * time.Second),
			Duration: 42, Status: history.Answered, Code: 200, Cost: 630_000, Device: history.Phone,
			RecordURL: "http://127.0.0.1:8080/records/acme/0123456789abcdef.wav", Release: "standard@3",
		}
	}
	commit := func() error {
		created, err := store.Commit(ctx, record(calls.Add(1)))
		if err == nil && !created {
			err = fmt.Errorf("history benchmark: a new record was taken for a repeat")
		}
		return err
	}
	value := make([]byte, 300) // about a record's JSON
	bareWrite := func() error {
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("bench-bare")).Put(fmt.Appendf(nil, "key-%d", bareKeys.Add(1)), value)
		})
	}
	var vox, bare float64
	for r := -1; r < ctrlRounds; r++ { // round -1 warms up
		b, err := opsPerSecond(bareWrite, 1, ctrlWindow)
		if err != nil {
			return err
		}
		v, err := opsPerSecond(commit, 1, ctrlWindow)
		if err != nil {
			return err
		}
		if r >= 0 {
			vox, bare = vox+v, bare+b
		}
	}
	// A re-delivery is a read-only check of the id.
	again := calls.Load() / 2
	redelivered, err := opsPerSecond(func() error {
		_, err := store.Commit(ctx, record(again))
		return err
	}, 1, ctrlWindow)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncall history benchmark: %d rounds of %s per side, alternating; commits one at a time, fsync'd\n", ctrlRounds, ctrlWindow)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tvox\tbare\tvox/bare")
	fmt.Fprintf(w, "call-record commit vs bare bbolt write\t%s commits/s\t%s commits/s\t%.2f×\n", num(vox/ctrlRounds), num(bare/ctrlRounds), vox/bare)
	fmt.Fprintf(w, "re-delivered record (no write) vs bare bbolt write\t%s /s\t%s commits/s\t%.2f×\n", num(redelivered), num(bare/ctrlRounds), redelivered/(bare/ctrlRounds))
	return w.Flush()
}
