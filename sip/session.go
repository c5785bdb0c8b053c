package sip

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media/sdp"
	"vox/runtime"
)

// Session timers (RFC 4028) end calls whose far end is gone: one side
// refreshes the session with a re-INVITE or UPDATE every half interval, and
// the other ends a session not refreshed in time. When the peer does not do
// session timers at all, Vox refreshes anyway, so that every call is checked.

// sessionTerms is what a dialog agreed on session timers.
type sessionTerms struct {
	interval  time.Duration
	weRefresh bool
	// uac: the refresher is the UAC of the transaction that agreed; the
	// response to it carries refresher=uac and Require: timer.
	uacRefreshes bool
}

// put writes the terms into a 2xx that agrees on them.
func (t sessionTerms) put(res *sipmsg.Response) {
	if t.interval == 0 {
		return
	}
	refresher := "uas"
	if t.uacRefreshes {
		refresher = "uac"
		res.AppendHeader(sipmsg.NewHeader("Require", "timer"))
	}
	res.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(t.interval)+";refresher="+refresher))
}

// uasTerms are the terms for a request (INVITE, UPDATE) we answer (RFC 4028
// section 9); false when its interval is below our Min-SE (422).
func (c *calls) uasTerms(req *sipmsg.Request) (sessionTerms, bool) {
	se, refresher, ok := sessionExpires(req)
	if !ok {
		// The peer did not ask: we refresh (refresher=uas needs nothing
		// of the UAC).
		return sessionTerms{interval: c.opts.SessionExpires, weRefresh: true}, true
	}
	if se < c.opts.MinSE {
		return sessionTerms{}, false
	}
	interval := min(se, max(c.opts.SessionExpires, minSE(req)))
	if refresher == "" {
		refresher = "uas"
		if supports(req, "timer") {
			refresher = "uac"
		}
	}
	return sessionTerms{interval: interval, weRefresh: refresher == "uas", uacRefreshes: refresher == "uac"}, true
}

// uacTerms are the terms a 2xx to our request agreed; without
// Session-Expires the peer does no session timers and we refresh at our
// interval.
func (c *calls) uacTerms(res *sipmsg.Response) sessionTerms {
	se, refresher, ok := sessionExpires(res)
	if !ok {
		return sessionTerms{interval: c.opts.SessionExpires, weRefresh: true}
	}
	return sessionTerms{interval: max(se, time.Second), weRefresh: refresher != "uas", uacRefreshes: refresher != "uas"}
}

// askTerms writes what we ask for into a request we send, with the
// options it supports (timer, and 100rel for a new INVITE).
func (c *calls) askTerms(req *sipmsg.Request, interval time.Duration, supported string) {
	req.AppendHeader(sipmsg.NewHeader("Supported", supported))
	req.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(interval)+";refresher=uac"))
	req.AppendHeader(sipmsg.NewHeader("Min-SE", seconds(c.opts.MinSE)))
}

