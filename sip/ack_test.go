package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"vox/runtime"
)

// A 2xx to an INVITE is sent again until its ACK comes (RFC 3261 section
// 13.3.1.4); the ACK, late, connects the call.
func TestAnswerRetransmittedUntilAck(t *testing.T) {
	p, d := dialRawCall(t, hangupLauncher{})
	again, err := p.recv() // T1 later
	if err != nil {
		t.Fatalf("no retransmission of the 200: %v", err)
	}
	if !strings.HasPrefix(again, "SIP/2.0 200 ") || headerOf(again, "To") != d.to {
		t.Fatalf("got %q, want the 200 again", again)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	// hangupLauncher hangs up once connected.
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}

// A 2xx whose ACK never comes ends the call with a BYE after 64*T1.
func TestAnswerNeverAckedEndsCall(t *testing.T) {
	// Restored after the server's shutdown, which its cleanup waits for.
	was := transactionTimeout
	t.Cleanup(func() { transactionTimeout = was })
	transactionTimeout = 1200 * time.Millisecond
	p, err := newRawPhone(startRawCallServer(t, hangupLauncher{}), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	if _, err := p.dial(); err != nil {
		t.Fatal(err)
	}
	retransmitted := 0
	for {
		msg, err := p.recv()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(msg, "SIP/2.0 200 ") {
			retransmitted++
			continue
		}
		if !strings.HasPrefix(msg, "BYE ") {
			t.Fatalf("got %q, want the 200 again or a BYE", msg)
		}
		if err := p.answerBye(msg); err != nil {
			t.Fatal(err)
		}
		break
	}
	if retransmitted == 0 {
		t.Error("the 200 was not sent again before the BYE")
	}
}

// An INVITE gets 100 Trying before its answer, which stops the phone
// sending it again (RFC 3261 section 17.2.1).
func TestInviteGetsTryingFirst(t *testing.T) {
	p, d := dialRawCall(t, hangupLauncher{})
	if p.trying == 0 {
		t.Error("answered without a 100 Trying first")
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}

// A BYE the phone never answers is given up at the shutdown's deadline, and
// the shutdown, whose request handlers all returned long before, reports no
// error: it used to pick at random between its deadline, passed by then, and
// the handlers being done. Rounds make a coin toss a near certainty.
func TestShutdownGivesUpUnansweredBye(t *testing.T) {
	for round := range 6 {
		srv, addr := startRawCallServerFor(t, hangupLauncher{})
		p, err := newRawPhone(addr, round)
		if err != nil {
			t.Fatal(err)
		}
		defer p.conn.Close()
		d, err := p.dial()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ackAnswer(d); err != nil {
			t.Fatal(err)
		}
		if bye, err := p.recv(); err != nil || !strings.HasPrefix(bye, "BYE ") {
			t.Fatalf("round %d: want the BYE, got %q, %v", round, bye, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = srv.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: shutdown: %v", round, err)
		}
	}
}

// dialRawCall places a call from a raw phone to a server whose calls go to
// launcher (hangupLauncher: answered at once and hung up once connected);
// the phone has the answer.
func dialRawCall(t *testing.T, launcher Launcher) (*rawPhone, rawDialog) {
	t.Helper()
	p := phoneFor(t, launcher)
	return p, p.mustDial(t)
}

// phoneFor is a raw phone calling a server whose calls go to launcher.
func phoneFor(t *testing.T, launcher Launcher) *rawPhone {
	t.Helper()
	p, err := newRawPhone(startRawCallServer(t, launcher), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	return p
}

// mustDial is dial, failing the test when the call is not answered.
func (p *rawPhone) mustDial(t *testing.T) rawDialog {
	t.Helper()
	d, err := p.dial()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestShutdownDoesNotWaitOutAGonePeer: a call still up when the server stops
// gets its BYE; a phone that is gone never answers it, and the stop gives up
// on it after byePatience instead of holding on until its deadline.
func TestShutdownDoesNotWaitOutAGonePeer(t *testing.T) {
	launcher := newLateLauncher()
	srv, addr := startRawCallServerFor(t, launcher)
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.dial()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	for ev := launcher.next(t); ev.Name != runtime.EventConnected; ev = launcher.next(t) {
	}
	p.conn.Close() // the phone is gone

	const deadline = 20 * time.Second // under Timer F's 32 s, over byePatience
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the shutdown waited its whole deadline (%v) for a gone phone's answer to its BYE", deadline)
	}
}
