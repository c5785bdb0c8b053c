package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Linphone (Debian's linphone-cli, its console client linphonec) is the
// other free softphone users try first, and it speaks differently from
// baresip: its offer lists Opus, Speex and G.729 before G.711, with RTCP
// feedback and extended reports, it registers with a +sip.instance and
// answers the challenge on its own terms. It calls through the bundled demo
// to baresip; each hears the other, checked with sox.

func TestLinphoneCallsBaresipThroughTheDemo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport string   // SIP's, "udp" or "tcp"
		args      []string // linphonec's options
		config    []string // linphonerc lines after its [sip] section's
		logs      string   // what vox logs for the call
	}{
		{name: "RTP", transport: "udp", logs: "srtp=false"},
		// SRTP keyed in SDP (SDES), which Linphone insists on with these.
		{name: "SRTP", transport: "udp", config: []string{"media_encryption=srtp", "media_encryption_mandatory=1"}, logs: "srtp=true"},
		{name: "TCP", transport: "tcp", logs: "srtp=false"},
		// ICE candidates in its offer, as Linphone's mobile apps send by
		// default: vox answers without ICE, and Linphone falls back to the
		// addresses in c= and m=.
		{name: "ICE offered", transport: "udp", config: []string{"[net]", "firewall_policy=ice"}, logs: "srtp=false"},
		// Video besides audio, from a stand-in camera, as a phone with a
		// camera offers: vox answers audio and refuses the video stream
		// in its place (m=video 0), so Linphone finds every stream it
		// offered in the answer.
		{name: "video offered", transport: "udp", args: []string{"-C"},
			config: []string{"[video]", "enabled=1", "capture=1", "display=0", "automatically_initiate=1"}, logs: "srtp=false"},
		// RTCP feedback (RFC 4585), the profile Linphone offers when its
		// account is set to AVPF: RTP/AVPF, or RTP/SAVPF with SRTP. vox
		// answers in the same profile. Linphone let an RTP/AVP answer to
		// RTP/AVPF pass, but aborted the call as incompatible when
		// RTP/SAVPF was answered RTP/AVP, without SRTP.
		{name: "AVPF", transport: "udp", config: []string{"[rtp]", "avpf=1", "[proxy_default_values]", "avpf=1"}, logs: "srtp=false"},
		{name: "SRTP with AVPF", transport: "udp", config: []string{"media_encryption=srtp", "media_encryption_mandatory=1",
			"[rtp]", "avpf=1", "[proxy_default_values]", "avpf=1"}, logs: "srtp=true"},
		// All of it at once, as a user of Linphone's apps may have it:
		// SRTP required, ICE, AVPF, RTCP on the RTP port, and video.
		{name: "everything offered", transport: "udp", args: []string{"-C"}, config: []string{
			"media_encryption=srtp", "media_encryption_mandatory=1", "[net]", "firewall_policy=ice",
			"[rtp]", "avpf=1", "rtcp_mux=1", "[proxy_default_values]", "avpf=1",
			"[video]", "enabled=1", "capture=1", "display=0", "automatically_initiate=1"}, logs: "srtp=true"},
	} {
		t.Run(tc.name, func(t *testing.T) { linphoneCallsBaresip(t, tc.transport, tc.args, tc.config, tc.logs) })
	}
}

func linphoneCallsBaresip(t *testing.T, transport string, args, config []string, logs string) {
	linphoneCallsBaresipOn(t, startCallServer(t), transport, args, config, logs)
}

