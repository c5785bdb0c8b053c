package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/controller"
	"vox/controller/alerts"
	"vox/controller/history"
	"vox/controller/signature"
	"vox/controller/support"
	"vox/controller/webhook"
	"vox/internal/porttest"
	"vox/scenarios"
)

// accessScenario tells its access URL in the session log and answers the
// portal's commands (S20): "hangup" ends the call.
const accessScenario = `
let url = "";
VoxEngine.addEventListener(AppEvents.Started, (e) => { url = e.accessURL; });
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.answer();
	call.addEventListener(CallEvents.Connected, () => Logger.write("access " + url));
	call.addEventListener(CallEvents.Disconnected, () => {
		Net.httpRequestAsync(url + "/events", {method: "POST", postData: JSON.stringify({event: "AddCallHistory", data: {quality: {grade: 4}}})})
			.then((r) => { Logger.write("reported " + r.code); VoxEngine.terminate(); });
	});
	VoxEngine.addEventListener(AppEvents.HttpRequest, (r) => {
		const cmd = JSON.parse(r.content);
		if (cmd.COMMAND === "hangup") setTimeout(() => call.hangup(), 10);
		return {got: cmd.COMMAND, user: cmd.USER_ID};
	});
});
`

// A live SIP call (SIPp as the phone) gets an access URL that reaches the
// running scenario; the portal's "hangup" ends the call; the finished call
// has one record that vox calls lists, and vox logs prints its session log.
func TestLiveCallAccessURLAndRecord(t *testing.T) {
	s := startCallServer(t)
	if _, err := s.store.Push(context.Background(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "access.js", Source: accessScenario}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	phone := s.sipp(t, dir, "call.xml", "-s", "100", "-au", "phone67", "-ap", testPasswords["phone67"], "-key", "caller", "phone67",
		"-key", "target", "none", "-p", strconv.Itoa(porttest.FreeUDP(t)), "-mp", strconv.Itoa(porttest.FreeUDP(t)))
	var phoneOut bytes.Buffer
	phone.Stdout, phone.Stderr = &phoneOut, &phoneOut
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	log := s.sessionLog(t, "access http://")
	url := regexp.MustCompile(`access (http://\S+)`).FindStringSubmatch(log)[1]
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/calls/[a-z0-9]+/[0-9a-f]{32}$`).MatchString(url) {
		t.Fatalf("access URL %q", url)
	}
	post := func(u, body string) (int, string) {
		resp, err := http.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if st, body := post(url[:len(url)-32]+strings.Repeat("0", 32), `{"COMMAND":"user"}`); st != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("wrong token: %d %s", st, body)
	}
	if st, body := post(url, `{"COMMAND":"user","USER_ID":67}`); st != 200 || body != `{"got":"user","user":67}` {
		t.Errorf("command: %d %s", st, body)
	}
	if st, body := post(url, `{"COMMAND":"hangup"}`); st != 200 || body != `{"got":"hangup"}` {
		t.Errorf("hangup: %d %s", st, body)
	}
	if err := phone.Wait(); err != nil {
		t.Fatalf("sipp: %v\n%s%s", err, phoneOut.String(), traces(dir))
	}
	sessionID := strings.Split(strings.TrimPrefix(url, "http://"+s.addr.String()+"/calls/"), "/")[0]

	admin := s.adminFlags()
	records := s.waitCallRecords(t, 1)
	rec := records[0]
	if len(records) != 1 || rec.CallID != sessionID || rec.Account != demoAccount || rec.Direction != history.Incoming ||
		rec.From != "phone67" || rec.To != "100" || rec.Status != history.Answered || rec.Code != 200 ||
		rec.Device != history.Phone || !strings.HasPrefix(rec.Release, demoApp+"@") || rec.Quality != 4 {
		t.Errorf("record %+v", records)
	}
	if st, _ := post(url, `{"COMMAND":"user"}`); st != 404 {
		t.Errorf("access URL of an ended call: %d, want 404", st)
	}
	out, errOut, code := runCLI(append([]string{"calls", demoAccount}, admin...))
	if code != 0 || !strings.Contains(out, "incoming   phone67  100") || !strings.Contains(out, sessionID) {
		t.Errorf("vox calls: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(append([]string{"calls", demoAccount, "--csv", "--status", "answered"}, admin...))
	if code != 0 || !strings.HasPrefix(out, "call_id,account,direction") || !strings.Contains(out, sessionID+",demo,incoming,phone67,100,") {
		t.Errorf("vox calls --csv: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(append([]string{"calls", demoAccount, "--stats", "month", "--json"}, admin...))
	if code != 0 || !strings.Contains(out, `"calls": 1`) {
		t.Errorf("vox calls --stats: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(append([]string{"logs", sessionID}, admin...))
	if code != 0 || !strings.Contains(out, "Application.HttpRequest") || !strings.Contains(out, "HttpResponse") || !strings.Contains(out, "reported 202") {
		t.Errorf("vox logs: %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code = runCLI(append([]string{"logs", "no-such-call"}, admin...)); code != 1 || !strings.Contains(errOut, "(not_found)") {
		t.Errorf("vox logs of no call: %d %s", code, errOut)
	}
	if _, errOut, code = runCLI(append([]string{"calls", demoAccount, "--status", "great"}, admin...)); code != 1 || !strings.Contains(errOut, "(invalid_request)") {
		t.Errorf("vox calls --status great: %d %s", code, errOut)
	}
	// The account's export carries its history (S15).
	exported := filepath.Join(t.TempDir(), "demo.json")
	if _, errOut, code := runCLI(append([]string{"account", "export", demoAccount, "-o", exported}, admin...)); code != 0 {
		t.Fatalf("vox account export: %d %s", code, errOut)
	}
	var doc struct {
		Sections map[string]json.RawMessage `json:"sections"`
	}
	raw, err := os.ReadFile(exported)
	if err != nil || json.Unmarshal(raw, &doc) != nil || !strings.Contains(string(doc.Sections[history.SectionName]), `"callId":"`+sessionID+`"`) {
		t.Errorf("the export's history section: %v\n%s", err, doc.Sections[history.SectionName])
	}
	// The log stays until the retention is over, then the sweeper takes it.
	logFile := filepath.Join(s.data, logsDir, demoAccount, sessionID+".log")
	old := time.Now().Add(-history.DefaultRetention - time.Hour)
	if err := os.Chtimes(logFile, old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := s.events.logs.Sweep(); err != nil || n != 1 {
		t.Errorf("sweep: %d, %v", n, err)
	}
	if _, _, code = runCLI(append([]string{"logs", sessionID}, admin...)); code != 1 {
		t.Errorf("vox logs after the retention: exit %d", code)
	}
}

// adminFlags are the flags vox's admin commands reach the test's server with.
func (s *callServer) adminFlags() []string {
	return []string{"--server", "http://" + s.addr.String(), "--data", s.data}
}

// waitCallRecords waits until vox calls --json lists at least n records of the
// demo account (a session's record is written once it has ended) and returns them.
func (s *callServer) waitCallRecords(t *testing.T, n int) []history.Record {
	t.Helper()
	var calls struct {
		Calls []history.Record `json:"calls"`
	}
	for deadline := time.Now().Add(10 * time.Second); len(calls.Calls) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d call records, want %d: %+v", len(calls.Calls), n, calls.Calls)
		}
		out, errOut, code := runCLI(append([]string{"calls", demoAccount, "--json"}, s.adminFlags()...))
		if code != 0 || json.Unmarshal([]byte(out), &calls) != nil {
			t.Fatalf("vox calls: %d %s %s", code, out, errOut)
		}
	}
	return calls.Calls
}

func runCLI(args []string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// The demo tenant names its portal and a low-balance threshold above its
// balance: the portal gets a LowBalance webhook signed with the tenant's
// licence key (S9, S14). Another tenant's history is 404 to it (S1).
func TestPortalGetsSignedWebhooks(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	key := demoLicenceKey(t, data)
	got := make(chan webhook.Event, 4)
	verifier := signature.NewVerifier(func(_ context.Context, account string) (signature.Credentials, error) {
		if account != demoAccount {
			return signature.Credentials{}, signature.ErrUnknownAccount
		}
		return signature.Credentials{Keys: [][]byte{[]byte(key)}}, nil
	}, signature.VerifierOptions{})
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, body, err := verifier.Verify(r)
		var ev webhook.Event
		if err != nil || account != demoAccount || json.Unmarshal(body, &ev) != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			t.Errorf("portal refused a webhook: %v", err)
			return
		}
		got <- ev
	}))
	defer portal.Close()

	tenant := controller.NewClient("http://"+srv.addr.String(), "", nil).AsTenant(demoAccount, []byte(key), signature.HMACSHA256)
	ctx := context.Background()
	if err := tenant.Do(ctx, "PUT", "/accounts/demo/portal", map[string]string{"url": portal.URL + "/vox"}, nil); err != nil {
		t.Fatal(err)
	}
	var set alertSettings
	if err := tenant.Do(ctx, "PUT", "/accounts/demo/alerts", json.RawMessage(`{"threshold":"100000.00","days":3}`), &set); err != nil || set.Days != 3 {
		t.Fatalf("alerts: %+v, %v", set, err)
	}
	select {
	case ev := <-got:
		var d struct {
			Rule      string `json:"rule"`
			Balance   int64  `json:"balance"`
			Threshold int64  `json:"threshold"`
		}
		if ev.Type != webhook.LowBalance || json.Unmarshal(ev.Data, &d) != nil || d.Rule != alerts.RuleFixed || d.Threshold != 100_000_000_000 {
			t.Errorf("webhook %+v %s", ev, ev.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook")
	}
	var apiErr *controller.APIError
	if err := tenant.Do(ctx, "GET", "/accounts/master-rub/calls", nil, nil); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("another account's calls: %v", err)
	}
	if err := tenant.Do(ctx, "GET", "/calls/x/log", nil, nil); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("the operator's log search as a tenant: %v", err)
	}
	if err := tenant.Do(ctx, "PUT", "/accounts/demo/portal", map[string]string{"url": "ftp://x"}, nil); !errors.As(err, &apiErr) || apiErr.Code != "invalid_argument" {
		t.Errorf("bad portal URL: %v", err)
	}
	var page struct {
		Calls []history.Record `json:"calls"`
	}
	if err := tenant.Do(ctx, "GET", "/accounts/demo/calls", nil, &page); err != nil || page.Calls == nil {
		t.Errorf("own calls: %+v, %v", page, err)
	}
}

// Support staff read a tenant's calls only while the tenant's consent holds;
// the tenant reads every attempt in its audit log (S16).
func TestSupportAccessNeedsConsent(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	base := "http://" + srv.addr.String() + controller.APIPrefix
	raw, err := os.ReadFile(filepath.Join(data, supportTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	staffToken := strings.TrimSpace(string(raw))
	staff := func(name, token, path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if name != "" {
			req.Header.Set("X-Vox-Staff", name)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tenant := controller.NewClient("http://"+srv.addr.String(), "", nil).AsTenant(demoAccount, []byte(demoLicenceKey(t, data)), signature.HMACSHA256)
	admin := controller.NewClient("http://"+srv.addr.String(), srv.token, nil)
	ctx := context.Background()
	type step struct {
		name   string
		before func() error
		who    string
		token  string
		path   string
		status int
	}
	steps := []step{
		{"no consent", nil, "ann", staffToken, "/support/accounts/demo/calls", 404},
		{"the admin token is not support's", nil, "ann", srv.token, "/support/accounts/demo/calls", 401},
		{"the support token is not the admin's", nil, "ann", staffToken, "/accounts/demo/calls", 401},
		{"the operator cannot consent for the tenant", func() error {
			err := admin.Do(ctx, "PUT", "/accounts/demo/support", map[string]any{"hours": 1}, nil)
			if err == nil {
				return errors.New("the operator granted a consent")
			}
			return nil
		}, "ann", staffToken, "/support/accounts/demo/calls", 404},
		{"granted", func() error {
			return tenant.Do(ctx, "PUT", "/accounts/demo/support", map[string]any{"hours": 2, "note": "ticket 42"}, nil)
		}, "ann", staffToken, "/support/accounts/demo/calls", 200},
		{"the account, without keys", nil, "ann", staffToken, "/support/accounts/demo", 200},
		{"a log that is not there", nil, "bob", staffToken, "/support/accounts/demo/calls/nope/log", 404},
		{"another account", nil, "ann", staffToken, "/support/accounts/master-rub/calls", 404},
		{"no staff name", nil, "", staffToken, "/support/accounts/demo/calls", 400},
		{"revoked", func() error { return tenant.Do(ctx, "DELETE", "/accounts/demo/support", nil, nil) }, "ann", staffToken, "/support/accounts/demo/calls", 404},
	}
	for _, st := range steps {
		if st.before != nil {
			if err := st.before(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		status, body := staff(st.who, st.token, st.path)
		if status != st.status {
			t.Errorf("%s: GET %s: %d %s, want %d", st.name, st.path, status, body, st.status)
		}
		if strings.Contains(body, "keys") || strings.Contains(body, demoLicenceKey(t, data)) {
			t.Errorf("%s: support saw the keys: %s", st.name, body)
		}
	}
	var audit struct {
		Entries []support.Entry `json:"entries"`
	}
	if err := tenant.Do(ctx, "GET", "/accounts/demo/support/audit", nil, &audit); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range audit.Entries {
		got = append(got, fmt.Sprintf("%s %s %v", e.Staff, e.Action, e.Allowed))
	}
	want := []string{"ann calls false", "ann calls false", "ann calls true", "ann account true", "bob log nope true", "ann calls false"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A nonce is spent on every signed route at once: one signed for the
// controller's API is refused on the call history beside it (S9).
func TestNonceSpentAcrossSignedRoutes(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	key := []byte(demoLicenceKey(t, data))
	const nonce = "one-nonce-for-two-routes"
	get := func(path string) (int, string) {
		req, err := http.NewRequest("GET", "http://"+srv.addr.String()+controller.APIPrefix+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(signature.HeaderAccount, demoAccount)
		if err := signature.SignWith(req, nil, key, signature.Options{Nonce: nonce}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := get("/accounts/demo"); status != http.StatusOK {
		t.Fatalf("the first use of the nonce: %d %s", status, body)
	}
	if status, body := get("/accounts/demo/calls"); status != http.StatusUnauthorized || !strings.Contains(body, "replayed_request") {
		t.Errorf("the nonce again on the call history: %d %s, want 401 replayed_request", status, body)
	}
}