// sessionExpires reads Session-Expires (or its compact form x).
func sessionExpires(m headered) (d time.Duration, refresher string, ok bool) {
	h := header(m, "Session-Expires")
	if h == nil {
		h = header(m, "x")
	}
	if h == nil {
		return 0, "", false
	}
	value, params, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
	if err != nil {
		return 0, "", false
	}
	for p := range strings.SplitSeq(params, ";") {
		if k, v, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(k), "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return time.Duration(secs) * time.Second, refresher, true
}

// minSE reads Min-SE; 0 when absent.
func minSE(m headered) time.Duration {
	h := header(m, "Min-SE")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(secs) * time.Second
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// startTimer (re)starts the session timer with the leg's terms.
func (l *leg) startTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.startTimerLocked(0)
}

// startTimerLocked starts the timer; after, when not zero, overrides when
// the next refresh goes.
func (l *leg) startTimerLocked(after time.Duration) {
	if l.state == stateEnded || l.terms.interval == 0 {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	iv := l.terms.interval
	switch {
	case after > 0:
		l.timer = l.afterFunc(after, (*leg).refresh)
	case l.terms.weRefresh:
		l.timer = l.afterFunc(iv/2, (*leg).refresh)
	default:
		// RFC 4028 section 10: the refresher has until
		// interval - min(32 s, interval/3).
		l.timer = l.afterFunc(iv-min(32*time.Second, iv/3), (*leg).expired)
	}
}

// expired: the peer stopped refreshing the session.
func (l *leg) expired() {
	l.log.Info("sip: session not refreshed; ending the call")
	l.bye(nil)
}

// refresh sends a session refresh: UPDATE without SDP when the peer takes
// UPDATE, else a re-INVITE with our SDP.
func (l *leg) refresh() {
	l.mu.Lock()
	if l.state != stateConnected || l.dlg == nil || l.joined != nil {
		l.mu.Unlock()
		return
	}
	if l.refreshing || l.awaiting != nil {
		l.startTimerLocked(time.Second)
		l.mu.Unlock()
		return
	}
	d := l.dlg
	useUpdate := d.allowsUpdate && !l.noUpdate
	if l.rtc != nil && !useUpdate {
		// A re-INVITE of ours would need an offer from the browser's
		// session; its WebSocket, pinged, tells whether it is there
		// (connectionClosed ends the call).
		l.mu.Unlock()
		return
	}
	l.refreshing = true
	interval := l.terms.interval
	var offer []byte
	if !useUpdate {
		l.sdp.Version++
		offer, _ = l.sdp.Offer()
		l.last = offer
	}
	l.mu.Unlock()
	l.c.goWork(func() {
		res, err := l.sendRefresh(d, useUpdate, interval, offer)
		l.refreshed(res, err, useUpdate)
	})
}

func (l *leg) sendRefresh(d *dialog, useUpdate bool, interval time.Duration, offer []byte) (*sipmsg.Response, error) {
	ctx, cancel := context.WithTimeout(l.ctx, transactionTimeout)
	defer cancel()
	method := sipmsg.INVITE
	if useUpdate {
		method = sipmsg.UPDATE
	}
	req := l.c.request(d, method)
	l.c.askTerms(req, interval, "timer")
	req.AppendHeader(sipmsg.NewHeader("Allow", allowed))
	if offer != nil {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
	}
	if useUpdate {
		return l.c.send(ctx, req)
	}
	tx, err := l.c.client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	seq := req.CSeq().SeqNo
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if res.IsSuccess() {
				c := l.c // not the leg, which the transaction would keep for 64×T1
				tx.OnRetransmission(func(*sipmsg.Response) { c.ack(d, seq, nil) })
				if err := l.c.ack(d, seq, nil); err != nil {
					l.log.Debug("sip: ACK", "err", err)
				}
				if len(res.Body()) > 0 {
					l.negotiate(res.Body())
				}
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// refreshed acts on the answer to our refresh (RFC 4028 section 10): a
// timeout, 408 or 481 means the peer is gone.
func (l *leg) refreshed(res *sipmsg.Response, err error, useUpdate bool) {
	l.mu.Lock()
	l.refreshing = false
	switch {
	case err != nil || res.StatusCode == 408 || res.StatusCode == 481:
		l.mu.Unlock()
		if l.ctx.Err() == nil {
			l.log.Info("sip: session refresh failed; ending the call", "err", err, "res", res)
			l.bye(nil)
		}
		return
	case res.IsSuccess():
		l.terms = l.c.uacTerms(res)
		l.startTimerLocked(0)
	case res.StatusCode == 491:
		// RFC 3261 section 14.1: try again after a random 2.1-4 s.
		l.startTimerLocked(time.Duration(2100+mrand.IntN(1900)) * time.Millisecond)
	case useUpdate && (res.StatusCode == 405 || res.StatusCode == 501):
		l.noUpdate = true
		l.startTimerLocked(time.Millisecond)
	case res.StatusCode == 422:
		if m := minSE(res); m > l.terms.interval {
			l.terms.interval = m
		}
		l.startTimerLocked(time.Millisecond)
	default:
		// Refused for its own reasons: the peer is there; keep going.
		l.startTimerLocked(0)
	}
	l.mu.Unlock()
}

// reinvite takes a re-INVITE: hold and unhold (the SDP direction), a codec
// change, or a session refresh.
func (l *leg) reinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	l.mu.Lock()
	acking := l.awaiting
	l.mu.Unlock()
	if acking != nil {
		// Our 2xx waits for its ACK, which the phone may well have sent
		// before this re-INVITE: each is handled on a goroutine of its own,
		// so they can pass each other here. A phone that holds right after
		// it answers would get 491, and some (Linphone) give up on the hold
		// then. So the re-INVITE waits for the ACK, up to T1, before it is
		// answered.
		l.c.goWork(func() {
			select {
			case <-acking.done:
			case <-time.After(sipmsg.T1):
			case <-l.c.closing:
			}
			l.reinviteNow(req, tx)
		})
		return
	}
	l.reinviteNow(req, tx)
}

// reinviteNow answers a re-INVITE: 491 while one of ours, or our 2xx's ACK,
// is under way.
func (l *leg) reinviteNow(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	l.mu.Lock()
	busy := l.refreshing || l.awaiting != nil
	l.mu.Unlock()
	if busy {
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 491, "Request Pending", nil))
		return
	}
	terms, ok := l.c.uasTerms(req)
	if !ok {
		l.tooSmall(req, tx)
		return
	}
	body := sessionDescription(req)
	askAnswer := body == nil
	if askAnswer && l.browser() {
		l.c.refuse(req, tx, 488, "a browser's re-INVITE needs an offer")
		return
	}
	if askAnswer {
		// No offer (a PBX's refresh, third-party call control): ours,
		// the session as it is, goes in the 2xx, the answer in the ACK
		// (acked).
		body = l.reoffer()
	} else {
		var err error
		if body, err = l.answerOffer(body); err != nil {
			l.c.refuseOffer(req, tx, err)
			return
		}
	}
	res := l.inDialogResponse(req, body, terms)
	wait := newAckWait(req.CSeq().SeqNo, askAnswer)
	l.mu.Lock()
	l.awaiting = wait
	l.terms = terms
	l.startTimerLocked(0)
	l.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		l.log.Debug("sip: re-INVITE answer", "err", err)
	}
	l.awaitAck(tx, res, wait)
}

