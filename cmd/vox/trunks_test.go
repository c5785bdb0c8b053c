package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/controller"
	"vox/internal/porttest"
	"vox/scenarios"
	"vox/sip"
)

// Trunks through vox serve (S2), with SIPp as the providers and a second
// vox serve as the far end: the SIP server, the runtime, the scenario store
// and the media are the real ones.

// trunkScenario sends a phone's call out through the account's trunk to the
// number dialled and bridges the two; a call that comes in on a trunk is
// answered, hears a tone and is hung up.
const trunkScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	const kind = e.headers["VI-Client-Type"];
	Logger.write("alerting " + e.destination + " from " + e.callerid + " on a " + kind);
	call.addEventListener(CallEvents.Disconnected, () => setTimeout(() => VoxEngine.terminate(), 100));
	if (kind === "trunk") {
		call.answer();
		call.addEventListener(CallEvents.Connected, () => {
			Logger.write("answered the trunk's call");
			call.playProgressTone("RU");
			setTimeout(() => call.hangup(), 1000);
		});
		return;
	}
	const out = VoxEngine.callPSTN(e.destination, e.callerid);
	out.addEventListener(CallEvents.Connected, () => {
		Logger.write("the PSTN call connected");
		call.answer();
		VoxEngine.sendMediaBetween(call, out);
		setTimeout(() => VoxEngine.terminate(), 1000);
	});
	out.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	out.addEventListener(CallEvents.Failed, (f) => {
		Logger.write("the PSTN call failed " + f.code);
		call.reject(f.code);
	});
});
`

// trunkServer is a vox serve started with a trunks file, which the test
// may stop before its end.
type trunkServer struct {
	*callServer
	once sync.Once
}

// startTrunkServer starts a vox serve with the demo users, trunks (DATA/trunks.json)
// and trunkScenario as the demo application; sipAddr is its SIP address
// (127.0.0.1:0 for any port); edit, when given, changes the rest of its
// configuration.
func startTrunkServer(t *testing.T, trunks trunksDoc, sipAddr string, edit ...func(*serveConfig)) *trunkServer {
	t.Helper()
	data := t.TempDir()
	users := sipUsersDoc{Realm: sipRealm}
	for _, name := range demoSIPUsers {
		u := sip.NewUser(demoAccount, name, sipRealm, testPasswords[name])
		users.Users = append(users.Users, sipUserDoc{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256})
	}
	for file, doc := range map[string]any{sipUsersFile: users, trunksFile: trunks} {
		b, _ := json.Marshal(doc)
		if err := os.WriteFile(filepath.Join(data, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	cfg := serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: sipAddr, Log: slog.New(slog.NewTextHandler(logs, nil))}
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := startServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &trunkServer{callServer: &callServer{server: srv, data: data, logs: logs}}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server %s log:\n%s", s.sipAddr, logs.String())
		}
	})
	_, err = srv.store.Push(context.Background(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "trunks.js", Source: trunkScenario}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *trunkServer) stop(t *testing.T) {
	s.once.Do(func() { stop(t, s.server) })
}

// sessionLogs are the demo account's session logs.
func (s *trunkServer) sessionLogs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.data, logsDir, demoAccount, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// kazakhFormat is the seed's Kazakh operator (S18): 8 before numbers of
// Kazakhstan and Russia, 810 before the others.
const kazakhFormat = "country=KZ domestic=national international-prefix=810"

// CallPSTN goes out through the account's Kazakh trunk: SIPp, the provider,
// sees 74954451120 as 84954451120, the trunk's fixed caller ID, and the
// trunk's digest answering its 401 (SIPp checks only Authorization; a 407
// is answered in TestTrunkJoinsTwoServers); the call connects, is bridged with the
// phone's, and vox hangs both up.
func TestTrunkCallPSTN(t *testing.T) {
	port := strconv.Itoa(porttest.FreeUDP(t))
	provider := (&callServer{}).startCallee(t, "trunk_uas.xml", port, "-trace_msg", "-key", "user", "vox-kz", "-key", "password", "kz-secret")
	s := startTrunkServer(t, trunksDoc{Trunks: []trunkDoc{{
		Name: "kz", Account: demoAccount, Address: "127.0.0.1:" + port,
		User: "vox-kz", Password: "kz-secret", CallerID: "77172000000", DialFormat: kazakhFormat,
	}}}, "127.0.0.1:0")
	s.call(t, "call.xml", "74954451120")
	provider.wait(t)
	s.sessionLog(t, "CallPSTN", "Call.Ringing", "Call.Connected", "the PSTN call connected", "SendMediaBetween")
	invite := firstInvite(t, provider.dir)
	for _, want := range []string{"INVITE sip:84954451120@127.0.0.1:" + port + " SIP/2.0", "From: <sip:77172000000@127.0.0.1>"} {
		if !strings.Contains(invite, want) {
			t.Fatalf("the provider's first INVITE has no %q:\n%s", want, invite)
		}
	}
	// The controller charged the connected call to the demo account, by
	// the Moscow tariff, once.
	var charges []controller.Entry
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		entries, _, err := s.ctrl.Ledger(context.Background(), demoAccount, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		charges = charges[:0]
		for _, e := range entries {
			if e.Kind == controller.KindCall {
				charges = append(charges, e)
			}
		}
		if len(charges) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(charges) != 1 || charges[0].Destination != "74954451120" || charges[0].Amount >= 0 {
		t.Fatalf("the demo account's call charges: %+v", charges)
	}
}

// A provider that answers 503 passes the call to the account's next trunk,
// which takes it with its own number format, caller ID and credentials; a
// callee's own answer (busy) does not go to the next trunk.
func TestTrunkFailover(t *testing.T) {
	downPort, upPort := strconv.Itoa(porttest.FreeUDP(t)), strconv.Itoa(porttest.FreeUDP(t))
	down := (&callServer{}).startCallee(t, "trunk_unavailable.xml", downPort, "-trace_msg")
	up := (&callServer{}).startCallee(t, "trunk_uas.xml", upPort, "-trace_msg", "-key", "user", "vox-kz", "-key", "password", "kz-secret")
	s := startTrunkServer(t, trunksDoc{Trunks: []trunkDoc{
		{Name: "down", Account: demoAccount, Address: "127.0.0.1:" + downPort, CallerID: "74950000000"},
		{Name: "kz", Account: demoAccount, Address: "127.0.0.1:" + upPort,
			User: "vox-kz", Password: "kz-secret", CallerID: "77172000000", DialFormat: kazakhFormat},
	}}, "127.0.0.1:0")
	s.call(t, "call.xml", "74954451120")
	down.wait(t)
	up.wait(t)
	s.sessionLog(t, "CallPSTN", "Call.Connected", "the PSTN call connected")
	if invite := firstInvite(t, down.dir); !strings.Contains(invite, "INVITE sip:74954451120@127.0.0.1:"+downPort) || !strings.Contains(invite, "From: <sip:74950000000@") {
		t.Fatalf("the first trunk's INVITE:\n%s", invite)
	}
	if invite := firstInvite(t, up.dir); !strings.Contains(invite, "INVITE sip:84954451120@127.0.0.1:"+upPort) || !strings.Contains(invite, "From: <sip:77172000000@") {
		t.Fatalf("the second trunk's INVITE:\n%s", invite)
	}
	if !strings.Contains(s.logs.String(), "trying the next one") {
		t.Errorf("no log line about the failover:\n%s", s.logs.String())
	}
}

// A call failing over from a trunk that takes only SRTP to one without it
// offers each trunk media of its kind: SDES keys on RTP/SAVP to the first,
// plain RTP/AVP to the second, which answers. Such a trunk used to be left
// out of the failover.
func TestTrunkFailoverAcrossSRTP(t *testing.T) {
	downPort, upPort := strconv.Itoa(porttest.FreeUDP(t)), strconv.Itoa(porttest.FreeUDP(t))
	down := (&callServer{}).startCallee(t, "trunk_unavailable.xml", downPort, "-trace_msg")
	up := (&callServer{}).startCallee(t, "trunk_uas.xml", upPort, "-trace_msg", "-key", "user", "vox-kz", "-key", "password", "kz-secret")
	s := startTrunkServer(t, trunksDoc{Trunks: []trunkDoc{
		{Name: "secure", Account: demoAccount, Address: "127.0.0.1:" + downPort, SRTP: true},
		{Name: "plain", Account: demoAccount, Address: "127.0.0.1:" + upPort, User: "vox-kz", Password: "kz-secret", DialFormat: kazakhFormat},
	}}, "127.0.0.1:0")
	s.call(t, "call.xml", "74954451120")
	down.wait(t)
	up.wait(t)
	s.sessionLog(t, "CallPSTN", "Call.Connected", "the PSTN call connected")
	if offer := firstInviteSDP(t, down.dir); !strings.Contains(offer, "RTP/SAVP") || !strings.Contains(offer, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("the SRTP trunk's INVITE offers no SRTP:\n%s", offer)
	}
	if offer := firstInviteSDP(t, up.dir); !strings.Contains(offer, "RTP/AVP") || strings.Contains(offer, "a=crypto") {
		t.Fatalf("the plain trunk's INVITE does not offer plain RTP:\n%s", offer)
	}
	if log := s.logs.String(); !strings.Contains(log, "trying the next one") || strings.Contains(log, "left out") {
		t.Errorf("the failover's log:\n%s", log)
	}
}

// A busy callee is the callee's answer, the same through any trunk: the
// call fails with it, and the next trunk gets nothing.
func TestTrunkNoFailoverOnBusy(t *testing.T) {
	busyPort := strconv.Itoa(porttest.FreeUDP(t))
	busy := (&callServer{}).startCallee(t, "uas_busy.xml", busyPort)
	standby, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	s := startTrunkServer(t, trunksDoc{Trunks: []trunkDoc{
		{Name: "busy", Account: demoAccount, Address: "127.0.0.1:" + busyPort},
		{Name: "standby", Account: demoAccount, Address: standby.LocalAddr().String()},
	}}, "127.0.0.1:0")
	s.call(t, "call_refused.xml", "74954451120")
	busy.wait(t)
	s.sessionLog(t, "CallPSTN", "the PSTN call failed 486")
	standby.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := standby.ReadFrom(make([]byte, 2048)); err == nil {
		t.Fatalf("the standby trunk got %d bytes", n)
	}
}

// firstInvite is the first INVITE in the message trace of a SIPp run in
// dir (-trace_msg), its headers.
func firstInvite(t *testing.T, dir string) string {
	t.Helper()
	trace := sippTrace(t, dir)
	start := strings.Index(trace, "\nINVITE ")
	if start < 0 {
		t.Fatalf("no INVITE in SIPp's trace:\n%s", trace)
	}
	invite, _, _ := strings.Cut(trace[start+1:], "\n\n")
	return invite
}

// firstInviteSDP is the SDP of that INVITE: what follows its headers, up
// to the trace's next separator line.
func firstInviteSDP(t *testing.T, dir string) string {
	t.Helper()
	trace := sippTrace(t, dir)
	_, rest, ok := strings.Cut(trace, "\nINVITE ")
	_, body, ok2 := strings.Cut(rest, "\n\n")
	if !ok || !ok2 {
		t.Fatalf("no INVITE with a body in SIPp's trace:\n%s", trace)
	}
	body, _, _ = strings.Cut(body, "\n----")
	return body
}

// sippTrace is the message trace of a SIPp run in dir, with LF line ends.
func sippTrace(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*_messages.log"))
	if len(files) != 1 {
		t.Fatalf("SIPp's message trace: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "\r\n", "\n")
}

// A provider's INVITE from an allowed address needs no credentials: the
// number is read as the account writes numbers, routed to the account's
// application, which answers; a number nobody has gets 404.
func TestTrunkCallIn(t *testing.T) {
	s := startTrunkServer(t, trunksDoc{
		Trunks:  []trunkDoc{{Name: "carrier", Account: demoAccount, Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}}},
		Numbers: map[string]numberRoute{"+7 (495) 123-45-67": {Account: demoAccount, App: demoApp}},
	}, "127.0.0.1:0")
	s.provider(t, "trunk_in.xml", "84951234567")
	s.sessionLog(t, "alerting 74951234567 from 74950000001 on a trunk", "answered the trunk's call", "Call.Disconnected")

	s.provider(t, "trunk_in_unknown.xml", "74951110000")
	if n := len(s.sessionLogs(t)); n != 1 {
		t.Fatalf("%d sessions; want only the first call's", n)
	}
}

// A trunk known by its digest takes calls from anywhere once its provider
// answers the challenge.
func TestTrunkCallInWithDigest(t *testing.T) {
	s := startTrunkServer(t, trunksDoc{
		Trunks: []trunkDoc{{Name: "pbx", Account: demoAccount, Address: "127.0.0.1:5060",
			InboundUser: "pbx-in", InboundPassword: "pbx-secret"}},
		Numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}},
	}, "127.0.0.1:0")
	s.provider(t, "call.xml", "74951234567", "-au", "pbx-in", "-ap", "pbx-secret", "-key", "target", "none")
	s.sessionLog(t, "alerting 74951234567 from 74950000001 on a trunk", "answered the trunk's call")
}

// From an address no trunk allows, an INVITE without credentials gets the
// challenge a SIP user gets, and starts nothing.
func TestTrunkCallInRefusedFromOtherSources(t *testing.T) {
	s := startTrunkServer(t, trunksDoc{
		Trunks:  []trunkDoc{{Name: "carrier", Account: demoAccount, Address: "192.0.2.1:5060", AllowFrom: []string{"192.0.2.0/24"}}},
		Numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}},
	}, "127.0.0.1:0")
	s.provider(t, "trunk_in_refused.xml", "74951234567")
	if files := s.sessionLogs(t); len(files) != 0 {
		t.Fatalf("a session started: %v", files)
	}
	if log := s.logs.String(); strings.Contains(log, "sip: incoming call") {
		t.Fatalf("the call was taken:\n%s", log)
	}
}

// provider runs a SIPp uac as a trunk's provider calling number; it fails
// the test if SIPp does.
func (s *trunkServer) provider(t *testing.T, scenario, number string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"-s", number, "-key", "caller", "74950000001", "-key", "domain", "carrier.test",
		"-p", strconv.Itoa(porttest.FreeUDP(t)), "-mp", strconv.Itoa(porttest.FreeUDP(t))}, args...)
	if out, err := s.sipp(t, dir, scenario, args...).CombinedOutput(); err != nil {
		t.Fatalf("sipp %s: %v\n%s%s", scenario, err, out, traces(dir))
	}
}

// vox registers the trunk with SIPp as its provider: after a 503 it retries,
// answers the 401 with the trunk's digest, refreshes the binding before it
// expires, and un-registers when it shuts down.
func TestTrunkRegisters(t *testing.T) {
	port := strconv.Itoa(porttest.FreeUDP(t))
	provider := (&callServer{}).startCallee(t, "trunk_register_uas.xml", port, "-key", "user", "vox-reg", "-key", "password", "reg-secret")
	s := startTrunkServer(t, trunksDoc{Trunks: []trunkDoc{{
		Name: "registered", Account: demoAccount, Address: "127.0.0.1:" + port, Domain: "provider.test",
		User: "vox-reg", Password: "reg-secret", Register: true, RegisterExpires: 600,
	}}}, "127.0.0.1:0")
	waitFor(t, s.logs, `msg="sip: trunk registered" trunk=registered account=demo provider=127.0.0.1:`+port+` expires=1h0m0s`, 1)
	s.stop(t)
	provider.wait(t)
	log := s.logs.String()
	for _, want := range []string{"sip: trunk registration failed", "expires=2s", "sip: trunk un-registered"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the log has no %q:\n%s", want, log)
		}
	}
}

// Two vox serve joined by a trunk: a phone's call to A goes out through A's
// trunk to B, which takes it from A's address once A answers its challenge
// (407) with the trunk's credentials, routes the number to its application,
// answers and plays; both sessions end cleanly.
func TestTrunkJoinsTwoServers(t *testing.T) {
	aAddr := "127.0.0.1:" + strconv.Itoa(porttest.FreeUDP(t))
	b := startTrunkServer(t, trunksDoc{
		Trunks: []trunkDoc{{Name: "from-a", Account: demoAccount, Address: aAddr, AllowFrom: []string{"127.0.0.1/32"},
			InboundUser: "a-trunk", InboundPassword: "a-secret"}},
		Numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}},
	}, "127.0.0.1:0")
	a := startTrunkServer(t, trunksDoc{
		Trunks: []trunkDoc{{Name: "to-b", Account: demoAccount, Address: b.sipAddr.String(), User: "a-trunk", Password: "a-secret"}},
	}, aAddr)
	a.call(t, "call.xml", "84951234567")
	checkTrunkCall(t, a, b)
}

// A trunk over TLS needs SIP over TLS of Vox's own, or the provider could
// not reach the Contact of Vox's calls: the start says so.
func TestTrunkOverTLSNeedsSIPTLS(t *testing.T) {
	data := t.TempDir()
	b, _ := json.Marshal(trunksDoc{Trunks: []trunkDoc{{Name: "secure", Account: demoAccount, Address: "192.0.2.1:5061", Transport: "tls"}}})
	if err := os.WriteFile(filepath.Join(data, trunksFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), `trunk "secure" uses TLS`) || !strings.Contains(err.Error(), "--sip-tls") {
		t.Fatalf("err = %v, want the start refused naming the trunk and --sip-tls", err)
	}
}

// checkTrunkCall checks the sessions of a call from a through its trunk to b.
func checkTrunkCall(t *testing.T, a, b *trunkServer) {
	t.Helper()
	b.sessionLog(t, "alerting 74951234567 from phone67 on a trunk", "answered the trunk's call", "Call.Disconnected")
	a.sessionLog(t, "CallPSTN", "Call.Connected", "the PSTN call connected")
	a.stop(t)
	b.stop(t)
	for _, s := range []*trunkServer{a, b} {
		if log := s.logs.String(); strings.Contains(log, "level=ERROR") {
			t.Fatalf("server %s logged errors:\n%s", s.sipAddr, log)
		}
	}
}

// srtpCallerScenario is A's in TestTrunkOverTLS: the phone's call goes out
// through the trunk, whose leg is recorded.
const srtpCallerScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	const out = VoxEngine.callPSTN(e.destination, e.callerid);
	out.addEventListener(CallEvents.RecordStarted, (r) => Logger.write("Recording: " + r.url));
	out.addEventListener(CallEvents.Connected, () => {
		Logger.write("the PSTN call connected");
		call.answer();
		out.record();
		VoxEngine.sendMediaBetween(call, out);
	});
	out.addEventListener(CallEvents.Disconnected, () => {
		call.hangup();
		setTimeout(() => VoxEngine.terminate(), 100);
	});
	out.addEventListener(CallEvents.Failed, (f) => call.reject(f.code));
});
`

