package main

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
)

// Many carriers are SIP proxies (Kamailio, OpenSIPS) rather than PBXs: they
// keep a registrar of their customers, challenge every request, and
// record-route the calls they pass, so that the calls' later requests go
// through them too. Kamailio (Debian's kamailio) plays such a carrier here:
// vox registers its trunk with it, and two baresip phones are the
// carrier's customers.

// kamailioConfig is the carrier: a registrar for the trunk and the phones,
// digest for every new request, and two numbers, one ringing what vox
// registered and one ringing phone68. In-dialog requests are loose-routed;
// one that names no route through it is answered 404, as the usual
// configuration does.
const kamailioConfig = `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:{{port}}
listen=tcp:127.0.0.1:{{port}}
alias="carrier.test"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
# Linphone takes a GRUU when the registrar offers one and answers calls with
# it as its Contact; this carrier relays in-dialog requests by their
# Request-URI alone and resolves no GRUU, so it offers none.
modparam("registrar", "gruu_enabled", 0)

request_route {
	if (is_method("REGISTER|INVITE|PRACK")) {
		xlog("L_INFO", "carrier: $rm of $fU to $rU over $pr\n");
	}
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) {
				t_relay();
			}
			exit;
		}
		xlog("L_WARN", "carrier: $rm of no route through us, from $si:$sp\n");
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (!is_present_hf("Authorization") && !is_present_hf("Proxy-Authorization")) {
		auth_challenge("$fd", "1");
		exit;
	}
	{{passwords}}
	if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {
		auth_challenge("$fd", "1");
		exit;
	}
	consume_credentials();
	if (is_method("REGISTER")) {
		if (save("location")) {
			xlog("L_INFO", "carrier: $fU registered\n");
		}
		exit;
	}
	if (!is_method("INVITE")) {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	record_route();
	if ($rU == "74951234567") {
		$var(aor) = "sip:vox-trunk@carrier.test";
	} else if ($rU == "74957654321") {
		$var(aor) = "sip:phone68@carrier.test";
	} else {
		sl_send_reply("404", "No such number");
		exit;
	}
	if (!lookup("location", "$var(aor)")) {
		sl_send_reply("480", "Temporarily Unavailable");
		exit;
	}
	t_relay();
}
`

