package sip

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media/rtp"
	"vox/runtime"
)

// Attended transfer: a phone talks to two parties through Vox on two of its
// calls, one of them usually on hold, and its transfer key joins them: a
// REFER on one call whose Refer-To names the other call in a Replaces
// (RFC 3515, RFC 3891). Each of the phone's calls is a leg of its own
// session, which its scenario has bridged to a party. Vox joins the two legs
// to each other, so that each stands for the other session's party: what
// session 1 sends to its leg, session 2 hears from its own, and the other way,
// digits included. Both scenarios go on as they were (bridged, recording,
// billing) and need not know; the phone's two dialogs end with BYE. When
// either session hangs up its leg, the other's leg is disconnected, as when a
// party hangs up.
//
// The media of the two legs goes from one's RTP socket to the other's. Two
// SRTP calls (keyed in SDP) are joined too: each leg then decrypts with the
// other's key. A browser's call, or an SRTP call with a plain one, is refused
// the transfer.

// attendedTransfer takes a REFER whose Refer-To has replaces, the escaped
// Replaces header naming the phone's other call.
func (l *leg) attendedTransfer(req *sipmsg.Request, tx sipmsg.ServerTransaction, replaces string, noSub bool) {
	refuse := func(code int, why string) { l.c.srv.respond(tx, refusal(req, code, why)) }
	callID, tags, ok := parseReplaces(replaces)
	if !ok {
		refuse(400, "the Replaces of Refer-To is not call-id;to-tag=...;from-tag=...")
		return
	}
	// RFC 3891 names the dialog as the side receiving the Replaces sees it,
	// and phones differ on which side that is: the tags are tried both ways.
	other := l.c.dialog(dialogKey{callID, tags[0], tags[1]})
	if other == nil {
		other = l.c.dialog(dialogKey{callID, tags[1], tags[0]})
	}
	switch {
	case other == nil:
		refuse(481, "the call to join is not known")
		return
	case other == l:
		refuse(400, "a call cannot be joined with itself")
		return
	}
	if code, why := l.c.join(l, other); code != 0 {
		refuse(code, why)
		return
	}

	l.mu.Lock()
	d := l.dlg
	t := &transfer{event: "refer", noSub: noSub}
	if l.transfersAsked > 0 {
		t.event = "refer;id=" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	}
	l.transfersAsked++
	l.mu.Unlock()
	l.log.Info("sip: attended transfer: the call is joined with another of the phone's", "with", other.id)
	accepted := make(chan struct{})
	t.sent = accepted
	if !noSub {
		l.notifyTransfer(d, t, "SIP/2.0 200 OK", "terminated;reason=noresource")
	}
	l.acceptRefer(req, tx, d, noSub, accepted)
	// The phone hangs up the transferred call itself once told the transfer
	// worked, and the target ends the replaced one (RFC 3891); Vox is the
	// target, and does not count on the phone for the other.
	other.leaveDialog(nil)
	l.leaveDialog(t.sent)
}

// parseReplaces reads a Replaces header (RFC 3891) escaped in a URI:
// the Call-ID, and the to-tag and from-tag.
func parseReplaces(escaped string) (callID string, tags [2]string, ok bool) {
	v, err := url.PathUnescape(escaped)
	if err != nil {
		return "", tags, false
	}
	callID, params, _ := strings.Cut(v, ";")
	callID = strings.TrimSpace(callID)
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			tags[0] = strings.TrimSpace(value)
		case "from-tag":
			tags[1] = strings.TrimSpace(value)
		}
	}
	return callID, tags, callID != "" && tags[0] != "" && tags[1] != ""
}

// join joins a and b, two connected calls of the same phone, as the
// package comment says; it returns the SIP status to refuse the transfer
// with, and why, when they cannot be.
func (c *calls) join(a, b *leg) (int, string) {
	// One join at a time: two REFERs crossing must not join a call twice.
	c.joinMu.Lock()
	defer c.joinMu.Unlock()
	ma, code, why := a.joinable()
	if code != 0 {
		return code, why
	}
	mb, code, why := b.joinable()
	switch {
	case code != 0:
		return code, "the call to join: " + why
	case a.account != b.account:
		return 403, "the calls are of different accounts"
	case ma.peer != mb.peer:
		// Only the phone on both calls may join them: the tags of a
		// call are no secret from the parties it connects.
		return 403, "the call to join is not this phone's"
	case (ma.sdes == nil) != (mb.sdes == nil):
		return 488, "one call is SRTP and the other is not"
	case ma.sdes != nil && !ma.sdes.CanJoin(mb.sdes):
		return 488, "the calls' SRTP suites differ"
	}
	if !pair(a, b) {
		return 481, "the call ended meanwhile"
	}
	if ma.sdes != nil {
		if err := ma.sdes.Join(mb.sdes, ma.media.Addr()); err != nil {
			// CanJoin said it would: a key the pion context refuses.
			a.log.Warn("sip: attended transfer: SRTP not joined", "err", err)
		}
	}
	a.joinWith(mb.media)
	b.joinWith(ma.media)
	return 0, ""
}

