package sip

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media/rtp"
	"vox/media/sdp"
	"vox/runtime"
)

// outbound is an outgoing call: its forks, one INVITE per contact, until one
// answers. Guarded by the leg's mu.
type outbound struct {
	req   runtime.DialRequest
	forks []*fork
	// standby are the forks of a PSTN call's other trunks, in order: the
	// next one starts when the last one's trunk could not take the call
	// (failsOver).
	standby []*fork
	// offer is the forks' shared offer, which a phone that refused its own
	// SRTP offer gets next.
	offer    []byte
	ringing  bool // Call.Ringing was posted
	early    bool // Call.AudioStarted was posted
	failures []failure
	ring     *time.Timer // RingTimeout
}

type failure struct {
	code    int
	reason  string
	headers map[string]string // of Call.Failed; nil: none
}

// fork is one INVITE of an outgoing call.
type fork struct {
	l               *leg
	transport, peer string
	// authUser and password answer the peer's digest challenge, if any.
	authUser, password string
	inv                *sipmsg.Request // the latest INVITE (a digest retry replaces it)
	provisional        bool            // a 1xx came: a CANCEL may go (RFC 3261 section 9.1)
	cancel             bool            // the call is over: CANCEL as soon as it may go
	cancelled          bool            // the CANCEL went
	done               bool            // a final response or none at all
	// rtc is the WebRTC session offered to a browser; the fork's own, as
	// each browser needs one. nil for a SIP phone's fork.
	rtc BrowserMedia
	// plainFallback, srtpFallback: see target.
	plainFallback, srtpFallback bool
	// srtp is the fork's own SRTP offer, for a phone on TLS among a user's
	// several phones; nil when the fork offers the leg's media.
	srtp *sdesMedia
	// secure: the fork's target takes SRTP (a trunk's setting), for a
	// standby fork whose media may differ from the leg's so far.
	secure bool
	// rseq is the RSeq of the reliable provisional response PRACKed last,
	// and prackCSeq the CSeq of that PRACK, which the dialog's later
	// requests count on from (RFC 3262).
	rseq, prackCSeq uint32
}

// target is where a fork sends its INVITE.
type target struct {
	uri, to         sipmsg.Uri // Request-URI and To
	transport, peer string
	srtp            bool // offer SRTP (a trunk's SRTP, a sips: URI, a phone on TLS)
	// plainFallback: offer plain RTP again when the far end refuses SRTP
	// (488), for a phone whose SRTP we only guessed from its TLS.
	plainFallback bool
	// srtpFallback: offer SRTP when the far end refuses plain RTP (488),
	// for a phone off TLS set to require SRTP (Linphone can be), which
	// vox would otherwise never reach, though it takes that phone's own
	// SRTP calls.
	srtpFallback bool
	// caller is the From user when the target wants its own (a trunk's
	// caller ID); authUser and password answer its digest challenge.
	caller, authUser, password string
	// standby: tried only if the target before it fails over (a PSTN
	// call's next trunk).
	standby bool
}

