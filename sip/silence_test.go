package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"vox/internal/porttest"
	"vox/runtime"
)

// silenceTimeout is long enough for a loaded CI machine to keep a 20 ms
// stream going without a gap that long, and short enough for the tests.
const silenceTimeout = 1500 * time.Millisecond

// silentCall is a connected call from a raw phone whose RTP comes from rtp,
// on a server ending calls silent for silenceTimeout; to is where the
// server takes the phone's RTP.
type silentCall struct {
	p        *rawPhone
	d        rawDialog
	launcher lateLauncher
	rtp      *net.UDPConn
	to       *net.UDPAddr
	seq      uint16
	cseq     int
}

func connectSilentCall(t *testing.T) *silentCall {
	t.Helper()
	launcher := newLateLauncher()
	_, addr := startRawCallServerWith(t, CallOptions{Launcher: launcher, MediaTimeout: silenceTimeout})
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	c := &silentCall{p: p, launcher: launcher, rtp: porttest.ListenUDP(t), cseq: 2}
	p.offer = answerSDP(udpPort(c.rtp), "0 101", "0 PCMU/8000", "101 telephone-event/8000")
	c.d = p.mustDial(t)
	if err := p.ackAnswer(c.d); err != nil {
		t.Fatal(err)
	}
	launcher.event(t, runtime.EventConnected)
	c.to = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: offeredPort(t, c.d.ok)}
	return c
}

// talk sends the phone's stream, a PCMU packet every 20 ms, for d.
func (c *silentCall) talk(t *testing.T, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		c.send(t, 0, make([]byte, 160))
	}
}

// send sends the next packet of the phone's stream.
func (c *silentCall) send(t *testing.T, pt uint8, payload []byte) {
	t.Helper()
	c.seq++
	pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: c.seq,
		Timestamp: uint32(c.seq) * 160, SSRC: 0x5eed}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.rtp.WriteToUDP(b, c.to); err != nil {
		t.Fatal(err)
	}
}

// noBye fails when the server has sent the phone anything, a BYE above all.
func (c *silentCall) noBye(t *testing.T, while string) {
	t.Helper()
	c.p.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.p.conn.Read(c.p.buf); err == nil {
		t.Fatalf("%s, the server sent:\n%s", while, c.p.buf[:n])
	}
}

// silenceEnds waits for the BYE of a silent call, which says why, and for
// the scenario's Call.Disconnected.
func (c *silentCall) silenceEnds(t *testing.T) {
	t.Helper()
	bye, err := c.p.recv()
	if err != nil {
		t.Fatalf("no BYE for a silent call: %v", err)
	}
	if !strings.HasPrefix(bye, "BYE ") {
		t.Fatalf("want a BYE, got:\n%s", bye)
	}
	if reason := headerOf(bye, "Reason"); !strings.HasPrefix(reason, "Q.850;cause=41;") || !strings.Contains(reason, "no RTP") {
		t.Errorf("the BYE's Reason is %q, want Q.850 cause 41 saying there was no RTP", reason)
	}
	if err := c.p.answerBye(bye); err != nil {
		t.Fatal(err)
	}
	c.launcher.event(t, runtime.EventDisconnected)
}

// reinvite sends a re-INVITE offering the phone's port with direction and
// acknowledges its answer. One crossing the ACK of the one before gets 491
// (RFC 3261 section 14.2) and is sent again.
func (c *silentCall) reinvite(t *testing.T, direction string) {
	t.Helper()
	for range 100 {
		c.cseq++
		n := strconv.Itoa(c.cseq)
		offer := strings.Replace(answerSDP(udpPort(c.rtp), "0", "0 PCMU/8000"), "a=sendrecv", "a="+direction, 1)
		branch := c.d.branch + "re" + n
		req := "INVITE " + c.d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.p.local + ";branch=" + branch + ";rport\r\n" +
			"From: " + c.d.from + "\r\nTo: " + c.d.to + "\r\nCall-ID: " + c.d.callID + "\r\nCSeq: " + n + " INVITE\r\n" +
			"Contact: <sip:alice@" + c.p.local + ">\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n" +
			"Content-Length: " + strconv.Itoa(len(offer)) + "\r\n\r\n" + offer
		if err := c.p.send(req); err != nil {
			t.Fatal(err)
		}
		res, err := c.p.recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.p.send(c.p.ack(c.d.target, c.d.callID, c.d.from, c.d.to, branch+"ack", c.cseq)); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(res, "SIP/2.0 200 "):
			return
		case !strings.HasPrefix(res, "SIP/2.0 491 "):
			t.Fatalf("re-INVITE %s: got\n%s", direction, res)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("re-INVITE %s: 491 for two seconds", direction)
}

// A call whose phone stops sending RTP, as one that lost power or its
// network does, is ended with a BYE saying why; while the stream flows,
// for longer than the timeout, the call goes on.
func TestSilentCallEnded(t *testing.T) {
	t.Parallel()
	c := connectSilentCall(t)
	c.talk(t, 3*silenceTimeout)
	c.noBye(t, "while the phone sent RTP")
	c.silenceEnds(t)
}

// A phone silent in comfort noise (RFC 3389, which Vox does not take) is
// there: its call goes on.
func TestComfortNoiseKeepsCallAlive(t *testing.T) {
	t.Parallel()
	c := connectSilentCall(t)
	for end := time.Now().Add(3 * silenceTimeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c.send(t, 13, []byte{40}) // RFC 3389 comfort noise
	}
	c.noBye(t, "while the phone sent comfort noise")
	c.silenceEnds(t)
}

// A phone that never sends a packet is gone as much as one that stopped.
// Vox's own stream does not stop meanwhile, though the scenario plays
// nothing: it sends silence.
func TestCallWithoutRTPEnded(t *testing.T) {
	t.Parallel()
	c := connectSilentCall(t)
	c.rtp.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.rtp.Read(buf)
	if err != nil {
		t.Fatalf("no RTP from a call playing nothing: %v", err)
	}
	var pkt pionrtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.PayloadType != 0 || len(pkt.Payload) != 160 || pkt.Payload[0] != 0xff {
		t.Fatalf("want a frame of PCMU silence, got %v (%v)", pkt, err)
	}
	c.silenceEnds(t)
}

// A phone that holds the call (a=inactive) owes no audio: the call goes on
// in silence for as long as it is held, and is judged again once the phone
// takes it back.
func TestHeldCallNotEndedForSilence(t *testing.T) {
	t.Parallel()
	c := connectSilentCall(t)
	c.talk(t, silenceTimeout/2)
	c.reinvite(t, "inactive")
	c.launcher.event(t, runtime.EventOnHold)
	time.Sleep(3 * silenceTimeout)
	c.noBye(t, "while the phone held the call")
	c.reinvite(t, "sendrecv")
	c.launcher.event(t, runtime.EventOffHold)
	c.talk(t, silenceTimeout/2)
	c.silenceEnds(t)
}

// With no MediaTimeout, silence ends nothing; the scenario hangs up.
func TestSilenceWatchOff(t *testing.T) {
	t.Parallel()
	launcher := newLateLauncher()
	p := phoneFor(t, launcher)
	d := p.mustDial(t)
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	launcher.event(t, runtime.EventConnected)
	time.Sleep(2 * silenceTimeout)
	p.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := p.conn.Read(p.buf); err == nil {
		t.Fatalf("with no media timeout, the server sent:\n%s", p.buf[:n])
	}
	if err := (<-launcher.legs).Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}
