package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media/rtp"
	"vox/media/sdp"
	"vox/numbers"
	"vox/runtime"
)

// inbound is an incoming call's INVITE until its final response.
type inbound struct {
	l      *leg
	req    *sipmsg.Request
	tx     sipmsg.ServerTransaction
	tag    string // our To tag
	answer []byte // our SDP: the answer to the INVITE's offer, or our offer (lateOffer)
	// lateOffer: the INVITE had no SDP; answer is our offer, it goes in the
	// 200, and the ACK brings the caller's answer (RFC 3264 section 4).
	lateOffer bool
	rang      bool // 180 sent (Call.ring, or in place of the early media a late offer cannot have); the leg's mu
	rel       reliability
	// answeredEarly: a late-offer call's answer came in the PRACK of our
	// reliable 183; the ACK of our 200 brings none. The leg's mu.
	answeredEarly bool
	once          sync.Once
	final         chan struct{} // closed with the final response
	// ok is the 2xx that answered the INVITE, set before final is closed;
	// the INVITE's handler retransmits it until okAck is closed.
	ok    *sipmsg.Response
	okAck *ackWait
}

// invite takes an INVITE: a new call from a SIP user or a trunk, or a
// re-INVITE in a dialog. A new call is authenticated like a REGISTER (407
// instead of 401) unless it is a trunk's (identify), gets 100 Trying, is
// routed, and starts a session with the call as its Application.CallAlerting.
// The handler returns once the INVITE has its final response (sipgo ends a
// transaction whose handler returned without one) and, for a 2xx, its ACK.
func (c *calls) invite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		c.inDialog(req, tx)
		return
	}
	from, to, callID, cseq, contact := req.From(), req.To(), req.CallID(), req.CSeq(), req.Contact()
	if from == nil || to == nil || callID == nil || cseq == nil || contact == nil {
		c.srv.bad(req, tx, 400, "Bad Request", "INVITE without From, To, Call-ID, CSeq or Contact")
		return
	}
	if s := strings.ToLower(contact.Address.Scheme); (s != "sip" && s != "sips") || contact.Address.Host == "" {
		c.srv.bad(req, tx, 400, "Bad Request", "INVITE Contact is not a SIP URI")
		return
	}
	if opt := unsupported(req); opt != "" {
		res := sipmsg.NewResponseFromRequest(req, 420, "Bad Extension", nil)
		res.AppendHeader(sipmsg.NewHeader("Unsupported", trimForLog(opt)))
		c.srv.respond(tx, res)
		return
	}
	terms, ok := c.uasTerms(req)
	if !ok {
		res := sipmsg.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(sipmsg.NewHeader("Min-SE", seconds(c.opts.MinSE)))
		c.srv.respond(tx, res)
		return
	}
	who, ok := c.identify(req, tx)
	if !ok {
		return
	}
	if a := c.opts.Admission; a != nil && !a.Admit() {
		// Overloaded: after authentication, so that a caller learns
		// nothing of the server's load before it has proved who it is;
		// not logged per call (the Admission logs when it starts and
		// stops). No Retry-After: a proxy or carrier honouring one would
		// send nothing at all for that long (RFC 3261 section 21.5.4),
		// turning a partial overload into an outage.
		c.srv.respond(tx, refusal(req, 503, "overloaded"))
		return
	}
	c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 100, "Trying", nil))

	// An INVITE without SDP (a carrier's, a PBX's, third-party call
	// control) wants our offer in the 2xx and answers in the ACK: a late
	// offer (RFC 3261 section 13.2.1). A browser always offers; the webrtc
	// package could not answer a plain RTP offer of ours anyway.
	body := sessionDescription(req)
	lateOffer := body == nil
	if lateOffer && isWebSocket(req.Transport()) {
		c.refuse(req, tx, 488, "a browser's INVITE needs an SDP offer")
		return
	}
	// A browser's offer is WebRTC's (DTLS-SRTP); the webrtc package answers
	// it, media/sdp a phone's.
	browser := !lateOffer && c.opts.WebRTC != nil && c.opts.WebRTC.IsWebRTC(body)
	var offer sdp.Audio
	if !browser && !lateOffer {
		var err error
		if offer, err = sdp.Parse(body); err != nil {
			c.refuseOffer(req, tx, err)
			return
		}
	}
	// A browser's offer and a late one are not parsed here: no crypto.
	crypto, srtp := offer.ChooseCrypto(rtp.SDESSuites)
	if offer.Secure && !srtp {
		c.refuse(req, tx, 488, "SRTP: no a=crypto line of "+strings.Join(rtp.SDESSuites, " or ")+" with one key and no MKI")
		return
	}
	dialled := who.dialled(req)
	info := CallInfo{Account: who.account, User: who.user, Dialled: dialled}
	if who.trunk != nil {
		info.Trunk = who.trunk.Name
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.opts.LookupTimeout)
	route, err := c.opts.Router.Route(ctx, info)
	cancel()
	if err != nil {
		code := 500
		if errors.Is(err, ErrNoRoute) {
			code = 404
		}
		c.log.Warn("sip: call not routed", who.logAttr(), "dialled", trimForLog(dialled), "err", err)
		c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, code, reasonPhrase(code), nil))
		return
	}
	dest, err := numbers.Normalize(dialled, route.Numbers)
	if err != nil {
		dest = dialled // not a number: a user name or a service code, as dialled
	}

	l := c.newLeg(newCallID(), route.Account, true)
	if !c.track(l) {
		c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		return
	}
	var answer []byte
	if browser {
		l.device = DeviceWebRTC
		if answer, err = c.answerBrowser(l, body); err != nil {
			l.end(runtime.EventDisconnected, nil)
			c.refuse(req, tx, 488, "WebRTC: "+err.Error())
			return
		}
	} else {
		l.device = DevicePhone
		if srtp {
			// Keys on RTP/AVP (a phone's "SRTP optional") are taken
			// too, and answered there.
			if err = c.newSDESMedia(l, crypto); err == nil {
				l.sdp.KeysOnAVP = !offer.Secure
			}
		} else if err = c.newMedia(l); err == nil {
			l.sdp = sdp.NewSession(l.ep.LocalAddr())
		}
		if err != nil {
			// Out of RTP ports or file descriptors: load, which comes in
			// floods, so the log is the rate-limited one. The caller is
			// not told the range or the address.
			c.forget(l, nil)
			c.srv.badLog.Error("sip: no media for a call", "err", err)
			c.srv.respond(tx, refusal(req, 503, "no media port free"))
			return
		}
		if lateOffer {
			answer, err = l.lateOffer()
		} else {
			answer, err = l.answerFirstOffer(offer)
		}
		if err != nil {
			l.end(runtime.EventDisconnected, nil)
			c.refuseOffer(req, tx, err)
			return
		}
	}
	in := &inbound{l: l, req: req, tx: tx, tag: newTag(), answer: answer, lateOffer: lateOffer, final: make(chan struct{}), rel: newReliability(req)}
	l.in = in
	l.terms = terms
	l.dlg = c.uasDialog(req, in.tag)
	c.addDialog(l.dlg.key(), l)
	release, ok := l.endOnCancel(tx)
	if !ok {
		l.cancelled()
		return
	}
	defer release()

	src, _ := netip.ParseAddrPort(req.Source())
	callerID, kind := who.user, "user"
	if who.trunk != nil {
		// A trunk's caller is the number in From (S8).
		callerID, kind = from.Address.User, "trunk"
	}
	display := from.DisplayName
	if display == "" {
		display = callerID
	}
	headers := map[string]string{"VI-Client-Device": l.device, "VI-Client-IP": src.Addr().String(), "VI-Client-Type": kind}
	for k, v := range customHeaders(req) {
		headers[k] = v
	}
	_, err = c.opts.Launcher.Launch(c.ctx, runtime.CallStart{
		Account: route.Account, App: route.App, Destination: dest,
		Info: runtime.SessionInfo{AccountID: route.Account, ApplicationID: route.App},
		Incoming: &runtime.Incoming{
			Leg: l, CallerID: callerID, Destination: dest, DisplayName: display,
			FromURI: from.Address.String(), ToURI: to.Address.String(), Headers: headers,
		},
	})
	if err != nil {
		code := 500
		if errors.Is(err, ErrNoRoute) {
			code = 404
		}
		c.log.Error("sip: call not started", "account", route.Account, "app", route.App, "err", err)
		in.finish(code, nil)
		l.end(runtime.EventDisconnected, nil)
		return
	}
	l.log.Info("sip: incoming call", who.logAttr(), "destination", dest, "app", route.App, "srtp", l.sdes != nil)
	select {
	case <-in.final:
	case <-tx.Done():
		l.cancelled()
	}
	<-in.final // closed by now, whichever case was taken
	if in.ok != nil {
		// This goroutine, which sipgo started for the INVITE and which
		// has waited for the answer, waits for its ACK too: two fewer
		// goroutines per call than the answer starting its own.
		l.awaitAck(tx, in.ok, in.okAck)
	}
}

