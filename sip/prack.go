package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/runtime"
)

// Reliable provisional responses (RFC 3262, 100rel). A caller that supports
// them gets our 183 (early media) reliably, and one that requires them gets
// every provisional response but 100 so: carriers' gateways often refuse to
// play early media otherwise, and some require 100rel outright, which Vox
// used to refuse with 420. The response carries Require: 100rel and an RSeq,
// and is sent again (T1, doubling to T2) until the caller acknowledges it
// with a PRACK, the INVITE gets its final response, or 64*T1 pass, when the
// call is refused 504 as the RFC has it.

// reliability is an incoming call's 100rel state; the leg's mu guards it.
type reliability struct {
	use     bool   // the caller supports or requires 100rel
	all     bool   // it requires it: every provisional response is reliable
	rseq    uint32 // of the last reliable provisional response
	pending *reliableResponse
}

// reliableResponse is a reliable provisional response awaiting its PRACK.
type reliableResponse struct {
	rseq  uint32
	sdp   bool // it carries SDP: no 2xx before its PRACK
	offer bool // the SDP is our offer (a late-offer call's 183): the PRACK answers
	acked chan struct{}
	once  sync.Once
}

// ack marks the response acknowledged; first says this PRACK is the first
// for it, not a retransmission.
func (r *reliableResponse) ack() (first bool) {
	r.once.Do(func() {
		first = true
		close(r.acked)
	})
	return first
}

func (r *reliableResponse) isAcked() bool {
	select {
	case <-r.acked:
		return true
	default:
		return false
	}
}

// unackedSDP is the reliable provisional response with SDP not yet
// acknowledged, or nil.
func (r *reliability) unackedSDP() *reliableResponse {
	if p := r.pending; p != nil && p.sdp && !p.isAcked() {
		return p
	}
	return nil
}

func newReliability(req *sipmsg.Request) reliability {
	all := requires(req, "100rel")
	return reliability{use: all || supports(req, "100rel"), all: all, rseq: rand.Uint32N(1 << 30)}
}

// provisional sends res, a provisional response to the INVITE, reliably when
// the caller wants that for it. A second reliable response may not go before
// the first is acknowledged (RFC 3262 section 3); it is then left out, which
// loses nothing here: Vox sends at most a 180 or a 183 before its answer.
func (l *leg) provisional(res *sipmsg.Response) error {
	in := l.in
	l.mu.Lock()
	rel := &in.rel
	if !rel.use || !rel.all && res.StatusCode != 183 {
		l.mu.Unlock()
		return in.tx.Respond(res)
	}
	if p := rel.pending; p != nil && !p.isAcked() {
		l.mu.Unlock()
		l.log.Debug("sip: a provisional response left out: the last reliable one is not acknowledged yet", "code", res.StatusCode)
		return nil
	}
	rel.rseq++
	hasSDP := len(res.Body()) > 0
	p := &reliableResponse{rseq: rel.rseq, sdp: hasSDP, offer: in.lateOffer && hasSDP, acked: make(chan struct{})}
	rel.pending = p
	l.mu.Unlock()
	res.AppendHeader(sipmsg.NewHeader("Require", "100rel"))
	res.AppendHeader(sipmsg.NewHeader("RSeq", strconv.FormatUint(uint64(p.rseq), 10)))
	if err := in.tx.Respond(res); err != nil {
		return err
	}
	l.c.goWork(func() { l.resendUntilPrack(res, p) })
	return nil
}

// resendUntilPrack sends res again until its PRACK, the INVITE's final
// response, or 64*T1.
func (l *leg) resendUntilPrack(res *sipmsg.Response, p *reliableResponse) {
	in := l.in
	r := newRetransmits()
	defer r.stop()
	for {
		select {
		case <-p.acked:
			return
		case <-in.final:
			return
		case <-l.c.closing:
			return
		case <-r.timer.C:
		}
		if !r.next() {
			l.log.Info("sip: no PRACK for a reliable provisional response; refusing the call")
			in.finish(504, nil)
			l.end(runtime.EventDisconnected, nil)
			return
		}
		if err := in.tx.Respond(res); err != nil {
			l.log.Debug("sip: provisional retransmission", "err", err)
			return
		}
	}
}

// prack takes a PRACK: the caller acknowledging our reliable provisional
// response whose RSeq, and the INVITE's CSeq, its RAck names.
func (l *leg) prack(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	var p *reliableResponse
	if in := l.in; in != nil {
		rseq, cseq, method, ok := parseRAck(req)
		l.mu.Lock()
		if ok && in.rel.pending != nil && in.rel.pending.rseq == rseq && cseq == in.req.CSeq().SeqNo && method == sipmsg.INVITE {
			p = in.rel.pending
		}
		l.mu.Unlock()
	}
	if p == nil {
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if first := p.ack(); !p.offer || !first {
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
		return
	}
	// The answer to the offer in our 183 (RFC 3262 section 5): the early
	// media starts with it. Without a usable one the call cannot have
	// media, and is refused as an unusable offer would be.
	if err := l.takeAnswer(sessionDescription(req)); err != nil {
		l.log.Warn("sip: the PRACK has no usable answer to our offer; refusing the call", "err", err)
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		l.in.finish(488, nil)
		l.end(runtime.EventDisconnected, nil)
		return
	}
	l.mu.Lock()
	l.in.answeredEarly = true
	l.mu.Unlock()
	l.post(runtime.EventAudioStarted, nil)
	l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
}

// parseRAck reads RAck: response-num CSeq-num Method (RFC 3262 section 7.2).
func parseRAck(req *sipmsg.Request) (rseq, cseq uint32, method sipmsg.RequestMethod, ok bool) {
	h := header(req, "RAck")
	if h == nil {
		return 0, 0, "", false
	}
	f := strings.Fields(h.Value())
	if len(f) != 3 {
		return 0, 0, "", false
	}
	r, err1 := strconv.ParseUint(f[0], 10, 32)
	c, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return uint32(r), uint32(c), sipmsg.RequestMethod(strings.ToUpper(f[2])), true
}

// reliable reads the RSeq of a reliable provisional response to our INVITE
// (Require: 100rel, RFC 3262 section 4); false for an unreliable one.
func reliable(res *sipmsg.Response) (uint32, bool) {
	h := header(res, "RSeq")
	if h == nil || !requires(res, "100rel") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// prackFork sends the PRACK of a reliable provisional response to f's
// INVITE, in the early dialog it makes, and reports whether the response is
// new: a retransmission, or one older than the last PRACKed, is dropped
// (RFC 3262 section 4). A PRACK that is lost its own transaction sends
// again.
func (l *leg) prackFork(f *fork, res *sipmsg.Response, rseq uint32) bool {
	c := l.c
	l.mu.Lock()
	if f.rseq != 0 && rseq <= f.rseq {
		l.mu.Unlock()
		return false
	}
	invSeq := f.inv.CSeq().SeqNo
	f.rseq = rseq
	f.prackCSeq = max(f.prackCSeq, invSeq) + 1
	d := c.forkDialog(f, res)
	req := c.requestCSeq(d, sipmsg.PRACK, f.prackCSeq)
	l.mu.Unlock()
	req.AppendHeader(sipmsg.NewHeader("RAck", fmt.Sprintf("%d %d INVITE", rseq, invSeq)))
	log := l.log // the PRACK may wait 64×T1 for its answer: not the leg
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.workCtx, transactionTimeout)
		defer cancel()
		if res, err := c.send(ctx, req); err != nil || !res.IsSuccess() {
			log.Debug("sip: PRACK not taken", "err", err, "res", res)
		}
	})
	return true
}
