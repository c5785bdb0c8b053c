package sip

import (
	"errors"
	"strconv"
	"strings"
	"testing"

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