// srtpAnswerScenario is B's: it answers the trunk's call, plays the file at
// URL for three seconds and hangs up.
const srtpAnswerScenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	Logger.write("alerting " + e.destination + " from " + e.callerid + " on a " + e.headers["VI-Client-Type"]);
	call.addEventListener(CallEvents.Disconnected, () => setTimeout(() => VoxEngine.terminate(), 100));
	call.addEventListener(CallEvents.Connected, () => {
		Logger.write("answered the trunk's call");
		call.startPlayback("URL");
		setTimeout(() => call.hangup(), 3000);
	});
	call.answer();
});
`

// sipsCallerScenario is srtpCallerScenario reaching B at the sips: URI in
// X-Target, with the trunk's credentials, rather than through a trunk.
var sipsCallerScenario = strings.Replace(srtpCallerScenario, "VoxEngine.callPSTN(e.destination, e.callerid)",
	`VoxEngine.callSIP(e.headers["X-Target"], {callerid: e.callerid, authUser: "a-trunk", password: "a-secret"})`, 1)

// TestTrunkOverTLS: the same two servers with the call over TLS and SRTP: B
// takes SIP over TLS with its certificate, which A trusts through --tls-ca
// and checks against B's address; A's call offers SRTP keyed in SDP, B
// answers it so, and the tone B plays reaches A's recording, decrypted. A
// reaches B through a trunk with transport tls and srtp, or with CallSIP to
// a sips: URI, which asks for both (RFC 5630).
func TestTrunkOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name, scenario, command string
		trunks                  []trunkDoc
		target                  func(bTLS netip.AddrPort) string
	}{
		{name: "trunk", scenario: srtpCallerScenario, command: "CallPSTN",
			trunks: []trunkDoc{{Name: "to-b", Account: demoAccount, Transport: "tls", SRTP: true, User: "a-trunk", Password: "a-secret"}},
			target: func(netip.AddrPort) string { return "none" }},
		{name: "sips URI", scenario: sipsCallerScenario, command: "CallSIP",
			target: func(bTLS netip.AddrPort) string { return "sips:74951234567@" + bTLS.String() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			writeCert(t, certFile, keyFile, "b")
			wav := toneWAV(t, dir, calleeTone)
			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wav) }))
			defer files.Close()

			b := startTrunkServer(t, trunksDoc{
				Trunks: []trunkDoc{{Name: "from-a", Account: demoAccount, Address: "127.0.0.1:9", AllowFrom: []string{"127.0.0.1/32"},
					InboundUser: "a-trunk", InboundPassword: "a-secret"}},
				Numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}},
			}, "127.0.0.1:0", func(cfg *serveConfig) {
				// B opens connections to A too (its answers go where A's Via
				// says, its requests to A's Contact), so it trusts the
				// certificate too.
				cfg.TLSCert, cfg.TLSKey, cfg.SIPTLS, cfg.TLSCA = certFile, keyFile, "127.0.0.1:0", certFile
				cfg.TenantNetAllow = []string{"127.0.0.0/8"} // the file server
			})
			b.push(t, strings.Replace(srtpAnswerScenario, "URL", files.URL+"/tone.wav", 1))
			bTLS := b.sip.TLSAddrs()[0]
			trunks := slices.Clone(tc.trunks)
			for i := range trunks {
				trunks[i].Address = bTLS.String()
			}
			a := startTrunkServer(t, trunksDoc{Trunks: trunks}, "127.0.0.1:0", func(cfg *serveConfig) {
				// A's own SIP over TLS, for B's requests to A's Contact; the
				// certificate is B's, which A trusts as an authority too.
				cfg.TLSCert, cfg.TLSKey, cfg.SIPTLS, cfg.TLSCA = certFile, keyFile, "127.0.0.1:0", certFile
			})
			a.push(t, tc.scenario)

			a.call(t, "call.xml", "84951234567", "-key", "target", tc.target(bTLS))
			b.sessionLog(t, "alerting 74951234567 from phone67 on a trunk", "answered the trunk's call", "Call.Disconnected")
			// A serves HTTPS with the certificate too: the recording's URL
			// says so.
			log := a.sessionLog(t, tc.command, "Call.Connected", "the PSTN call connected", "Recording: https://", "Session terminated")
			url := log[strings.Index(log, "Recording: ")+len("Recording: "):]
			url = url[:strings.IndexAny(url, "\n ")]
			roots, err := tlsClientConfig(certFile)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: roots}}
			checkTone(t, "A's recording of the SRTP call", downloadWith(t, client, url, filepath.Join(dir, "a.wav")), 0, false, calleeTone)
			a.stop(t)
			b.stop(t)
			for _, s := range []*trunkServer{a, b} {
				if log := s.logs.String(); strings.Contains(log, "level=ERROR") {
					t.Fatalf("server %s logged errors:\n%s", s.sipAddr, log)
				}
			}
			if !strings.Contains(b.logs.String(), "tls=") {
				t.Errorf("B did not listen on TLS:\n%s", b.logs.String())
			}
			if !strings.Contains(a.logs.String(), "msg=\"sip: outgoing call\"") || !strings.Contains(a.logs.String(), "srtp=1") ||
				!strings.Contains(b.logs.String(), "srtp=true") {
				t.Errorf("the call was not SRTP both ways:\n--- A\n%s--- B\n%s", a.logs.String(), b.logs.String())
			}
		})
	}
}

// push makes source the demo application of s.
func (s *trunkServer) push(t *testing.T, source string) {
	t.Helper()
	if _, err := s.store.Push(context.Background(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "trunks.js", Source: source}}}); err != nil {
		t.Fatal(err)
	}
}