// answerFirstOffer answers the INVITE's offer and sets the media to it.
func (l *leg) answerFirstOffer(offer sdp.Audio) ([]byte, error) {
	answer, m, err := l.sdp.Answer(offer)
	if err != nil {
		return nil, err
	}
	l.sdp.Feedback = offer.Feedback // our next offer keeps the profile
	l.last = answer
	l.applyMedia(m)
	return answer, nil
}

// lateOffer is our offer to an INVITE that had none, for the 200: what an
// outgoing call offers. Until the ACK brings the answer the endpoint sends
// nothing: there is no address to send to yet, and the caller, which may
// start its RTP as soon as it has our offer, would otherwise be latched onto
// and sent a codec and event payload type the answer has not chosen.
func (l *leg) lateOffer() ([]byte, error) {
	offer, err := l.sdp.Offer()
	if err != nil {
		return nil, err
	}
	l.last = offer
	l.ep.SetSending(false)
	return offer, nil
}

// refuse answers an INVITE Vox cannot take, with a Warning saying why.
func (c *calls) refuse(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, why string) {
	c.srv.badLog.Warn("sip: call refused", "source", req.Source(), "code", code, "why", why)
	c.srv.respond(tx, refusal(req, code, why))
}

// refuseOffer answers with 488 an offer Vox cannot take. A codec mismatch
// gets the Warning code RFC 3261 has for it (305, incompatible media
// format), which phones show to their users; anything else 399.
func (c *calls) refuseOffer(req *sipmsg.Request, tx sipmsg.ServerTransaction, err error) {
	warn := 399
	if errors.Is(err, sdp.ErrNoCodec) {
		warn = 305
	}
	c.srv.badLog.Warn("sip: call refused", "source", req.Source(), "code", 488, "why", err.Error())
	c.srv.respond(tx, warnedRefusal(req, 488, warn, err.Error()))
}

