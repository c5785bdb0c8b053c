package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// apiServer serves the API of a store on a real bbolt file through a real HTTP
// server on 127.0.0.1, and returns a client of it.
func apiServer(t *testing.T, opts Options, hopts ...HandlerOption) (*Client, *httptest.Server) {
	t.Helper()
	s, _ := openStore(t, opts)
	hopts = append([]HandlerOption{WithLogger(slog.New(slog.DiscardHandler))}, hopts...)
	srv := httptest.NewServer(NewHandler(s, hopts...))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, "", srv.Client()), srv
}

func mainJS(body string) []File { return []File{{Name: "main.js", Source: "// " + body}} }

func TestAPIRoundTrip(t *testing.T) {
	ctx := context.Background()
	warn := func(name, src string) []string {
		if strings.Contains(src, "createConference") {
			return []string{name + ": VoxEngine.createConference is not implemented in Vox"}
		}
		return nil
	}
	c, _ := apiServer(t, Options{Warn: warn})

	res, err := c.Push(ctx, Push{App: "crm", Author: "ann", Message: "first", Files: mainJS("v1 createConference")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.Number != 1 || len(res.Warnings) != 1 || res.Release.Files[0].SHA256 == "" {
		t.Fatalf("push: %+v", res)
	}
	files := []File{{Name: "in.js", Source: "// in"}, {Name: "out.js", Source: "// out"}}
	rules := []Rule{{Name: "out", Pattern: "7[0-9]{10}", Scenarios: []string{"out.js"}}, {Name: "in", Pattern: "user[0-9]+", Scenarios: []string{"in.js"}}}
	if res, err = c.Push(ctx, Push{App: "crm", Author: "bob", Message: "second", Files: files, Rules: rules}); err != nil || res.Release.Number != 2 {
		t.Fatalf("second push: %+v, %v", res, err)
	}

	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Name != "crm" || apps[0].Releases != 2 {
		t.Fatalf("apps: %+v, %v", apps, err)
	}
	latest, err := c.Release(ctx, "crm", 0)
	if err != nil || latest.Number != 2 || len(latest.Files) != 2 || latest.Author != "bob" {
		t.Fatalf("latest: %+v, %v", latest, err)
	}
	first, err := c.Release(ctx, "crm", 1)
	if err != nil || first.Files[0].Source != "// v1 createConference" {
		t.Fatalf("release 1: %+v, %v", first, err)
	}

	resolution, err := c.Resolve(ctx, "acme", "crm", ResolveRequest{Destination: "74951234567"})
	if err != nil {
		t.Fatal(err)
	}
	if resolution.Release != 2 || resolution.Rule == nil || resolution.Rule.Name != "out" || len(resolution.Files) != 1 ||
		resolution.Files[0].Source != "// out" || resolution.Placement.Trigger != TriggerIncoming || resolution.Placement.Account != "acme" {
		t.Fatalf("resolve: %+v", resolution)
	}
	if r, err := c.Resolve(ctx, "acme", "crm", ResolveRequest{Trigger: TriggerBalance}); err != nil || r.Rule != nil || len(r.Files) != 0 || r.Release != 2 {
		t.Fatalf("resolve without a destination: %+v, %v", r, err)
	}

	if p, err := c.Rollback(ctx, "crm", 1); err != nil || p.Stable != 1 {
		t.Fatalf("rollback: %+v, %v", p, err)
	}
	if r, err := c.Resolve(ctx, "acme", "crm", ResolveRequest{Trigger: TriggerOutgoing}); err != nil || r.Release != 1 || r.Placement.Previous != 2 || r.Placement.Trigger != TriggerOutgoing {
		t.Fatalf("resolve after rollback: %+v, %v", r, err)
	}
	if p, err := c.Canary(ctx, "crm", 20); err != nil || p.CanaryPercent != 20 || p.Stable != 1 {
		t.Fatalf("canary: %+v, %v", p, err)
	}
	if p, err := c.Pin(ctx, "big/customer", "crm", 2); err != nil || p.Pins["big/customer"] != 2 {
		t.Fatalf("pin an account whose id has a slash: %+v, %v", p, err)
	}
	if r, err := c.Resolve(ctx, "big/customer", "crm", ResolveRequest{}); err != nil || r.Release != 2 || r.Account != "big/customer" {
		t.Fatalf("a pinned account: %+v, %v", r, err)
	}
	rollout, err := c.Rollout(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if rollout.Latest != 2 || rollout.Accounts != 2 || rollout.Mode != "canary 20% (others on 1)" || len(rollout.Releases) != 2 {
		t.Fatalf("rollout: %+v", rollout)
	}
	if p, err := c.Pin(ctx, "big/customer", "crm", 0); err != nil || len(p.Pins) != 0 {
		t.Fatalf("unpin: %+v, %v", p, err)
	}

	set, err := c.Rules(ctx, "crm")
	if err != nil || set.Release != 2 || len(set.Rules) != 2 {
		t.Fatalf("rules: %+v, %v", set, err)
	}
	changed := append([]Rule{{Name: "office", Pattern: "74950000000", Scenarios: []string{"in.js", "out.js"}}}, set.Rules...)
	res, err = c.SetRules(ctx, "crm", RulesChange{Rules: changed, Author: "cid"})
	if err != nil || res.Release.Number != 3 || res.Release.Message != "rules changed" || len(res.Release.Files) != 2 || res.Release.Author != "cid" {
		t.Fatalf("set rules: %+v, %v", res, err)
	}
	if _, err := c.Pin(ctx, "acme", "crm", 3); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Resolve(ctx, "acme", "crm", ResolveRequest{Destination: "74950000000"}); err != nil || r.Rule.Name != "office" || len(r.Files) != 2 {
		t.Fatalf("resolve with the new rule: %+v, %v", r, err)
	}
	if res, err := c.SetRules(ctx, "crm", RulesChange{Rules: changed, Message: "again"}); err != nil || res.Release.Number != 3 {
		t.Fatalf("the same rules again must store nothing: %+v, %v", res, err)
	}
	if _, err := c.SetRules(ctx, "crm", RulesChange{Rules: []Rule{{Name: "x", Pattern: ".*", Scenarios: []string{"gone.js"}}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rules naming a missing scenario: %v", err)
	}
}

func TestAPIPagination(t *testing.T) {
	ctx := context.Background()
	c, srv := apiServer(t, Options{})
	for i := 1; i <= 7; i++ {
		if _, err := c.Push(ctx, Push{App: "crm", Files: mainJS(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]int
	before := 0
	for {
		list, next, err := c.Releases(ctx, "crm", before, 3)
		if err != nil {
			t.Fatal(err)
		}
		var page []int
		for _, r := range list {
			page = append(page, r.Number)
		}
		got = append(got, page)
		if next == 0 {
			break
		}
		before = next
	}
	if fmt.Sprint(got) != "[[7 6 5] [4 3 2] [1]]" {
		t.Fatalf("pages = %v", got)
	}

	for _, app := range []string{"b", "c", "a"} {
		if _, err := c.Push(ctx, Push{App: app, Files: mainJS(app)}); err != nil {
			t.Fatal(err)
		}
	}
	var page AppList
	getJSON(t, srv.URL+"/api/v1/apps?limit=2", &page)
	if len(page.Apps) != 2 || page.Apps[0].Name != "a" || page.Next != "b" {
		t.Fatalf("first page of apps: %+v", page)
	}
	var last AppList
	getJSON(t, srv.URL+"/api/v1/apps?limit=2&after="+page.Next, &last)
	if len(last.Apps) != 2 || last.Apps[0].Name != "c" || last.Next != "" {
		t.Fatalf("second page of apps: %+v", last)
	}
	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 4 {
		t.Fatalf("the client follows the pages: %+v, %v", apps, err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestAPIErrors(t *testing.T) {
	compile := func(name, src string) error {
		if strings.Contains(src, "@@") {
			return &posError{line: 1, col: 5}
		}
		return nil
	}
	c, srv := apiServer(t, Options{Compile: compile}, WithMaxBody(4096))
	if _, err := c.Push(context.Background(), Push{App: "crm", Files: mainJS("v1")}); err != nil {
		t.Fatal(err)
	}
	pushBody := func(files ...File) string {
		b, _ := json.Marshal(Push{Files: files})
		return string(b)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		details                  int
	}{
		{"malformed JSON", "POST", "/apps/crm/releases", `{"files": [`, 400, CodeInvalidRequest, 0},
		{"unknown field", "POST", "/apps/crm/rollback", `{"release": 1, "force": true}`, 400, CodeInvalidRequest, 0},
		{"wrong type", "POST", "/apps/crm/canary", `{"percent": "10%"}`, 400, CodeInvalidRequest, 0},
		{"two values", "POST", "/apps/crm/rollback", `{"release": 1} {"release": 2}`, 400, CodeInvalidRequest, 0},
		{"empty body", "POST", "/apps/crm/rollback", ``, 400, CodeInvalidRequest, 0},
		{"push to another app than the path", "POST", "/apps/crm/releases", `{"app": "other", "files": [{"name": "a.js", "source": "1"}]}`, 400, CodeInvalidRequest, 0},
		{"bad release number", "GET", "/apps/crm/releases/first", ``, 400, CodeInvalidRequest, 0},
		{"bad limit", "GET", "/apps/crm/releases?limit=0", ``, 400, CodeInvalidRequest, 0},
		{"bad cursor", "GET", "/apps/crm/releases?before=x", ``, 400, CodeInvalidRequest, 0},
		{"unknown app", "GET", "/apps/nope/releases", ``, 404, CodeNotFound, 0},
		{"unknown app's rollout", "GET", "/apps/nope/rollout", ``, 404, CodeNotFound, 0},
		{"unknown release", "GET", "/apps/crm/releases/9", ``, 404, CodeNotFound, 0},
		{"rollback to an unknown release", "POST", "/apps/crm/rollback", `{"release": 9}`, 404, CodeNotFound, 0},
		{"resolve an unknown app", "POST", "/apps/nope/accounts/acme/resolve", `{}`, 404, CodeNotFound, 0},
		{"unknown endpoint", "GET", "/apps/crm/secrets", ``, 404, CodeNotFound, 0},
		{"method not allowed", "DELETE", "/apps/crm/releases", ``, 405, CodeMethodNotAllowed, 0},
		{"too large", "POST", "/apps/crm/releases", pushBody(File{Name: "a.js", Source: strings.Repeat("x", 5000)}), 413, CodeTooLarge, 0},
		{"push with problems", "POST", "/apps/crm/releases", `{"files": [{"name": "a.js", "source": "var @@;"}], "canary": 150}`, 422, CodeInvalidPush, 2},
		{"empty push", "POST", "/apps/crm/releases", `{}`, 422, CodeInvalidPush, 1},
		{"canary out of range", "POST", "/apps/crm/canary", `{"percent": 150}`, 422, CodeInvalidArgument, 0},
		{"pin to release 0", "PUT", "/apps/crm/pins/acme", `{"release": 0}`, 422, CodeInvalidArgument, 0},
		{"account id too long", "PUT", "/apps/crm/pins/" + strings.Repeat("a", 300), `{"release": 1}`, 422, CodeInvalidArgument, 0},
		{"trigger too long", "POST", "/apps/crm/accounts/acme/resolve", `{"trigger": "` + strings.Repeat("a", 100) + `"}`, 422, CodeInvalidArgument, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+APIPrefix+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			err = decodeAPIError(resp)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("not an API error: %v", err)
			}
			if apiErr.Status != tt.status || apiErr.Code != tt.code || len(apiErr.Details) != tt.details || apiErr.Message == "" {
				t.Errorf("got %d %s %q %q, want %d %s with %d details", apiErr.Status, apiErr.Code, apiErr.Message, apiErr.Details, tt.status, tt.code, tt.details)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "GET, POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
	// The problems name the file, line and column, and show the line.
	_, err := c.Push(context.Background(), Push{App: "crm", Files: []File{{Name: "a.js", Source: "var @@;"}}})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrInvalid) || len(apiErr.Details) != 1 || apiErr.Details[0] != "a.js:1:5: oops\n    var @@;\n        ^" {
		t.Fatalf("push with a syntax error: %#v", err)
	}
	if _, err := c.Release(context.Background(), "crm", 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("errors.Is(%v, ErrNotFound) = false", err)
	}
	if _, err := c.Resolve(context.Background(), "acme", "crm", ResolveRequest{Destination: "x"}); err != nil {
		t.Fatalf("the default rule answers every destination: %v", err)
	}
}

func TestAPIResolveWithoutMatchingRule(t *testing.T) {
	c, _ := apiServer(t, Options{})
	rules := []Rule{{Name: "moscow", Pattern: "7495[0-9]+", Scenarios: []string{"main.js"}}}
	if _, err := c.Push(context.Background(), Push{App: "crm", Files: mainJS("v1"), Rules: rules}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Resolve(context.Background(), "acme", "crm", ResolveRequest{Destination: "78120000000"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != CodeNoMatchingRule || apiErr.Status != 404 {
		t.Fatalf("err = %#v", err)
	}
}

func TestAPIIdempotencyKey(t *testing.T) {
	_, srv := apiServer(t, Options{}, WithIdempotencyKeys(2))
	post := func(key, body string) (*http.Response, PushResult) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/apps/crm/releases", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res PushResult
		if resp.StatusCode == http.StatusCreated {
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				t.Fatal(err)
			}
		}
		return resp, res
	}
	v1, v2 := `{"files":[{"name":"a.js","source":"1"}]}`, `{"files":[{"name":"a.js","source":"2"}]}`

	first, res1 := post("k1", v1)
	again, res2 := post("k1", v1)
	if first.StatusCode != 201 || again.StatusCode != 201 || res1.Release.Number != 1 || res2.Release.Number != 1 {
		t.Fatalf("a retried push: %s %+v, %s %+v", first.Status, res1.Release, again.Status, res2.Release)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, retry %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	if resp, _ := post("k1", v2); resp.StatusCode != 422 {
		t.Errorf("the key reused for another push: %s, want 422", resp.Status)
	}
	if _, res := post("k2", v1); res.Release.Number != 2 {
		t.Errorf("another key stores another release: %+v", res.Release)
	}
	// Only the last two keys are remembered: k1 is forgotten after k3.
	post("k3", v2)
	if _, res := post("k1", v1); res.Release.Number != 4 {
		t.Errorf("a forgotten key: release %d, want 4", res.Release.Number)
	}
}

// A connection that fails after the server stored the push is retried by the
// client with the same key, and the push is stored once.
func TestClientRetriesPushWithItsKey(t *testing.T) {
	_, srv := apiServer(t, Options{})
	var calls atomic.Int32
	var keys []string
	flaky := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		keys = append(keys, req.Header.Get("Idempotency-Key"))
		resp, err := srv.Client().Transport.RoundTrip(req)
		if calls.Add(1) == 1 && err == nil {
			resp.Body.Close()
			return nil, errors.New("connection reset by peer")
		}
		return resp, err
	})}
	c := NewClient(srv.URL, "", flaky)
	res, err := c.Push(context.Background(), Push{App: "crm", Files: mainJS("v1")})
	if err != nil || res.Release.Number != 1 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("keys sent: %q", keys)
	}
	list, _, err := c.Releases(context.Background(), "crm", 0, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("releases stored: %+v, %v", list, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientReportsAnswersThatAreNotTheAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := NewClient(srv.URL, "", srv.Client()).Apps(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != CodeUnexpected || apiErr.Status != 502 || !strings.Contains(apiErr.Message, "bad gateway") {
		t.Fatalf("err = %#v", err)
	}
}

func TestClientSendsTheToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Write([]byte(`{"apps":[]}`))
	}))
	defer srv.Close()
	if _, err := NewClient(strings.TrimPrefix(srv.URL, "http://"), "s3cret", srv.Client()).Apps(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer s3cret" {
		t.Fatalf("Authorization = %q", got)
	}
}
