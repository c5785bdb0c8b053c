package access

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/webhook"
)

// echoSession answers a command with what it got, as a scenario would.
type echoSession struct{ ended atomic.Bool }

func (e *echoSession) Request(ctx context.Context, method, path, content string) (Answer, error) {
	if e.ended.Load() {
		return Answer{}, ErrSessionEnded
	}
	var cmd map[string]any
	if json.Unmarshal([]byte(content), &cmd) == nil && cmd["COMMAND"] == "slow" {
		<-ctx.Done()
		return Answer{}, ctx.Err()
	}
	b, _ := json.Marshal(map[string]string{"method": method, "got": content})
	return Answer{Status: 200, ContentType: "application/json", Body: string(b)}, nil
}

type settings map[string]string

func (s settings) NumberConfig(_ context.Context, account, number string) (json.RawMessage, error) {
	c, ok := s[account+"/"+number]
	if !ok {
		return nil, ErrNotFound
	}
	return json.RawMessage(c), nil
}

// portal is the tenant's portal: it accepts webhooks and answers lookups
// for user 67, or never when slow.
type portal struct {
	mu     sync.Mutex
	events []webhook.Event
	slow   bool
}

func (p *portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev webhook.Event
	json.NewDecoder(r.Body).Decode(&ev)
	if r.Header.Get("X-Signed") != "yes" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ev.Type == webhook.IncomingCall {
		p.mu.Lock()
		slow := p.slow
		p.mu.Unlock()
		if slow {
			<-r.Context().Done() // the body is read: the server notices the client giving up
			return
		}
		w.Write([]byte(`{"userId":67}`))
		return
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
}

type onePortal string

func (u onePortal) Portal(context.Context, string) (webhook.Portal, error) {
	return webhook.Portal{URL: string(u), Key: []byte("k")}, nil
}

func newServer(t *testing.T) (*Server, *httptest.Server, *portal) {
	t.Helper()
	p := &portal{}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	out, err := webhook.Open(db, webhook.Options{
		Portals: onePortal(ps.URL), Logger: quiet, LookupTimeout: time.Second,
		Sign: func(req *http.Request, _, _ []byte) error { req.Header.Set("X-Signed", "yes"); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { out.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := NewServer(Options{Settings: settings{"acme/74954451120": `{"greeting":"hello"}`}, Outbox: out, Logger: quiet, RequestTimeout: time.Second})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	srv.opts.Base = hs.URL
	return srv, hs, p
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestAccessURL(t *testing.T) {
	srv, hs, p := newServer(t)
	sl, err := srv.Open("s1", "acme", "74954451120")
	if err != nil {
		t.Fatal(err)
	}
	url := sl.URL()
	if !strings.HasPrefix(url, hs.URL+"/calls/s1/") || len(url) != len(hs.URL+"/calls/s1/")+32 {
		t.Fatalf("URL %s: want %s/calls/s1/ and 32 hex digits", url, hs.URL)
	}
	if st, body := do(t, "POST", url, `{"COMMAND":"user"}`); st != http.StatusServiceUnavailable || !strings.Contains(body, `"starting"`) {
		t.Errorf("before the session runs: %d %s", st, body)
	}
	sess := &echoSession{}
	sl.Attach(sess)
	other, _ := srv.Open("s2", "other", "")
	other.Attach(&echoSession{})
	wrong := hs.URL + "/calls/s1/" + strings.Repeat("0", 32)
	cases := []struct {
		name, method, url, body string
		status                  int
		want                    string // the body, or a part of it
	}{
		{"command reaches the scenario", "POST", url, `{"COMMAND":"user","USER_ID":67}`, 200, `{"got":"{\"COMMAND\":\"user\",\"USER_ID\":67}","method":"POST"}`},
		{"scenario does not answer in time", "POST", url, `{"COMMAND":"slow"}`, 504, `"scenario_timeout"`},
		{"number settings", "GET", url + "/config", "", 200, `{"greeting":"hello"}`},
		{"no settings for the number", "GET", other.URL() + "/config", "", 404, `"no_config"`},
		{"event queued", "POST", url + "/events", `{"event":"HangupCall","id":"h1","data":{"duration":12}}`, 202, `{"id":"s1:h1"}`},
		{"call history with its quality", "POST", url + "/events", `{"event":"AddCallHistory","id":"a1","data":{"quality":{"percent":80,"grade":4,"reports":3}}}`, 202, `{"id":"s1:a1"}`},
		{"event not of S21", "POST", url + "/events", `{"event":"TopUp","data":{}}`, 422, `"invalid_argument"`},
		{"event data not an object", "POST", url + "/events", `{"event":"StartCall","data":[1]}`, 422, `"invalid_argument"`},
		{"event body not JSON", "POST", url + "/events", `{`, 400, `"invalid_request"`},
		{"route", "POST", url + "/route", `{"from":"79112233444","to":"74954451120"}`, 200, `{"userId":67}`},
		{"wrong token", "POST", wrong, `{}`, 404, `{"error":{"code":"not_found","message":"no such session"}}`},
		{"wrong token, config", "GET", wrong + "/config", "", 404, `"not_found"`},
		{"unknown session", "POST", hs.URL + "/calls/nope/" + strings.Repeat("a", 32), `{}`, 404, `"not_found"`},
		{"unknown path", "GET", url + "/secrets", "", 404, `"not_found"`},
		{"wrong method", "GET", url, "", 405, `"method_not_allowed"`},
		{"body too large", "POST", url, strings.Repeat("x", 65<<10), 413, `"too_large"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := do(t, tc.method, tc.url, tc.body)
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s: %d %s; want %d with %s", tc.method, tc.url, st, body, tc.status, tc.want)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.events)
		p.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the portal got %d events, want HangupCall and AddCallHistory", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if q := srv.Quality("s1"); q != 4 {
		t.Errorf("reported quality %v, want grade 4", q)
	}
	p.mu.Lock()
	byID := map[string]webhook.Event{}
	for _, ev := range p.events {
		byID[ev.ID] = ev
	}
	p.mu.Unlock()
	if ev := byID["s1:h1"]; ev.Type != webhook.HangupCall || ev.Account != "acme" || string(ev.Data) != `{"duration":12}` {
		t.Errorf("portal got %+v", ev)
	}

	p.mu.Lock()
	p.slow = true
	p.mu.Unlock()
	if st, body := do(t, "POST", url+"/route", `{"from":"1","to":"2"}`); st != 504 || !strings.Contains(body, `"portal_timeout"`) {
		t.Errorf("slow portal: %d %s", st, body)
	}

	sess.ended.Store(true)
	if st, _ := do(t, "POST", url, `{}`); st != 404 {
		t.Errorf("ended session: %d, want 404", st)
	}
	sl.Close()
	if st, _ := do(t, "GET", url+"/config", ""); st != 404 {
		t.Errorf("closed slot: %d, want 404", st)
	}
	if _, err := srv.Open("s2", "other", ""); err == nil {
		t.Error("a second slot for a session that has one")
	}
}

func TestReportedQuality(t *testing.T) {
	for raw, want := range map[string]float64{
		`4`: 4, `{"percent":80,"grade":3,"reports":2}`: 3, `null`: 0, `{"grade":9}`: 0, `0`: 0, `"good"`: 0, ``: 0,
	} {
		if got := reportedQuality(json.RawMessage(raw)); got != want {
			t.Errorf("reportedQuality(%s) = %v, want %v", raw, got, want)
		}
	}
}
