package history

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/webhook"
	"vox/internal/crashtest"
)

// The call records' crash test (issue 8): a child process (this test binary,
// turned into it by TestMain) commits call records from several goroutines,
// re-delivers some of the round before's, and queues a webhook for each; the
// parent kills it with kill -9 at a random moment, 30 times over one file.
// After every kill: every record the child reported committed is there, none
// twice, the daily totals equal the records, and bbolt's check passes. At the
// end, an outbox started on the file delivers every webhook the child
// reported queued to a real HTTP portal.
const (
	crashFileEnv  = "VOX_HISTORY_CRASH_FILE"
	crashRoundEnv = "VOX_HISTORY_CRASH_ROUND"
	crashSeedEnv  = "VOX_HISTORY_CRASH_SEED"
	crashRounds   = 30
	maxCrashDelay = 80 * time.Millisecond
	crashWorkers  = 4
	crashAccount  = "acme"
)

func TestMain(m *testing.M) {
	crashtest.RunChild(crashFileEnv, func(path string) error { return crashChild(path, os.Getenv(crashRoundEnv)) })
	os.Exit(m.Run())
}

// crashRecord is call n of round r; a re-delivery is the same record.
func crashRecord(r, w, n int) Record {
	return Record{
		CallID: fmt.Sprintf("r%d-w%d-c%d", r, w, n), Account: crashAccount, Direction: Incoming,
		From: "79112233444", To: "74951234567",
		Start:    time.Date(2026, 11, 1+(r+n)%20, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		Duration: int64(n % 90), Status: Answered, Code: 200, Cost: int64(n%90) * 10_000, Device: Phone, Release: "demo@1",
	}
}

// nopPortal stands for the tenant's portal in the child, which never
// delivers: its events stay queued for the parent's outbox.
type nopPortal struct{}

func (nopPortal) Portal(context.Context, string) (webhook.Portal, error) {
	return webhook.Portal{}, webhook.ErrNoPortal
}

func crashChild(path, round string) error {
	r, err := strconv.Atoi(round)
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	store, err := Open(db)
	if err != nil {
		return err
	}
	out, err := webhook.Open(db, webhook.Options{Portals: nopPortal{}, Sign: func(*http.Request, []byte, []byte) error { return nil }})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		mu.Unlock()
	}
	say("ready")
	ctx := context.Background()
	errs := make(chan error, crashWorkers)
	for w := range crashWorkers {
		go func() {
			for n := 0; ; n++ {
				rec := crashRecord(r, w, n)
				if _, err := store.Commit(ctx, rec); err != nil {
					errs <- err
					return
				}
				say("committed %s", rec.CallID)
				data, _ := json.Marshal(rec)
				id, err := out.Enqueue(ctx, webhook.Event{ID: "AddCallHistory:" + rec.CallID, Type: webhook.AddCallHistory, Account: crashAccount, Data: data})
				if err != nil {
					errs <- err
					return
				}
				say("queued %s", id)
				if n%3 == 0 && r > 0 {
					// The round before's calls delivered again.
					if _, err := store.Commit(ctx, crashRecord(r-1, w, n/3)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	return <-errs
}

func TestRecordsSurviveKill9(t *testing.T) {
	rng := crashtest.Rand(t, crashSeedEnv)
	path := filepath.Join(t.TempDir(), "vox.db")
	committed := map[string]bool{}
	queued := map[string]bool{}
	for round := range crashRounds {
		delay := time.Duration(rng.Int64N(int64(maxCrashDelay)))
		c, q := runAndKill(t, path, round, delay)
		for _, id := range c {
			committed[id] = true
		}
		for _, id := range q {
			queued[id] = true
		}
		n := checkRecords(t, path, committed)
		t.Logf("round %d: killed after %v; %d records committed in all, %d in the file", round, delay, len(committed), n)
	}
	if len(committed) < crashRounds {
		t.Errorf("only %d records committed in %d rounds: the kills hardly met a commit", len(committed), crashRounds)
	}
	deliverQueued(t, path, queued)
}

// runAndKill runs the child for round, kills it after delay, and returns
// what it reported committed and queued.
func runAndKill(t *testing.T, path string, round int, delay time.Duration) (committed, queued []string) {
	t.Helper()
	child := crashtest.Start(t, crashFileEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	time.Sleep(delay)
	for _, line := range child.Kill(t) {
		what, id, _ := strings.Cut(line, " ")
		switch what {
		case "committed":
			committed = append(committed, id)
		case "queued":
			queued = append(queued, id)
		}
	}
	return committed, queued
}

// checkRecords reopens the file and checks it: every committed record there
// once, the id index and the records agreeing, the daily totals their sum.
func checkRecords(t *testing.T, path string, committed map[string]bool) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	s, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	crashtest.CheckBolt(t, db)
	ctx := context.Background()
	seen := map[string]bool{}
	days := map[string]*Totals{}
	cursor := ""
	for {
		page, next, err := s.Query(ctx, crashAccount, Filter{}, cursor, MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			if seen[r.CallID] {
				t.Fatalf("record %s is there twice", r.CallID)
			}
			seen[r.CallID] = true
			day := r.Start.Format(time.DateOnly)
			if days[day] == nil {
				days[day] = &Totals{Period: day}
			}
			days[day].add(r)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for id := range committed {
		if !seen[id] {
			t.Fatalf("record %s was committed and is gone", id)
		}
		if _, err := s.Get(ctx, crashAccount, id); err != nil {
			t.Fatalf("record %s by its id: %v", id, err)
		}
	}
	totals, err := s.Stats(ctx, crashAccount, Day, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != len(days) {
		t.Fatalf("%d days of totals for %d days of records", len(totals), len(days))
	}
	for _, got := range totals {
		if want := days[got.Period]; want == nil || *want != got {
			t.Fatalf("totals of %s: %+v, the records sum to %+v", got.Period, got, want)
		}
	}
	return len(seen)
}

// deliverQueued starts an outbox on the file with a real portal and waits
// until every event the children queued has arrived.
func deliverQueued(t *testing.T, path string, queued map[string]bool) {
	t.Helper()
	var mu sync.Mutex
	got := map[string]bool{}
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev webhook.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[ev.ID] = true
		mu.Unlock()
	}))
	defer portal.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out, err := webhook.Open(db, webhook.Options{
		Portals: fixedPortal(portal.URL), Sign: func(*http.Request, []byte, []byte) error { return nil },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 16, PerAccount: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { out.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for id := range queued {
			if !got[id] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d webhooks queued before the kills were not delivered", missing, len(queued))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d webhooks queued before kills, all delivered after the restart", len(queued))
}

type fixedPortal string

func (p fixedPortal) Portal(context.Context, string) (webhook.Portal, error) {
	return webhook.Portal{URL: string(p), Key: []byte("k")}, nil
}
