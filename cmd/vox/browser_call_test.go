package main

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vox/controller/history"
)

// Calls between the softphone page in headless Chromium and baresip,
// through vox serve: WebRTC on one side, plain RTP on the other, bridged by
// a scenario.

// bridgeScenario rings the user dialled and bridges the caller with it; it
// logs the caller's device, digits and in-call messages.
const bridgeScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	Logger.write("alerting " + e.destination + " from " + e.callerid + " device " + e.headers["VI-Client-Device"]);
	call.handleTones(true);
	call.addEventListener(CallEvents.ToneReceived, (t) => Logger.write("tone " + t.tone));
	call.addEventListener(CallEvents.MessageReceived, (m) => Logger.write("message " + m.text));
	const out = VoxEngine.callUser({username: e.destination, callerid: e.callerid});
	out.addEventListener(CallEvents.Connected, () => {
		Logger.write("answered");
		call.answer();
		VoxEngine.sendMediaBetween(call, out);
	});
	out.addEventListener(CallEvents.Failed, (f) => {
		call.hangup();
		VoxEngine.terminate();
	});
	out.addEventListener(CallEvents.Disconnected, () => {
		call.hangup();
		VoxEngine.terminate();
	});
	call.addEventListener(CallEvents.Disconnected, () => {
		out.hangup();
		VoxEngine.terminate();
	});
});
`

// startBridgeServer is a vox serve whose demo application is bridgeScenario.
func startBridgeServer(t *testing.T) *callServer {
	t.Helper()
	return startBridgeServerWith(t, nil)
}

// startBridgeServerWith is startBridgeServer with edit changing the server's
// configuration first.
func startBridgeServerWith(t *testing.T, edit func(*serveConfig)) *callServer {
	t.Helper()
	s := startCallServerWith(t, edit)
	s.pushScenario(t, "bridge.js", bridgeScenario)
	return s
}

// pageLevel is the RMS the page's tone must reach a phone with: the page
// keeps the browser's noise suppression on, as a softphone on a laptop needs,
// and it takes a steady sine for noise, down to a fifth of the 0.35 sent.
const pageLevel = 0.03

// tone is what window.voxPhone.remoteTone() says.
type tone struct {
	Freq float64 `json:"freq"`
	RMS  float64 `json:"rms"`
}

func (b *browser) remoteTone() tone {
	b.t.Helper()
	return get(b, "read the far end's tone", chromedp.Evaluate[tone](`window.voxPhone.remoteTone()`))
}

// waitHearing waits until the page hears a tone of about hz (within 3%,
// wider than the analyser's bins), or, with hz 0, silence.
func (b *browser) waitHearing(hz float64, what string) tone {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tn := b.remoteTone()
		switch {
		case hz == 0 && tn.RMS < 0.01:
			return tn
		case hz > 0 && tn.RMS > 0.05 && math.Abs(tn.Freq-hz) < 0.03*hz:
			b.t.Logf("%s: the page hears %.0f Hz at RMS %.3f", what, tn.Freq, tn.RMS)
			return tn
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: the page hears %.0f Hz at RMS %.3f, want %.0f Hz", what, tn.Freq, tn.RMS, hz)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dial types number and calls it.
func (b *browser) dial(number string) {
	b.t.Helper()
	b.run("type "+number, chromedp.SetValue(chromedp.ID("number"), number))
	b.click("call")
}

// press clicks the dial pad's key for digit (a digit sends DTMF in a call).
func (b *browser) press(digit rune) {
	b.t.Helper()
	b.run("press "+string(digit), chromedp.Click(chromedp.CSS(`#keypad button[data-key="`+string(digit)+`"]`)))
}

// startPageAndPhone signs the page in as phone67, with baresip registered
// as phone68, answering by itself and saying calleeTone.
func startPageAndPhone(t *testing.T, s *callServer) (*browser, *baresipUA) {
	t.Helper()
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	b := startBrowser(t, pageToneWAV(t, dir))
	b.signIn(s, "phone67", testPasswords["phone67"])
	b.waitState("registered", "registered")
	s.waitRegistered(t, "phone68")
	return b, callee
}

// callPhone calls phone68 from the page and waits until both are in the call.
func (b *browser) callPhone(callee *baresipUA) {
	b.t.Helper()
	b.dial("phone68")
	callee.waitEvent(b.t, "CALL_ESTABLISHED")
	b.waitState("in-call", "in-call")
}