// update takes an UPDATE (RFC 3311): a session refresh, or a new offer.
func (l *leg) update(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	terms, ok := l.c.uasTerms(req)
	if !ok {
		l.tooSmall(req, tx)
		return
	}
	body := sessionDescription(req)
	if body != nil {
		var err error
		if body, err = l.answerOffer(body); err != nil {
			l.c.refuseOffer(req, tx, err)
			return
		}
	}
	l.mu.Lock()
	l.terms = terms
	l.startTimerLocked(0)
	l.mu.Unlock()
	l.c.srv.respond(tx, l.inDialogResponse(req, body, terms))
}

func (l *leg) tooSmall(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	res := sipmsg.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
	res.AppendHeader(sipmsg.NewHeader("Min-SE", seconds(l.c.opts.MinSE)))
	l.c.srv.respond(tx, res)
}

// inDialogResponse is our 200 to a re-INVITE or UPDATE.
func (l *leg) inDialogResponse(req *sipmsg.Request, body []byte, terms sessionTerms) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sipmsg.HeaderClone(l.dlg.contact))
	res.AppendHeader(sipmsg.NewHeader("Allow", allowed))
	res.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	terms.put(res)
	if body != nil {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(body)
	}
	return res
}

// answerOffer answers a new offer in the dialog and applies it; the
// answer's version changes only when the answer does (RFC 3264 section 8).
func (l *leg) answerOffer(body []byte) ([]byte, error) {
	l.mu.Lock()
	rtc, ch := l.rtc, l.ch
	l.mu.Unlock()
	if rtc != nil {
		ans, err := rtc.Renegotiate(l.ctx, body)
		if err != nil {
			return nil, err
		}
		ch.SetTelephoneEvent(rtc.TelephoneEventPT())
		l.mu.Lock()
		l.last = ans
		l.mu.Unlock()
		return ans, nil
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	ses := l.sdp
	ans, m, err := ses.Answer(offer)
	if err == nil && !bytes.Equal(ans, l.last) {
		ses.Version++
		ans, m, err = ses.Answer(offer)
	}
	if err == nil {
		ses.Feedback = offer.Feedback // our next offer keeps the profile
		l.sdp, l.last = ses, ans
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	l.applyMedia(m)
	l.holdChanged(m)
	return ans, nil
}

// holdChanged tells the scenario when an offer of the far end put the call
// on hold or took it back (RFC 3264 section 8.4): on hold, we may not send.
func (l *leg) holdChanged(m sdp.Media) {
	held := !m.Direction.Sends()
	l.mu.Lock()
	changed := held != l.farHeld
	l.farHeld = held
	l.mu.Unlock()
	switch {
	case !changed:
	case held:
		l.post(runtime.EventOnHold, nil)
	default:
		l.post(runtime.EventOffHold, nil)
	}
}

// reoffer is our offer for a re-INVITE that brought none.
func (l *leg) reoffer() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sdp.Version++
	offer, _ := l.sdp.Offer()
	l.last = offer
	return offer
}

// negotiate applies the far end's answer to our offer.
func (l *leg) negotiate(body []byte) {
	if err := l.takeAnswer(body); err != nil {
		l.log.Warn("sip: SDP answer", "err", err)
	}
}

// takeAnswer applies the far end's answer to our offer, or says why it
// cannot: nil (no SDP), not SDP, or nothing we offered.
func (l *leg) takeAnswer(body []byte) error {
	if body == nil {
		return errNoAnswer
	}
	answer, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	l.mu.Lock()
	m, err := l.sdp.Negotiate(answer)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.applyMedia(m)
	return nil
}
