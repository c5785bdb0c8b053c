package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
	"vox/scenarios"
	"vox/sip"
)

// Live calls through vox serve, with SIPp as the phones: the SIP server,
// the runtime, the scenario store and the media are the real ones.

// callsScenario answers the test calls by the number dialled.
const callsScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	Logger.write("alerting " + e.destination + " from " + e.callerid + " device " + e.headers["VI-Client-Device"]);
	call.addEventListener(CallEvents.Disconnected, () => {
		if (e.destination !== "300") setTimeout(() => VoxEngine.terminate(), 100);
	});
	switch (e.destination) {
	case "100": // answer, play a tone script, hang up
		call.answer();
		call.addEventListener(CallEvents.Connected, () => {
			call.playProgressTone("RU");
			setTimeout(() => call.hangup(), 1000);
		});
		break;
	case "200": // early media until the caller gives up
		call.startEarlyMedia();
		call.playProgressTone("RU");
		break;
	case "300": // record and hear digits until the caller hangs up
		// Before the answer: the caller's RTP may come as soon as it has it.
		call.record();
		call.handleTones(true);
		call.answer();
		call.addEventListener(CallEvents.ToneReceived, (t) => Logger.write("tone " + t.tone));
		call.addEventListener(CallEvents.RecordStopped, (r) => {
			Logger.write("recorded " + r.url);
			VoxEngine.terminate();
		});
		break;
	case "400": // answer and wait
		call.answer();
		break;
	case "500": // ring phone68, bridge, and end the call a second later
	case "600": {
		const out = VoxEngine.callUser({username: "phone68", callerid: e.callerid});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
			setTimeout(() => VoxEngine.terminate(), 1000);
		});
		out.addEventListener(CallEvents.Failed, (f) => {
			Logger.write("phone68 failed " + f.code);
			call.reject(f.code);
		});
		break;
	}
	case "700": // hear digits and messages until the caller hangs up
		// Before the answer: the caller's INFO may come as soon as it has it.
		call.handleTones(true);
		call.addEventListener(CallEvents.ToneReceived, (t) => Logger.write("tone " + t.tone));
		call.addEventListener(CallEvents.MessageReceived, (m) => Logger.write("message " + m.text));
		call.answer();
		break;
	case "800": { // call the SIP URI in X-Target with digest credentials, bridge, end
		const out = VoxEngine.callSIP(e.headers["X-Target"], {callerid: e.callerid, authUser: "vox", password: "sipsecret"});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
			setTimeout(() => VoxEngine.terminate(), 1000);
		});
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		break;
	}
	case "900": { // call the SIP URI in X-Target, bridge, and wait for the media timeout
		const out = VoxEngine.callSIP(e.headers["X-Target"], {callerid: e.callerid});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
		});
		out.addEventListener(CallEvents.Disconnected, (d) => Logger.write("callee gone after " + d.duration + " s"));
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		break;
	}
	case "950": { // call the SIP URI in X-Target and pass its redirect on
		const out = VoxEngine.callSIP(e.headers["X-Target"], {callerid: e.callerid});
		out.addEventListener(CallEvents.Failed, (f) => {
			Logger.write("redirected " + f.code + " to " + f.headers.Contact + " for " + f.headers["X-Redirect-Reason"]);
			call.reject(f.code, {Contact: f.headers.Contact});
		});
		break;
	}
	case "1000": { // ring phone68, bridge; phone68's transfer key sends the caller on
		const out = VoxEngine.callUser({username: "phone68", callerid: e.callerid});
		out.handleBlindTransfer(true);
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
		});
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		out.addEventListener(CallEvents.BlindTransferRequested, (t) => {
			Logger.write("transfer to " + t.transferTo);
			const next = VoxEngine.callUser({username: t.transferTo, callerid: e.callerid});
			next.addEventListener(CallEvents.Connected, () => {
				t.call.notifyBlindTransferSuccess();
				VoxEngine.sendMediaBetween(call, next);
			});
			next.addEventListener(CallEvents.Failed, (f) => t.call.notifyBlindTransferFailed(f.code, f.reason));
			call.addEventListener(CallEvents.Disconnected, () => next.hangup());
		});
		out.addEventListener(CallEvents.Disconnected, () => Logger.write("phone68 gone"));
		break;
	}
	case "1100": { // ring phone68, bridge; while phone68 holds, the caller hears the ringback
		const out = VoxEngine.callUser({username: "phone68", callerid: e.callerid});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
		});
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		out.addEventListener(CallEvents.OnHold, () => {
			Logger.write("phone68 holds");
			VoxEngine.stopMediaBetween(call, out);
			call.playProgressTone("RU");
		});
		out.addEventListener(CallEvents.OffHold, () => {
			Logger.write("phone68 is back");
			call.stopPlayback();
			VoxEngine.sendMediaBetween(call, out);
		});
		out.addEventListener(CallEvents.Disconnected, () => call.hangup());
		break;
	}
	case "1200": { // ring phone68 and bridge; phone69 listens in on the caller, unheard
		const out = VoxEngine.callUser({username: "phone68", callerid: e.callerid});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
			const supervisor = VoxEngine.callUser({username: "phone69", callerid: e.callerid});
			supervisor.addEventListener(CallEvents.Connected, () => call.sendMediaTo(supervisor));
			call.addEventListener(CallEvents.Disconnected, () => {
				out.hangup();
				supervisor.hangup();
			});
		});
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		break;
	}
	case "1300": case "1301": { // ring phone68 (1300) or phone69 (1301), bridge, and hang up together
		const out = VoxEngine.callUser({username: e.destination === "1300" ? "phone68" : "phone69", callerid: e.callerid});
		out.addEventListener(CallEvents.Connected, () => {
			call.answer();
			VoxEngine.sendMediaBetween(call, out);
		});
		out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
		out.addEventListener(CallEvents.Disconnected, () => call.hangup());
		call.addEventListener(CallEvents.Disconnected, () => out.hangup());
		break;
	}
	default:
		call.reject(404);
	}
});
`

// callServer is a vox serve with the demo users' passwords known.
type callServer struct {
	*server
	data string
	logs *lockedBuffer // what it logged
}

var testPasswords = map[string]string{"phone67": "secret67", "phone68": "secret68", "phone69": "secret69"}

// testSIPUsers are the demo users and a third, whom a call can be
// transferred to.
var testSIPUsers = append(slices.Clone(demoSIPUsers), "phone69")

func startCallServer(t *testing.T) *callServer {
	t.Helper()
	return startCallServerWith(t, nil)
}

// startCallServerWith is startCallServer with edit changing the server's
// configuration first.
func startCallServerWith(t *testing.T, edit func(*serveConfig)) *callServer {
	t.Helper()
	data := t.TempDir()
	doc := sipUsersDoc{Realm: sipRealm}
	for _, name := range testSIPUsers {
		u := sip.NewUser(demoAccount, name, sipRealm, testPasswords[name])
		doc.Users = append(doc.Users, sipUserDoc{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256})
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(data, sipUsersFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cfg := serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(logs, nil))}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := startServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop(t, srv)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	_, err = srv.store.Push(context.Background(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "calls.js", Source: callsScenario}}})
	if err != nil {
		t.Fatal(err)
	}
	return &callServer{server: srv, data: data, logs: logs}
}

// sipp runs SIPp against the server with testdata/sipp/scenario; the
// working directory is dir (SIPp writes its traces there).
func (s *callServer) sipp(t *testing.T, dir, scenario string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (make test installs Debian's sip-tester): %v", err)
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	local := "127.0.0.1"
	if s.sipAddr.Addr().Is6() {
		local = "::1"
	}
	args = append([]string{s.sipAddr.String(), "-sf", path, "-m", "1", "-i", local, "-nostdin",
		"-timeout", "20s", "-timeout_error", "-trace_err", "-key", "domain", sipRealm}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	return cmd
}

// call runs a caller scenario as phone67 dialling number, and fails the
// test if SIPp does.
func (s *callServer) call(t *testing.T, scenario, number string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	s.callIn(t, dir, scenario, number, args...)
}

func (s *callServer) callIn(t *testing.T, dir, scenario, number string, args ...string) {
	t.Helper()
	if !slices.Contains(args, "target") {
		args = append(args, "-key", "target", "none") // SIPp takes a keyword's first value
	}
	args = append([]string{"-s", number, "-au", "phone67", "-ap", testPasswords["phone67"], "-key", "caller", "phone67",
		"-p", strconv.Itoa(porttest.FreeUDP(t)), "-mp", strconv.Itoa(porttest.FreeUDP(t))}, args...)
	out, err := s.sipp(t, dir, scenario, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sipp %s: %v\n%s%s", scenario, err, out, traces(dir))
	}
}

// traces are SIPp's error traces in dir.
func traces(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*errors.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(f), data)
	}
	return b.String()
}

// sessionLog waits for a session log of the demo account that contains
// every one of want, and returns it.
func (s *callServer) sessionLog(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(s.data, logsDir, demoAccount, "*.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			last = string(data)
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(last, w)
			}
			if ok {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no session log has %q; the last one read:\n%s", want, last)
	return ""
}

// A phone calls in with digest credentials; the scenario answers, plays a
// tone script and hangs up: SIPp checks the 200 and the BYE.
func TestCallAnsweredAndHungUp(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "call.xml", "100")
	s.sessionLog(t, "alerting 100 from phone67 device PHONE", "PlayToneScript", "Call.Connected", "Call.Disconnected")
}

// The same call with vox serve on IPv6 (--sip [::1]:0) and the phone on ::1.
func TestCallOverIPv6(t *testing.T) {
	s := startCallServerWith(t, func(c *serveConfig) { c.SIP = "[::1]:0" })
	s.call(t, "call.xml", "100")
	s.sessionLog(t, "alerting 100 from phone67 device PHONE", "PlayToneScript", "Call.Connected", "Call.Disconnected")
}

// The caller gives up while the call rings with early media: 487.
func TestCallCancelledBeforeAnswer(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "cancel.xml", "200")
	s.sessionLog(t, "StartAudio", "Call.AudioStarted", "Call.Disconnected")
}

// The same from a phone that requires 100rel (RFC 3262): the 183 is
// reliable, the phone's PRACK is answered, and the CANCEL ends the call as
// before. Vox used to refuse such a phone's INVITE with 420.
func TestCallWithReliableEarlyMedia(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "cancel_100rel.xml", "200")
	s.sessionLog(t, "StartAudio", "Call.AudioStarted", "Call.Disconnected")
}

// A re-INVITE with a=sendonly (hold) is answered a=recvonly; the caller
// hangs up.
func TestCallHold(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "hold.xml", "400")
	s.sessionLog(t, "Call.Connected", "Call.Disconnected")
}

// A digit sent as INFO arrives as Call.ToneReceived, an in-dialog MESSAGE
// as Call.MessageReceived (S20).
func TestCallInfoAndMessage(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "call_info.xml", "700")
	s.sessionLog(t, "tone 5", `message {"COMMAND":"hold"}`, "Call.Disconnected")
}

// RTP from SIPp's capture reaches the session: the call is recorded, and
// sox finds the caller's audio in the recording, served over HTTP.
func TestCallMediaIsRecorded(t *testing.T) {
	s := startCallServer(t)
	dir := t.TempDir()
	copyFile(t, "/usr/share/sip-tester/g711a.pcap", filepath.Join(dir, "audio.pcap"))
	s.callIn(t, dir, "call_media.xml", "300", "-d", "7500")
	log := s.sessionLog(t, "recorded http://")
	url := log[strings.Index(log, "recorded http://")+len("recorded "):]
	url = url[:strings.IndexAny(url, "\n ")]
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wav := filepath.Join(t.TempDir(), "call.wav")
	f, err := os.Create(wav)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	f.Close()
	out, err := exec.Command("sox", wav, "-n", "stat").CombinedOutput()
	if err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	length, rms := soxStat(t, string(out), "Length (seconds)"), soxStat(t, string(out), "RMS     amplitude")
	if length < 5 || rms < 0.01 {
		t.Fatalf("the recording is %.1f s long with RMS %.4f; want the capture's 7 s of speech:\n%s", length, rms, out)
	}
}

// Two SIPp phones that send no RTP, a caller and the callee CallSIP bridges
// it to, stand for phones gone without a BYE: with --media-timeout, vox
// ends both calls, and each SIPp gets its BYE. Without the timeout nothing
// would end them, and both SIPps would fail on their 20 s limit.
func TestSilentCallsEnded(t *testing.T) {
	s := startCallServerWith(t, func(c *serveConfig) { c.MediaTimeout = time.Second })
	callee := s.startCallee(t, "uas_answer.xml", strconv.Itoa(porttest.FreeUDP(t)))
	s.call(t, "call.xml", "900", "-key", "target", "sip:callee@127.0.0.1:"+callee.port)
	callee.wait(t)
	s.sessionLog(t, "CallSIP", "SendMediaBetween", "callee gone after", "Call.Disconnected")
}

// RFC 4733 digits from SIPp's capture arrive as Call.ToneReceived.
func TestCallDigits(t *testing.T) {
	s := startCallServer(t)
	dir := t.TempDir()
	copyFile(t, "/usr/share/sip-tester/dtmf_2833_1.pcap", filepath.Join(dir, "audio.pcap"))
	s.callIn(t, dir, "call_media.xml", "300", "-d", "1000")
	s.sessionLog(t, "Call.ToneReceived", "tone = 1", "tone 1")
}

// CallUser rings a registered phone (a SIPp uas registered from its own
// port), bridges it with the caller, and ends both calls: SIPp checks the
// INVITE, the ACK and the BYE on the callee's side.
func TestCallUserBridges(t *testing.T) {
	s := startCallServer(t)
	callee := s.registerCallee(t, "uas_answer.xml")
	s.call(t, "call.xml", "500")
	callee.wait(t)
	s.sessionLog(t, "CallUser", "SendMediaBetween", "Call.Connected")
}

// A busy callee fails the call with 486, which the scenario passes on to
// the caller.
func TestCallUserBusy(t *testing.T) {
	s := startCallServer(t)
	callee := s.registerCallee(t, "uas_busy.xml")
	s.call(t, "call_refused.xml", "600")
	callee.wait(t)
	s.sessionLog(t, "Call.Failed", "code = 486", "phone68 failed 486")
}

// A PBX that CallSIP reaches redirects the call (302): the scenario hears
// where to in Call.Failed's headers and redirects its caller there, whose
// SIPp checks the 302's Contact.
func TestCallRedirectPassedOn(t *testing.T) {
	s := startCallServer(t)
	callee := s.startCallee(t, "uas_redirect.xml", strconv.Itoa(porttest.FreeUDP(t)))
	s.call(t, "call_refused.xml", "950", "-key", "target", "sip:pbx@127.0.0.1:"+callee.port)
	callee.wait(t)
	s.sessionLog(t, "CallSIP", "Call.Failed", "redirected 302 to <sip:reception@192.0.2.7:5080> for out of office", "HangupCall", "code = 3.0200E+02")
}

// CallSIP reaches a PBX that sends its 183 reliably: vox PRACKs it (SIPp
// checks the INVITE's Supported and the PRACK's RAck), and the call
// connects and is bridged.
func TestCallSIPReliable183(t *testing.T) {
	s := startCallServer(t)
	callee := s.startCallee(t, "uas_100rel.xml", strconv.Itoa(porttest.FreeUDP(t)))
	s.call(t, "call.xml", "800", "-key", "target", "sip:pbx@127.0.0.1:"+callee.port)
	callee.wait(t)
	s.sessionLog(t, "CallSIP", "Call.AudioStarted", "Call.Connected", "SendMediaBetween")
}

// CallSIP reaches a SIP URI that asks for digest credentials: SIPp checks
// them, answers, and gets the BYE when the scenario ends.
func TestCallSIPWithCredentials(t *testing.T) {
	s := startCallServer(t)
	callee := s.startCallee(t, "uas_auth.xml", strconv.Itoa(porttest.FreeUDP(t)), "-key", "user", "vox", "-key", "password", "sipsecret")
	s.call(t, "call.xml", "800", "-key", "target", "sip:callee@127.0.0.1:"+callee.port)
	callee.wait(t)
	s.sessionLog(t, "CallSIP", "Call.Connected", "SendMediaBetween")
}

// A call to a user with no registered phone fails with 480.
func TestCallUserOffline(t *testing.T) {
	s := startCallServer(t)
	s.call(t, "call_refused.xml", "600")
	s.sessionLog(t, "Call.Failed", "code = 480")
}

// runningSIPp is a SIPp started in the background.
type runningSIPp struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	dir  string
	port string
	done chan error
}

func (r *runningSIPp) wait(t *testing.T) {
	t.Helper()
	if err := <-r.done; err != nil {
		t.Fatalf("sipp callee: %v\n%s%s", err, r.out, traces(r.dir))
	}
}

// registerCallee registers phone68 from a free port with SIPp, then starts
// scenario there as a uas that takes one call.
func (s *callServer) registerCallee(t *testing.T, scenario string) *runningSIPp {
	t.Helper()
	dir := t.TempDir()
	port := strconv.Itoa(porttest.FreeUDP(t))
	reg := s.sipp(t, dir, "register_only.xml", "-p", port, "-s", "phone68", "-au", "phone68", "-ap", testPasswords["phone68"])
	if out, err := reg.CombinedOutput(); err != nil {
		t.Fatalf("sipp register: %v\n%s%s", err, out, traces(dir))
	}
	return s.startCallee(t, scenario, port, "-s", "phone68")
}

// startCallee starts scenario as a uas on port that takes one call.
func (s *callServer) startCallee(t *testing.T, scenario, port string, args ...string) *runningSIPp {
	t.Helper()
	bin, _ := exec.LookPath("sipp")
	path, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "sipp", scenario))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	args = append([]string{"-sf", path, "-m", "1", "-i", "127.0.0.1", "-p", port,
		"-mp", strconv.Itoa(porttest.FreeUDP(t)), "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err"}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	r := &runningSIPp{cmd: cmd, out: &bytes.Buffer{}, dir: dir, port: port, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	// The call may come as soon as SIPp is started: wait until it has
	// bound its port.
	r.waitBound(t)
	return r
}

// waitBound waits until r's SIPp has bound its UDP port, as /proc/net/udp
// shows. Binding the port to find out, as this did, took it from SIPp for a
// moment, and a SIPp that started in that moment exited.
func (r *runningSIPp) waitBound(t *testing.T) {
	t.Helper()
	port, err := strconv.Atoi(r.port)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	bound := func() bool {
		for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
			data, _ := os.ReadFile(table)
			for line := range strings.Lines(string(data)) {
				if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[1], suffix) {
					return true
				}
			}
		}
		return false
	}
	deadline := time.After(10 * time.Second)
	for !bound() {
		select {
		case err := <-r.done:
			t.Fatalf("sipp callee exited before it bound port %d: %v\n%s%s", port, err, r.out, traces(r.dir))
		case <-deadline:
			t.Fatalf("sipp callee did not bind port %d in 10 s", port)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("%v (make test installs Debian's sip-tester, which brings SIPp's captures)", err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// soxStat reads one figure of sox's stat output.
func soxStat(t *testing.T, out, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == strings.TrimSpace(name) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	t.Fatalf("sox stat has no %q:\n%s", name, out)
	return 0
}