// dial places an outgoing call: it finds where to send, opens the media, and
// sends the INVITEs in the background.
func (c *calls) dial(ctx context.Context, req runtime.DialRequest) (runtime.Leg, error) {
	var targets []target
	var err error
	switch req.Kind {
	case runtime.DialUser:
		targets, err = c.userTargets(ctx, req)
	case runtime.DialSIP:
		targets, err = sipTarget(req)
	case runtime.DialPSTN:
		targets, req, err = c.trunkTarget(ctx, req)
	default:
		return nil, &runtime.DialError{Code: 400, Reason: "Bad Request: unknown kind of call " + req.Kind}
	}
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(targets, func(t target) bool { return t.transport == "TLS" }) && len(c.srv.TLSAddrs()) == 0 {
		// Our Contact would name no TLS port, and a peer that sends its
		// requests there (a BYE) could not reach us.
		return nil, &runtime.DialError{Code: 503, Reason: "Service Unavailable: a call over TLS needs vox serve --sip-tls"}
	}
	// The phones' forks share one offer, SRTP when every phone target takes
	// it; but among several targets, a phone whose SRTP is a guess (on TLS)
	// gets an SRTP offer of its own, and the shared plain offer if it
	// refuses, so that one phone requiring SRTP and another without it can
	// both ring.
	ownSRTP := func(t target) bool { return t.plainFallback && len(targets) > 1 }
	phones, browsers, own, secure := 0, 0, 0, true
	for _, t := range targets {
		switch {
		case isWebSocket(t.transport):
			browsers++
		case ownSRTP(t):
			own++
		default:
			phones++
			// A standby trunk gets media of its kind when its turn
			// comes (forkFailed).
			secure = secure && (t.srtp || t.standby)
		}
	}
	secure = secure && phones > 0
	l := c.newLeg(req.ID, req.Account, false)
	if !c.track(l) {
		return nil, &runtime.DialError{Code: 503, Reason: "Service Unavailable"}
	}
	l.out = &outbound{req: req}
	// A call that rings a browser, or phones with offers of their own, gets
	// its channel when a fork answers (chooseMedia): the forks' media are
	// not the same endpoint.
	l.lazy = browsers > 0 || own > 0
	var offer []byte
	if phones+own > 0 {
		switch {
		case secure && !l.lazy:
			err = c.newSDESMedia(l, ourOffer)
		case l.lazy:
			secure = false
			l.ep, err = rtp.NewEndpoint(rtp.Config{Pool: c.opts.Ports})
		default:
			err = c.newMedia(l)
		}
		if err != nil {
			c.forget(l, nil)
			c.srv.badLog.Error("sip: no media for a call", "err", err)
			return nil, &runtime.DialError{Code: 503, Reason: "Service Unavailable"}
		}
		if !secure {
			l.sdp = sdp.NewSession(l.ep.LocalAddr())
		}
		if offer, err = l.sdp.Offer(); err != nil {
			l.end(runtime.EventFailed, nil)
			return nil, err
		}
		l.last = offer
		l.out.offer = offer
	}
	offeredSRTP := 0
	for _, t := range targets {
		if secure && !t.standby && !isWebSocket(t.transport) && !ownSRTP(t) {
			offeredSRTP++
		}
		f := &fork{l: l, transport: t.transport, peer: t.peer, authUser: t.authUser, password: t.password,
			plainFallback: secure && t.plainFallback, secure: t.srtp,
			// The new offer replaces the leg's media: only for a fork
			// that has the leg's media to itself.
			srtpFallback: t.srtpFallback && !secure && !l.lazy && len(targets) == 1}
		if !isWebSocket(t.transport) {
			forkOffer := offer
			if ownSRTP(t) {
				if m, o, err := c.forkOffer(); err != nil {
					l.log.Warn("sip: no SRTP offer for a phone on TLS; offering plain RTP", "peer", t.peer, "err", err)
				} else {
					f.srtp, f.plainFallback, forkOffer = m, true, o
					offeredSRTP++
				}
			}
			f.inv = c.newInvite(t, req, forkOffer)
			if t.standby {
				l.out.standby = append(l.out.standby, f)
			} else {
				l.out.forks = append(l.out.forks, f)
			}
			continue
		}
		m, browserOffer, err := c.offerBrowser(ctx)
		if err != nil {
			l.log.Warn("sip: no WebRTC offer for a browser", "peer", t.peer, "err", err)
			continue
		}
		f.rtc, f.inv = m, c.newInvite(t, req, browserOffer)
		l.out.forks = append(l.out.forks, f)
	}
	if len(l.out.forks) == 0 {
		l.end(runtime.EventFailed, nil)
		return nil, &runtime.DialError{Code: 480, Reason: "Temporarily Unavailable"}
	}
	l.out.ring = l.afterFunc(c.opts.RingTimeout, func(l *leg) { l.stopRinging(408) })
	for _, f := range l.out.forks {
		c.goWork(f.run)
	}
	l.log.Info("sip: outgoing call", "kind", req.Kind, "to", trimForLog(req.To), "phones", phones+own, "browsers", browsers, "srtp", offeredSRTP)
	return l, nil
}

// forkOffer is the SRTP media and offer of a fork of its own (ownSRTP).
func (c *calls) forkOffer() (*sdesMedia, []byte, error) {
	m, err := c.openSDES(ourOffer)
	if err != nil {
		return nil, nil, err
	}
	offer, err := m.sdp.Offer()
	if err != nil {
		m.ep.Close()
		return nil, nil, err
	}
	return m, offer, nil
}

