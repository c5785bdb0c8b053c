package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vox/examples"
	"vox/scenarios"
)

// Two real softphones, baresip (Debian's baresip-core), registered as the
// demo users: phone67 calls the demo number, the bundled demo greets it,
// rings phone68, which answers by itself, and bridges the two. Each phone
// sends a tone from a WAV file made with sox; sox then finds each tone in
// what the other phone received, and both in the demo's recording.

const (
	callerTone = 1000.0 // Hz, what phone67 says
	calleeTone = 600.0  // Hz, what phone68 says; far from the RU ringback's 425
	// talk is how much of the bridged call each phone must have received
	// before the caller hangs up.
	talk = 3 * time.Second
)

func TestBaresipCallThroughTheDemo(t *testing.T) {
	s := startCallServer(t)
	s.pushBundledDemo(t)
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68")

	log := callThroughTheDemo(t, s, caller, callee, "Recording: http://")

	// phone68 hears phone67 from the start: the demo says nothing to it.
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	// phone67 heard the greeting and the ringback first: its last seconds
	// are phone68.
	checkTone(t, "what phone67 received", caller.received(t), 0, true, calleeTone)

	url := log[strings.Index(log, "Recording: ")+len("Recording: "):]
	url = url[:strings.IndexAny(url, "\n ")]
	rec := download(t, url, filepath.Join(dir, "recording.wav"))
	checkTone(t, "the demo's recording, channel 1 (phone67)", rec, 1, false, callerTone)
	checkTone(t, "the demo's recording, channel 2 (phone68)", rec, 2, false, calleeTone)
}

// TestBaresipOverTLS: phones registered over SIP over TLS call through the
// demo, which rings the other phone over its TLS connection. The caller
// insists on SRTP (RTP/SAVP keyed in SDP), or offers it as an option (keys
// on RTP/AVP), which Vox takes. The callee, a phone on TLS, is
// offered SRTP too: one that insists on it takes it; one that does not do
// SRTP refuses it (488) and is offered plain RTP next. Each phone hears the
// other through Vox, which decrypts and encrypts as each leg needs.
func TestBaresipOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name, callerEnc, calleeEnc string
		calleeSRTP                 bool
		// plainPhone: the callee has a second phone, on UDP, which rings
		// and is cancelled when the one on TLS answers.
		plainPhone bool
	}{
		{name: "callee without SRTP", callerEnc: "srtp-mand", calleeEnc: ""},
		{name: "callee requiring SRTP", callerEnc: "srtp-mand", calleeEnc: "srtp-mand", calleeSRTP: true},
		// "SRTP optional": the caller's keys come on RTP/AVP.
		{name: "caller with optional SRTP", callerEnc: "srtp", calleeEnc: "srtp-mand", calleeSRTP: true},
		// SRTP on RTP/SAVPF (RTCP feedback): answered in that profile.
		{name: "caller with SRTP and RTCP feedback", callerEnc: "srtp-mandf", calleeEnc: "srtp-mand", calleeSRTP: true},
		{name: "callee requiring SRTP and a plain phone", callerEnc: "srtp-mand", calleeEnc: "srtp-mand", calleeSRTP: true, plainPhone: true},
		{name: "callee without SRTP and a plain phone", callerEnc: "srtp-mand", calleeEnc: "", plainPhone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			writeCert(t, certFile, keyFile, "127.0.0.1")
			s := startCallServerWith(t, func(cfg *serveConfig) {
				cfg.TLSCert, cfg.TLSKey, cfg.SIPTLS = certFile, keyFile, "127.0.0.1:0"
			})
			s.pushBundledDemo(t)
			addrs := s.sip.TLSAddrs()
			if len(addrs) != 1 {
				t.Fatalf("TLS listeners %v", addrs)
			}
			callee := startBaresipOver(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto", "tls", addrs[0].String(), certFile, tc.calleeEnc)
			caller := startBaresipOver(t, s, "phone67", toneWAV(t, dir, callerTone), "manual", "tls", addrs[0].String(), certFile, tc.callerEnc)
			s.waitRegistered(t, "phone67", "phone68")
			for _, u := range []string{"phone67", "phone68"} {
				if b := s.sip.Registrar().Bindings(sipRealm, u); b[0].Transport != "TLS" {
					t.Fatalf("%s registered over %s", u, b[0].Transport)
				}
			}
			phones := 1
			var plain *baresipUA
			if tc.plainPhone {
				phones = 2
				plain = startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "manual")
				s.waitBindings(t, "phone68", phones)
			}

			callThroughTheDemo(t, s, caller, callee)
			if plain != nil {
				// It rang, and was cancelled when the phone on TLS answered.
				plain.waitEvent(t, "CALL_INCOMING")
				plain.waitEvent(t, "CALL_CLOSED")
				plain.stop(t)
			}
			logs := s.logs.String()
			if !strings.Contains(logs, "destination=100 app=demo srtp=true") {
				t.Errorf("the caller's call was not SRTP:\n%s", logs)
			}
			// Only the phone on TLS is offered SRTP.
			if want := fmt.Sprintf("kind=user to=phone68 phones=%d browsers=0 srtp=1", phones); !strings.Contains(logs, want) {
				t.Errorf("phone68, on TLS, was not offered SRTP (%q):\n%s", want, logs)
			}
			if fellBack := strings.Contains(logs, "the phone refused SRTP; offering plain RTP"); fellBack == tc.calleeSRTP {
				t.Errorf("offered plain RTP after a refusal: %v, want %v:\n%s", fellBack, !tc.calleeSRTP, logs)
			}
			checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
			checkTone(t, "what phone67 received", caller.received(t), 0, true, calleeTone)
		})
	}
}

