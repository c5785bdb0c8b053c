package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
)

// The controller part of make bench (issue 8): signed API requests per
// second (a tenant's balance check, signature verified, nonce remembered,
// account read) against a bare net/http handler answering the same JSON
// over the same kind of connection; and ledger commits per second (a call's
// charge: tariff lookup, idempotency key, entry and balance in one
// transaction, fsync'd) against a bare bbolt write of one key in the same
// file. Both sides alternate in rounds so that the machine's moods weigh on
// both alike.
const (
	ctrlRounds  = 3
	ctrlWindow  = time.Second
	ctrlClients = 8
	ctrlAccount = "acme"
	ctrlKey     = "acme-licence-key-for-the-bench"
)

func benchController(out io.Writer) error {
	db, done, err := tempDB("vox-bench-controller-", nil)
	if err != nil {
		return err
	}
	defer done()
	c, err := controller.Open(db, controller.Options{HA1: func(name, password string) (string, string) {
		m, s := md5.Sum([]byte(name+":vox:"+password)), sha256.Sum256([]byte(name+":vox:"+password))
		return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
	}})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: ctrlAccount, Currency: "RUB", Key: ctrlKey}); err != nil {
		return err
	}
	if err := c.SetTariffs(ctx, "RUB", []controller.Tariff{{Prefix: "7", PerMinute: 1_500_000, Increment: 60}, {Prefix: "7495", PerMinute: 900_000, Increment: 1}}); err != nil {
		return err
	}
	if _, err := c.TopUp(ctx, ctrlAccount, 1_000_000*1_000_000, "topup:bench", ""); err != nil {
		return err
	}

	signed, stopSigned, err := serveOn(controller.NewHandler(c, controller.HandlerOptions{Log: slog.New(slog.DiscardHandler)}))
	if err != nil {
		return err
	}
	defer stopSigned()
	balanceJSON := []byte(`{"account":"acme","currency":"RUB","balance":"1000000.00"}` + "\n")
	bare, stopBare, err := serveOn(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(balanceJSON)
	}))
	if err != nil {
		return err
	}
	defer stopBare()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: ctrlClients}}
	tenant := controller.NewClient(signed, "", hc).AsTenant(ctrlAccount, []byte(ctrlKey), "")
	signedReq := func() error {
		return tenant.Do(ctx, "GET", "/accounts/"+ctrlAccount+"/balance", nil, nil)
	}
	bareReq := func() error {
		resp, err := hc.Get(bare + controller.APIPrefix + "/accounts/" + ctrlAccount + "/balance")
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}

	// The bare write: one key of an entry's size in a bucket of its own,
	// in the same file, fsync'd like the ledger's.
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("bench-bare")); return err }); err != nil {
		return err
	}
	entry := make([]byte, 200)
	var calls, bareKeys atomic.Uint64
	charge := func() error {
		_, err := c.Charge(ctx, fmt.Sprintf("call-%d", calls.Add(1)), ctrlAccount, "74951234567", 42*time.Second)
		return err
	}
	bareWrite := func() error {
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("bench-bare")).Put(fmt.Appendf(nil, "key-%d", bareKeys.Add(1)), entry)
		})
	}

	var apiVox, apiBare, ledgerVox, ledgerBare float64
	for r := -1; r < ctrlRounds; r++ { // round -1 warms up
		rates := [4]float64{}
		for i, op := range []struct {
			f       func() error
			clients int
		}{{bareReq, ctrlClients}, {signedReq, ctrlClients}, {bareWrite, 1}, {charge, 1}} {
			if rates[i], err = opsPerSecond(op.f, op.clients, ctrlWindow); err != nil {
				return err
			}
		}
		if r >= 0 {
			apiBare, apiVox = apiBare+rates[0], apiVox+rates[1]
			ledgerBare, ledgerVox = ledgerBare+rates[2], ledgerVox+rates[3]
		}
	}
	checked, _, err := c.Ledger(ctx, ctrlAccount, 0, 1)
	if err != nil || len(checked) == 0 {
		return fmt.Errorf("controller benchmark: the ledger is empty: %v", err)
	}
	fmt.Fprintf(out, "\ncontroller benchmark: %d rounds of %s per side, alternating; API with %d clients over keep-alive connections; commits one at a time, fsync'd\n",
		ctrlRounds, ctrlWindow, ctrlClients)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tvox\tbare\tvox/bare")
	fmt.Fprintf(w, "signed balance check vs bare net/http\t%s req/s\t%s req/s\t%.2f×\n", num(apiVox/ctrlRounds), num(apiBare/ctrlRounds), apiVox/apiBare)
	fmt.Fprintf(w, "ledger commit (call charge) vs bare bbolt write\t%s commits/s\t%s commits/s\t%.2f×\n", num(ledgerVox/ctrlRounds), num(ledgerBare/ctrlRounds), ledgerVox/ledgerBare)
	return w.Flush()
}

// serveOn serves h on a free port of 127.0.0.1 and returns its URL.
func serveOn(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// opsPerSecond runs op from clients goroutines for window and returns how
// many completed per second; the first error stops it.
func opsPerSecond(op func() error, clients int, window time.Duration) (float64, error) {
	var (
		done     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	deadline := time.Now().Add(window)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), firstErr
}

// tempDB is a bbolt file in a directory of its own, for one section; done
// closes it and removes the directory.
func tempDB(prefix string, opts *bolt.Options) (db *bolt.DB, done func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	db, err = bolt.Open(filepath.Join(dir, "vox.db"), 0o600, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }, nil
}