// startPageDeskAndCaller registers phone68 twice, on the page and on a
// baresip desk phone (answering by hand, saying 440 Hz), and phone67 on a
// baresip that calls it (saying calleeTone).
func startPageDeskAndCaller(t *testing.T, s *callServer) (b *browser, desk, caller *baresipUA) {
	t.Helper()
	dir := t.TempDir()
	desk = startBaresip(t, s, "phone68", toneWAV(t, dir, 440), "manual")
	caller = startBaresip(t, s, "phone67", toneWAV(t, dir, calleeTone), "manual")
	b = startBrowser(t, pageToneWAV(t, dir))
	b.signIn(s, "phone68", testPasswords["phone68"])
	b.waitState("registered", "registered")
	s.waitRegistered(t, "phone67", "phone68")
	return b, desk, caller
}

func TestPhonePageCallsBaresip(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	b, callee := startPageAndPhone(t, s)

	// The page calls phone68; baresip answers by itself.
	b.callPhone(callee)
	s.sessionLog(t, "alerting phone68 from phone67 device WEBRTC", "answered")

	// baresip's tone reaches the page, the page's tone reaches baresip.
	b.waitHearing(calleeTone, "in call")
	callee.waitReceived(t, talk)
	// The call timer runs.
	if timer := b.text("timer"); timer == "00:00" || !strings.HasPrefix(timer, "00:0") {
		t.Fatalf("the call timer reads %q after %v of call", timer, talk)
	}

	// DTMF from the page's dial pad, RFC 4733 through WebRTC.
	for _, d := range "5#" {
		b.press(d)
	}
	s.sessionLog(t, "tone 5", "tone #")

	// On hold the page hears nothing (Vox sends nothing to a party that
	// asked for none); unheld, baresip again.
	b.click("hold")
	b.waitState("on-hold", "on-hold")
	b.waitHearing(0, "on hold")
	b.click("hold")
	b.waitState("in-call", "unheld")
	b.waitHearing(calleeTone, "unheld")

	// Muted, the page sends silence; unmuted, its tone again.
	b.click("mute")
	if !b.state().Muted {
		t.Fatal("the page did not mute")
	}
	callee.waitLevel(t, "the page muted", func(rms float64) bool { return rms < 0.005 })
	b.screenshot("muted")
	b.click("mute")
	callee.waitLevel(t, "the page unmuted", func(rms float64) bool { return rms > pageLevel })

	// The quality meter goes as an in-call MESSAGE (every 5 s).
	s.sessionLog(t, `message {"COMMAND":"meter","PERCENT":`)

	// The page hangs up; baresip's call ends.
	b.click("hangup")
	callee.waitEvent(t, "CALL_CLOSED")
	st := b.waitState("registered", "hung-up")
	if st.Status != "Call ended" {
		t.Fatalf("after hanging up: %+v", st)
	}
	callee.stop(t)
	checkToneLevel(t, "what baresip received from the page", callee.received(t), 0, false, pageTone, pageLevel)
	s.checkCallDevice(t, "phone67", "phone68", history.WebRTC)
}

// checkCallDevice checks that the server's one call record is the call from
// caller to callee, answered, made from a device of the kind want (S21).
func (s *callServer) checkCallDevice(t *testing.T, caller, callee, want string) {
	t.Helper()
	records := s.waitCallRecords(t, 1)
	rec := records[0]
	if len(records) != 1 || rec.From != caller || rec.To != callee || rec.Direction != history.Incoming ||
		rec.Status != history.Answered || rec.Device != want {
		t.Errorf("call records %+v, want one answered call from %s to %s on device %s", records, caller, callee, want)
	}
}

func TestBaresipHangsUpOnThePage(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	b, callee := startPageAndPhone(t, s)

	b.callPhone(callee)
	b.waitHearing(calleeTone, "in call")

	callee.command(t, "hangup", "")
	callee.waitEvent(t, "CALL_CLOSED")
	st := b.waitState("registered", "far-end-hung-up")
	if st.Status != "The other side hung up" {
		t.Fatalf("after baresip hung up: %+v", st)
	}
}

// A page that goes away mid-call (its tab closed, no BYE) ends the call: its
// WebSocket closes, its media fails, and the phone hears the hang-up; its
// binding goes.
func TestPageGoneEndsTheCall(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	b, callee := startPageAndPhone(t, s)
	b.callPhone(callee)

	b.close()
	callee.waitEvent(t, "CALL_CLOSED")
	s.waitUnregistered(t, "phone67")
}