// linphoneCallsBaresipOn is linphoneCallsBaresip through s.
func linphoneCallsBaresipOn(t *testing.T, s *callServer, transport string, args, config []string, logs string) {
	s.pushBundledDemo(t)
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	caller := startLinphoneArgs(t, s, "phone67", transport, args, config...)
	caller.waitRegistered(t, s)
	s.waitRegistered(t, "phone68")
	if b := s.sip.Registrar().Bindings(sipRealm, "phone67"); b[0].Transport != strings.ToUpper(transport) {
		t.Fatalf("Linphone registered over %s, want %s", b[0].Transport, transport)
	}

	caller.send(t, "call sip:100@"+s.sipAddr.Addr().String())
	caller.waitOutput(t, "connected.")
	// What it says and hears: the demo greets it, rings phone68 with a
	// ringback and bridges the two.
	heard := filepath.Join(dir, "linphone-received.wav")
	caller.send(t, "record "+heard)
	caller.send(t, "play "+toneWAV(t, dir, callerTone))
	callee.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitReceived(t, talk)
	caller.send(t, "terminate")
	caller.waitOutput(t, "ended")
	callee.waitEvent(t, "CALL_CLOSED") // the demo hangs up the other leg
	s.sessionLog(t, "Ringing phone68 for phone67", "SendMediaBetween", "Session terminated")
	caller.stop(t)
	callee.stop(t)

	if want := "destination=100 app=demo " + logs; !strings.Contains(s.logs.String(), want) {
		t.Errorf("vox did not log %q:\n%s", want, s.logs)
	}
	if out := caller.out.String(); strings.Contains(out, "Unable to find stream") {
		t.Errorf("Linphone did not find its streams in vox's answer:\n%s", out)
	}
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	checkTone(t, "what Linphone received last", heard, 0, true, calleeTone)
}

// Linphone over TLS, checking vox's certificate against the test's
// authority, with SRTP it insists on, as a careful user sets it up: its call
// through the demo reaches phone68 (baresip, on UDP), and each hears the
// other. Its TLS is mbedTLS, where baresip's is OpenSSL's. The name check is
// off: the certificate names 127.0.0.1 in an IP address SAN, which Debian's
// mbedTLS does not match.
func TestLinphoneOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "127.0.0.1")
	s := startCallServerWith(t, func(cfg *serveConfig) {
		cfg.TLSCert, cfg.TLSKey, cfg.SIPTLS = certFile, keyFile, "127.0.0.1:0"
	})
	linphoneCallsBaresipOn(t, s, "tls", nil, []string{"root_ca=" + certFile, "verify_server_certs=1", "verify_server_cn=0",
		"media_encryption=srtp", "media_encryption_mandatory=1"}, "srtp=true")
}

// baresip calls the demo, which rings Linphone; Linphone answers, holds the
// call (its re-INVITE with a=sendonly), so that the caller hears the
// ringback, and takes it back: each hears the other at the end.
func TestBaresipCallsLinphoneWhoHolds(t *testing.T) {
	s := startCallServer(t)
	callee, caller, heard := baresipCallsLinphone(t, s)
	time.Sleep(time.Second)
	callee.send(t, "pause")
	s.sessionLog(t, "Call.OnHold", "PlayToneScript")
	callee.send(t, "resume")
	s.sessionLog(t, "Call.OffHold")
	hangUpAndCheck(t, callee, caller, heard)
}

// Linphone set to require SRTP, registered over UDP, refuses the plain RTP
// vox offers a phone off TLS first (488); vox offers it SRTP next, and the
// call goes through: each side hears the other.
func TestLinphoneRequiringSRTPIsCalled(t *testing.T) {
	s := startCallServer(t)
	callee, caller, heard := baresipCallsLinphone(t, s, "media_encryption=srtp", "media_encryption_mandatory=1")
	if want := "the phone refused plain RTP; offering SRTP"; !strings.Contains(s.logs.String(), want) {
		t.Errorf("vox did not log %q:\n%s", want, s.logs)
	}
	hangUpAndCheck(t, callee, caller, heard)
}

// baresipCallsLinphone has phone67, on baresip, call the bundled demo, which
// rings phone68 on Linphone (with config lines after its [sip] section's);
// Linphone answers, records what it hears into heard and says its tone.
// It returns once the demo has bridged the two.
func baresipCallsLinphone(t *testing.T, s *callServer, config ...string) (callee *linphoneUA, caller *baresipUA, heard string) {
	t.Helper()
	s.pushBundledDemo(t)
	dir := t.TempDir()
	callee = startLinphoneOver(t, s, "phone68", "udp", config...)
	callee.send(t, "autoanswer enable")
	caller = startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	callee.waitRegistered(t, s)
	s.waitRegistered(t, "phone67")

	caller.command(t, "dial", "100")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitOutput(t, "connected.")
	heard = filepath.Join(dir, "linphone-received.wav")
	callee.send(t, "record "+heard)
	callee.send(t, "play "+toneWAV(t, dir, calleeTone))
	s.sessionLog(t, "SendMediaBetween")
	return callee, caller, heard
}