// offerBrowser is the WebRTC session and offer of a fork to a browser.
func (c *calls) offerBrowser(ctx context.Context) (BrowserMedia, []byte, error) {
	if c.opts.WebRTC == nil {
		return nil, nil, errors.New("browser calls are not enabled")
	}
	ctx, cancel := context.WithTimeout(ctx, c.srv.opts.LookupTimeout)
	defer cancel()
	return c.opts.WebRTC.Offer(ctx)
}

// userTargets are the contacts of an account's user (CallUser, S22): all of
// them ring.
func (c *calls) userTargets(ctx context.Context, req runtime.DialRequest) ([]target, error) {
	realm := c.opts.UserRealm(req.Account)
	ctx, cancel := context.WithTimeout(ctx, c.srv.opts.LookupTimeout)
	defer cancel()
	u, err := c.srv.opts.Directory.User(ctx, realm, req.To)
	switch {
	case errors.Is(err, ErrUnknownUser) || err == nil && u.Account != req.Account:
		return nil, &runtime.DialError{Code: 404, Reason: "Not Found"}
	case err != nil:
		c.log.Error("sip: directory", "err", err)
		return nil, &runtime.DialError{Code: 500, Reason: "Server Internal Error"}
	case u.Disabled:
		return nil, &runtime.DialError{Code: 480, Reason: "Temporarily Unavailable"}
	}
	to := sipmsg.Uri{Scheme: "sip", User: u.Name, Host: realm}
	var out []target
	for _, b := range c.srv.reg.Bindings(realm, u.Name) {
		var uri sipmsg.Uri
		if b.Account != req.Account || sipmsg.ParseUri(b.Contact, &uri) != nil {
			continue
		}
		out = append(out, target{uri: uri, to: to, transport: b.Transport, peer: b.Source.String()})
	}
	if len(out) == 0 {
		return nil, &runtime.DialError{Code: 480, Reason: "Temporarily Unavailable"}
	}
	for i := range out {
		switch {
		case out[i].transport == "TLS":
			// A phone on TLS may well want SRTP (one set to require it
			// refuses anything else), and the keys in our SDP go over
			// TLS. One that refuses it gets plain RTP next.
			out[i].srtp, out[i].plainFallback = true, true
		case !isWebSocket(out[i].transport):
			// Off TLS the keys would cross the network in the clear, so
			// plain RTP comes first; a phone that requires SRTP anyway
			// gets it next.
			out[i].srtpFallback = true
		}
	}
	return out, nil
}

// sipTarget is where CallSIP sends: the URI's host, or the outbound proxy.
// A sips: URI (RFC 5630) asks for a secure call: TLS, and SRTP, since keys
// in SDP are only as private as the signalling that carries them.
func sipTarget(req runtime.DialRequest) ([]target, error) {
	s := strings.TrimSpace(req.To)
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") {
		s = "sip:" + s
	}
	var uri sipmsg.Uri
	if err := sipmsg.ParseUri(s, &uri); err != nil || uri.Host == "" {
		return nil, &runtime.DialError{Code: 400, Reason: "Bad Request: not a SIP URI: " + trimForLog(req.To)}
	}
	secure := uri.IsEncrypted()
	transport := "UDP"
	if secure {
		transport = "TLS"
	}
	if v, ok := uri.UriParams.Get("transport"); ok {
		if secure && !strings.EqualFold(v, "tls") {
			return nil, &runtime.DialError{Code: 400, Reason: "Bad Request: a sips: URI goes over TLS, not " + trimForLog(v)}
		}
		transport = strings.ToUpper(v)
	}
	if !knownTransport(transport) {
		return nil, &runtime.DialError{Code: 400, Reason: "Bad Request: transport " + trimForLog(transport) + " is not supported"}
	}
	port := uri.Port
	if port == 0 {
		port = 5060
		if transport == "TLS" {
			port = 5061
		}
	}
	peer := net.JoinHostPort(uri.Host, strconv.Itoa(port))
	if p := strings.TrimPrefix(strings.TrimSpace(req.OutProxy), "sip:"); p != "" {
		if _, _, err := net.SplitHostPort(p); err != nil {
			p = net.JoinHostPort(p, "5060")
		}
		peer = p
	}
	to := uri
	to.UriParams = nil
	return []target{{uri: uri, to: to, transport: transport, peer: peer, srtp: secure, authUser: req.AuthUser, password: req.Password}}, nil
}

