package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"vox/controller/history"
)

// The softphone page in Firefox (Debian's firefox-esr, which make test
// installs), driven over WebDriver BiDi, the W3C protocol Firefox speaks on
// its remote debugging port: Chromium's WebRTC is not the only one browsers
// call with, and Firefox's SDP, ICE and DTLS differ from it.

// firefoxPrefs make the headless browser a phone for tests: a fake
// microphone granted without asking, real host addresses in ICE, and no
// traffic of its own.
var firefoxPrefs = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.autoplay.default":                            0,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"browser.shell.checkDefaultBrowser":                 false,
	"app.update.disabledForTesting":                     true,
	"app.normandy.enabled":                              false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"browser.safebrowsing.update.enabled":               false,
	"extensions.update.enabled":                         false,
}

// firefoxTone is what Firefox's fake microphone says, Hz.
const firefoxTone = 1000.0

// ownNetworkEnv names the test that runs, in this process, inside the
// network namespace its parent made for it.
const ownNetworkEnv = "VOX_TEST_OWN_NETWORK"

// The addresses of inOwnNetwork's namespace: Firefox calls from the first,
// vox listens for SIP and media on the second.
const (
	firefoxAddr = "10.99.0.1"
	voxAddr     = "10.99.0.2"
)

// inOwnNetwork runs t again in a network namespace of its own and reports
// true when that run passed; false means this process is that run, and t
// goes on. Firefox gathers no ICE candidate on loopback, pairs none of its
// own with a peer's on loopback, and gathers none at all without a default
// route; so the namespace has, besides its loopback, a pair of virtual
// interfaces wired to each other (firefoxAddr and voxAddr) with the default
// route through them, and nothing Firefox or vox sends can leave it.
func inOwnNetwork(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ownNetworkEnv) == t.Name() {
		return false
	}
	const setup = `ip link set lo up &&
		ip link add vox0 type veth peer name vox1 &&
		ip addr add ` + firefoxAddr + `/24 dev vox0 && ip addr add ` + voxAddr + `/24 dev vox1 &&
		ip link set vox0 up && ip link set vox1 up &&
		ip route add default via ` + voxAddr + ` &&
		exec "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", setup, "sh",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), ownNetworkEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a network namespace of its own (unshare needs root, as make test has): %v\n%s", t.Name(), err, out)
	}
	t.Logf("in a network namespace of its own:\n%s", out)
	return true
}

// firefox is one headless Firefox with one tab, and the BiDi session
// driving it.
type firefox struct {
	t       *testing.T
	conn    net.Conn
	tab     string // the browsing context
	lastID  int
	stopped chan struct{}
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

func startFirefox(t *testing.T) *firefox {
	t.Helper()
	bin := browserBinary(t, "firefox-esr", "firefox-esr")
	home := t.TempDir()
	profile := filepath.Join(home, "profile")
	if err := os.Mkdir(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	var prefs strings.Builder
	for name, v := range firefoxPrefs {
		value, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", name, value)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Firefox: %v", err)
	}
	f := &firefox{t: t, stopped: make(chan struct{})}
	t.Cleanup(func() {
		if f.conn != nil {
			f.conn.Close()
		}
		cancel()
		<-f.stopped
	})
	// Firefox says on stderr where BiDi listens; the rest of what it says
	// is shown only if it exits first.
	addr := make(chan string, 1)
	var said strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := bidiListening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			} else if said.Len() < 8<<10 {
				said.WriteString(sc.Text() + "\n")
			}
		}
		cmd.Wait()
		close(f.stopped)
	}()
	var url string
	select {
	case url = <-addr:
	case <-f.stopped:
		t.Fatalf("Firefox exited before listening for BiDi:\n%s", said.String())
	case <-time.After(60 * time.Second):
		t.Fatal("Firefox did not listen for BiDi within a minute")
	}
	dialCtx, cancelDial := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelDial()
	if f.conn, _, _, err = ws.Dial(dialCtx, url+"/session"); err != nil {
		t.Fatalf("BiDi: %v", err)
	}
	f.call("session.new", map[string]any{"capabilities": map[string]any{}}, nil)
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	f.call("browsingContext.getTree", map[string]any{}, &tree)
	if len(tree.Contexts) == 0 {
		t.Fatal("BiDi: Firefox has no tab")
	}
	f.tab = tree.Contexts[0].Context
	return f
}

// call sends a BiDi command and reads its result into result (when not
// nil), skipping the events that come meanwhile.
func (f *firefox) call(method string, params, result any) {
	f.t.Helper()
	f.lastID++
	req, err := json.Marshal(map[string]any{"id": f.lastID, "method": method, "params": params})
	if err != nil {
		f.t.Fatal(err)
	}
	f.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wsutil.WriteClientText(f.conn, req); err != nil {
		f.t.Fatalf("BiDi %s: %v", method, err)
	}
	for {
		msg, err := wsutil.ReadServerText(f.conn)
		if err != nil {
			f.t.Fatalf("BiDi %s: %v", method, err)
		}
		var res struct {
			ID      int             `json:"id"`
			Type    string          `json:"type"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(msg, &res); err != nil {
			f.t.Fatalf("BiDi %s: %v", method, err)
		}
		if res.Type == "event" || res.ID != f.lastID {
			continue
		}
		if res.Type == "error" {
			f.t.Fatalf("BiDi %s: %s: %s", method, res.Error, res.Message)
		}
		if result != nil {
			if err := json.Unmarshal(res.Result, result); err != nil {
				f.t.Fatalf("BiDi %s: %v", method, err)
			}
		}
		return
	}
}

