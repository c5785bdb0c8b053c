package sip

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	pionrtp "github.com/pion/rtp"

	"vox/internal/porttest"
	"vox/runtime"
)

// A message's SDP is its application/sdp body or the application/sdp part of
// a multipart one; anything else is no SDP, which an INVITE means as a late
// offer.
func TestSessionDescription(t *testing.T) {
	t.Parallel()
	const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	sipI := "--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + "\r\n--b1\r\nContent-Type: application/isup;version=itu-t92+\r\n" +
		"Content-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49\x00\r\n--b1--\r\n"
	isupOnly := "--b1\r\nContent-Type: application/isup\r\n\r\n\x01\x00\x49\x00\r\n--b1--\r\n"
	for _, tc := range []struct {
		name, contentType, body, want string
	}{
		{"application/sdp", "application/sdp", sdp, sdp},
		{"with parameters, any case", "Application/SDP; charset=utf-8", sdp, sdp},
		{"SIP-I multipart", `multipart/mixed;boundary="b1"`, sipI, sdp},
		{"multipart without SDP", "multipart/mixed;boundary=b1", isupOnly, ""},
		{"multipart without boundary", "multipart/mixed", sipI, ""},
		{"no body", "application/sdp", "", ""},
		{"no Content-Type", "", sdp, ""},
		{"not SDP", "text/plain", sdp, ""},
		{"stray semicolon", "application/sdp;", sdp, sdp},
		{"bad parameters", "application/sdp;;=", sdp, sdp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "100", Host: "127.0.0.1"})
			if tc.contentType != "" {
				req.AppendHeader(sipmsg.NewHeader("Content-Type", tc.contentType))
			}
			req.SetBody([]byte(tc.body))
			if got := string(sessionDescription(req)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// lateLauncher answers every call at once, as a scenario would, or with
// early set starts early media instead, and hands the test the leg and its
// events.
type lateLauncher struct {
	legs   chan runtime.Leg
	events chan runtime.Event
	early  bool
}

func newLateLauncher() lateLauncher {
	return lateLauncher{legs: make(chan runtime.Leg, 1), events: make(chan runtime.Event, 16)}
}

func (a lateLauncher) Launch(_ context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	l := cs.Incoming.Leg
	l.Attach(chanSink(a.events))
	a.legs <- l
	if a.early {
		go l.StartEarlyMedia(context.Background(), nil)
	} else {
		go l.Answer(context.Background(), nil)
	}
	return nil, nil
}

// next is the leg's next event, within a few seconds.
func (a lateLauncher) next(t *testing.T) runtime.Event {
	t.Helper()
	select {
	case ev := <-a.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event from the call")
		return runtime.Event{}
	}
}

// dialLate calls from a raw phone whose INVITE has no SDP; the phone has the
// 200, which must carry the offer the caller answers in its ACK: what an
// outgoing call offers.
func dialLate(t *testing.T, launcher lateLauncher) (*rawPhone, rawDialog) {
	t.Helper()
	p := phoneFor(t, launcher)
	p.lateOffer = true
	d := p.mustDial(t)
	if headerOf(d.ok, "Content-Type") != "application/sdp" || !strings.Contains(d.ok, "\r\nm=audio ") ||
		!strings.Contains(d.ok, " RTP/AVP 0 8 101\r\n") || !strings.Contains(d.ok, "a=rtpmap:101 telephone-event/8000") {
		t.Fatalf("the 200 to an INVITE without SDP has no offer:\n%s", d.ok)
	}
	return p, d
}

// ackWith acknowledges the 2xx of d with body as its SDP, none when empty.
func (p *rawPhone) ackWith(d rawDialog, body string) error {
	ack := p.ack(d.target, d.callID, d.from, d.to, d.branch+"3", 2)
	if body != "" {
		ack = strings.Replace(ack, "Content-Length: 0\r\n",
			"Content-Type: application/sdp\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n", 1) + body
	}
	return p.send(ack)
}

// answerSDP is a phone's answer to Vox's offer: receiving on port with the
// m= line's formats and rtpmaps.
func answerSDP(port int, formats string, rtpmaps ...string) string {
	s := "v=0\r\no=phone 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(port) + " RTP/AVP " + formats + "\r\n"
	for _, m := range rtpmaps {
		s += "a=rtpmap:" + m + "\r\n"
	}
	return s + "a=sendrecv\r\n"
}

// An ACK that does not answer the offer of our 200 leaves the call without
// media: Vox ends it with a BYE that says why, and the session hears
// Call.Disconnected, never Call.Connected (RFC 3261 section 13.2.2.4 wants
// the caller to do that; one that did not gets it done).
func TestLateOfferAckWithoutAnswerEndsCall(t *testing.T) {
	for _, tc := range []struct{ name, answer string }{
		{"no SDP", ""},
		{"stream rejected", answerSDP(0, "0", "0 PCMU/8000")},
		{"no codec offered", answerSDP(4000, "18", "18 G729/8000")},
		{"not SDP", "this is not a session description\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			launcher := newLateLauncher()
			p, d := dialLate(t, launcher)
			if err := p.ackWith(d, tc.answer); err != nil {
				t.Fatal(err)
			}
			bye, err := p.recv()
			if err != nil {
				t.Fatalf("no BYE after an ACK without a usable answer: %v", err)
			}
			if !strings.HasPrefix(bye, "BYE ") {
				t.Fatalf("got %q, want a BYE", bye)
			}
			if reason := headerOf(bye, "Reason"); !strings.Contains(reason, "cause=488") {
				t.Errorf("BYE with Reason %q, want a cause=488", reason)
			}
			if err := p.answerBye(bye); err != nil {
				t.Fatal(err)
			}
			if ev := launcher.next(t); ev.Name != runtime.EventDisconnected {
				t.Fatalf("first event %s, want %s", ev.Name, runtime.EventDisconnected)
			}
		})
	}
}

// The ACK's answer sets the call's media before Call.Connected: a playback
// goes to the address, in the codec, the answer chose, and digits with its
// telephone-event payload type. Nothing is sent before it, not even to a
// caller whose RTP came first and would be latched onto.
func TestLateOfferAnswerInAck(t *testing.T) {
	launcher := newLateLauncher()
	p, d := dialLate(t, launcher)
	leg := <-launcher.legs
	rtpConn := porttest.ListenUDP(t)
	ctx := context.Background()
	if err := leg.Play(ctx, runtime.Media{ToneScript: "425@-19;*(1/4/1)", Loop: true}); err != nil {
		t.Fatal(err)
	}
	sendRTP(t, rtpConn, offeredPort(t, d.ok), 2)
	rtpConn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := rtpConn.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("%d bytes of RTP sent before the answer", n)
	}
	port := rtpConn.LocalAddr().(*net.UDPAddr).Port
	if err := p.ackWith(d, answerSDP(port, "8 96", "8 PCMA/8000", "96 telephone-event/8000")); err != nil {
		t.Fatal(err)
	}
	if ev := launcher.next(t); ev.Name != runtime.EventConnected {
		t.Fatalf("first event %s, want %s", ev.Name, runtime.EventConnected)
	}
	if err := leg.SendDigits(ctx, "5"); err != nil {
		t.Fatal(err)
	}
	var pts []uint8
	buf := make([]byte, 1500)
	for !slices.Contains(pts, 8) || !slices.Contains(pts, 96) {
		rtpConn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := rtpConn.Read(buf)
		if err != nil {
			t.Fatalf("RTP to the answer's address: %v (payload types so far %v)", err, pts)
		}
		var pkt pionrtp.Packet
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if pkt.PayloadType != 8 && pkt.PayloadType != 96 {
			t.Fatalf("RTP with payload type %d, want the answer's 8 (PCMA) or 96 (telephone-event)", pkt.PayloadType)
		}
		pts = append(pts, pkt.PayloadType)
	}
	if err := leg.Hangup(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}

// A browser always offers: an INVITE over WebSocket without SDP is refused
// (488) rather than offered plain RTP the browser could not answer.
func TestLateOfferFromBrowserRefused(t *testing.T) {
	srv, _ := startCallServer(t, `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());`, CallOptions{})
	p := newWSPhone(t, startWebSocket(t, srv, WebSocketOptions{}), "alice")
	uri := "sip:100@" + testRealm
	invite := func(cseq int, auth string) string {
		var b strings.Builder
		b.WriteString("INVITE " + uri + " SIP/2.0\r\n")
		b.WriteString("Via: SIP/2.0/WS k3j4h5g6.invalid;branch=z9hG4bK" + sipmsg.GenerateTagN(10) + "\r\n")
		b.WriteString("Max-Forwards: 70\r\nTo: <" + uri + ">\r\n")
		b.WriteString("From: <sip:alice@" + testRealm + ">;tag=alicetag\r\nCall-ID: " + p.callID + "\r\n")
		b.WriteString("CSeq: " + strconv.Itoa(cseq) + " INVITE\r\n")
		b.WriteString("Contact: <sip:alicex@k3j4h5g6.invalid;transport=ws>\r\n")
		if auth != "" {
			b.WriteString("Proxy-Authorization: " + auth + "\r\n")
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return b.String()
	}
	p.write(invite(1, ""))
	res := p.response()
	wantStatus(t, res, 407)
	chal, err := digest.ParseChallenge(res.GetHeaders("Proxy-Authenticate")[0].Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: "alice", Password: "secret", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.write(invite(2, cred.String()))
	res = p.response()
	wantStatus(t, res, 488)
	if w := res.GetHeader("Warning"); w == nil || !strings.Contains(w.Value(), "browser") {
		t.Fatalf("488 without a Warning saying why:\n%s", res)
	}
}

// offeredPort is the port of the audio stream offered in msg's SDP.
func offeredPort(t *testing.T, msg string) int {
	t.Helper()
	_, m, ok := strings.Cut(msg, "\r\nm=audio ")
	if !ok {
		t.Fatalf("no audio offered:\n%s", msg)
	}
	port, _, _ := strings.Cut(m, " ")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("offered port %q: %v", port, err)
	}
	return n
}

// sendRTP sends n consecutive PCMU packets of one stream from conn to port
// on 127.0.0.1: enough for the endpoint there to latch onto conn.
func sendRTP(t *testing.T, conn *net.UDPConn, port, n int) {
	t.Helper()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	for i := range n {
		pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(160 * i), SSRC: 0x5eed}, Payload: make([]byte, 160)}
		b, err := pkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
}

// SIPp calls without SDP, as a carrier or a PBX with delayed offer does, as
// a SIP user and as a trunk: the call runs its scenario, the caller's answer
// in the ACK decides where and how the audio goes (PCMA, telephone-event on
// 96, to the first port), and a re-INVITE without SDP gets a new offer whose
// answer moves the audio (PCMU, to the second port). The ports are the
// test's own sockets, so what arrives there is what vox sent where the
// answers said. The scenario's early media, which a late offer cannot have,
// is a warning and a 180.
func TestSIPpLateOffer(t *testing.T) {
	const scenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  const call = e.call;
  call.addEventListener(CallEvents.Connected, () => {
    call.playProgressTone("RU");
    call.sendDigits("5");
    call.sendMessage("playing");
  });
  call.startEarlyMedia();
  call.answer();
});`
	pbx := Trunk{Name: "pbx", Account: "acme", Address: "127.0.0.1:5060", InboundUser: "pbx-in", InboundPassword: "pbx-secret"}
	for _, tc := range []struct {
		name, user, password string
		opts                 CallOptions
	}{
		{name: "user", user: "alice", password: "secret"},
		{name: "trunk", user: "pbx-in", password: "pbx-secret", opts: CallOptions{Trunks: memTrunks{pbx}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, log := startCallServer(t, scenario, tc.opts)
			first, second := porttest.ListenUDP(t), porttest.ListenUDP(t)
			out, err := RunSIPp(t, srv.addr.String(), "late_offer.xml", "-s", "100", "-au", tc.user, "-ap", tc.password,
				"-key", "caller", "alice", "-key", "domain", testRealm,
				"-key", "rtp1", strconv.Itoa(udpPort(first)), "-key", "rtp2", strconv.Itoa(udpPort(second)),
				"-p", strconv.Itoa(porttest.FreeUDP(t)), "-mp", strconv.Itoa(porttest.FreeUDP(t)))
			if err != nil {
				t.Fatalf("sipp: %v\n%s\nserver log:\n%s", err, out, srv.logs)
			}
			waitLog(t, log, "no early media")
			if pts := payloadTypes(t, first); len(pts) == 0 || pts[0] == 0 || !slices.Contains(pts, 8) || !slices.Contains(pts, 96) {
				t.Errorf("payload types at the first answer's port: %v; want PCMA (8) from the start, and telephone-event on 96", pts)
			}
			if pts := payloadTypes(t, second); !slices.Contains(pts, 0) {
				t.Errorf("payload types at the re-INVITE answer's port: %v; want PCMU (0)", pts)
			}
			if !strings.Contains(srv.logs.String(), "trunk=") == (tc.opts.Trunks != nil) {
				t.Errorf("the call was not taken as a %s's:\n%s", tc.name, srv.logs)
			}
		})
	}
}

func udpPort(conn *net.UDPConn) int { return conn.LocalAddr().(*net.UDPAddr).Port }

// payloadTypes are the payload types of the RTP packets waiting on conn, in
// their order. RTCP, which may arrive when the other socket's port is just
// below, is left out (RFC 5761: its packet types read as 72-76).
func payloadTypes(t *testing.T, conn *net.UDPConn) []uint8 {
	t.Helper()
	var pts []uint8
	buf := make([]byte, 1500)
	for {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			return pts
		}
		var pkt pionrtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType >= 72 && pkt.PayloadType <= 76 {
			continue
		}
		pts = append(pts, pkt.PayloadType)
	}
}

// A re-INVITE's offer may come in a multipart body, as a SIP-I carrier's
// does: it is answered, not taken for a request without SDP.
func TestReinviteMultipartOffer(t *testing.T) {
	launcher := newLateLauncher()
	p, d := dialLate(t, launcher)
	if err := p.ackWith(d, answerSDP(4000, "0", "0 PCMU/8000")); err != nil {
		t.Fatal(err)
	}
	if ev := launcher.next(t); ev.Name != runtime.EventConnected {
		t.Fatalf("first event %s, want %s", ev.Name, runtime.EventConnected)
	}
	offer := answerSDP(4002, "8", "8 PCMA/8000")
	body := "--b1\r\nContent-Type: application/sdp\r\n\r\n" + offer + "\r\n--b1\r\nContent-Type: application/isup\r\n\r\n\x01\x00\r\n--b1--\r\n"
	reinvite := "INVITE " + d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=" + d.branch + "4;rport\r\n" +
		"From: " + d.from + "\r\nTo: " + d.to + "\r\nCall-ID: " + d.callID + "\r\nCSeq: 3 INVITE\r\n" +
		"Contact: <sip:alice@" + p.local + ">\r\nMax-Forwards: 70\r\nContent-Type: multipart/mixed;boundary=b1\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if err := p.send(reinvite); err != nil {
		t.Fatal(err)
	}
	res, err := p.recv()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.Contains(res, " RTP/AVP 8\r\n") {
		t.Fatalf("got %q, want 200 answering PCMA", res)
	}
	if err := p.send(p.ack(d.target, d.callID, d.from, d.to, d.branch+"5", 3)); err != nil {
		t.Fatal(err)
	}
	if err := (<-launcher.legs).Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}