// knownTransport says whether Vox places calls over transport (upper case):
// WebSocket only reaches browsers that registered.
func knownTransport(transport string) bool {
	return transport == "UDP" || transport == "TCP" || transport == "TLS"
}

// newInvite builds a fork's INVITE.
func (c *calls) newInvite(t target, req runtime.DialRequest, offer []byte) *sipmsg.Request {
	inv := sipmsg.NewRequest(sipmsg.INVITE, t.uri)
	_, host := c.local(peerAddr(t.peer))
	caller := req.CallerID
	if t.caller != "" {
		caller = t.caller
	}
	if caller == "" {
		caller = "anonymous"
	}
	from := &sipmsg.FromHeader{DisplayName: req.DisplayName, Address: sipmsg.Uri{Scheme: "sip", User: caller, Host: host}}
	from.Params = sipmsg.NewParams()
	from.Params.Add("tag", newTag())
	inv.AppendHeader(from)
	inv.AppendHeader(&sipmsg.ToHeader{Address: t.to})
	callID := sipmsg.CallIDHeader(newTag() + newTag())
	inv.AppendHeader(&callID)
	inv.AppendHeader(&sipmsg.CSeqHeader{SeqNo: newCSeq(), MethodName: sipmsg.INVITE})
	mf := sipmsg.MaxForwardsHeader(70)
	inv.AppendHeader(&mf)
	inv.AppendHeader(c.contactFor(t.uri, t.transport, peerAddr(t.peer)))
	inv.AppendHeader(sipmsg.NewHeader("Allow", allowed))
	c.askTerms(inv, c.opts.SessionExpires, "timer, 100rel")
	copyHeaders(inv, req.Headers)
	inv.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(offer)
	c.route(inv, t.transport, t.peer)
	return inv
}

// run sends the fork's INVITE and follows its answers.
func (f *fork) run() {
	l, c := f.l, f.l.c
	// Not the leg's context: a CANCEL, ACK or BYE must still go after the
	// leg ended.
	ctx := c.ctx
	f.l.mu.Lock()
	inv := f.inv
	f.l.mu.Unlock()
	tx, err := c.client.TransactionRequest(ctx, inv, sipgo.ClientRequestAddVia)
	if err != nil {
		l.log.Warn("sip: INVITE not sent", "peer", f.peer, "err", err)
		l.forkFailed(f, failure{code: 503, reason: "Service Unavailable"})
		return
	}
	authTried, timerTried := false, false
	for {
		var res *sipmsg.Response
		select {
		case res = <-tx.Responses():
		case <-tx.Done():
			if errors.Is(tx.Err(), sipmsg.ErrTransactionTimeout) {
				l.forkFailed(f, failure{code: 408, reason: "Request Timeout"})
			} else {
				l.forkFailed(f, failure{code: 503, reason: "Service Unavailable"})
			}
			return
		}
		var retry *sipmsg.Request
		switch code := res.StatusCode; {
		case res.IsProvisional():
			l.forkProvisional(f, res)
			continue
		case res.IsSuccess():
			l.forkAnswered(f, tx, res)
			return
		case (code == 401 || code == 407) && !authTried && f.authUser != "":
			authTried = true
			retry = inv.Clone()
			tx, err = c.client.TransactionDigestAuth(ctx, retry, res, sipgo.DigestAuth{Username: f.authUser, Password: f.password})
		case code == 488 && (f.plainFallback || f.srtpFallback):
			// The phone refused the kind of media offered: the other
			// kind next, once.
			secure := f.srtpFallback
			f.plainFallback, f.srtpFallback = false, false
			var offer []byte
			var mediaErr error
			if secure {
				offer, mediaErr = l.replaceMedia(true)
			} else {
				offer, mediaErr = l.plainOffer(f)
			}
			if mediaErr != nil {
				l.log.Warn("sip: no other media after an offer was refused", "srtp", secure, "err", mediaErr)
				l.forkFailed(f, failure{code: code, reason: res.Reason, headers: failureHeaders(res)})
				return
			}
			if secure {
				l.log.Info("sip: the phone refused plain RTP; offering SRTP", "peer", f.peer)
			} else {
				l.log.Info("sip: the phone refused SRTP; offering plain RTP", "peer", f.peer)
			}
			retry = inviteAgain(inv)
			retry.SetBody(offer)
			tx, err = c.client.TransactionRequest(ctx, retry, sipgo.ClientRequestAddVia)
		case code == 422 && !timerTried && minSE(res) > 0:
			timerTried = true
			retry = inviteAgain(inv)
			retry.RemoveHeader("Session-Expires")
			retry.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(minSE(res))+";refresher=uac"))
			tx, err = c.client.TransactionRequest(ctx, retry, sipgo.ClientRequestAddVia)
		default:
			l.forkFailed(f, failure{code: code, reason: res.Reason, headers: failureHeaders(res)})
			return
		}
		if err != nil {
			l.forkFailed(f, failure{code: res.StatusCode, reason: res.Reason})
			return
		}
		l.mu.Lock()
		f.inv, f.provisional = retry, false
		inv = retry
		l.mu.Unlock()
	}
}