// A phone's transfer key: phone68, called by phone67 through a scenario
// that takes transfers, sends REFER for phone69; the scenario rings
// phone69, reports the answer to phone68 (a NOTIFY of 200), which hangs up,
// and bridges phone67 with phone69, who hear each other.
func TestBaresipBlindTransfer(t *testing.T) {
	const targetTone = 800.0 // Hz, what phone69 says
	s := startCallServer(t)
	dir := t.TempDir()
	transferor := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	target := startBaresip(t, s, "phone69", toneWAV(t, dir, targetTone), "auto")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68", "phone69")

	caller.command(t, "dial", "1000")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitReceived(t, time.Second)
	transferor.command(t, "transfer", "phone69")
	target.waitEvent(t, "CALL_ESTABLISHED")
	transferor.waitEvent(t, "CALL_CLOSED") // on the NOTIFY of 200
	target.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	target.waitEvent(t, "CALL_CLOSED")
	s.sessionLog(t, "Call.BlindTransferRequested", "transfer to phone69", "NotifyBlindTransfer", "code = 2.0000E+02", "phone68 gone", "Session terminated")
	for _, ua := range []*baresipUA{caller, transferor, target} {
		ua.stop(t)
	}
	checkTone(t, "what phone69 received", target.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, targetTone)
}

