package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/internal/crashtest"
)

// The controller's crash test (issue 8): vox serve runs as a child process
// (this test binary, turned into it by TestMain) under a load of signed
// top-ups from the parent and call charges of its own, and is killed with
// kill -9 at a random moment, 30 times over one data directory. After every
// kill the parent reopens the file: every top-up the server answered and
// every charge the child reported committed is in the ledger, no key twice,
// and the balance is the ledger's sum. Top-ups whose answer the kill cut off
// are retried with their key in the next round, and the child re-delivers
// charges of the round before, so retries and re-deliveries meet entries
// that may or may not have been committed; at the end every top-up sent is
// in the ledger exactly once.
const (
	crashChildEnv = "VOX_SERVE_CRASH_DATA"  // set in the child: its data directory
	crashRoundEnv = "VOX_SERVE_CRASH_ROUND" // the child's round, naming its calls
	crashSeedEnv  = "VOX_SERVE_CRASH_SEED"  // repeats a run's delays
	crashRounds   = 30
	// maxCrashDelay bounds how long the load runs before the kill.
	maxCrashDelay = 80 * time.Millisecond
	// crashTopUp is each top-up's amount; crashDestination is where every
	// charged call went (Moscow, by the second in the demo tariffs).
	crashTopUp       = controller.Amount(1_000_000)
	crashDestination = "74951234567"
	crashSenders     = 4
)

// TestMain turns the test binary into vox serve for the crash test when the
// environment says so.
func TestMain(m *testing.M) {
	if args := os.Getenv(serveChildEnv); args != "" {
		os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	crashtest.RunChild(crashChildEnv, func(data string) error { return crashChild(data, os.Getenv(crashRoundEnv)) })
	os.Exit(m.Run())
}

// crashCall is the duration of a call by its number: a re-delivered charge
// has the same duration, hence the same amount.
func crashCall(n int) time.Duration { return time.Duration(1+n%90) * time.Second }

// crashChild starts vox serve on data and charges calls until it is killed,
// printing "ready URL" once it serves and "charged ID" after each charge is
// committed. Each call of the round before is charged again, once per five.
func crashChild(data, round string) error {
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler), Out: io.Discard})
	if err != nil {
		return err
	}
	r, err := strconv.Atoi(round)
	if err != nil {
		return err
	}
	// Unbuffered: every line written before the kill is in the pipe.
	fmt.Fprintf(os.Stdout, "ready http://%s\n", srv.addr)
	ctx := context.Background()
	for n := 0; ; n++ {
		id := fmt.Sprintf("r%d-c%d", r, n)
		if _, err := srv.ctrl.Charge(ctx, id, demoAccount, crashDestination, crashCall(n)); err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "charged %s\n", id)
		if n%5 == 0 && r > 0 {
			again := fmt.Sprintf("r%d-c%d", r-1, n/5)
			if _, err := srv.ctrl.Charge(ctx, again, demoAccount, crashDestination, crashCall(n/5)); err != nil {
				return err
			}
		}
	}
}

// startCrashChild starts vox serve on data for round; it is killed with
// killCrashChild.
func startCrashChild(t *testing.T, data string, round int) *crashtest.Child {
	t.Helper()
	return crashtest.Start(t, crashChildEnv+"="+data, crashRoundEnv+"="+strconv.Itoa(round))
}

// killCrashChild kills the child with SIGKILL and returns the calls it
// reported charged.
func killCrashChild(t *testing.T, child *crashtest.Child) []string {
	t.Helper()
	var charged []string
	for _, line := range child.Kill(t) {
		if id, ok := strings.CutPrefix(line, "charged "); ok {
			charged = append(charged, id)
		}
	}
	return charged
}