// carrierScenario takes a call that came in on the trunk and joins it with
// one to the other number, placed through the same trunk (easyProcess:
// ringing and answer relayed, either side's hangup ends both).
const carrierScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	Logger.write("alerting " + e.destination + " from " + e.callerid + " on a " + e.headers["VI-Client-Type"]);
	VoxEngine.easyProcess(e.call, VoxEngine.callPSTN("74957654321", e.callerid));
});
`

// startKamailio runs the carrier on a free port with users' passwords and
// waits until it answers.
func startKamailio(t *testing.T, users map[string]string) (string, *peerProcess) {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Fatalf("kamailio is not installed (make test installs Debian's kamailio): %v", err)
	}
	var pw strings.Builder
	for user, password := range users {
		pw.WriteString(`if ($au == "` + user + `") { $var(pw) = "` + password + `"; }` + "\n\t")
	}
	dir := t.TempDir()
	// The port is free for UDP when porttest looks, and Kamailio takes it
	// for TCP too, where a connection's ephemeral port may hold it: then
	// Kamailio exits, and starts again on another.
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(porttest.FreeUDP(t))
		cfg := strings.NewReplacer("{{port}}", port, "{{passwords}}", pw.String()).Replace(kamailioConfig)
		file := filepath.Join(dir, "kamailio.cfg")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		// -DD: in the foreground, -E: logs on stderr, -Y: its runtime
		// files here rather than in /run.
		p := startPeer(t, "kamailio", exec.Command(bin, "-f", file, "-DD", "-E", "-Y", dir, "-m", "32", "-M", "8"))
		addr := "127.0.0.1:" + port
		if answersSIP(addr, p.done) {
			return addr, p
		}
		if attempt == 3 {
			t.Fatalf("Kamailio did not start in %d attempts:\n%s", attempt, p.out)
		}
		p.kill()
	}
}

// answersSIP waits until addr answers an OPTIONS, whatever it answers; false
// when exited is closed first, or after ten seconds.
func answersSIP(addr string, exited <-chan struct{}) bool {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	options := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-probe\r\n" +
		"From: <sip:probe@" + local + ">;tag=probe\r\nTo: <sip:" + addr + ">\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		default:
		}
		conn.Write([]byte(options))
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ") {
			return true
		}
	}
	return false
}

// startCarrier starts Kamailio as the carrier and a vox serve whose demo
// account's trunk is registered with it over transport ("udp", "tcp"),
// running carrierScenario.
func startCarrier(t *testing.T, transport string) (*trunkServer, string, *peerProcess) {
	t.Helper()
	const trunkPassword = "trunk-secret"
	carrier, kamailio := startKamailio(t, map[string]string{
		"vox-trunk": trunkPassword, "phone67": testPasswords["phone67"], "phone68": testPasswords["phone68"],
	})
	s := startTrunkServer(t, trunksDoc{
		Trunks: []trunkDoc{{
			Name: "carrier", Account: demoAccount, Address: carrier, Domain: "carrier.test", Transport: transport,
			User: "vox-trunk", Password: trunkPassword, Register: true, AllowFrom: []string{"127.0.0.1/32"},
		}},
		Numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}},
	}, "127.0.0.1:0")
	s.pushScenario(t, "carrier.js", carrierScenario)
	waitFor(t, s.logs, `msg="sip: trunk registered" trunk=carrier`, 1)
	return s, carrier, kamailio
}

// startCustomer starts baresip as one of the carrier's customers and waits
// until the carrier has its binding.
func startCustomer(t *testing.T, s *trunkServer, carrier, user, source, answermode string) *baresipUA {
	t.Helper()
	ua := startBaresipOver(t, s.callServer, user, source, answermode, "udp", carrier, "", "")
	// Its registration's event may come before the test listens for
	// events; what baresip prints stays.
	waitFor(t, ua.out, "200 OK (kamailio", 1)
	return ua
}

// A carrier that is a record-routing proxy: vox registers its trunk with
// Kamailio; phone67, the carrier's customer, calls the number Kamailio
// sends to what vox registered; the scenario calls phone68, another
// customer, out through the trunk (answering Kamailio's challenge) and
// bridges the two, who hear each other. Every later request of both calls
// (the ACKs, the BYEs) goes through Kamailio by the route set: when phone67
// hangs up, phone68's call ends too, and Kamailio saw no request it could
// not route.
func TestKamailioCarrier(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { kamailioCarrier(t, transport) })
	}
}

func kamailioCarrier(t *testing.T, transport string) {
	s, carrier, kamailio := startCarrier(t, transport)
	dir := t.TempDir()
	callee := startCustomer(t, s, carrier, "phone68", toneWAV(t, dir, calleeTone), "auto")
	caller := startCustomer(t, s, carrier, "phone67", toneWAV(t, dir, callerTone), "manual")

	caller.command(t, "dial", "74951234567")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitReceived(t, talk)
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitEvent(t, "CALL_CLOSED")
	s.sessionLog(t, "alerting 74951234567 from", "on a trunk", "CallPSTN", "Call.Connected", "SendMediaBetween", "Session terminated")
	caller.stop(t)
	callee.stop(t)

	out := kamailio.out.String()
	if strings.Contains(out, "of no route through us") {
		t.Errorf("Kamailio got in-dialog requests it could not route:\n%s", out)
	}
	// What vox sent went over the trunk's transport.
	for _, want := range []string{"carrier: REGISTER of vox-trunk to <null> over " + transport, "carrier: INVITE of phone67 to 74957654321 over " + transport} {
		if !strings.Contains(out, want) {
			t.Errorf("Kamailio did not log %q:\n%s", want, out)
		}
	}
	checkTone(t, "what phone68 received", callee.received(t), 0, false, callerTone)
	checkTone(t, "what phone67 received last", caller.received(t), 0, true, calleeTone)
}

// A customer's phone that rings reliably (RFC 3262): Linphone, registered
// with the carrier and set to require 100rel, answers vox's call with a
// reliable 180. vox's PRACK is a request of the early dialog, so it must
// name the route the 180's Record-Route gives, or the proxy cannot route it
// (RFC 3261 section 12.1.2); Linphone answers once it has it, and the
// caller and Linphone are bridged.
func TestKamailioReliableRinging(t *testing.T) {
	s, carrier, kamailio := startCarrier(t, "udp")
	dir := t.TempDir()
	callee := startLinphoneAt(t, netip.MustParseAddrPort(carrier), "phone68", "udp", nil, "100rel_support_level=2")
	waitFor(t, kamailio.out, "carrier: phone68 registered", 1)
	caller := startCustomer(t, s, carrier, "phone67", toneWAV(t, dir, callerTone), "manual")

	caller.command(t, "dial", "74951234567")
	callee.waitOutput(t, "Receiving new incoming call")
	waitFor(t, kamailio.out, "carrier: PRACK of phone67 to phone68", 1)
	callee.send(t, "answer")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	callee.waitOutput(t, "connected.")
	heard := filepath.Join(dir, "linphone-received.wav")
	callee.send(t, "record "+heard)
	callee.send(t, "play "+toneWAV(t, dir, calleeTone))
	hangUpAndCheck(t, callee, caller, heard)
	if out := kamailio.out.String(); strings.Contains(out, "of no route through us") {
		t.Errorf("Kamailio got in-dialog requests it could not route:\n%s", out)
	}
}

// phone68 is on two phones, and Kamailio rings both at once for the call
// vox places: both answer. vox keeps the first answer and hangs up the
// second at once (RFC 3261 section 13.2.2.4), rather than leave that phone
// in a call nobody is on until it gives up on its ACK; the first hears
// phone67.
func TestKamailioForkedCallAnsweredTwice(t *testing.T) {
	s, carrier, _ := startCarrier(t, "udp")
	dir := t.TempDir()
	desk := startCustomer(t, s, carrier, "phone68", toneWAV(t, dir, calleeTone), "auto")
	mobile := startCustomer(t, s, carrier, "phone68", toneWAV(t, dir, calleeTone), "auto")
	caller := startCustomer(t, s, carrier, "phone67", toneWAV(t, dir, callerTone), "manual")

	caller.command(t, "dial", "74951234567")
	caller.waitEvent(t, "CALL_ESTABLISHED")
	desk.waitEvent(t, "CALL_ESTABLISHED")
	mobile.waitEvent(t, "CALL_ESTABLISHED")
	waitFor(t, s.logs, "a second callee answered", 1)
	// One of them is hung up, the other talks on: which is a race.
	var kept *baresipUA
	for deadline := time.Now().Add(10 * time.Second); kept == nil; time.Sleep(20 * time.Millisecond) {
		switch {
		case desk.has("CALL_CLOSED"):
			kept = mobile
		case mobile.has("CALL_CLOSED"):
			kept = desk
		case time.Now().After(deadline):
			t.Fatal("neither answer was hung up")
		}
	}
	kept.waitReceived(t, talk)
	if kept.has("CALL_CLOSED") {
		t.Fatal("both answers were hung up")
	}
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	kept.waitEvent(t, "CALL_CLOSED")
	for _, ua := range []*baresipUA{caller, desk, mobile} {
		ua.stop(t)
	}
	checkTone(t, "what the phone kept received", kept.received(t), 0, false, callerTone)
}

// phone67 gives up while phone68 rings: its CANCEL reaches vox through
// Kamailio, and vox's CANCEL of the call it placed reaches phone68 the same
// way, which stops ringing.
func TestKamailioCallerGivesUp(t *testing.T) {
	s, carrier, _ := startCarrier(t, "udp")
	dir := t.TempDir()
	callee := startCustomer(t, s, carrier, "phone68", toneWAV(t, dir, calleeTone), "manual")
	caller := startCustomer(t, s, carrier, "phone67", toneWAV(t, dir, callerTone), "manual")

	caller.command(t, "dial", "74951234567")
	callee.waitEvent(t, "CALL_INCOMING")
	caller.command(t, "hangup", "")
	caller.waitEvent(t, "CALL_CLOSED")
	callee.waitEvent(t, "CALL_CLOSED")
	s.sessionLog(t, "CallPSTN", "Call.Disconnected", "Session terminated")
	if callee.has("CALL_ESTABLISHED") {
		t.Error("phone68's call was established")
	}
}