// refusal is the final response code to req, with a Warning saying why.
func refusal(req *sipmsg.Request, code int, why string) *sipmsg.Response {
	return warnedRefusal(req, code, 399, why)
}

func warnedRefusal(req *sipmsg.Request, code, warn int, why string) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
	res.AppendHeader(sipmsg.NewHeader("Warning", strconv.Itoa(warn)+` vox "`+strings.ReplaceAll(trimForLog(why), `"`, "'")+`"`))
	return res
}

// realm is the realm a call's credentials are for.
func (c *calls) realm(req *sipmsg.Request) string {
	if c.srv.opts.Realm != "" {
		return c.srv.opts.Realm
	}
	return strings.ToLower(req.From().Address.Host)
}

// authenticate checks the credentials of a call with a (the users', or a
// trunk's) as the registrar checks a REGISTER's, with the same answers for
// unknown users and wrong passwords, the same bans, and 407 for a
// challenge.
func (c *calls) authenticate(req *sipmsg.Request, tx sipmsg.ServerTransaction, a *authenticator) (User, bool) {
	s := c.srv
	realm := c.realm(req)
	src, _ := netip.ParseAddrPort(req.Source())
	now := s.opts.Now()
	ch := a.check(c.ctx, req, realm, now)
	switch ch.verdict {
	case malformed400:
		s.bad(req, tx, 400, "Bad Request", ch.reason)
		return User{}, false
	case unavailable500:
		s.badLog.Error("sip: INVITE refused", "err", ch.reason)
		s.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return User{}, false
	case challenge401:
		if ch.failed {
			s.authFailed(src.Addr(), now)
		}
		s.respond(tx, a.respondChallenge(req, realm, false, now))
		return User{}, false
	case stale401:
		s.respond(tx, a.respondChallenge(req, realm, true, now))
		return User{}, false
	}
	if ch.user.Disabled {
		s.reg.Revoke(realm, ch.user.Name)
		s.respond(tx, sipmsg.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return User{}, false
	}
	if !a.use(ch, now) {
		s.respond(tx, a.respondChallenge(req, realm, true, now))
		return User{}, false
	}
	return ch.user, true
}

// response is a response to the INVITE, in its dialog once past 100.
func (in *inbound) response(code int, body []byte) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(in.req, code, reasonPhrase(code), nil)
	if to := res.To(); code > 100 && to != nil {
		// sipgo tags every response; the dialog's tag is ours.
		to.Params.Remove("tag")
		to.Params.Add("tag", in.tag)
	}
	if code > 100 && code < 300 {
		res.AppendHeader(sipmsg.HeaderClone(in.l.dlg.contact))
		res.AppendHeader(sipmsg.NewHeader("Allow", allowed))
		res.AppendHeader(sipmsg.NewHeader("Supported", "timer, 100rel"))
	}
	if body != nil {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(body)
	}
	return res
}