// inviteAgain is inv to be sent anew, changed, in a transaction of its own
// with the next CSeq (after a 422, or a refused offer).
func inviteAgain(inv *sipmsg.Request) *sipmsg.Request {
	retry := inv.Clone()
	retry.RemoveHeader("Via")
	retry.CSeq().SeqNo++
	return retry
}

// forkProvisional: 180 is Call.Ringing, 183 with SDP early media
// (Call.AudioStarted), each once per call.
func (l *leg) forkProvisional(f *fork, res *sipmsg.Response) {
	if res.StatusCode == 100 {
		l.mu.Lock()
		f.provisional = true
		cancel, elsewhere := l.cancelDue(f), l.dlg != nil
		l.mu.Unlock()
		if cancel != nil {
			l.c.goWork(func() { l.c.cancel(cancel, elsewhere) })
		}
		return
	}
	if rseq, ok := reliable(res); ok && !l.prackFork(f, res, rseq) {
		return // a retransmission, PRACKed already
	}
	l.mu.Lock()
	f.provisional = true
	cancel, elsewhere := l.cancelDue(f), l.dlg != nil
	var ring, early bool
	if l.state != stateEnded && l.dlg == nil {
		switch {
		// A call ringing a browser has no media before the answer: its
		// early media is only ringing.
		case len(res.Body()) > 0 && contentType(res) == "application/sdp" && !l.out.early && !l.lazy:
			early, l.out.early = true, true
			l.state = stateEarly
		case !l.out.ringing && !l.out.early:
			ring, l.out.ringing = true, true
		}
	}
	l.mu.Unlock()
	if cancel != nil {
		l.c.goWork(func() { l.c.cancel(cancel, elsewhere) })
	}
	if early {
		l.negotiate(res.Body())
		l.post(runtime.EventAudioStarted, map[string]any{"headers": headersParam(res)})
	}
	if ring {
		l.post(runtime.EventRinging, map[string]any{"headers": headersParam(res)})
	}
}

// cancelDue is the INVITE to cancel now, if the fork is to be cancelled and
// may be; l.mu is held.
func (l *leg) cancelDue(f *fork) *sipmsg.Request {
	if !f.cancel || f.cancelled || !f.provisional || f.done {
		return nil
	}
	f.cancelled = true
	return f.inv
}

// moreAnswers takes the 2xx a fork's INVITE gets after the first, which
// made d: d's again are acknowledged again. One with another To tag is
// another callee answering, where a proxy on the way forked the INVITE
// (RFC 3261 section 13.2.2.4): it is a dialog of its own, acknowledged, and
// ended with a BYE, or that callee would hold a call nobody is on.
//
// It keeps what it needs of the fork, not the fork: the transaction keeps
// it for 64×T1, and the fork keeps the leg.
func (c *calls) moreAnswers(f *fork, d *dialog, ack func(*dialog)) func(*sipmsg.Response) {
	inv, transport, peer := f.inv, f.transport, f.peer
	first := d.key().remote
	var mu sync.Mutex
	var others map[string]*dialog // made for a second callee, which few calls have
	return func(res *sipmsg.Response) {
		tag, _ := res.To().Params.Get("tag")
		if tag == first {
			ack(d)
			return
		}
		mu.Lock()
		other, seen := others[tag]
		if !seen {
			other = uacDialog(inv, res, transport, peer, c.contactFor(inv.Recipient, transport, peerAddr(peer)))
			if others == nil {
				others = map[string]*dialog{}
			}
			others[tag] = other
		}
		mu.Unlock()
		ack(other)
		if seen {
			return
		}
		c.log.Info("sip: a second callee answered where a proxy forked the call; hanging it up", "call_id", d.callID)
		c.goWork(func() {
			ctx, cancel := context.WithTimeout(c.workCtx, transactionTimeout)
			defer cancel()
			c.send(ctx, c.request(other, sipmsg.BYE))
		})
	}
}