// hangUpAndCheck lets the call of baresipCallsLinphone talk, has phone67
// hang up, and checks that each side heard the other last.
func hangUpAndCheck(t *testing.T, callee *linphoneUA, caller *baresipUA, heard string) {
	t.Helper()
	time.Sleep(talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitOutput(t, "ended")
	callee.stop(t)
	caller.stop(t)
	checkTone(t, "what Linphone received last", heard, 0, true, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// callUser rings every phone of a user: phone68 on Linphone, which answers
// by itself, and on baresip, which rings until then and is cancelled. The
// caller and Linphone hear each other.
func TestCallUserForksToLinphoneAndBaresip(t *testing.T) {
	const deskTone = 800.0 // Hz, what phone68's other phone says
	s := startCallServer(t)
	s.pushBundledDemo(t)
	dir := t.TempDir()
	callee := startLinphone(t, s, "phone68")
	callee.send(t, "autoanswer enable")
	desk := startBaresip(t, s, "phone68", toneWAV(t, dir, deskTone), "manual")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	callee.waitRegistered(t, s)
	s.waitBindings(t, "phone68", 2)
	s.waitRegistered(t, "phone67")

	caller.command(t, "dial", "100")
	caller.waitEvent(t, "CALL_ESTABLISHED") // the demo answers and greets
	desk.waitEvent(t, "CALL_INCOMING")
	callee.waitOutput(t, "connected.")
	desk.waitEvent(t, "CALL_CLOSED")
	heard := filepath.Join(dir, "linphone-received.wav")
	callee.send(t, "record "+heard)
	callee.send(t, "play "+toneWAV(t, dir, calleeTone))
	s.sessionLog(t, "SendMediaBetween")
	time.Sleep(talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitOutput(t, "ended")
	callee.stop(t)
	desk.stop(t)
	caller.stop(t)

	checkTone(t, "what Linphone received", heard, 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// Digits Linphone sends in a call reach the scenario as tones, whether as
// RFC 4733 events (its default) or as SIP INFO.
func TestLinphoneDigits(t *testing.T) {
	for name, settings := range map[string][]string{
		"RFC 4733": nil,
		"SIP INFO": {"use_info=1", "use_rfc2833=0"},
	} {
		t.Run(name, func(t *testing.T) {
			s := startCallServer(t)
			caller := startLinphoneOver(t, s, "phone67", "udp", settings...)
			caller.waitRegistered(t, s)
			caller.send(t, "call sip:700@"+s.sipAddr.Addr().String())
			caller.waitOutput(t, "connected.")
			for _, digit := range []string{"1", "9", "#"} {
				caller.send(t, digit)
				s.sessionLog(t, "tone "+digit)
			}
			caller.send(t, "terminate")
			caller.waitOutput(t, "ended")
			s.sessionLog(t, "Session terminated")
			caller.stop(t)
		})
	}
}

// chatScenario answers, and answers each in-call message with one of its
// own (S20).
const chatScenario = `"use strict";
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.MessageReceived, (m) => {
		Logger.write("message: " + m.text);
		call.sendMessage("pong " + m.text);
	});
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.answer();
});
`

// Linphone set to chat within its calls sends a SIP MESSAGE in the call's
// dialog, with its digest credentials, as the seed's softphone sends its
// commands: the scenario gets it as Call.MessageReceived, and its reply,
// call.sendMessage, shows in Linphone's chat.
func TestLinphoneChatsInCall(t *testing.T) {
	s := startCallServer(t)
	s.pushScenario(t, "chat.js", chatScenario)
	caller := startLinphoneOver(t, s, "phone67", "udp", "chat_use_call_dialogs=1")
	caller.waitRegistered(t, s)
	to := "sip:100@" + s.sipAddr.Addr().String()
	caller.send(t, "call "+to)
	caller.waitOutput(t, "connected.")
	caller.send(t, "chat "+to+" hello-vox")
	s.sessionLog(t, "message: hello-vox")
	caller.waitOutput(t, ": pong hello-vox")
	caller.send(t, "terminate")
	caller.waitOutput(t, "ended")
	s.sessionLog(t, "Session terminated")
	caller.stop(t)
}

// Attended transfer: Linphone has a call with phone68 through a scenario
// that bridges the two, holds it, and calls phone69 through another; its
// transfer key joins the two calls (REFER with Replaces). phone68 and
// phone69, on baresip, then hear each other, Linphone's calls end, and when
// phone68 hangs up, so does phone69's call. Linphone's calls are plain RTP,
// then SRTP; then, as a receptionist's, the call it transfers is one it
// answered.
func TestLinphoneAttendedTransfer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  []string // linphonerc lines after its [sip] section's
		logs    string   // what vox logs for Linphone's call to phone69
		answers bool     // phone68 calls Linphone first, rather than the other way
	}{
		{name: "RTP", logs: "destination=1301 app=demo srtp=false"},
		{name: "SRTP", config: []string{"media_encryption=srtp", "media_encryption_mandatory=1"}, logs: "destination=1301 app=demo srtp=true"},
		{name: "a call it answered", answers: true, logs: "user=phone68 destination=1301 app=demo srtp=false"},
	} {
		t.Run(tc.name, func(t *testing.T) { linphoneAttendedTransfer(t, tc.config, tc.logs, tc.answers) })
	}
}

func linphoneAttendedTransfer(t *testing.T, config []string, logs string, answers bool) {
	const targetTone = 800.0 // Hz, what phone69 says
	s := startCallServer(t)
	dir := t.TempDir()
	// The scenario rings phone68 for 1300, so when Linphone takes a call
	// from phone68's baresip, Linphone is phone68 and baresip phone67.
	linphoneUser, partyUser := "phone67", "phone68"
	if answers {
		linphoneUser, partyUser = "phone68", "phone67"
	}
	transferee := startBaresip(t, s, partyUser, toneWAV(t, dir, calleeTone), "auto")
	target := startBaresip(t, s, "phone69", toneWAV(t, dir, targetTone), "auto")
	transferor := startLinphoneOver(t, s, linphoneUser, "udp", config...)
	transferor.waitRegistered(t, s)
	s.waitRegistered(t, partyUser, "phone69")
	host := s.sipAddr.Addr().String()

	if answers {
		transferor.send(t, "autoanswer enable")
		transferee.command(t, "dial", "1300")
	} else {
		transferor.send(t, "call sip:1300@"+host)
	}
	transferee.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitOutput(t, "connected.")
	transferor.send(t, "pause")
	s.sessionLog(t, "Call.OnHold")
	transferor.send(t, "call sip:1301@"+host)
	target.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitOutput(t, "sip:1301@"+host+" connected.")
	transferor.send(t, "transfer 1 --to-call 2")
	s.sessionLog(t, "Call.OffHold")
	target.waitReceived(t, talk)
	transferee.command(t, "hangup", "")
	transferee.waitEvent(t, "CALL_CLOSED")
	target.waitEvent(t, "CALL_CLOSED")
	transferor.stop(t)
	transferee.stop(t)
	target.stop(t)

	for _, want := range []string{logs, "attended transfer"} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("vox did not log %q:\n%s", want, s.logs)
		}
	}
	checkTone(t, "what phone69 received last", target.received(t), 0, true, calleeTone)
	checkTone(t, "what "+partyUser+" received last", transferee.received(t), 0, true, targetTone)
}

// linphoneUA is a linphonec process registered as one SIP user, driven
// through its standard input; what it prints is kept.
type linphoneUA struct {
	*peerProcess
	user  string
	stdin io.WriteCloser
}

// linphoneWait bounds the wait for linphonec to register. It brings its SIP
// transport up only once it has found the network reachable, which takes it
// several seconds after its start.
const linphoneWait = 30 * time.Second

// startLinphone runs linphonec with a home of its own (where it keeps its
// database) and a configuration that takes a free SIP port, RTP ports apart
// from baresip's and vox's, and WAV files for sound: "play" says a file into
// the call, "record" writes what the call brings. It registers as user,
// over UDP.
func startLinphone(t *testing.T, s *callServer, user string) *linphoneUA {
	t.Helper()
	return startLinphoneOver(t, s, user, "udp")
}

// startLinphoneOver is startLinphone registering over transport, "udp" or
// "tcp"; config lines follow the configuration's [sip] section: settings of
// it, or another section's header and settings.
func startLinphoneOver(t *testing.T, s *callServer, user, transport string, config ...string) *linphoneUA {
	t.Helper()
	return startLinphoneArgs(t, s, user, transport, nil, config...)
}

// startLinphoneArgs is startLinphoneOver with more of linphonec's options
// (-C: video from a stand-in camera).
func startLinphoneArgs(t *testing.T, s *callServer, user, transport string, args []string, config ...string) *linphoneUA {
	t.Helper()
	registrar := s.sipAddr
	if transport == "tls" {
		registrar = s.sip.TLSAddrs()[0]
	}
	return startLinphoneAt(t, registrar, user, transport, args, config...)
}

// startLinphoneAt is startLinphoneArgs registering with registrar, which
// may be another server than vox (a carrier's).
func startLinphoneAt(t *testing.T, registrar netip.AddrPort, user, transport string, args []string, config ...string) *linphoneUA {
	t.Helper()
	bin, err := exec.LookPath("linphonec")
	if err != nil {
		t.Fatalf("linphonec is not installed (make test installs Debian's linphone-cli): %v", err)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(home, "linphonerc")
	udpPort, tcpPort, tlsPort := -1, 0, 0 // -1: a random port; 0: none
	switch transport {
	case "tcp":
		udpPort, tcpPort = 0, -1
	case "tls":
		// The test's config names the authority (root_ca).
		udpPort, tlsPort = 0, -1
	}
	text := strings.Join([]string{
		"[sip]",
		fmt.Sprintf("sip_port=%d", udpPort),
		fmt.Sprintf("sip_tcp_port=%d", tcpPort),
		fmt.Sprintf("sip_tls_port=%d", tlsPort),
		strings.Join(config, "\n"),
		"[rtp]",
		"audio_rtp_port=31000-32000", // above vox's 20000-30000, below the ephemeral ports
		"video_rtp_port=33000-34000",
	}, "\n") + "\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ua := &linphoneUA{user: user}
	cmd := exec.Command(bin, append([]string{"-c", rc, "-d", "0"}, args...)...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home)
	if ua.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	ua.peerProcess = startPeer(t, "linphonec "+user, cmd)
	ua.send(t, "soundcard use files")
	ua.send(t, fmt.Sprintf("register sip:%s@%s sip:%s;transport=%s %s", user, registrar.Addr(), registrar, transport, testPasswords[user]))
	return ua
}

// send writes one command line to linphonec.
func (ua *linphoneUA) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(ua.stdin, line+"\n"); err != nil {
		t.Fatalf("linphonec %s: %s: %v", ua.user, line, err)
	}
}

// waitOutput waits until linphonec has printed text.
func (ua *linphoneUA) waitOutput(t *testing.T, text string) {
	t.Helper()
	waitFor(t, ua.out, text, 1)
}

// waitRegistered waits until vox has the phone's binding.
func (ua *linphoneUA) waitRegistered(t *testing.T, s *callServer) {
	t.Helper()
	s.waitRegisteredWithin(t, linphoneWait, ua.user)
}

// stop quits linphonec, which un-registers and closes its recording, and
// fails the test if it does not exit.
func (ua *linphoneUA) stop(t *testing.T) {
	t.Helper()
	ua.send(t, "quit")
	select {
	case <-ua.done:
	case <-time.After(10 * time.Second):
		t.Errorf("linphonec %s did not quit", ua.user)
		ua.kill()
	}
}

// Blind transfer from Linphone: phone67 calls a scenario that rings phone68
// (Linphone) and takes its transfers; Linphone transfers the call to
// phone69, which the scenario rings and bridges with phone67, and Linphone,
// told the transfer worked, hangs up.
func TestLinphoneBlindTransfer(t *testing.T) {
	const targetTone = 800.0 // Hz, what phone69 says
	s := startCallServer(t)
	dir := t.TempDir()
	transferor := startLinphone(t, s, "phone68")
	transferor.send(t, "autoanswer enable")
	target := startBaresip(t, s, "phone69", toneWAV(t, dir, targetTone), "auto")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	transferor.waitRegistered(t, s)
	s.waitRegistered(t, "phone67", "phone69")

	caller.command(t, "dial", "1000")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitOutput(t, "connected.")
	transferor.send(t, "transfer 1 sip:phone69@"+s.sipAddr.Addr().String())
	target.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitOutput(t, "ended")
	target.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	target.waitEvent(t, "CALL_CLOSED")
	s.sessionLog(t, "Call.BlindTransferRequested", "transfer to phone69", "NotifyBlindTransfer", "Session terminated")
	transferor.stop(t)
	caller.stop(t)
	target.stop(t)
	checkTone(t, "what phone69 received", target.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, targetTone)
}