// finish sends a final failure response, unless the INVITE has its final
// response already.
func (in *inbound) finish(code int, headers map[string]string, extra ...sipmsg.Header) {
	in.once.Do(func() {
		res := in.response(code, nil)
		copyHeaders(res, headers)
		for _, h := range extra {
			res.AppendHeader(h)
		}
		if err := in.tx.Respond(res); err != nil {
			in.l.log.Debug("sip: final response not sent", "code", code, "err", err)
		}
		close(in.final)
	})
}

// endOnCancel makes a CANCEL of the INVITE end the call; false when the
// transaction has ended already. sipgo keeps the transaction, and so the
// callback, for 64×T1 after a 2xx (RFC 6026's Accepted state). Once the
// INVITE has its final response a CANCEL changes nothing (cancelled is a
// no-op then), so release lets go of the leg, rather than keep the call's
// media, dialog and session alive for 32 s after it ended.
func (l *leg) endOnCancel(tx sipmsg.ServerTransaction) (release func(), ok bool) {
	var target atomic.Pointer[leg]
	target.Store(l)
	ok = tx.OnCancel(func(*sipmsg.Request) {
		// sipgo calls this with the transaction locked, and a response
		// being sent under in.once (an answer, say) waits for that lock:
		// cancelled, which needs in.once, runs on a goroutine of its own,
		// or the two would wait for each other for ever.
		if l := target.Load(); l != nil {
			l.c.goWork(l.cancelled)
		}
	})
	return func() { target.Store(nil) }, ok
}

// cancelled is the caller giving up before the answer: sipgo answers
// the CANCEL and the INVITE (487); the scenario hears Call.Disconnected.
func (l *leg) cancelled() {
	first := false
	l.in.once.Do(func() {
		first = true
		close(l.in.final)
	})
	if first {
		l.end(runtime.EventDisconnected, nil)
	}
}

func (l *leg) answer(headers map[string]string) error {
	in := l.in
	l.mu.Lock()
	switch l.state {
	case stateEnded:
		l.mu.Unlock()
		return errEnded
	case stateAnswered, stateConnected:
		l.mu.Unlock()
		return nil
	}
	wait := newAckWait(in.req.CSeq().SeqNo, in.lateOffer)
	l.awaiting = wait
	l.state = stateAnswered
	terms := l.terms
	unacked := in.rel.unackedSDP()
	l.mu.Unlock()

	res := in.response(200, in.answer)
	terms.put(res)
	copyHeaders(res, headers)
	if unacked != nil {
		// RFC 3262 section 3: no 2xx before the PRACK of a reliable
		// provisional response with SDP. The session goroutine does not
		// wait on the network: the 200 goes from a worker once the PRACK
		// is in (or the 183's retransmissions gave up, which refuses the
		// call).
		l.c.goWork(func() {
			select {
			case <-unacked.acked:
			case <-in.final:
			case <-l.c.closing:
			}
			if err := l.sendAnswer(res, wait); err != nil && !errors.Is(err, errEnded) {
				l.log.Warn("sip: answer not sent", "err", err)
			}
		})
		return nil
	}
	return l.sendAnswer(res, wait)
}