// pair makes a and b each other's joined leg, unless one has ended: from
// then on, the end of either ends the other (endThen).
func pair(a, b *leg) bool {
	// Both locks at once, in an order of their own, so that neither call
	// ends between the check and the pairing.
	first, second := a, b
	if b.id < a.id {
		first, second = b, a
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	if !joinableState(a.state) || !joinableState(b.state) {
		return false
	}
	a.joined, b.joined = b, a
	return true
}

// joinableState: the call is answered. Its ACK may still be on the way:
// a phone sends its REFER right after the ACK of the call it names, and the
// two are handled on goroutines of their own.
func joinableState(s legState) bool { return s == stateAnswered || s == stateConnected }

// joinEnd is what joining needs of a leg: where its dialog's requests come
// from, and its RTP address and SRTP.
type joinEnd struct {
	peer  string
	media netip.AddrPort
	sdes  *rtp.SDES
}

// joinable tells whether the leg can be joined, with what join needs.
func (l *leg) joinable() (joinEnd, int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !joinableState(l.state):
		return joinEnd{}, 403, "only an answered call can be transferred"
	case l.joined != nil:
		return joinEnd{}, 403, "the call was transferred already"
	case l.ep == nil || l.rtc != nil:
		return joinEnd{}, 488, "attended transfer is for phones' calls, not a browser's"
	}
	addr := l.ep.LocalAddr()
	if l.sdes != nil {
		addr = l.sdes.LocalAddr()
	}
	if addr.Addr().IsUnspecified() {
		loopback := netip.IPv6Loopback()
		if addr.Addr().Is4() {
			loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		addr = netip.AddrPortFrom(loopback, addr.Port())
	}
	return joinEnd{peer: strings.ToUpper(l.dlg.transport) + " " + l.dlg.peer, media: addr, sdes: l.sdes}, 0, ""
}

// joinWith makes media, the RTP socket of the leg l is paired with, the far
// end of l's: each now sends what its session plays or relays to the other
// (SRTP's were joined by join). A call the phone held is taken off hold, as
// its far end is now a party that talks.
func (l *leg) joinWith(media netip.AddrPort) {
	l.mu.Lock()
	if l.timer != nil {
		// No dialog is left to refresh.
		l.timer.Stop()
	}
	held := l.farHeld
	l.farHeld = false
	ep := l.ep
	l.mu.Unlock()
	ep.SetRemote(media)
	ep.SetSending(true)
	if held {
		l.post(runtime.EventOffHold, nil)
	}
}

// leaveDialog ends the phone's dialog of a joined leg with a BYE, once after
// is closed (nil: now), and keeps the leg. The leg keeps its dlg, which
// tells an answered call: joined tells the dialog is over.
func (l *leg) leaveDialog(after <-chan struct{}) {
	l.mu.Lock()
	d, wait := l.dlg, l.awaiting
	l.mu.Unlock()
	l.c.goWork(func() {
		if after != nil {
			select {
			case <-after:
			case <-l.c.closing:
			}
		}
		if wait != nil {
			// RFC 3261 section 15: not before the ACK of our 2xx.
			select {
			case <-wait.done:
			case <-l.c.closing:
			}
		}
		req := l.c.request(d, sipmsg.BYE)
		req.AppendHeader(sipmsg.NewHeader("Reason", `SIP;cause=200;text="call transferred"`))
		ctx, cancel := context.WithTimeout(l.c.workCtx, transactionTimeout)
		defer cancel()
		if _, err := l.c.send(ctx, req); err != nil {
			l.log.Debug("sip: BYE after a transfer not answered", "err", err)
		}
		l.c.forgetDialog(l, d)
	})
}

// received is an in-call message or INFO the joined leg's session sent its
// own leg: for this leg's session, it comes from the far end, as info and
// message would report it.
func (l *leg) received(method sipmsg.RequestMethod, contentType, body string, headers map[string]string) {
	h := map[string]string{}
	for name, v := range headers {
		if hasPrefixFold(name, "x-") || hasPrefixFold(name, "vi-") {
			h[name] = v
		}
	}
	if method == sipmsg.MESSAGE || isText(contentType) {
		l.post(runtime.EventMessageReceived, map[string]any{"text": body, "headers": h})
		return
	}
	l.post(runtime.EventInfoReceived, map[string]any{"mimeType": contentType, "body": body, "headers": h})
}
