package sip

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// cancelWhileResponding is an INVITE's server transaction to which a CANCEL
// comes while a response is being sent: sipgo runs the CANCEL's callback
// with the transaction locked, and the response waits for the lock.
type cancelWhileResponding struct {
	sipmsg.ServerTransaction
	onCancel sipmsg.FnTxCancel
}

func (t *cancelWhileResponding) OnCancel(f sipmsg.FnTxCancel) bool {
	t.onCancel = f
	return true
}

func (t *cancelWhileResponding) Respond(*sipmsg.Response) error {
	t.onCancel(nil)
	return nil
}

// A CANCEL that comes as the call is answered does not leave the answer and
// the CANCEL waiting for each other.
func TestCancelWhileAnswering(t *testing.T) {
	raw := "INVITE sip:100@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@vox.test>;tag=1\r\nTo: <sip:100@vox.test>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
	msg, err := sipmsg.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := &calls{srv: &Server{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		legs: map[*leg]struct{}{}, dialogs: map[dialogKey]*leg{}, closing: make(chan struct{})}
	c.ctx, c.stop = context.WithCancel(context.Background())
	defer c.stop()
	l := c.newLeg("call-1", "acme", true)
	tx := &cancelWhileResponding{}
	l.in = &inbound{l: l, req: msg.(*sipmsg.Request), tx: tx, tag: "t1", final: make(chan struct{})}
	l.dlg = &dialog{contact: &sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1"}}}
	release, ok := l.endOnCancel(tx)
	if !ok {
		t.Fatal("no CANCEL callback")
	}
	defer release()
	answered := make(chan error, 1)
	go func() { answered <- l.answer(nil) }()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the answer and the CANCEL wait for each other")
	}
	<-c.work.idleSignal()
}