// Two baresip phones over IPv6 (vox serve --sip [::1]:0) call each other
// through the demo: SDP with IN IP6, RTP on ::1, and each hears the other.
func TestBaresipOverIPv6(t *testing.T) {
	s := startCallServerWith(t, func(c *serveConfig) { c.SIP = "[::1]:0" })
	s.pushBundledDemo(t)
	dir := t.TempDir()
	callee := startBaresipOver(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto", "udp", s.sipAddr.String(), "", "")
	caller := startBaresipOver(t, s, "phone67", toneWAV(t, dir, callerTone), "manual", "udp", s.sipAddr.String(), "", "")
	s.waitRegistered(t, "phone67", "phone68")
	callThroughTheDemo(t, s, caller, callee)
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// A supervisor listens in: phone67 calls through a scenario that bridges it
// with phone68 and has phone69 hear phone67, one way (Call.sendMediaTo).
// phone69 hears phone67, and phone67 still hears phone68, not phone69.
func TestBaresipListenIn(t *testing.T) {
	const supervisorTone = 800.0 // Hz, what phone69 says
	s := startCallServer(t)
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	supervisor := startBaresip(t, s, "phone69", toneWAV(t, dir, supervisorTone), "auto")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68", "phone69")

	caller.command(t, "dial", "1200")
	for _, ua := range []*baresipUA{caller, callee, supervisor} {
		ua.waitEvent(t, "CALL_ESTABLISHED")
	}
	supervisor.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	for _, ua := range []*baresipUA{caller, callee, supervisor} {
		ua.waitEvent(t, "CALL_CLOSED")
	}
	s.sessionLog(t, "SendMediaBetween", "SendMediaTo", "Session terminated")
	for _, ua := range []*baresipUA{caller, callee, supervisor} {
		ua.stop(t)
	}
	checkTone(t, "what phone69 received", supervisor.received(t), 0, true, callerTone)
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// Voximplant's one-line forward: a scenario of VoxEngine.forwardCallToUser
// alone. phone67 dials phone68; phone68's ringing rings phone67 (180), its
// answer answers it, and each hears the other until phone67 hangs up, which
// ends phone68's call too.
func TestBaresipForwardCallToUser(t *testing.T) {
	s := startCallServer(t)
	s.pushScenario(t, "forward.js", `VoxEngine.forwardCallToUser((caller, callee) => Logger.write("established " + caller.callerid() + " with " + callee.id()));`)
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "manual")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68")

	caller.command(t, "dial", "phone68")
	callee.waitEvent(t, "CALL_INCOMING")
	caller.waitEvent(t, "CALL_RINGING")
	callee.command(t, "accept", "")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitEvent(t, "CALL_CLOSED")
	s.sessionLog(t, "Executing JS command: Ring", "AcceptCall", "established phone67 with", "Session terminated")
	caller.stop(t)
	callee.stop(t)
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received", caller.received(t), 0, false, calleeTone)
}

// A phone's hold key: phone68, called by phone67, holds the call (baresip's
// re-INVITE with a=sendonly); the scenario hears Call.OnHold and plays the
// ringback to phone67, then Call.OffHold when phone68 takes the call back,
// and bridges the two again: phone67 hears phone68 at the end.
func TestBaresipHold(t *testing.T) {
	s := startCallServer(t)
	dir := t.TempDir()
	callee := startBaresip(t, s, "phone68", toneWAV(t, dir, calleeTone), "auto")
	caller := startBaresip(t, s, "phone67", toneWAV(t, dir, callerTone), "manual")
	s.waitRegistered(t, "phone67", "phone68")

	caller.command(t, "dial", "1100")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitReceived(t, time.Second)
	callee.command(t, "hold", "")
	s.sessionLog(t, "Call.OnHold", "phone68 holds", "PlayToneScript")
	callee.command(t, "resume", "")
	s.sessionLog(t, "Call.OffHold", "phone68 is back")
	time.Sleep(talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitEvent(t, "CALL_CLOSED")
	caller.stop(t)
	callee.stop(t)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// callThroughTheDemo has caller dial the demo, which rings callee; once
// callee has heard talk of the call, caller hangs up. It returns the
// session log, which has what logHas lists, and stops both phones, whose
// recordings are complete once they have exited.
func callThroughTheDemo(t *testing.T, s *callServer, caller, callee *baresipUA, logHas ...string) string {
	t.Helper()
	caller.command(t, "dial", "100")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitEvent(t, "CALL_CLOSED") // the demo hangs up the other leg
	log := s.sessionLog(t, append([]string{"Ringing phone68 for phone67", "SendMediaBetween"}, append(logHas, "Session terminated")...)...)
	caller.stop(t)
	callee.stop(t)
	return log
}

// toneWAV makes 30 seconds of a sine at hz with sox, as baresip's aufile
// source wants it: 8 kHz, mono, 16-bit.
func toneWAV(t *testing.T, dir string, hz float64) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("tone%.0f.wav", hz))
	out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", path,
		"synth", "30", "sine", strconv.FormatFloat(hz, 'f', -1, 64), "vol", "0.5").CombinedOutput()
	if err != nil {
		t.Fatalf("sox (make test installs it): %v\n%s", err, out)
	}
	return path
}

// waitBindings waits until user has n bindings.
func (s *callServer) waitBindings(t *testing.T, user string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.sip.Registrar().Bindings(sipRealm, user)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d bindings, want %d", user, len(s.sip.Registrar().Bindings(sipRealm, user)), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRegistered waits until every one of users has a binding.
func (s *callServer) waitRegistered(t *testing.T, users ...string) {
	t.Helper()
	s.waitRegisteredWithin(t, 10*time.Second, users...)
}

// waitRegisteredWithin is waitRegistered allowing d for all of them.
func (s *callServer) waitRegisteredWithin(t *testing.T, d time.Duration, users ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, u := range users {
		for len(s.sip.Registrar().Bindings(sipRealm, u)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not register in %v", u, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// baresipUA is a baresip process registered as one SIP user, driven over
// its ctrl_tcp socket, which also brings its events.
type baresipUA struct {
	*peerProcess
	user string
	snd  string // where its sndfile module writes the calls' audio
	ctrl net.Conn

	mu       sync.Mutex
	messages []map[string]any // events and command responses, in order
}

// startBaresip runs baresip as user with a configuration of its own:
// SIP and RTP on 127.0.0.1, G.711, audio from the WAV file source,
// received audio written to files, and answermode (auto or manual).
// pushBundledDemo makes the bundled demo, as make run serves it, the demo
// application, rather than the test scenario startCallServer pushes.
func (s *callServer) pushBundledDemo(t *testing.T) {
	t.Helper()
	s.pushScenario(t, examples.DemoName, examples.Demo)
}

// pushScenario makes source, as file name, the demo application.
func (s *callServer) pushScenario(t *testing.T, name, source string) {
	t.Helper()
	_, err := s.store.Push(context.Background(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: name, Source: source}}})
	if err != nil {
		t.Fatal(err)
	}
}

func startBaresip(t *testing.T, s *callServer, user, source, answermode string) *baresipUA {
	t.Helper()
	return startBaresipOver(t, s, user, source, answermode, "udp", s.sipAddr.String(), "", "")
}

// startBaresipOver is startBaresip registering over transport at addr;
// cafile, when set, is the certificate authority of SIP over TLS, and
// mediaenc baresip's media encryption ("srtp-mand": SDES on RTP/SAVP).
func startBaresipOver(t *testing.T, s *callServer, user, source, answermode, transport, addr, cafile, mediaenc string) *baresipUA {
	t.Helper()
	bin, err := exec.LookPath("baresip")
	if err != nil {
		t.Fatalf("baresip is not installed (make test installs Debian's baresip-core): %v", err)
	}
	conf := t.TempDir()
	ua := &baresipUA{user: user, snd: filepath.Join(conf, "snd")}
	if err := os.Mkdir(ua.snd, 0o700); err != nil {
		t.Fatal(err)
	}
	// baresip listens on the loopback of the registrar's family.
	listen, iface := "127.0.0.1:0", "127.0.0.1"
	if strings.HasPrefix(addr, "[") {
		listen, iface = "[::1]:0", "::1"
	}
	// The modules are loaded from the one directory the Debian package
	// fills; the player is an aubridge device that nobody reads, since
	// sndfile already has what arrives.
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen " + listen,
		"net_interface " + iface,
		"call_local_timeout 20",
		"audio_source aufile," + source,
		"audio_player aubridge," + user,
		"audio_alert aubridge," + user,
		"ausrc_srate 8000",
		"auplay_srate 8000",
		"ausrc_channels 1",
		"auplay_channels 1",
		"rtp_ports 10000-19999", // below vox's 20000-30000 and the ephemeral ports
		"statmode_default off",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module aufile.so",
		"module aubridge.so",
		"module sndfile.so",
		"module_app account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"snd_path " + ua.snd,
	}, "\n") + "\n"
	if cafile != "" {
		config += "sip_cafile " + cafile + "\n"
	}
	account := fmt.Sprintf("<sip:%s@%s;transport=%s>;auth_pass=%s;answermode=%s;audio_codecs=PCMU,PCMA",
		user, addr, transport, testPasswords[user], answermode)
	if mediaenc != "" {
		config += "module srtp.so\n"
		account += ";mediaenc=" + mediaenc
	}
	account += "\n"
	// The ctrl_tcp port was free when freeTCPPort looked, and may be taken
	// (by a connection's ephemeral port) before baresip binds it; baresip
	// then goes on without ctrl_tcp, and another process may listen there.
	// So baresip is started again on another port when its output says so,
	// which it does before it says it is ready.
	for attempt := 1; ; attempt++ {
		ctrl := freeTCPPort(t)
		files := map[string]string{"config": config + "ctrl_tcp_listen 127.0.0.1:" + strconv.Itoa(ctrl) + "\n", "accounts": account}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// -s traces SIP into the output, which the log shows if the test fails.
		ua.peerProcess = startPeer(t, "baresip "+user, exec.Command(bin, "-f", conf, "-s"))
		waitFor(t, ua.out, "baresip is ready.", 1)
		if !strings.Contains(ua.out.String(), "ctrl_tcp: failed to listen") {
			ua.connect(t, ctrl)
			return ua
		}
		if attempt == 3 {
			t.Fatalf("baresip %s: no ctrl_tcp port in %d attempts:\n%s", user, attempt, ua.out)
		}
		ua.kill()
	}
}

// freeTCPPort is a TCP port free on 127.0.0.1 now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connect opens the ctrl_tcp socket, once baresip listens there, and reads
// its netstrings ("LEN:JSON,") into messages.
func (ua *baresipUA) connect(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			ua.ctrl = c
			break
		}
		select {
		case <-ua.done:
			t.Fatalf("baresip %s exited at start: %v\n%s", ua.user, ua.cmd.ProcessState, ua.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: no ctrl_tcp socket: %v", ua.user, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { ua.ctrl.Close() })
	go func() {
		r := bufio.NewReader(ua.ctrl)
		for {
			msg, err := readNetstring(r)
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(msg, &m) != nil {
				continue
			}
			ua.mu.Lock()
			ua.messages = append(ua.messages, m)
			ua.mu.Unlock()
		}
	}()
}

func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("netstring length %q", head)
	}
	msg := make([]byte, n+1)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	if msg[n] != ',' {
		return nil, errors.New("netstring without its comma")
	}
	return msg[:n], nil
}

