package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"vox/internal/porttest"
	"vox/media/rtp"
	"vox/runtime"
)

// earlyMediaLauncher runs a scenario that starts early media and waits.
func earlyMediaLauncher(t *testing.T) *scriptLauncher {
	t.Helper()
	prog, err := runtime.Compile("early.js", `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	e.call.startEarlyMedia();
});`)
	if err != nil {
		t.Fatal(err)
	}
	return &scriptLauncher{prog: prog, log: &syncBuffer{}}
}

// A caller that requires 100rel gets its 183 reliably: with Require: 100rel
// and an RSeq, sent again until the PRACK naming that RSeq, which is
// answered 200; a PRACK naming another gets 481. Vox used to refuse such an
// INVITE with 420.
func TestReliableEarlyMedia(t *testing.T) {
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startRawCallServerWith(t, CallOptions{Router: testRouter{}, Launcher: earlyMediaLauncher(t), Ports: ports})
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	p.extra = "Supported: timer\r\nRequire: 100rel\r\n"
	_, err = p.dial()
	var first errUnexpected
	if !errors.As(err, &first) || !strings.HasPrefix(string(first), "SIP/2.0 183 ") {
		t.Fatalf("dial: %v; want a 183", err)
	}
	msg := string(first)
	rseq := headerOf(msg, "RSeq")
	if headerOf(msg, "Require") != "100rel" || rseq == "" || !strings.Contains(headerOf(msg, "Allow"), "PRACK") {
		t.Fatalf("the 183 is not reliable:\n%s", msg)
	}
	again, err := p.recv()
	if err != nil || !strings.HasPrefix(again, "SIP/2.0 183 ") || headerOf(again, "RSeq") != rseq {
		t.Fatalf("no 183 sent again before its PRACK: %v\n%s", err, again)
	}

	target := strings.Trim(headerOf(msg, "Contact"), "<>")
	prack := func(n int, rack string) string {
		return "PRACK " + target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=z9hG4bK-prack" + strconv.Itoa(n) + ";rport\r\n" +
			"From: " + headerOf(msg, "From") + "\r\nTo: " + headerOf(msg, "To") + "\r\nCall-ID: " + headerOf(msg, "Call-ID") +
			"\r\nCSeq: " + strconv.Itoa(2+n) + " PRACK\r\nRAck: " + rack + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	}
	if err := p.send(prack(1, "1 2 INVITE")); err != nil {
		t.Fatal(err)
	}
	if res := p.recvSkipping("SIP/2.0 183 "); !strings.HasPrefix(res, "SIP/2.0 481 ") {
		t.Fatalf("a PRACK of no response of ours: %s", res)
	}
	if err := p.send(prack(2, rseq+" 2 INVITE")); err != nil {
		t.Fatal(err)
	}
	if res := p.recvSkipping("SIP/2.0 183 "); !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.Contains(headerOf(res, "CSeq"), "PRACK") {
		t.Fatalf("the PRACK: %s", res)
	}
}

