package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testSign stands in for controller/signature: an HMAC of the body under the
// key, which the test portal checks.
func testSign(req *http.Request, body, key []byte) error {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	req.Header.Set("X-Test-Signature", hex.EncodeToString(m.Sum(nil)))
	return nil
}

// portal is a tenant's portal: a real HTTP server on 127.0.0.1 that checks
// signatures and remembers the events it accepted.
type portal struct {
	srv *httptest.Server
	key []byte

	mu     sync.Mutex
	events []Event
	tries  map[string]int
	// answer decides the status of each request; nil answers 200.
	answer func(ev Event, try int) int
}

func newPortal(t *testing.T, key string) *portal {
	p := &portal{key: []byte(key), tries: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *portal) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, p.key)
	m.Write(body)
	if r.Header.Get("X-Test-Signature") != hex.EncodeToString(m.Sum(nil)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get("X-Vox-Event-Id") != ev.ID {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.tries[ev.ID]++
	try := p.tries[ev.ID]
	answer := p.answer
	p.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(ev, try)
	}
	if status == http.StatusOK {
		p.mu.Lock()
		p.events = append(p.events, ev)
		p.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (p *portal) received() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// portals maps accounts to test portals.
type portals map[string]*portal

func (ps portals) Portal(_ context.Context, account string) (Portal, error) {
	p, ok := ps[account]
	if !ok {
		return Portal{}, ErrNoPortal
	}
	return Portal{URL: p.srv.URL + "/vox/hook", Key: p.key}, nil
}

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openOutbox(t *testing.T, db *bolt.DB, ps portals, opts Options) *Outbox {
	t.Helper()
	opts.Portals, opts.Sign = ps, testSign
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 20*time.Millisecond
	}
	o, err := Open(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func run(t *testing.T, o *Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		o.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// eventually polls cond for up to 10 s: a bound, not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestDeliveryRetriesAndGivesUp(t *testing.T) {
	cases := []struct {
		name     string
		answer   func(ev Event, try int) int
		tries    int // requests the portal sees
		accepted bool
	}{
		{"accepted at once", nil, 1, true},
		{"portal errors twice, then accepts", func(_ Event, try int) int {
			if try < 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, 3, true},
		{"too many requests is retried", func(_ Event, try int) int {
			if try == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		}, 2, true},
		{"a refusal (4xx) is given up at once", func(Event, int) int { return http.StatusUnprocessableEntity }, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPortal(t, "key-acme")
			p.answer = tc.answer
			db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
			t.Cleanup(func() { db.Close() })
			o := openOutbox(t, db, portals{"acme": p}, Options{})
			id, err := o.Enqueue(context.Background(), Event{Type: HangupCall, Account: "acme", Data: json.RawMessage(`{"callId":"c1","duration":12}`)})
			if err != nil {
				t.Fatal(err)
			}
			run(t, o)
			eventually(t, "the queue empties", func() bool {
				q, _, err := o.Counts()
				return err == nil && q == 0
			})
			_, dead, _ := o.Counts()
			p.mu.Lock()
			tries := p.tries[id]
			p.mu.Unlock()
			got := p.received()
			if tries != tc.tries || (len(got) == 1) != tc.accepted || (dead == 0) != tc.accepted {
				t.Errorf("portal saw %d tries, accepted %d events, %d dead; want %d tries, accepted %v", tries, len(got), dead, tc.tries, tc.accepted)
			}
			if tc.accepted && (got[0].ID != id || got[0].Type != HangupCall || string(got[0].Data) != `{"callId":"c1","duration":12}`) {
				t.Errorf("portal got %+v", got[0])
			}
		})
	}
}

// An event queued and not yet delivered survives a restart and goes out
// after it, once even when it was queued twice under one id.
func TestQueuedEventsSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vox.db")
	p := newPortal(t, "k")
	db := openDB(t, path)
	o := openOutbox(t, db, portals{"acme": p}, Options{})
	for range 2 {
		if _, err := o.Enqueue(context.Background(), Event{ID: "AddCallHistory:c1", Type: AddCallHistory, Account: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db = openDB(t, path)
	t.Cleanup(func() { db.Close() })
	o = openOutbox(t, db, portals{"acme": p}, Options{})
	run(t, o)
	eventually(t, "delivered after the restart", func() bool { return len(p.received()) > 0 })
	eventually(t, "the queue empties", func() bool { q, _, _ := o.Counts(); return q == 0 })
	if got := p.received(); len(got) != 1 || got[0].ID != "AddCallHistory:c1" {
		t.Errorf("portal got %+v", got)
	}
}

// A portal that never answers holds its own events only: another tenant's
// go out while it hangs.
func TestDeadPortalDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	dead := newPortal(t, "dead")
	dead.answer = func(Event, int) int {
		<-release
		return http.StatusOK
	}
	defer close(release)
	alive := newPortal(t, "alive")
	db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
	t.Cleanup(func() { db.Close() })
	o := openOutbox(t, db, portals{"dead": dead, "alive": alive}, Options{Workers: 4, PerAccount: 2, Timeout: time.Hour})
	ctx := context.Background()
	for i := range 50 {
		if _, err := o.Enqueue(ctx, Event{Type: StartCall, Account: "dead", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := o.Enqueue(ctx, Event{Type: StartCall, Account: "alive", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, o)
	eventually(t, "the live portal gets its 10 events", func() bool { return len(alive.received()) == 10 })
	o.mu.Lock()
	held := o.perAcct["dead"]
	o.mu.Unlock()
	if held > 2 {
		t.Errorf("the dead portal holds %d deliveries, its share is 2", held)
	}
}

func TestEnqueueRefusesBadEvents(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
	t.Cleanup(func() { db.Close() })
	o := openOutbox(t, db, portals{}, Options{})
	for name, ev := range map[string]Event{
		"no type":        {Account: "acme"},
		"bad type":       {Type: "Start Call", Account: "acme"},
		"no account":     {Type: StartCall},
		"bad id":         {ID: "a b", Type: StartCall, Account: "acme"},
		"data not JSON":  {Type: StartCall, Account: "acme", Data: json.RawMessage(`{`)},
		"data too large": {Type: StartCall, Account: "acme", Data: json.RawMessage(`"` + string(make([]byte, MaxData)) + `"`)},
	} {
		if _, err := o.Enqueue(context.Background(), ev); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if q, _, _ := o.Counts(); q != 0 {
		t.Errorf("%d refused events queued", q)
	}
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	o := &Outbox{opts: Options{MinBackoff: time.Second, MaxBackoff: time.Minute}}
	for _, tc := range []struct {
		attempt int
		base    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {7, time.Minute}, {1000, time.Minute}} {
		for range 50 {
			if d := o.backoff(tc.attempt); d < tc.base/2 || d > tc.base {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.base/2, tc.base)
			}
		}
	}
}

func TestPortalURLs(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
	t.Cleanup(func() { db.Close() })
	o := openOutbox(t, db, portals{}, Options{})
	ctx := context.Background()
	if _, err := o.PortalURL(ctx, "acme"); !errors.Is(err, ErrNoPortal) {
		t.Errorf("before: %v", err)
	}
	for _, bad := range []string{"ftp://x", "/relative", "http://", "::"} {
		if err := o.SetPortalURL(ctx, "acme", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPortalURL(%q): %v", bad, err)
		}
	}
	if err := o.SetPortalURL(ctx, "acme", "https://crm.example.com/vox"); err != nil {
		t.Fatal(err)
	}
	if u, err := o.PortalURL(ctx, "acme"); err != nil || u != "https://crm.example.com/vox" {
		t.Errorf("after: %q, %v", u, err)
	}
	if err := o.SetPortalURL(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := o.PortalURL(ctx, "acme"); !errors.Is(err, ErrNoPortal) {
		t.Errorf("removed: %v", err)
	}
}

// countingPortals has no portal for anyone and counts the lookups, each of
// which is a delivery attempt.
type countingPortals struct {
	mu sync.Mutex
	n  int
}

func (c *countingPortals) Portal(context.Context, string) (Portal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return Portal{}, ErrNoPortal
}

func (c *countingPortals) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// lockedBuffer is a log a Run goroutine writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// An account without a portal keeps its events queued for when it gets one,
// without an info line for every retry (the demo tenant has no portal).
func TestNoPortalWaitsQuietly(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
	ps := &countingPortals{}
	var log lockedBuffer
	o, err := Open(db, Options{Portals: ps, Sign: testSign, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Enqueue(context.Background(), Event{Type: StartCall, Account: "demo"}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	eventually(t, "three delivery attempts", func() bool { return ps.attempts() >= 3 })
	if queued, dead, err := o.Counts(); err != nil || queued != 1 || dead != 0 {
		t.Errorf("queued %d, dead %d, %v; want the event still queued", queued, dead, err)
	}
	if got := log.String(); strings.Contains(got, "will be retried") {
		t.Errorf("retries for a missing portal were logged at info:\n%s", got)
	}
}