// command runs one of baresip's long commands and waits for its answer.
func (ua *baresipUA) command(t *testing.T, name, params string) {
	t.Helper()
	token := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	msg, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": token})
	ua.ctrl.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(ua.ctrl, "%d:%s,", len(msg), msg); err != nil {
		t.Fatalf("baresip %s: %s: %v", ua.user, name, err)
	}
	m := ua.wait(t, "the answer to "+name, func(m map[string]any) bool { return m["token"] == token })
	if m["ok"] != true {
		t.Fatalf("baresip %s: %s %s: %v", ua.user, name, params, m)
	}
}

// waitEvent waits for an event of the type given (CALL_ESTABLISHED, ...).
func (ua *baresipUA) waitEvent(t *testing.T, typ string) {
	t.Helper()
	ua.wait(t, typ, func(m map[string]any) bool { return m["event"] == true && m["type"] == typ })
}

// has tells whether baresip has reported an event of type typ so far.
func (ua *baresipUA) has(typ string) bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return slices.ContainsFunc(ua.messages, func(m map[string]any) bool { return m["event"] == true && m["type"] == typ })
}

func (ua *baresipUA) wait(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for seen := 0; ; {
		ua.mu.Lock()
		msgs := ua.messages[seen:]
		ua.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		seen += len(msgs)
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: no %s", ua.user, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// received is the file where sndfile wrote what the call brought in.
func (ua *baresipUA) received(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(ua.snd, "dump-*-dec.wav"))
	if len(files) != 1 {
		t.Fatalf("baresip %s: want one received-audio file, have %q", ua.user, files)
	}
	return files[0]
}

// waitReceived waits until the call has brought in d of audio from its
// first sound on (8 kHz 16-bit mono, after the WAV header). The silence
// before that, while the far end's media started, does not count: sox trims
// it before checkTone measures, and on a busy machine a browser's media can
// take more than a second to start.
func (ua *baresipUA) waitReceived(t *testing.T, d time.Duration) {
	t.Helper()
	want := int(d.Seconds() * 8000 * 2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(ua.snd, "dump-*-dec.wav"))
		if len(files) == 1 {
			if data, err := os.ReadFile(files[0]); err == nil && soundBytes(data) >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: not %v of received sound in %q", ua.user, d, files)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// soundBytes is how many bytes of a received-audio file come from its first
// sound on: past the 44-byte header and the silence (under 2% of full scale,
// checkTone's threshold for sox) it starts with.
func soundBytes(wav []byte) int {
	if len(wav) <= 44 {
		return 0
	}
	pcm := wav[44:]
	const threshold = 0.02 * math.MaxInt16
	for i := 0; i+1 < len(pcm); i += 2 {
		if v := float64(int16(binary.LittleEndian.Uint16(pcm[i:]))); v > threshold || v < -threshold {
			return len(pcm) - i
		}
	}
	return 0
}

// stop ends baresip as Ctrl-C would (it un-registers and closes its files),
// and fails the test if it does not exit.
func (ua *baresipUA) stop(t *testing.T) {
	t.Helper()
	ua.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ua.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("baresip %s did not exit on SIGTERM", ua.user)
	}
}

// kill ends the process group: at once if stop was not enough.

func download(t *testing.T, url, path string) string {
	t.Helper()
	return downloadWith(t, &http.Client{Timeout: 10 * time.Second}, url, path)
}

// downloadWith is download with client (one that trusts a test's
// certificate).
func downloadWith(t *testing.T, client *http.Client, url, path string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkTone finds a tone of about hz (within 5%) in wav: in channel
// (0: all; 1, 2: one of a stereo file), in the first two seconds of sound
// (or the last two, fromEnd), after what silence there is.
func checkTone(t *testing.T, what, wav string, channel int, fromEnd bool, hz float64) {
	t.Helper()
	checkToneLevel(t, what, wav, channel, fromEnd, hz, 0.1)
}

// checkToneLevel is checkTone with the RMS the tone must reach.
func checkToneLevel(t *testing.T, what, wav string, channel int, fromEnd bool, hz, minRMS float64) {
	t.Helper()
	args := []string{wav, "-n"}
	if channel > 0 {
		args = append(args, "remix", strconv.Itoa(channel))
	}
	if fromEnd {
		args = append(args, "reverse")
	}
	args = append(args, "silence", "1", "0.05", "2%", "trim", "0.1", "2", "stat")
	out, err := exec.Command("sox", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: sox %s: %v\n%s", what, strings.Join(args, " "), err, out)
	}
	length := soxStat(t, string(out), "Length (seconds)")
	rms := soxStat(t, string(out), "RMS     amplitude")
	// sox estimates a frequency from the ratio of the RMS of the samples'
	// differences to theirs, which for a sine is (rate/π)·sin(π·f/rate):
	// 975 for 1 kHz at 8 kHz. Undone, it is f again.
	rough := soxStat(t, string(out), "Rough   frequency")
	rateOut, err := exec.Command("soxi", "-r", wav).Output()
	if err != nil {
		t.Fatalf("%s: soxi -r: %v", what, err)
	}
	rate, err := strconv.ParseFloat(strings.TrimSpace(string(rateOut)), 64)
	if err != nil {
		t.Fatalf("%s: soxi -r: %q", what, rateOut)
	}
	freq := rate / math.Pi * math.Asin(min(1, rough*math.Pi/rate))
	t.Logf("%s: %.2f s at RMS %.3f, about %.0f Hz", what, length, rms, freq)
	if length < 1.9 || rms < minRMS || math.Abs(freq-hz) > 0.05*hz {
		t.Errorf("%s: %.2f s of sound at RMS %.3f and about %.0f Hz; want 2 s of the %.0f Hz tone:\n%s", what, length, rms, freq, hz, out)
	}
}
