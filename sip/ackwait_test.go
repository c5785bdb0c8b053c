package sip

import (
	"context"
	"strings"
	"testing"

	"vox/runtime"
)

// A call hung up between our 200 and its ACK (the scenario answered and
// hung up at once, say) still takes the ACK: the 200 is no longer sent
// again, and the BYE, which waited for the ACK (RFC 3261 section 15), goes
// at once. The dialog used to be forgotten with the call, the ACK dropped,
// and both held until the transaction gave up, 64*T1 later.
func TestHangupBeforeAckTakesAck(t *testing.T) {
	launcher := newLateLauncher()
	p, d := dialRawCall(t, launcher)
	if err := (<-launcher.legs).Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	if ev := launcher.next(t); ev.Name != runtime.EventDisconnected {
		t.Fatalf("event %s, want %s", ev.Name, runtime.EventDisconnected)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	// A retransmission may cross the ACK; one sent after the ACK was in
	// would be the ACK lost.
	for again := 0; ; again++ {
		msg, err := p.recv()
		if err != nil {
			t.Fatalf("no BYE: %v", err)
		}
		if strings.HasPrefix(msg, "BYE ") {
			if err := p.answerBye(msg); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !strings.HasPrefix(msg, "SIP/2.0 200 ") || again == 2 {
			t.Fatalf("got %q after %d retransmissions of the 200, want the BYE", msg, again)
		}
		if err := p.ackAnswer(d); err != nil {
			t.Fatal(err)
		}
	}
}