// A reliable 183 whose PRACK never comes is sent again until 64*T1, then
// the call is refused 504 (RFC 3262 section 3) and the scenario hears it end.
func TestReliableResponseNeverPracked(t *testing.T) {
	// Restored after the server's shutdown, which its cleanup waits for.
	was := transactionTimeout
	t.Cleanup(func() { transactionTimeout = was })
	transactionTimeout = 1200 * time.Millisecond
	launcher := earlyMediaLauncher(t)
	_, addr := startRawCallServerWith(t, CallOptions{Launcher: launcher})
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	p.extra = "Require: 100rel\r\n"
	_, err = p.dial()
	var first errUnexpected
	if !errors.As(err, &first) || !strings.HasPrefix(string(first), "SIP/2.0 183 ") {
		t.Fatalf("dial: %v; want a reliable 183", err)
	}
	sent := 1
	for {
		msg, err := p.recv()
		if err != nil {
			t.Fatalf("after %d 183s: %v", sent, err)
		}
		if strings.HasPrefix(msg, "SIP/2.0 183 ") {
			sent++
			continue
		}
		if !strings.HasPrefix(msg, "SIP/2.0 504 ") {
			t.Fatalf("after %d 183s, got %q; want the 183 again or 504", sent, msg)
		}
		break
	}
	if sent < 2 {
		t.Errorf("the 183 was sent %d times before the 504, want it sent again", sent)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(launcher.log.String(), "Call.Disconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("the scenario did not hear the call end:\n%s", launcher.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recvSkipping is recv passing over messages that start with prefix (a
// retransmission that crossed what the test sent).
func (p *rawPhone) recvSkipping(prefix string) string {
	for {
		msg, err := p.recv()
		if err != nil {
			return err.Error()
		}
		if !strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
}

// newEarlyLauncher is a lateLauncher that starts early media.
func newEarlyLauncher() lateLauncher {
	a := newLateLauncher()
	a.early = true
	return a
}

// event waits for the call's next event, which must be named name.
func (a lateLauncher) event(t *testing.T, name string) {
	t.Helper()
	if ev := a.next(t); ev.Name != name {
		t.Fatalf("event %s, want %s", ev.Name, name)
	}
}

// ackOK acknowledges ok, a 200 to the INVITE.
func (p *rawPhone) ackOK(t *testing.T, ok, branch string) {
	t.Helper()
	d := rawDialog{callID: headerOf(ok, "Call-ID"), from: headerOf(ok, "From"), to: headerOf(ok, "To"),
		target: strings.Trim(headerOf(ok, "Contact"), "<>"), branch: branch}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
}

// prackFor is a PRACK of the reliable response msg, CSeq n, with body as SDP.
func (p *rawPhone) prackFor(msg string, n int, body string) string {
	target := strings.Trim(headerOf(msg, "Contact"), "<>")
	s := "PRACK " + target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=z9hG4bK-prack" + strconv.Itoa(n) + ";rport\r\n" +
		"From: " + headerOf(msg, "From") + "\r\nTo: " + headerOf(msg, "To") + "\r\nCall-ID: " + headerOf(msg, "Call-ID") +
		"\r\nCSeq: " + strconv.Itoa(n) + " PRACK\r\nRAck: " + headerOf(msg, "RSeq") + " 2 INVITE\r\nMax-Forwards: 70\r\n"
	if body == "" {
		return s + "Content-Length: 0\r\n\r\n"
	}
	return s + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// A caller whose INVITE had no SDP and that takes 100rel gets early media:
// our offer in a reliable 183, its answer in the PRACK, which starts the
// media (Call.AudioStarted, RTP to the answer's port); the 200 then repeats
// the offer and the ACK, without SDP, connects the call.
func TestLateOfferEarlyMedia(t *testing.T) {
	launcher := newEarlyLauncher()
	p := phoneFor(t, launcher)
	p.lateOffer, p.extra = true, "Supported: 100rel, timer\r\n"
	_, err := p.dial()
	var res errUnexpected
	if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 183 ") {
		t.Fatalf("dial: %v; want a 183", err)
	}
	offer := string(res)
	if headerOf(offer, "Require") != "100rel" || !strings.Contains(offer, "\r\nm=audio ") {
		t.Fatalf("the 183 is not a reliable offer:\n%s", offer)
	}
	leg := <-launcher.legs
	media := porttest.ListenUDP(t)
	answer := answerSDP(media.LocalAddr().(*net.UDPAddr).Port, "8 101", "8 PCMA/8000", "101 telephone-event/8000")
	if err := p.send(p.prackFor(offer, 3, answer)); err != nil {
		t.Fatal(err)
	}
	if res := p.recvSkipping("SIP/2.0 183 "); !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.Contains(headerOf(res, "CSeq"), "PRACK") {
		t.Fatalf("the PRACK: %s", res)
	}
	launcher.event(t, runtime.EventAudioStarted)
	if err := leg.Play(context.Background(), runtime.Media{ToneScript: "425@-19;*(1/4/1)"}); err != nil {
		t.Fatal(err)
	}
	media.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := media.Read(buf)
	var pkt pionrtp.Packet
	if err != nil || pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != 8 {
		t.Fatalf("no early media in the answer's codec: %v %+v", err, pkt.Header)
	}

	if err := leg.Answer(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ok := p.recvSkipping("SIP/2.0 183 ")
	if !strings.HasPrefix(ok, "SIP/2.0 200 ") || !strings.Contains(ok, "\r\nm=audio ") {
		t.Fatalf("the answer: %s", ok)
	}
	p.ackOK(t, ok, "z9hG4bK-early-")
	launcher.event(t, runtime.EventConnected)
	select {
	case ev := <-launcher.events:
		t.Fatalf("after Connected: %s (an ACK without SDP taken for a missing answer?)", ev.Name)
	case <-time.After(500 * time.Millisecond):
	}
	hangUp(t, p, leg)
}

// hangUp ends the call from Vox's side and answers its BYE.
func hangUp(t *testing.T, p *rawPhone, leg runtime.Leg) {
	t.Helper()
	if err := leg.Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	bye := p.recvSkipping("SIP/2.0 ")
	if !strings.HasPrefix(bye, "BYE ") {
		t.Fatalf("want a BYE: %s", bye)
	}
	if err := p.answerBye(bye); err != nil {
		t.Fatal(err)
	}
}

// With 100rel, our 200 waits for the PRACK of a 183 that carried SDP (RFC
// 3262 section 3), even when the scenario answers at once.
func TestAnswerWaitsForPrack(t *testing.T) {
	launcher := newEarlyLauncher()
	p := phoneFor(t, launcher)
	p.extra = "Supported: 100rel, timer\r\n"
	_, err := p.dial()
	var res errUnexpected
	if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 183 ") || headerOf(string(res), "RSeq") == "" {
		t.Fatalf("dial: %v; want a reliable 183", err)
	}
	leg := <-launcher.legs
	launcher.event(t, runtime.EventAudioStarted)
	if err := leg.Answer(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// Until the PRACK, only the 183 comes again.
	p.conn.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
	for {
		n, err := p.conn.Read(p.buf)
		if err != nil {
			break
		}
		if msg := string(p.buf[:n]); !strings.HasPrefix(msg, "SIP/2.0 183 ") {
			t.Fatalf("before the PRACK: %s", msg)
		}
	}
	if err := p.send(p.prackFor(string(res), 3, "")); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for len(got) < 2 {
		msg := p.recvSkipping("SIP/2.0 183 ")
		if !strings.HasPrefix(msg, "SIP/2.0 200 ") {
			t.Fatalf("after the PRACK: %s", msg)
		}
		got[strings.Fields(headerOf(msg, "CSeq"))[1]] = msg
	}
	ok, invited := got["INVITE"]
	if _, pracked := got["PRACK"]; !pracked || !invited {
		t.Fatalf("200s for %v, want the PRACK's and the INVITE's", got)
	}
	p.ackOK(t, ok, "z9hG4bK-wait-")
	launcher.event(t, runtime.EventConnected)
	hangUp(t, p, leg)
}

// A server taking calls tells a peer probing with OPTIONS that it takes
// PRACK and supports 100rel and session timers.
func TestOptionsAdvertise100rel(t *testing.T) {
	p := phoneFor(t, hangupLauncher{})
	opts := "OPTIONS sip:" + p.server.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=z9hG4bK-opt1;rport\r\n" +
		"From: <sip:alice@" + testRealm + ">;tag=o1\r\nTo: <sip:" + testRealm + ">\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if err := p.send(opts); err != nil {
		t.Fatal(err)
	}
	res, err := p.recv()
	if err != nil || !strings.HasPrefix(res, "SIP/2.0 200 ") || headerOf(res, "Supported") != "timer, 100rel" ||
		!strings.Contains(headerOf(res, "Allow"), "PRACK") || !strings.Contains(headerOf(res, "Allow"), "INVITE") {
		t.Fatalf("OPTIONS: %v\n%s", err, res)
	}
}

// An UPDATE in the early dialog (RFC 3311), as a carrier sends to change
// the media before the answer, is answered with SDP, and the call can
// still be refused after it.
func TestEarlyUpdate(t *testing.T) {
	launcher := newEarlyLauncher()
	p := phoneFor(t, launcher)
	_, err := p.dial()
	var first errUnexpected
	if !errors.As(err, &first) || !strings.HasPrefix(string(first), "SIP/2.0 183 ") {
		t.Fatalf("dial: %v; want a 183", err)
	}
	launcher.event(t, runtime.EventAudioStarted)
	msg := string(first)
	offer := answerSDP(4010, "8", "8 PCMA/8000")
	update := "UPDATE " + strings.Trim(headerOf(msg, "Contact"), "<>") + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local +
		";branch=z9hG4bK-upd1;rport\r\nFrom: " + headerOf(msg, "From") + "\r\nTo: " + headerOf(msg, "To") +
		"\r\nCall-ID: " + headerOf(msg, "Call-ID") + "\r\nCSeq: 3 UPDATE\r\nContact: <sip:alice@" + p.local +
		">\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(offer)) + "\r\n\r\n" + offer
	if err := p.send(update); err != nil {
		t.Fatal(err)
	}
	res := p.recvSkipping("SIP/2.0 183 ")
	if !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.Contains(headerOf(res, "CSeq"), "UPDATE") || !strings.Contains(res, " RTP/AVP 8") {
		t.Fatalf("the early UPDATE: %s", res)
	}
	if err := (<-launcher.legs).Hangup(context.Background(), 486, nil); err != nil {
		t.Fatal(err)
	}
	if res := p.recvSkipping("SIP/2.0 183 "); !strings.HasPrefix(res, "SIP/2.0 486 ") {
		t.Fatalf("after the UPDATE, the call's refusal: %s", res)
	}
}