// topUps sends the keys' top-ups signed as the demo tenant, crashSenders at a
// time, until stop is closed or the keys run out; it returns the keys the
// server answered.
func topUps(c *controller.Client, keys []string, stop <-chan struct{}) []string {
	var (
		mu   sync.Mutex
		done []string
		wg   sync.WaitGroup
	)
	next := make(chan string)
	go func() {
		defer close(next)
		for _, k := range keys {
			select {
			case next <- k:
			case <-stop:
				return
			}
		}
	}()
	for range crashSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.Do(ctx, "POST", "/accounts/"+demoAccount+"/topups", controller.TopUpRequest{Amount: crashTopUp, IdempotencyKey: k}, nil)
				cancel()
				if err == nil {
					mu.Lock()
					done = append(done, k)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return done
}

func TestLedgerSurvivesKill9(t *testing.T) {
	rng := crashtest.Rand(t, crashSeedEnv)
	data := t.TempDir()

	var (
		sent      []string // top-up keys sent, in order
		committed = map[string]bool{}
		charged   = map[string]bool{}
		licence   string
	)
	pending := func() []string {
		var out []string
		for _, k := range sent {
			if !committed[k] {
				out = append(out, k)
			}
		}
		return out
	}
	for round := 0; round < crashRounds; round++ {
		child := startCrashChild(t, data, round)
		if licence == "" {
			licence = demoLicenceKey(t, data)
		}
		client := controller.NewClient(child.Ready, "", nil).AsTenant(demoAccount, []byte(licence), "")
		// Retries of the answers a kill cut off first, then new top-ups.
		keys := pending()
		for i := range 200 {
			k := fmt.Sprintf("r%d-t%d", round, i)
			keys = append(keys, k)
			sent = append(sent, k)
		}
		stop := make(chan struct{})
		answered := make(chan []string)
		go func() { answered <- topUps(client, keys, stop) }()
		delay := time.Duration(rng.Int64N(int64(maxCrashDelay)))
		time.Sleep(delay)
		calls := killCrashChild(t, child)
		close(stop)
		done := <-answered
		for _, k := range done {
			committed[k] = true
		}
		for _, id := range calls {
			charged[id] = true
		}
		entries := checkLedger(t, data, committed, charged)
		t.Logf("round %d: killed after %v; %d top-ups answered, %d calls charged; the ledger holds %d entries", round, delay, len(done), len(calls), entries)
	}
	// A last run without a kill: every top-up whose answer was cut off is
	// retried and must then be there exactly once.
	child := startCrashChild(t, data, crashRounds)
	client := controller.NewClient(child.Ready, "", nil).AsTenant(demoAccount, []byte(licence), "")
	retry := pending()
	done := topUps(client, retry, make(chan struct{}))
	for _, id := range killCrashChild(t, child) {
		charged[id] = true
	}
	if len(done) != len(retry) {
		t.Fatalf("%d of %d retried top-ups were answered", len(done), len(retry))
	}
	for _, k := range done {
		committed[k] = true
	}
	checkLedger(t, data, committed, charged)
	db := openCrashFile(t, data)
	defer db.Close()
	c, err := controller.Open(db, controller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := allEntries(c)
	if err != nil {
		t.Fatal(err)
	}
	topups := 0
	for _, e := range entries {
		if e.Kind == controller.KindTopUp && e.Key != "topup:demo-welcome" {
			topups++
		}
	}
	if topups != len(sent) {
		t.Errorf("the ledger holds %d top-ups; %d were sent, each must be there once", topups, len(sent))
	}
	t.Logf("%d top-ups sent over %d kills, each in the ledger once; %d calls charged", len(sent), crashRounds, len(charged))
}

func demoLicenceKey(t *testing.T, data string) string {
	t.Helper()
	_, listed, _, err := licences(data)
	if err != nil || len(listed) == 0 {
		t.Fatalf("licences: %v", err)
	}
	return listed[0].Key
}

func openCrashFile(t *testing.T, data string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(data, dbFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	return db
}

func allEntries(c *controller.Controller) ([]controller.Entry, error) {
	var all []controller.Entry
	after := uint64(0)
	for {
		page, next, err := c.Ledger(context.Background(), demoAccount, after, 1000)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == 0 {
			return all, nil
		}
		after = next
	}
}

// checkLedger reopens the data file as vox serve would and checks the demo
// account's ledger against what was committed; it returns the entries.
func checkLedger(t *testing.T, data string, committed, charged map[string]bool) int {
	t.Helper()
	db := openCrashFile(t, data)
	defer db.Close()
	crashtest.CheckBolt(t, db)
	c, err := controller.Open(db, controller.Options{})
	if err != nil {
		t.Fatalf("open the controller after kill: %v", err)
	}
	entries, err := allEntries(c)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var sum controller.Amount
	for i, e := range entries {
		if seen[e.Key] {
			t.Fatalf("key %s is in the ledger twice", e.Key)
		}
		seen[e.Key] = true
		sum += e.Amount
		if e.Balance != sum || e.Seq != uint64(i+1) {
			t.Fatalf("entry %d (seq %d) says balance %s; the sum is %s", i, e.Seq, e.Balance, sum)
		}
		if e.Kind == controller.KindTopUp && e.Amount != crashTopUp && e.Key != "topup:demo-welcome" {
			t.Fatalf("top-up %s of %s", e.Key, e.Amount)
		}
	}
	for k := range committed {
		if !seen["topup:"+k] {
			t.Fatalf("top-up %s was answered but is not in the ledger", k)
		}
	}
	for id := range charged {
		if !seen["call:"+id] {
			t.Fatalf("call %s was charged but is not in the ledger", id)
		}
	}
	b, err := c.Balance(context.Background(), demoAccount)
	if err != nil || b.Balance != sum {
		t.Fatalf("balance %s, the ledger's sum %s (%v)", b.Balance, sum, err)
	}
	return len(entries)
}