// eval runs expr in the page, awaiting it if it is a promise, and reads its
// value, as JSON, into out (when not nil).
func (f *firefox) eval(expr string, out any) {
	f.t.Helper()
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	f.call("script.evaluate", map[string]any{
		"expression":   "(async () => JSON.stringify(await (" + expr + ")))()",
		"target":       map[string]any{"context": f.tab},
		"awaitPromise": true,
	}, &res)
	if res.Type != "success" {
		f.t.Fatalf("in Firefox, %s: %s", expr, res.ExceptionDetails.Text)
	}
	if out != nil && res.Result.Value != "" {
		if err := json.Unmarshal([]byte(res.Result.Value), out); err != nil {
			f.t.Fatalf("in Firefox, %s: %v", expr, err)
		}
	}
}

// signIn opens the page of s and signs in as user, as a user types and
// clicks.
func (f *firefox) signIn(s *callServer, user, password string) {
	f.t.Helper()
	f.call("browsingContext.navigate", map[string]any{"context": f.tab, "url": fmt.Sprintf("http://%s/phone", s.addr), "wait": "complete"}, nil)
	f.eval(fmt.Sprintf(`(() => {
		document.getElementById("login").value = %q;
		document.getElementById("password").value = %q;
		document.getElementById("signin-button").click();
	})()`, user, password), nil)
}

func (f *firefox) click(id string) {
	f.t.Helper()
	f.eval(fmt.Sprintf(`document.getElementById(%q).click()`, id), nil)
}

func (f *firefox) dial(number string) {
	f.t.Helper()
	f.eval(fmt.Sprintf(`document.getElementById("number").value = %q`, number), nil)
	f.click("call")
}

func (f *firefox) state() phoneState {
	f.t.Helper()
	var st phoneState
	f.eval(`window.voxPhone.state()`, &st)
	return st
}

func (f *firefox) waitState(want, shot string) phoneState {
	f.t.Helper()
	return waitPageState(f.t, f, want, shot)
}