// forkAnswered: the first 2xx connects the call and cancels the other forks;
// a 2xx that lost the race is acknowledged and hung up (RFC 3261 section
// 13.2.2.4).
func (l *leg) forkAnswered(f *fork, tx sipmsg.ClientTransaction, res *sipmsg.Response) {
	c := l.c
	d := c.forkDialog(f, res)
	seq := f.inv.CSeq().SeqNo
	l.mu.Lock()
	if f.prackCSeq > seq {
		d.cseq.Store(f.prackCSeq)
	}
	f.done = true
	won := l.state != stateEnded && l.dlg == nil
	var cancels []*sipmsg.Request
	early := l.out.early
	if won {
		l.dlg = d
		l.state = stateConnected
		l.terms = c.uacTerms(res)
		l.out.ring.Stop()
		for _, o := range l.out.forks {
			if o != f {
				o.cancel = true
				if inv := l.cancelDue(o); inv != nil {
					cancels = append(cancels, inv)
				}
			}
		}
	}
	l.mu.Unlock()
	if won {
		// Known before the ACK goes: the peer may hang up right after it.
		c.addDialog(d.key(), l)
	}
	// The transaction keeps its callback for 64×T1 after the 2xx: it
	// holds the log, not the leg (see afterFunc).
	log := l.log
	ack := func(d *dialog) {
		if err := c.ack(d, seq, nil); err != nil {
			log.Debug("sip: ACK", "err", err)
		}
	}
	// Listening before the ACK goes: a second callee's 2xx that came in
	// meanwhile would be dropped, and taken only when sent again.
	tx.OnRetransmission(c.moreAnswers(f, d, ack))
	ack(d)
	for _, inv := range cancels {
		c.goWork(func() { c.cancel(inv, true) })
	}
	if !won {
		c.goWork(func() {
			ctx, cancel := context.WithTimeout(c.workCtx, transactionTimeout)
			defer cancel()
			c.send(ctx, c.request(d, sipmsg.BYE))
		})
		return
	}
	switch {
	case len(res.Body()) == 0:
		l.log.Warn("sip: 2xx without an SDP answer")
	case l.lazy:
		if err := l.chooseMedia(f, res.Body()); errors.Is(err, errEnded) {
			return
		} else if err != nil {
			l.log.Warn("sip: the answer's media", "err", err)
			l.bye(nil)
			return
		}
	default:
		l.mu.Lock()
		l.device = DevicePhone
		l.mu.Unlock()
		l.negotiate(res.Body())
	}
	if !early {
		l.post(runtime.EventAudioStarted, map[string]any{"headers": headersParam(res)})
	}
	l.post(runtime.EventConnected, map[string]any{"headers": headersParam(res)})
	l.startTimer()
	l.watchSilence()
}

// forkFailed records a fork's failure; when every fork failed, the call
// fails with the best of their answers.
func (l *leg) forkFailed(f *fork, fl failure) {
	l.mu.Lock()
	f.done = true
	if f.rtc != nil && f.rtc != l.rtc {
		// A browser that declined or is gone: its session goes now.
		defer f.rtc.Close()
	}
	if m := f.srtp; m != nil {
		f.srtp = nil
		defer m.ep.Close()
	}
	l.out.failures = append(l.out.failures, fl)
	if len(l.out.standby) > 0 && failsOver(fl.code) && !f.cancel && l.state != stateEnded && l.dlg == nil {
		next := l.out.standby[0]
		l.out.standby = l.out.standby[1:]
		l.out.forks = append(l.out.forks, next)
		swap := next.secure != (l.sdes != nil)
		l.mu.Unlock()
		l.log.Info("sip: trunk failed; trying the next one", "peer", f.peer, "code", fl.code, "next", next.peer, "srtp", next.secure)
		l.c.goWork(func() {
			if swap {
				offer, err := l.replaceMedia(next.secure)
				if err != nil {
					l.log.Warn("sip: no media for the next trunk", "peer", next.peer, "err", err)
					l.forkFailed(next, failure{code: 503, reason: "Service Unavailable"})
					return
				}
				l.mu.Lock()
				next.inv.SetBody(offer)
				l.mu.Unlock()
			}
			next.run()
		})
		return
	}
	// A final answer about the callee (busy, no such number) would be the
	// same through another trunk.
	l.out.standby = nil
	all := true
	for _, o := range l.out.forks {
		all = all && o.done
	}
	fail := all && l.state != stateEnded && l.dlg == nil
	best := l.out.best()
	if fail {
		l.out.ring.Stop()
	}
	l.mu.Unlock()
	if fail {
		params := map[string]any{"code": best.code, "reason": best.reason}
		if best.headers != nil {
			params["headers"] = best.headers
		}
		l.end(runtime.EventFailed, params)
	}
}