// sendAnswer sends res, our 2xx to the INVITE, unless the INVITE has its
// final response already.
func (l *leg) sendAnswer(res *sipmsg.Response, wait *ackWait) error {
	in := l.in
	var err error
	answered := false
	in.once.Do(func() {
		answered = true
		if err = in.tx.Respond(res); err == nil {
			in.ok, in.okAck = res, wait
		}
		close(in.final)
	})
	if !answered || err != nil {
		// No 2xx went: no ACK will come for the call's end to wait for.
		wait.close()
	}
	if !answered {
		return errEnded // cancelled meanwhile; that ends the call
	}
	if err != nil {
		l.end(runtime.EventDisconnected, nil)
		return err
	}
	return nil
}

func (l *leg) earlyMedia(headers map[string]string) error {
	if l.in.lateOffer && !l.in.rel.use {
		return l.ringInstead(headers)
	}
	l.mu.Lock()
	switch l.state {
	case stateEnded:
		l.mu.Unlock()
		return errEnded
	case stateAlerting:
		l.state = stateEarly
	default:
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	res := l.in.response(183, l.in.answer)
	copyHeaders(res, headers)
	if !l.in.lateOffer {
		// Posted before the 183 goes: a caller may cancel as soon as it has
		// it, and the scenario must hear Call.AudioStarted before the
		// Call.Disconnected of that CANCEL. With a late offer, ours goes in
		// the reliable 183 and the caller's answer in its PRACK, which posts
		// the event (prack).
		l.post(runtime.EventAudioStarted, nil)
	}
	return l.provisional(res)
}

// ringInstead is StartAudio on a call whose INVITE had no offer, from a
// caller without 100rel. Our offer could go in a 183 only if the 183 were
// sent reliably (RFC 3261 section 13.2.1; RFC 3262), with the answer in the
// PRACK (see prack), and without an answer there is nowhere to send early
// media. The caller gets 180 Ringing, and plays its own ringback, and the
// scenario a warning and no Call.AudioStarted; what it plays meanwhile goes
// nowhere, and its audio starts with the ACK's answer.
func (l *leg) ringInstead(headers map[string]string) error {
	if err := l.ring(headers); err != nil {
		return err
	}
	l.mu.Lock()
	alerting := l.state == stateAlerting
	l.mu.Unlock()
	if !alerting {
		return nil
	}
	return errNoEarlyMedia
}

// ring sends 180 Ringing to an alerting call, the first time it is asked
// (Call.ring, or StartAudio where early media is impossible).
func (l *leg) ring(headers map[string]string) error {
	l.mu.Lock()
	state, rang := l.state, l.in.rang
	if state == stateAlerting {
		l.in.rang = true
	}
	l.mu.Unlock()
	switch {
	case state == stateEnded:
		return errEnded
	case state != stateAlerting || rang:
		return nil
	}
	res := l.in.response(180, nil)
	copyHeaders(res, headers)
	return l.provisional(res)
}

func (l *leg) hangupInbound(code int, headers map[string]string) error {
	l.mu.Lock()
	state := l.state
	l.mu.Unlock()
	switch state {
	case stateEnded:
	case stateAlerting, stateEarly:
		if code < 300 || code > 699 {
			code = 603
		}
		var extra []sipmsg.Header
		var warn error
		if code < 400 {
			contact, _ := headerValue(headers, "Contact")
			contacts, err := redirectContacts(contact)
			for _, h := range contacts {
				extra = append(extra, h)
			}
			if err != nil {
				warn = fmt.Errorf("%d sent without a Contact: %w", code, err)
			}
		}
		l.in.finish(code, headers, extra...)
		l.end(runtime.EventDisconnected, nil)
		return warn
	default:
		l.bye(headers)
	}
	return nil
}

func newAckWait(cseq uint32, answer bool) *ackWait {
	return &ackWait{cseq: cseq, answer: answer, done: make(chan struct{})}
}

func (w *ackWait) close() { w.once.Do(func() { close(w.done) }) }

// awaitAck retransmits a 2xx to an INVITE until its ACK (RFC 3261 section
// 13.3.1.4: T1, doubling up to T2), which comes as a request of its own or,
// from a phone that reuses the INVITE's branch, through the transaction.
// With no ACK in 64*T1 the call ends with a BYE. It returns once the ACK is
// in, and runs on the goroutine of the INVITE's handler, which sipgo started
// for the request anyway.
func (l *leg) awaitAck(tx sipmsg.ServerTransaction, res *sipmsg.Response, wait *ackWait) {
	r := newRetransmits()
	defer r.stop()
	acks, txDone := tx.Acks(), tx.Done()
	for {
		select {
		case ack := <-acks:
			l.acked(ack)
		case <-wait.done:
			return
		case <-txDone:
			// No more ACKs through the transaction; one of its own
			// may still come.
			acks, txDone = nil, nil
		case <-l.c.closing:
			wait.close()
			return
		case <-r.timer.C:
			if !r.next() {
				l.log.Info("sip: no ACK for the answer; ending the call")
				wait.close()
				l.bye(nil)
				return
			}
			if err := tx.Respond(res); err != nil {
				l.log.Debug("sip: 2xx retransmission", "err", err)
			}
		}
	}
}

// retransmits is RFC 3261's schedule for a response sent again until it is
// acknowledged (section 13.3.1.4, and RFC 3262 for a reliable provisional
// one): T1, doubling up to T2, for 64*T1 in all.
type retransmits struct {
	timer    *time.Timer
	interval time.Duration
	deadline time.Time
}

func newRetransmits() *retransmits {
	return &retransmits{timer: time.NewTimer(sipmsg.T1), interval: sipmsg.T1, deadline: time.Now().Add(transactionTimeout)}
}

// next is called when timer fires: false once 64*T1 have passed, else the
// timer is set for the send after the one due now.
func (r *retransmits) next() bool {
	left := time.Until(r.deadline)
	if left <= 0 {
		return false
	}
	r.interval = min(2*r.interval, sipmsg.T2)
	r.timer.Reset(min(r.interval, left))
	return true
}

func (r *retransmits) stop() { r.timer.Stop() }

// acked takes the ACK of our 2xx to an INVITE: the first one connects the
// call.
func (l *leg) acked(ack *sipmsg.Request) {
	l.mu.Lock()
	w := l.awaiting
	if w == nil || ack.CSeq() == nil || ack.CSeq().SeqNo != w.cseq {
		l.mu.Unlock()
		return
	}
	l.awaiting = nil
	// The answer to a late offer came in a PRACK already when it did (the
	// INVITE's ACK, not a re-INVITE's).
	takeAnswer := w.answer && !(l.in != nil && l.in.answeredEarly && w.cseq == l.in.req.CSeq().SeqNo)
	connected := l.state == stateAnswered
	if connected {
		l.state = stateConnected
		if !takeAnswer {
			// Posted before the lock goes: a BYE right behind the ACK
			// ends the call only after this, so the scenario hears
			// Call.Connected before Call.Disconnected.
			l.post(runtime.EventConnected, map[string]any{"headers": headersParam(l.in.req)})
		}
	}
	ended := l.state == stateEnded
	l.mu.Unlock()
	w.close()
	if takeAnswer && !ended {
		err := l.takeAnswer(sessionDescription(ack))
		switch {
		case err == nil:
		case connected:
			// Our offer was in the 200 to the INVITE: without an answer
			// the call has no media. RFC 3261 section 13.2.2.4 has a
			// caller that cannot take our offer answer and then send BYE;
			// one that did not answer at all gets the BYE from us.
			l.log.Warn("sip: the ACK has no usable answer to our offer; ending the call", "err", err)
			l.byeWith(nil, sipmsg.NewHeader("Reason", `SIP;cause=488;text="no usable SDP answer in the ACK"`))
			return
		default:
			// A re-INVITE's: the media agreed before goes on, rather than
			// a working call being ended by a sloppy refresh.
			l.log.Warn("sip: the ACK has no usable answer to our re-offer; keeping the media as it was", "err", err)
		}
	}
	if connected {
		if takeAnswer {
			l.post(runtime.EventConnected, map[string]any{"headers": headersParam(l.in.req)})
		}
		l.startTimer()
		l.watchSilence()
	}
}

// reasonPhrase is the usual reason of a status code.
func reasonPhrase(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	switch {
	case code < 200:
		return "Session Progress"
	case code < 300:
		return "OK"
	case code < 400:
		return "Redirection"
	case code < 500:
		return "Client Error"
	case code < 600:
		return "Server Error"
	}
	return "Global Failure"
}

var reasons = map[int]string{
	100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
	301: "Moved Permanently", 302: "Moved Temporarily",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 407: "Proxy Authentication Required", 408: "Request Timeout",
	410: "Gone", 415: "Unsupported Media Type", 420: "Bad Extension", 422: "Session Interval Too Small",
	480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 483: "Too Many Hops",
	486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
	500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Server Time-out",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
