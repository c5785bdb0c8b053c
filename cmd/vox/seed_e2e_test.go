package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/controller"
	"vox/controller/history"
	"vox/controller/signature"
	"vox/controller/webhook"
	"vox/internal/porttest"
)

// The seed's call end to end (issue 9), with real peers around a vox serve
// started as make run starts it (the first start's demo tenant, its number
// 74950000100 rented for the standard scenario): a carrier (SIPp and the
// test's RTP end) calls the number from a trunk, baresip phones are the
// tenant's users, an httptest server is the tenant's portal. Everything a
// tenant would do goes through the CLI and the controller's API.

const (
	carrierCaller = "74951234567"
	carrierTone   = 1000.0 // Hz, what the carrier's caller says
	userTone      = 600.0  // Hz, what user 100 says
)

func init() {
	// The tenant's users of these tests, made with vox sipuser create.
	testPasswords["100"] = "secret-100"
	testPasswords["101"] = "secret-101"
}

// seedServer is a vox serve on a fresh data directory with the demo
// tenant's portal and, when a carrier calls, a carrier's trunk (then every
// INVITE from 127.0.0.1 is the carrier's, none a phone's).
type seedServer struct {
	*callServer
	logs   *lockedBuffer
	portal *testPortal
	admin  []string // the CLI's flags to reach it as the operator
}

// With carrier or phones: who places the calls of a test.
const (
	carrierCalls = true
	phoneCalls   = false
)