// failsOver says whether a trunk's failure is the trunk's rather than the
// callee's, so that the next trunk may take the call: no answer (408) or a
// server error, down or overloaded (5xx), including no connection at all.
func failsOver(code int) bool { return code == 408 || code >= 500 && code < 600 }

// best picks the answer a forked call reports (after RFC 3261 section 16.7
// step 6): a 6xx ends the search, then the lowest class wins, a redirect
// before a refusal, as it says where the callee may be found; busy beats
// other 4xx.
func (o *outbound) best() failure {
	rank := func(code int) int {
		switch {
		case code >= 600:
			return 0
		case code >= 300 && code < 400:
			return 1
		case code == 486:
			return 2
		case code >= 400 && code < 500:
			return 3
		case code >= 500:
			return 4
		}
		return 5
	}
	var b failure
	for i, f := range o.failures {
		if i == 0 || rank(f.code) < rank(b.code) {
			b = f
		}
	}
	return b
}

// hangupOutbound hangs up a connected call, or cancels every fork of one
// still ringing: the scenario hears Call.Failed 487 at once, and a 2xx that
// crosses the CANCEL is hung up when it comes.
func (l *leg) hangupOutbound(headers map[string]string) error {
	l.mu.Lock()
	state, answered := l.state, l.dlg != nil
	l.mu.Unlock()
	switch {
	case state == stateEnded:
	case answered:
		l.bye(headers)
	default:
		l.stopRinging(487)
	}
	return nil
}

// stopRinging cancels the forks of an unanswered call and fails it with
// code: 487 when the scenario hung up, 408 when nobody answered in time.
func (l *leg) stopRinging(code int) {
	l.mu.Lock()
	if l.state == stateEnded || l.dlg != nil {
		l.mu.Unlock()
		return
	}
	l.out.ring.Stop()
	var cancels []*sipmsg.Request
	for _, f := range l.out.forks {
		f.cancel = true
		if inv := l.cancelDue(f); inv != nil {
			cancels = append(cancels, inv)
		}
	}
	l.mu.Unlock()
	for _, inv := range cancels {
		l.c.goWork(func() { l.c.cancel(inv, false) })
	}
	l.end(runtime.EventFailed, map[string]any{"code": code, "reason": reasonPhrase(code)})
}

// cancel sends a CANCEL for an INVITE (RFC 3261 section 9.1): its Request-URI,
// Call-ID, From, To, CSeq number and top Via. elsewhere: another of the
// user's phones answered, which the Reason says (RFC 3326), so that this one
// shows no missed call.
func (c *calls) cancel(inv *sipmsg.Request, elsewhere bool) {
	req := sipmsg.NewRequest(sipmsg.CANCEL, inv.Recipient)
	req.AppendHeader(sipmsg.HeaderClone(inv.Via()))
	req.AppendHeader(sipmsg.HeaderClone(inv.From()))
	req.AppendHeader(sipmsg.HeaderClone(inv.To()))
	req.AppendHeader(sipmsg.HeaderClone(inv.CallID()))
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	if elsewhere {
		req.AppendHeader(sipmsg.NewHeader("Reason", `SIP ;cause=200 ;text="Call completed elsewhere"`))
	}
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	ctx, cancel := context.WithTimeout(c.workCtx, transactionTimeout)
	defer cancel()
	if _, err := c.send(ctx, req, keepVia); err != nil {
		c.log.Debug("sip: CANCEL not answered", "err", err)
	}
}

// keepVia sends a request as built: a CANCEL has its INVITE's Via.
func keepVia(*sipgo.Client, *sipmsg.Request) error { return nil }