// CallUser on a user registered on the page and on baresip rings both; the
// page answers, and baresip stops ringing (CANCEL).
func TestCallUserRingsThePageAndThePhone(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	b, desk, caller := startPageDeskAndCaller(t, s)
	if n := len(s.sip.Registrar().Bindings(sipRealm, "phone68")); n != 2 {
		t.Fatalf("phone68 has %d bindings, want the page's and baresip's", n)
	}

	caller.command(t, "dial", "phone68")
	desk.waitEvent(t, "CALL_INCOMING")
	st := b.waitState("incoming", "incoming")
	if !strings.Contains(b.text("caller"), "phone67") {
		t.Fatalf("the page shows a call from %q: %+v", b.text("caller"), st)
	}
	b.click("answer")
	b.waitState("in-call", "answered")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	desk.waitEvent(t, "CALL_CLOSED") // its ringing stopped
	s.sessionLog(t, "alerting phone68 from phone67 device PHONE", "answered")

	// What the caller says reaches the page, and the other way round.
	b.waitHearing(calleeTone, "answered")
	caller.waitReceived(t, talk)

	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	b.waitState("registered", "caller-hung-up")
	caller.stop(t)
	checkToneLevel(t, "what the caller received from the page", caller.received(t), 0, false, pageTone, pageLevel)
	s.checkCallDevice(t, "phone67", "phone68", history.Phone)
}

// text is the text of the element with id.
func (b *browser) text(id string) string {
	b.t.Helper()
	return get(b, "read #"+id, chromedp.Text(chromedp.ID(id)))
}

// The README's browser steps: the page signs in as phone67 and calls the
// bundled demo, which greets it, rings phone68 (baresip) and bridges them.
func TestPageCallsThroughTheDemo(t *testing.T) {
	t.Parallel()
	s := startCallServer(t)
	s.pushBundledDemo(t)
	b, callee := startPageAndPhone(t, s)

	b.dial("100")
	b.waitState("in-call", "greeted") // the demo answers at once
	callee.waitEvent(t, "CALL_ESTABLISHED")
	b.waitHearing(calleeTone, "bridged")
	callee.waitReceived(t, talk)
	b.screenshot("bridged")
	b.click("hangup")
	callee.waitEvent(t, "CALL_CLOSED")
	b.waitState("registered", "hung-up")
	s.sessionLog(t, "Ringing phone68 for phone67", "SendMediaBetween", "Recording: http://", "Session terminated")
	callee.stop(t)
	checkToneLevel(t, "what phone68 received from the page", callee.received(t), 0, false, pageTone, pageLevel)
}

// A call the page declines fails with 603 Decline, which the scenario hears.
func TestPageDeclines(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	dir := t.TempDir()
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, calleeTone), "manual")
	b := startBrowser(t, pageToneWAV(t, dir))
	b.signIn(s, "phone68", testPasswords["phone68"])
	b.waitState("registered", "registered")
	s.waitRegistered(t, "phone67")

	caller.command(t, "dial", "phone68")
	b.waitState("incoming", "incoming")
	b.click("decline")
	caller.waitEvent(t, "CALL_CLOSED")
	b.waitState("registered", "declined")
	s.sessionLog(t, "Call.Failed", "603")
}

// CallUser rings the page and a phone of the same user; the phone answers
// first, and the page stops ringing, told the call was answered elsewhere.
func TestCallUserPhoneAnswersFirst(t *testing.T) {
	t.Parallel()
	s := startBridgeServer(t)
	b, desk, caller := startPageDeskAndCaller(t, s)

	caller.command(t, "dial", "phone68")
	desk.waitEvent(t, "CALL_INCOMING")
	b.waitState("incoming", "incoming")
	desk.command(t, "accept", "")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	st := b.waitState("registered", "answered-elsewhere")
	if st.Status != "Answered on another device" {
		t.Fatalf("the page after the desk phone answered: %+v", st)
	}
	// The phones hear each other through the bridge.
	caller.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	desk.waitEvent(t, "CALL_CLOSED")
	caller.stop(t)
	checkTone(t, "what the caller received from the desk phone", caller.received(t), 0, false, 440)
}

// waitLevel waits until the last half second baresip received has an RMS
// level (0-1) that ok accepts.
func (ua *baresipUA) waitLevel(t *testing.T, what string, ok func(rms float64) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rms := ua.recentLevel(t)
		if ok(rms) {
			t.Logf("%s: baresip receives RMS %.3f", what, rms)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: baresip receives RMS %.3f", what, rms)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recentLevel is the RMS of the last half second in the received-audio file
// sndfile is writing (8 kHz, 16-bit mono after a 44-byte header).
func (ua *baresipUA) recentLevel(t *testing.T) float64 {
	t.Helper()
	data, err := os.ReadFile(ua.received(t))
	if err != nil {
		t.Fatal(err)
	}
	const window = 4000 * 2
	if len(data) < 44+window {
		return 0
	}
	tail := data[len(data)-window:]
	var sum float64
	for i := 0; i+1 < len(tail); i += 2 {
		v := float64(int16(binary.LittleEndian.Uint16(tail[i:]))) / 32768
		sum += v * v
	}
	return math.Sqrt(sum / (window / 2))
}