func startSeedServer(t *testing.T, carrier bool) *seedServer {
	t.Helper()
	data := t.TempDir()
	if carrier {
		trunks := trunksDoc{Trunks: []trunkDoc{{Name: "carrier", Account: demoAccount, Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}}}}
		b, _ := json.Marshal(trunks)
		if err := os.WriteFile(filepath.Join(data, trunksFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	// The portal listens on 127.0.0.1, closed to tenants unless allowed.
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(logs, nil)),
		TenantNetAllow: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	s := &seedServer{callServer: &callServer{server: srv, data: data}, logs: logs,
		admin: []string{"--server", "http://" + srv.addr.String(), "--data", data}}
	t.Cleanup(func() {
		stop(t, srv)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	s.portal = startTestPortal(t, demoLicenceKey(t, data))
	tenant := controller.NewClient("http://"+srv.addr.String(), "", nil).AsTenant(demoAccount, []byte(demoLicenceKey(t, data)), signature.HMACSHA256)
	if err := tenant.Do(context.Background(), "PUT", "/accounts/demo/portal", map[string]string{"url": s.portal.URL + "/vox"}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// cli runs vox with the operator's flags and fails the test unless it
// exits 0.
func (s *seedServer) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(append(args, s.admin...))
	if code != 0 {
		t.Fatalf("vox %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// configure gives the demo number settings with vox number config.
func (s *seedServer) configure(t *testing.T, settings string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cli(t, "number", "config", demoNumber, "--set", path)
}

// carrier runs a SIPp carrier_*.xml calling the demo number as caller
// with its audio at media, in the background.
func (s *seedServer) carrier(t *testing.T, scenario, caller string, media *carrierMedia, args ...string) *runningSIPp {
	t.Helper()
	dir := t.TempDir()
	port := strconv.Itoa(porttest.FreeUDP(t))
	cmd := s.sipp(t, dir, scenario, append([]string{"-s", demoNumber, "-p", port, "-mp", strconv.Itoa(porttest.FreeUDP(t)),
		"-key", "caller", caller, "-key", "rtp_port", media.port(), "-trace_logs"}, args...)...)
	r := &runningSIPp{cmd: cmd, out: &bytes.Buffer{}, dir: dir, port: port, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	go media.learnPeer(dir)
	return r
}

// record waits for the call record of the session whose log has want
// and returns it, as vox calls --json lists it.
func (s *seedServer) record(t *testing.T, callID string) history.Record {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var page struct {
			Calls []history.Record `json:"calls"`
		}
		out := s.cli(t, "calls", demoAccount, "--json")
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("vox calls --json: %v\n%s", err, out)
		}
		for _, r := range page.Calls {
			if r.CallID == callID {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record of call %s in vox calls:\n%s", callID, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessionID is the session whose log is log (its first line names it).
var sessionLine = regexp.MustCompile(`/calls/([A-Za-z0-9_-]+)/[0-9a-f]{32}`)

func sessionOf(t *testing.T, log string) string {
	t.Helper()
	m := sessionLine.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the session log names no access URL:\n%s", log)
	}
	return m[1]
}

// inOrder fails the test unless text has every one of want, in order.
func inOrder(t *testing.T, what, text string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 {
			t.Errorf("%s has no %q after position %d:\n%s", what, w, at, text)
			return
		}
		at += i + len(w)
	}
}

// testPortal is the tenant's portal: it takes only webhooks signed with
// the tenant's licence key.
type testPortal struct {
	*httptest.Server
	mu     sync.Mutex
	events []webhook.Event
	bad    []string
}

func startTestPortal(t *testing.T, key string) *testPortal {
	t.Helper()
	verifier := signature.NewVerifier(func(_ context.Context, account string) (signature.Credentials, error) {
		if account != demoAccount {
			return signature.Credentials{}, signature.ErrUnknownAccount
		}
		return signature.Credentials{Keys: [][]byte{[]byte(key)}}, nil
	}, signature.VerifierOptions{})
	p := &testPortal{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, body, err := verifier.Verify(r)
		var ev webhook.Event
		if err == nil && account == demoAccount {
			err = json.Unmarshal(body, &ev)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.bad = append(p.bad, err.Error())
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		p.events = append(p.events, ev)
	}))
	t.Cleanup(p.Close)
	return p
}

// wait returns the events of the session's call, once types have all
// come, by type: the scenario's events carry the call's id (callId), and
// AddCallHistory also the session's (sessionId).
func (p *testPortal) wait(t *testing.T, sessionID string, types ...string) map[string]map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var data []map[string]any
		var names []string
		callID := ""
		p.mu.Lock()
		for _, ev := range p.events {
			var d map[string]any
			if json.Unmarshal(ev.Data, &d) == nil {
				data, names = append(data, d), append(names, ev.Type)
				if d["sessionId"] == sessionID {
					callID, _ = d["callId"].(string)
				}
			}
		}
		bad := p.bad
		p.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("the portal refused webhooks: %q", bad)
		}
		got := map[string]map[string]any{}
		for i, d := range data {
			if callID != "" && d["callId"] == callID {
				got[names[i]] = d
			}
		}
		all := true
		for _, typ := range types {
			_, ok := got[typ]
			all = all && ok
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			p.mu.Lock()
			all, _ := json.Marshal(p.events)
			p.mu.Unlock()
			t.Fatalf("the portal got %v for session %s, want %q; all it got: %s", keys(got), sessionID, types, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(m map[string]map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

// soxChannels is how many channels a WAV file has.
func soxChannels(t *testing.T, wav string) int {
	t.Helper()
	out, err := exec.Command("soxi", "-c", wav).Output()
	if err != nil {
		t.Fatalf("soxi -c %s: %v", wav, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("soxi -c: %q", out)
	}
	return n
}

// The seed's call: a carrier calls the demo number, dials user 100's
// extension during the greeting (RFC 4733), user 100's baresip answers by
// itself, both talk (tones both ways), the stereo recording has each in
// its channel, the caller hangs up; vox calls has the record, the portal
// got the three signed webhooks, and vox logs shows the seed's blocks.
func TestSeedCallEndToEnd(t *testing.T) {
	s := startSeedServer(t, carrierCalls)
	for _, user := range []string{"100", "101"} {
		s.cli(t, "sipuser", "create", demoAccount, user, "--password", testPasswords[user])
	}
	s.configure(t, `{
  "title": "e2e",
  "directCode": {"enabled": true, "waitSeconds": 2, "extensions": {"1": 100, "2": 101}, "rule": "queue"},
  "queue": {"users": [101], "type": "evenly", "ringSeconds": 10, "rounds": 1},
  "users": {"phoneLogin": "{id}", "webLogin": ""},
  "recording": {"enabled": true, "stereo": true},
  "noAnswer": {"rule": "hangup"}
}`)
	dir := t.TempDir()
	user100 := startBaresip(t, s.callServer, "100", toneWAV(t, dir, userTone), "auto")
	startBaresip(t, s.callServer, "101", toneWAV(t, dir, 440), "manual")
	s.waitRegistered(t, "100", "101")

	media := startCarrierMedia(t, carrierTone)
	caller := s.carrier(t, "carrier_call.xml", carrierCaller, media, "-d", "12000")
	// The greeting listens for digits once the call is answered.
	s.sessionLog(t, "Working time", "HandleTones")
	media.dial("1#")
	user100.waitEvent(t, "CALL_ESTABLISHED")
	user100.waitReceived(t, talk)
	caller.wait(t)
	user100.waitEvent(t, "CALL_CLOSED")
	log := s.sessionLog(t, "Send AddCallHistory", "Session terminated")
	user100.stop(t)
	media.close()

	checkTone(t, "what user 100 heard", user100.received(t), 0, true, carrierTone)
	checkTone(t, "what the carrier's caller heard", media.wav(t), 0, true, userTone)

	callID := sessionOf(t, log)
	rec := s.record(t, callID)
	if rec.Status != history.Answered || rec.Code != 200 || rec.Direction != history.Incoming ||
		rec.From != carrierCaller || rec.To != demoNumber || rec.Duration < 3 || rec.Cost != 0 ||
		!strings.HasPrefix(rec.Release, "standard@") || !strings.HasPrefix(rec.RecordURL, "http://"+s.addr.String()+"/records/demo/") {
		t.Errorf("the call record: %+v", rec)
	}
	wav := download(t, rec.RecordURL, filepath.Join(dir, "record.wav"))
	if n := soxChannels(t, wav); n != 2 {
		t.Errorf("the recording has %d channels, want 2 (stereo)", n)
	}
	checkTone(t, "the recording, channel 1 (the caller)", wav, 1, true, carrierTone)
	checkTone(t, "the recording, channel 2 (user 100)", wav, 2, true, userTone)

	events := s.portal.wait(t, callID, webhook.StartCall, webhook.HangupCall, webhook.AddCallHistory)
	if start := events[webhook.StartCall]; start["userId"] != 100.0 || start["login"] != "100" || start["device"] != "PHONE" {
		t.Errorf("StartCall: %v", start)
	}
	if hist := events[webhook.AddCallHistory]; hist["status"] != "answered" || hist["code"] != 200.0 || hist["recordUrl"] != rec.RecordURL ||
		hist["from"] != carrierCaller || hist["to"] != demoNumber || hist["userId"] != 100.0 {
		t.Errorf("AddCallHistory: %v", hist)
	}

	// vox logs prints the session's log: the seed's blocks, in order.
	out := s.cli(t, "logs", callID)
	inOrder(t, "vox logs "+callID, out,
		"Start INCOMING scenario (version:",
		"Standard incoming scenario", "Call callerId: "+carrierCaller, "Call destination: "+demoNumber,
		"Get number settings", "Working time",
		"Direct code is: 1", "Direct code 1: user 100", "Action: Send invite to 100", "Action: Connect to 100",
		"Send StartCall", "Start recording call: http://", "Send HangupCall", "Send AddCallHistory", "Session terminated")
}

// The standard scenario's other branches on the same server, each call
// with the settings vox number config gave the number just before:
// nobody answers and the caller leaves a voicemail, while a new release of
// the scenario is pushed (the running call keeps its release, the next
// one runs the new); outside the working hours the night rule applies; a
// blacklisted caller is declined with the configured code.
func TestSeedCallBranches(t *testing.T) {
	s := startSeedServer(t, carrierCalls)
	// Nobody answers: user 101 has no phone registered.
	s.configure(t, `{
  "queue": {"users": [101], "type": "evenly", "ringSeconds": 2, "rounds": 1},
  "users": {"phoneLogin": "{id}", "webLogin": ""},
  "noAnswer": {"rule": "voicemail"},
  "voicemail": {"maxSeconds": 4}
}`)
	media := startCarrierMedia(t, carrierTone)
	caller := s.carrier(t, "carrier_hung_up.xml", carrierCaller, media)
	log := s.sessionLog(t, "Recording a voicemail of at most 4 s")
	// Mid-call, the tenant pushes an edited scenario.
	edited := editedStandard(t)
	out := s.cli(t, "scenario", "push", edited, "-m", "edited mid-call")
	if !strings.Contains(out, "standard@2 pushed") {
		t.Errorf("vox scenario push: %s", out)
	}
	caller.wait(t)
	media.close()
	log = s.sessionLog(t, "Recording a voicemail", "Send AddCallHistory", "Session terminated")
	voicemail := sessionOf(t, log)
	inOrder(t, "the voicemail call's log", log, "Start INCOMING scenario (version: 1)", "Standard incoming scenario\n",
		"Action: Send invite to 101", "Rule: voicemail", "Recording a voicemail", "The voicemail is as long as it may be", "Send AddCallHistory")
	events := s.portal.wait(t, voicemail, webhook.HangupCall, webhook.AddCallHistory)
	hist := events[webhook.AddCallHistory]
	url, _ := hist["recordUrl"].(string)
	if hist["status"] != "voicemail" || hist["voicemail"] != true || !strings.HasPrefix(url, "http://") {
		t.Fatalf("AddCallHistory of the voicemail: %v", hist)
	}
	wav := download(t, url, filepath.Join(t.TempDir(), "voicemail.wav"))
	if n := soxChannels(t, wav); n != 1 {
		t.Errorf("the voicemail has %d channels, want 1", n)
	}
	checkTone(t, "the voicemail", wav, 0, false, carrierTone)
	if rec := s.record(t, voicemail); rec.RecordURL != url || rec.Release != "standard@1" {
		t.Errorf("the voicemail's record: %+v", rec)
	}

	// Outside the working hours (now is not in the hour two hours from now,
	// every day, UTC): the night rule, on the new release.
	now := time.Now().UTC()
	s.configure(t, `{"workHours": {"enabled": true, "timeZone": "UTC", "days": [0,1,2,3,4,5,6], "from": "`+
		now.Add(2*time.Hour).Format("15:04")+`", "to": "`+now.Add(3*time.Hour).Format("15:04")+`", "rule": "hangup"}}`)
	media = startCarrierMedia(t, carrierTone)
	s.carrier(t, "carrier_hung_up.xml", carrierCaller, media).wait(t)
	log = s.sessionLog(t, "Rule: hangup", "Session terminated")
	inOrder(t, "the night call's log", log, "Start INCOMING scenario (version: 2)", "Standard incoming scenario (edited)",
		"Working time: ", " is outside ", "Rule: hangup", "Send HangupCall", "Send AddCallHistory")
	if strings.Contains(log, "Send invite") {
		t.Errorf("the night call rang a user:\n%s", log)
	}
	if rec := s.record(t, sessionOf(t, log)); rec.Release != "standard@2" {
		t.Errorf("the night call's record: %+v", rec)
	}

	// A blacklisted caller is declined before the answer, with its code.
	s.configure(t, `{"blacklist": {"numbers": ["+7 495 111-22-33"], "code": 603}}`)
	media = startCarrierMedia(t, carrierTone)
	s.carrier(t, "carrier_declined.xml", "74951112233", media).wait(t)
	log = s.sessionLog(t, "is blacklisted", "Session terminated")
	inOrder(t, "the blacklisted call's log", log, "Caller 74951112233 is blacklisted: rejecting with 603", "Send HangupCall")
	if strings.Contains(log, "AcceptCall") {
		t.Errorf("the blacklisted call was answered:\n%s", log)
	}
	if rec := s.record(t, sessionOf(t, log)); rec.Status != history.Rejected || rec.Code != 603 || rec.Cost != 0 {
		t.Errorf("the blacklisted call's record: %+v", rec)
	}
}

// editedStandard is a copy of scenarios/standard whose first log block
// says it was edited.
func editedStandard(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "standard")
	src := filepath.Join("..", "..", "scenarios", "standard")
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "incoming.js")
	js, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(js), `"Standard incoming scenario",`, `"Standard incoming scenario (edited)",`, 1)
	if edited == string(js) {
		t.Fatal("incoming.js has no first log block to edit")
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The newcomer's path of the README: make run's first start, two softphones
// registered as the demo users, phone67 calls the demo number, which runs the
// standard scenario with the demo settings, and dials 68 during the
// greeting: phone68 rings, answers, and the two talk; the call is in vox
// calls and its log in vox logs.
func TestSeedDemoFromASoftphone(t *testing.T) {
	s := startSeedServer(t, phoneCalls)
	// The first start printed random passwords; the test sets known ones,
	// as vox sipuser password would for a newcomer who lost them.
	for _, user := range demoSIPUsers {
		s.cli(t, "sipuser", "password", demoAccount, user, "--password", testPasswords[user])
	}
	dir := t.TempDir()
	phone68 := startBaresip(t, s.callServer, "phone68", toneWAV(t, dir, calleeTone), "auto")
	phone67 := startBaresip(t, s.callServer, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68")

	phone67.command(t, "dial", demoNumber)
	phone67.waitEvent(t, "CALL_ESTABLISHED")
	s.sessionLog(t, "Working time", "HandleTones")
	phone67.command(t, "sndcode", "68#")
	phone68.waitEvent(t, "CALL_ESTABLISHED")
	phone68.waitReceived(t, talk)
	phone67.command(t, "hangup", "")
	phone67.waitEvent(t, "CALL_CLOSED")
	phone68.waitEvent(t, "CALL_CLOSED")
	log := s.sessionLog(t, "Send AddCallHistory", "Session terminated")
	phone67.stop(t)
	phone68.stop(t)
	checkTone(t, "what phone68 heard", phone68.received(t), 0, true, callerTone)
	checkTone(t, "what phone67 heard", phone67.received(t), 0, true, calleeTone)

	callID := sessionOf(t, log)
	inOrder(t, "the demo call's log", log, "Start INCOMING scenario (version: 1)", "Call destination: "+demoNumber,
		"Direct code is: 68", "Direct code 68: user 68", "Action: Send invite to phone68", "Action: Connect to phone68", "Start recording call")
	if rec := s.record(t, callID); rec.Status != history.Answered || rec.From != "phone67" || rec.To != demoNumber || rec.Release != "standard@1" || rec.RecordURL == "" {
		t.Errorf("the demo call's record: %+v", rec)
	}
	if out := s.cli(t, "logs", callID); !strings.Contains(out, "Direct code 68: user 68") {
		t.Errorf("vox logs %s:\n%s", callID, out)
	}
}

// A tenant's phone calling its own number is not rung by the queue: the
// demo's phone67 calls 74950000100, whose queue is users 67 and 68;
// phone68 is rung, phone67 is not. Nobody answers (no phone is
// registered), so the caller leaves a short voicemail and vox hangs up.
func TestSeedCallerIsNotRung(t *testing.T) {
	s := startSeedServer(t, phoneCalls)
	s.cli(t, "sipuser", "password", demoAccount, "phone67", "--password", testPasswords["phone67"])
	s.configure(t, `{
  "queue": {"users": [67, 68], "type": "evenly", "ringSeconds": 2, "rounds": 1},
  "noAnswer": {"rule": "voicemail"},
  "voicemail": {"maxSeconds": 1}
}`)
	s.call(t, "call.xml", demoNumber)
	log := s.sessionLog(t, "Rule: voicemail", "Session terminated")
	inOrder(t, "the call's log", log, "Call callerId: phone67", "phone67 is the caller: not rung", "Rule: voicemail")
	for _, rung := range []string{"Send invite to phone68", "Send invite to user68", "Send invite to user67"} {
		if !strings.Contains(log, rung) {
			t.Errorf("the log has no %q:\n%s", rung, log)
		}
	}
	if strings.Contains(log, "Send invite to phone67") {
		t.Errorf("the caller's own phone was rung:\n%s", log)
	}
}

// The user's client reports the call's quality as an in-call message (S20):
// user 101 (SIPp, registered) answers a carrier's call and sends its meter;
// the portal's AddCallHistory and the call record carry the grade.
func TestSeedCallQuality(t *testing.T) {
	s := startSeedServer(t, carrierCalls)
	s.cli(t, "sipuser", "create", demoAccount, "101", "--password", testPasswords["101"])
	s.configure(t, `{
  "queue": {"users": [101], "type": "evenly", "ringSeconds": 10, "rounds": 1},
  "users": {"phoneLogin": "{id}", "webLogin": ""}
}`)
	port := strconv.Itoa(porttest.FreeUDP(t))
	dir := t.TempDir()
	reg := s.sipp(t, dir, "register_only.xml", "-p", port, "-s", "101", "-au", "101", "-ap", testPasswords["101"])
	if out, err := reg.CombinedOutput(); err != nil {
		t.Fatalf("sipp register: %v\n%s%s", err, out, traces(dir))
	}
	user := s.startCallee(t, "uas_meter.xml", port, "-s", "101")
	media := startCarrierMedia(t, carrierTone)
	s.carrier(t, "carrier_call.xml", carrierCaller, media, "-d", "3000").wait(t)
	user.wait(t)
	log := s.sessionLog(t, "Send AddCallHistory", "Session terminated")
	callID := sessionOf(t, log)
	hist := s.portal.wait(t, callID, webhook.AddCallHistory)[webhook.AddCallHistory]
	quality, _ := hist["quality"].(map[string]any)
	if quality["percent"] != 80.0 || quality["grade"] != 4.0 || quality["reports"] != 1.0 {
		t.Errorf("AddCallHistory's quality: %v; the log:\n%s", hist["quality"], log)
	}
	if rec := s.record(t, callID); rec.Status != history.Answered || rec.Quality != 4 {
		t.Errorf("the call record: %+v", rec)
	}
}