// screenshot keeps the page as it is now under artifacts/phone.
func (f *firefox) screenshot(name string) {
	f.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	f.call("browsingContext.captureScreenshot", map[string]any{"context": f.tab}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(phoneArtifacts, 0o755); err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(phoneArtifacts, unsafeName.ReplaceAllString(f.t.Name(), "_")+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// inbound is what the page counts of the far end's audio.
type inbound struct {
	Packets int `json:"packetsReceived"`
	Bytes   int `json:"bytesReceived"`
	Lost    int `json:"packetsLost"`
}

func (f *firefox) inbound() inbound {
	f.t.Helper()
	var in inbound
	f.eval(`window.voxPhone.inbound()`, &in)
	return in
}

// received is how many packets of the far end's audio Firefox decrypts
// and counts in the next second.
func (f *firefox) received() int {
	f.t.Helper()
	before := f.inbound()
	time.Sleep(time.Second)
	return f.inbound().Packets - before.Packets
}

// waitReceiving checks that the far end's audio reaches Firefox: baresip
// sends 50 packets a second.
func (f *firefox) waitReceiving() {
	f.t.Helper()
	if got := f.received(); got < 25 {
		f.t.Fatalf("Firefox received %d packets of the far end's audio in a second, want about 50", got)
	}
}

// startFirefoxAndPhone starts, in inOwnNetwork's namespace, a vox serve
// whose demo application is bridgeScenario, Firefox signed in as user, and
// baresip registered as phoneUser, saying calleeTone and answering as
// answermode says.
func startFirefoxAndPhone(t *testing.T, user, phoneUser, answermode string) (*callServer, *firefox, *baresipUA) {
	t.Helper()
	s := startBridgeServerWith(t, func(cfg *serveConfig) { cfg.SIP = voxAddr + ":0" })
	ua := startBaresip(t, s, phoneUser, toneWAV(t, t.TempDir(), calleeTone), answermode)
	f := startFirefox(t)
	f.signIn(s, user, testPasswords[user])
	f.waitState("registered", "registered")
	s.waitRegistered(t, user, phoneUser)
	return s, f, ua
}

// Firefox calls baresip through vox: registered over WebSocket, bridged by a
// scenario to plain RTP, with media both ways, DTMF, and a hang-up from the
// page.
func TestFirefoxPageCallsBaresip(t *testing.T) {
	t.Parallel()
	if inOwnNetwork(t) {
		return
	}
	s, f, callee := startFirefoxAndPhone(t, "phone67", "phone68", "auto")

	f.dial("phone68")
	callee.waitEvent(t, "CALL_ESTABLISHED")
	f.waitState("in-call", "in-call")
	s.sessionLog(t, "alerting phone68 from phone67 device WEBRTC", "answered")

	// Firefox's microphone reaches baresip; baresip's RTP reaches Firefox,
	// which decrypts and counts it (a headless Firefox plays no audio, so
	// the page cannot analyse it as it does in Chromium).
	callee.waitReceived(t, talk)
	callee.waitLevel(t, "Firefox's microphone", func(rms float64) bool { return rms > pageLevel })
	f.waitReceiving()

	// Held, Firefox offers sendonly, and Vox sends it nothing; unheld,
	// baresip's audio again.
	f.click("hold")
	f.waitState("on-hold", "on-hold")
	time.Sleep(200 * time.Millisecond) // what was on its way when the hold was agreed
	if got := f.received(); got > 5 {
		t.Fatalf("on hold, Firefox still received %d packets in a second", got)
	}
	f.click("hold")
	f.waitState("in-call", "unheld")
	f.waitReceiving()

	for _, d := range "7*" {
		f.eval(fmt.Sprintf(`document.querySelector('#keypad button[data-key=%q]').click()`, string(d)), nil)
	}
	s.sessionLog(t, "tone 7", "tone *")

	f.click("hangup")
	callee.waitEvent(t, "CALL_CLOSED")
	f.waitState("registered", "hung-up")
	callee.stop(t)
	checkToneLevel(t, "what baresip received from Firefox", callee.received(t), 0, false, firefoxTone, pageLevel)
	s.checkCallDevice(t, "phone67", "phone68", history.WebRTC)
}

// baresip calls Firefox through vox: vox offers WebRTC to Firefox, which
// answers from the page; media both ways, and the caller hangs up.
func TestBaresipCallsFirefox(t *testing.T) {
	t.Parallel()
	if inOwnNetwork(t) {
		return
	}
	s, f, caller := startFirefoxAndPhone(t, "phone68", "phone67", "manual")

	caller.command(t, "dial", "phone68")
	f.waitState("incoming", "incoming")
	f.click("answer")
	f.waitState("in-call", "answered")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	s.sessionLog(t, "alerting phone68 from phone67 device PHONE", "answered")

	caller.waitReceived(t, talk)
	caller.waitLevel(t, "Firefox's microphone", func(rms float64) bool { return rms > pageLevel })
	f.waitReceiving()

	// Muted, Firefox sends silence; unmuted, its tone again.
	f.click("mute")
	caller.waitLevel(t, "Firefox muted", func(rms float64) bool { return rms < 0.005 })
	f.click("mute")
	caller.waitLevel(t, "Firefox unmuted", func(rms float64) bool { return rms > pageLevel })

	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	f.waitState("registered", "caller-hung-up")
	caller.stop(t)
	checkToneLevel(t, "what the caller received from Firefox", caller.received(t), 0, false, firefoxTone, pageLevel)
	s.checkCallDevice(t, "phone67", "phone68", history.Phone)
}

// A call Firefox declines from the page fails with 603 Decline, which the
// scenario hears.
func TestFirefoxDeclines(t *testing.T) {
	t.Parallel()
	if inOwnNetwork(t) {
		return
	}
	s, f, caller := startFirefoxAndPhone(t, "phone68", "phone67", "manual")

	caller.command(t, "dial", "phone68")
	f.waitState("incoming", "incoming")
	f.click("decline")
	caller.waitEvent(t, "CALL_CLOSED")
	f.waitState("registered", "declined")
	s.sessionLog(t, "Call.Failed", "603")
	caller.stop(t)
}
