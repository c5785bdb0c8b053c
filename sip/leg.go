package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/internal/timerref"
	"vox/media"
	"vox/media/player"
	"vox/media/rtp"
	"vox/media/sdp"
	"vox/runtime"
)

// Errors of a leg's commands; the scenario sees them as warnings, the events
// that explain them are on their way.
var (
	errEnded       = errors.New("the call has ended")
	errNotIncoming = errors.New("only an incoming call can be answered")
	errNoDialog    = errors.New("the call is not connected")
	// errNoMedia: a call ringing a browser and a phone at once gets its
	// media from the one that answers.
	errNoMedia = errors.New("the call has no media until it is answered")
	// errNoEarlyMedia: see ringInstead.
	errNoEarlyMedia = errors.New("no early media for a call whose INVITE had no SDP offer from a caller without 100rel (the answer to ours would have to come in a PRACK); 180 Ringing sent instead, audio starts once the call is answered")
	// errNoAnswer: an ACK (or a 2xx) without the SDP answer our offer
	// wants.
	errNoAnswer = errors.New("no SDP answer")
)

// legState is where a call is.
type legState int

const (
	stateAlerting  legState = iota // INVITE received (or sent), no answer
	stateEarly                     // 183 with SDP sent (or received)
	stateAnswered                  // 200 sent, its ACK not yet received
	stateConnected                 // 200 and ACK
	stateEnded
)

// leg is one SIP call of a session: the caller's INVITE (inbound.go) or one
// the scenario placed (outbound.go), with its media channel. It implements
// runtime.Leg. Its methods run on the session goroutine and never wait for
// the network; SIP runs on the server's goroutines and reports through
// post.
type leg struct {
	c       *calls
	id      string
	account string
	inbound bool
	log     *slog.Logger
	ctx     context.Context // ends with the call
	cancel  context.CancelFunc
	// self is what the leg's timers reach it by; the call's end clears it
	// (see package timerref).
	self *timerref.Ref[leg]

	// ep and ch are the leg's media: set before the leg is returned, or,
	// for an outgoing call that rings a browser (lazy), when a fork answers;
	// guarded by mu then. rtc is the browser's WebRTC session, when the
	// call is a browser's; device is DevicePhone or DeviceWebRTC (S21).
	ep     *rtp.Endpoint
	ch     *media.Channel
	sdes   *rtp.SDES // ep's transport when the phone offered SRTP
	rtc    BrowserMedia
	lazy   bool
	device string

	// events: the session's sink once attached; until then they are held.
	evMu sync.Mutex
	sink runtime.EventSink
	held []runtime.Event

	mu    sync.Mutex
	state legState
	tones bool // deliver digits sent by INFO
	// transfers: REFERs are taken (HandleBlindTransfer); transfer is the
	// one the scenario has yet to answer; transfersAsked counts those
	// taken in the dialog.
	transfers      bool
	transfer       *transfer
	transfersAsked int
	// farHeld: the far end's last offer in the dialog put the call on hold.
	farHeld bool
	// joined is the leg an attended transfer joined this one with
	// (attended.go); the call's dialog with the phone is over then.
	joined *leg
	dlg    *dialog // inbound: from the INVITE; outbound: the answering fork's
	// sdp is our side of offer/answer; last is the SDP we sent last (its
	// version changes only when it does, RFC 3264 section 8).
	sdp    sdp.Session
	last   []byte
	remote netip.AddrPort // where the SDP says the peer receives RTP
	timer  *time.Timer    // the session timer (RFC 4028)
	terms  sessionTerms
	// refreshing: our re-INVITE or UPDATE is out; one of the peer's gets
	// 491 meanwhile (RFC 3261 section 14.1).
	refreshing bool
	noUpdate   bool // the peer refused UPDATE: refresh by re-INVITE
	// awaiting is the ACK our latest 2xx to an INVITE waits for.
	awaiting *ackWait
	silence  silenceWatch

	in  *inbound  // the INVITE being answered, for an inbound leg
	out *outbound // the forks, for an outbound leg
}

// ackWait is a 2xx to an INVITE that is retransmitted until its ACK.
type ackWait struct {
	cseq uint32
	once sync.Once
	done chan struct{}
	// answer: the 2xx carried an offer (the re-INVITE had none), and the ACK
	// brings the answer.
	answer bool
}

func (c *calls) newLeg(id, account string, inbound bool) *leg {
	l := &leg{c: c, id: id, account: account, inbound: inbound}
	l.self = timerref.New(l)
	l.log = c.log.With("call", id, "account", account)
	l.ctx, l.cancel = context.WithCancel(c.ctx)
	return l
}

// afterFunc is time.AfterFunc for the leg's timers, which must not keep an
// ended call alive.
func (l *leg) afterFunc(d time.Duration, f func(*leg)) *time.Timer {
	return time.AfterFunc(d, l.self.Func(f))
}

func (l *leg) ID() string { return l.id }

// Attach delivers the events held so far and every later one to events.
func (l *leg) Attach(events runtime.EventSink) {
	l.evMu.Lock()
	defer l.evMu.Unlock()
	l.sink = events
	for _, ev := range l.held {
		events.Post(ev)
	}
	l.held = nil
}

func (l *leg) post(name string, params map[string]any) {
	ev := runtime.Event{Name: name, CallID: l.id, Params: params}
	l.evMu.Lock()
	defer l.evMu.Unlock()
	if l.sink == nil {
		l.held = append(l.held, ev)
		return
	}
	l.sink.Post(ev)
}

// MediaChannel is the leg's media, for bridging it with another leg; nil
// while a call ringing a browser is not answered.
func (l *leg) MediaChannel() *media.Channel {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}

// Device is what the far end of the call is, for the call record (S21):
// DeviceWebRTC for a browser, DevicePhone for a SIP phone or trunk; "" while
// an outgoing call has no answer.
func (l *leg) Device() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.device
}

// channel is the leg's media channel, or errNoMedia.
func (l *leg) channel() (*media.Channel, error) {
	if ch := l.MediaChannel(); ch != nil {
		return ch, nil
	}
	return nil, errNoMedia
}

// mediaLeg is a leg whose media a SIP leg can be bridged with: a SIP leg, or
// a WebRTC one.
type mediaLeg interface {
	MediaChannel() *media.Channel
}

func (l *leg) live() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == stateEnded {
		return errEnded
	}
	return nil
}

func (l *leg) Answer(ctx context.Context, headers map[string]string) error {
	if !l.inbound {
		return errNotIncoming
	}
	return l.answer(headers)
}

func (l *leg) StartEarlyMedia(ctx context.Context, headers map[string]string) error {
	if !l.inbound {
		return errors.New("only an incoming call has early media")
	}
	return l.earlyMedia(headers)
}

// Ring sends an alerting incoming call 180 Ringing, once.
func (l *leg) Ring(ctx context.Context, headers map[string]string) error {
	if !l.inbound {
		return errors.New("only an incoming call rings")
	}
	return l.ring(headers)
}

// Hangup ends the call the way its state needs: a final response to an
// alerting incoming call (S24), CANCEL to an unanswered outgoing one, BYE to
// a connected one.
func (l *leg) Hangup(ctx context.Context, code int, headers map[string]string) error {
	if l.inbound {
		return l.hangupInbound(code, headers)
	}
	return l.hangupOutbound(headers)
}

func (l *leg) Play(ctx context.Context, m runtime.Media) error {
	if err := l.live(); err != nil {
		return err
	}
	ch, err := l.channel()
	if err != nil {
		return err
	}
	// The channel bounds the playback by the call's context and stops it
	// however it ends; the player gets a context that is never done, as
	// player.Play races with a context already done (a call that ended
	// just now).
	pb := l.c.opts.Player.Play(context.WithoutCancel(l.ctx), player.Media{URL: m.URL, ToneScript: m.ToneScript, Text: m.Text, Voice: m.Voice, Loop: m.Loop}, nil)
	return ch.Play(l.ctx, pb)
}

func (l *leg) StopPlayback(ctx context.Context) error {
	if ch := l.MediaChannel(); ch != nil {
		ch.StopPlayback()
	}
	return nil
}

// HandleTones turns tones on or off; a call without media yet gets the
// setting when it has some (chooseMedia).
func (l *leg) HandleTones(ctx context.Context, on bool) error {
	l.mu.Lock()
	l.tones = on
	ch := l.ch
	l.mu.Unlock()
	if ch == nil {
		return nil
	}
	return ch.HandleTones(on)
}

func (l *leg) Record(ctx context.Context, r runtime.Recording) error {
	if err := l.live(); err != nil {
		return err
	}
	ch, err := l.channel()
	if err != nil {
		return err
	}
	return ch.Record(r.Stereo)
}

func (l *leg) StopRecording(ctx context.Context) error {
	ch, err := l.channel()
	if err != nil {
		return err
	}
	return ch.StopRecording()
}

func (l *leg) SendDigits(ctx context.Context, digits string) error {
	if err := l.live(); err != nil {
		return err
	}
	ch, err := l.channel()
	if err != nil {
		return err
	}
	return ch.SendDigits(l.ctx, digits)
}

// SendMessage sends text to the far end as an in-dialog MESSAGE (S20).
func (l *leg) SendMessage(ctx context.Context, text string) error {
	return l.sendInDialog(sipmsg.MESSAGE, "text/plain;charset=utf-8", text, nil)
}

// sendInDialog sends a request carrying body in the call's dialog, in the
// background: what the far end answers is logged, not reported.
func (l *leg) sendInDialog(method sipmsg.RequestMethod, contentType, body string, headers map[string]string) error {
	l.mu.Lock()
	d, state, partner := l.dlg, l.state, l.joined
	l.mu.Unlock()
	if state == stateEnded {
		return errEnded
	}
	if partner != nil {
		// The far end is the other session's party now.
		partner.received(method, contentType, body, headers)
		return nil
	}
	if d == nil || state < stateAnswered {
		return errNoDialog
	}
	req := l.c.request(d, method)
	copyHeaders(req, headers)
	req.AppendHeader(sipmsg.NewHeader("Content-Type", contentType))
	req.SetBody([]byte(body))
	log := l.log
	l.c.goWork(func() {
		ctx, cancel := context.WithTimeout(l.c.ctx, transactionTimeout)
		defer cancel()
		if res, err := l.c.send(ctx, req); err != nil || !res.IsSuccess() {
			log.Info("sip: in-call request not taken", "method", method, "err", err, "res", res)
		}
	})
	return nil
}

func (l *leg) SendMediaTo(ctx context.Context, to runtime.Leg) error {
	other, ok := to.(mediaLeg)
	if !ok {
		return fmt.Errorf("send media to %s: not a call with media", to.ID())
	}
	ch, err := l.channel()
	if err != nil {
		return err
	}
	dst := other.MediaChannel()
	if dst == nil {
		return fmt.Errorf("send media to %s: %w", to.ID(), errNoMedia)
	}
	return ch.SendMediaTo(dst)
}

func (l *leg) StopMediaTo(ctx context.Context, to runtime.Leg) error {
	other, ok := to.(mediaLeg)
	if !ok {
		return nil
	}
	if ch, dst := l.MediaChannel(), other.MediaChannel(); ch != nil && dst != nil {
		ch.StopMediaTo(dst)
	}
	return nil
}

// transactionTimeout bounds a request we send in a dialog: 64*T1 is when
// its transaction gives up anyway.
var transactionTimeout = 64 * sipmsg.T1

// end finishes the call once, whichever side ended it: the event that says
// so, then the media (a recording is finished and reported after it, as the
// seed's log shows), then the dialog is forgotten. It reports whether this
// call ended it.
func (l *leg) end(name string, params map[string]any) bool {
	return l.endThen(name, params, nil)
}

// endThen is end with then run once the media is closed, as the media is
// closed: on a worker. Closing the media waits for its goroutines (the
// sockets' readers, the pacer) to stop, and end is mostly reached from a
// scenario's command, on the session goroutine, which the watchdog locks to
// its thread while JS runs: each of those waits there would hand the thread
// off and wake it again. Shutdown waits for the workers, so no media outlives
// the server.
func (l *leg) endThen(name string, params map[string]any, then func()) bool {
	l.mu.Lock()
	if l.state == stateEnded {
		l.mu.Unlock()
		return false
	}
	l.state = stateEnded
	if l.timer != nil {
		l.timer.Stop()
	}
	if l.silence.timer != nil {
		l.silence.timer.Stop()
	}
	if l.out != nil {
		l.out.ring.Stop()
	}
	if l.transfer != nil && l.transfer.expiry != nil {
		l.transfer.expiry.Stop()
	}
	d, wait, partner := l.dlg, l.awaiting, l.joined
	ch, ep, others := l.ch, l.ep, l.forksMedia()
	l.mu.Unlock()
	if wait != nil {
		// Our 2xx still waits for its ACK, and so does a BYE of ours (see
		// bye): the dialog stays known until the ACK is in, or the ACK
		// would find no call, and the 2xx be sent again and the BYE held
		// back until the transaction gives up.
		l.c.forget(l, nil)
		l.c.goWork(func() {
			select {
			case <-wait.done:
			case <-l.c.closing:
			}
			l.c.forget(l, d)
		})
	} else {
		l.c.forget(l, d)
	}
	l.post(name, params)
	if partner != nil {
		// The party of the other session is what hung up, as this
		// session hears it.
		partner.end(runtime.EventDisconnected, nil)
	}
	l.cancel()
	l.self.Clear()
	if ch == nil && ep == nil && len(others) == 0 && then == nil {
		return true
	}
	l.c.goWork(func() {
		switch {
		case ch != nil:
			ch.Close() // and its endpoint
		case ep != nil:
			ep.Close()
		}
		for _, m := range others {
			m.Close()
		}
		if then != nil {
			then()
		}
	})
	return true
}

// bye ends a connected call from our side: the BYE goes in the background,
// after the media is closed, and the scenario hears Call.Disconnected at once.
func (l *leg) bye(headers map[string]string) { l.byeWith(headers, nil) }

// byeWith is bye with reason, when not nil, in the BYE (a Reason header, RFC
// 3326): why we end a call the far end did not.
func (l *leg) byeWith(headers map[string]string, reason sipmsg.Header) {
	l.mu.Lock()
	d := l.dlg
	wait := l.awaiting
	joined := l.joined != nil
	l.mu.Unlock()
	if d == nil || joined {
		// A joined call's dialog is ended already (leaveDialog).
		l.end(runtime.EventDisconnected, nil)
		return
	}
	l.endThen(runtime.EventDisconnected, nil, func() {
		if wait != nil {
			// RFC 3261 section 15: not before the ACK of our 2xx, or
			// its timeout.
			select {
			case <-wait.done:
			case <-l.c.closing:
			}
		}
		req := l.c.request(d, sipmsg.BYE)
		copyHeaders(req, headers)
		if reason != nil {
			req.AppendHeader(reason)
		}
		ctx, cancel := context.WithTimeout(l.c.workCtx, transactionTimeout)
		defer cancel()
		if _, err := l.c.send(ctx, req); err != nil {
			l.log.Debug("sip: BYE not answered", "err", err)
		}
	})
}

// applyMedia sets what offer/answer agreed on the endpoint.
func (l *leg) applyMedia(m sdp.Media) {
	l.mu.Lock()
	changed := m.Remote.IsValid() && m.Remote != l.remote
	if changed {
		l.remote = m.Remote
	}
	l.silence.owed = m.Direction.Receives()
	ch, sdes := l.ch, l.sdes
	l.mu.Unlock()
	if ch == nil {
		return
	}
	if sdes != nil && m.Crypto != nil {
		if err := sdes.Rekey(m.Crypto.Key); err != nil {
			l.log.Warn("sip: SRTP key", "err", err)
		}
	}
	if changed {
		// A new address starts latching over: only when it changed, or a
		// latched phone behind NAT would be lost at every re-INVITE.
		l.ep.SetRemote(m.Remote)
		if m.RemoteRTCP.IsValid() {
			l.ep.SetRemoteRTCP(m.RemoteRTCP)
		}
		if sdes != nil {
			sdes.SetRemote(m.Remote, m.RemoteRTCP)
		}
	}
	if err := l.ep.SetCodec(rtp.Codec(m.Codec.PT)); err != nil {
		l.log.Warn("sip: codec", "err", err)
	}
	ch.SetTelephoneEvent(m.EventPT)
	// On hold the phone asked for no audio (it offered sendonly or inactive):
	// nothing is sent until it unholds (RFC 3264 §5.1).
	l.ep.SetSending(m.Direction.Sends())
	if !m.Direction.Sends() {
		l.log.Debug("sip: call on hold", "direction", string(m.Direction))
	}
}

// legEvents turns the channel's reports into the leg's events.
type legEvents struct{ l *leg }

func (e legEvents) PlaybackFinished(err error) {
	var params map[string]any
	if err != nil {
		params = map[string]any{"error": err.Error()}
	}
	e.l.post(runtime.EventPlaybackFinished, params)
}

func (e legEvents) ToneReceived(digit byte) {
	e.l.post(runtime.EventToneReceived, map[string]any{"tone": string(digit)})
}

func (e legEvents) RecordStarted(url string) {
	e.l.post(runtime.EventRecordStarted, map[string]any{"url": url})
}

func (e legEvents) RecordStopped(url string, d time.Duration, reason string) {
	e.l.post(runtime.EventRecordStopped, map[string]any{
		"url": url, "duration": int(d.Round(time.Second) / time.Second), "cost": 0, "reason": reason,
	})
}

// inDialog handles a request of the leg's dialog.
func (l *leg) inDialog(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if req.IsAck() {
		l.acked(req)
		return
	}
	l.mu.Lock()
	d := l.dlg
	seq := req.CSeq().SeqNo
	if l.joined != nil {
		// The phone's dialog of a joined call is ending (leaveDialog):
		// its BYE crossed ours.
		l.mu.Unlock()
		code, reason := 481, "Call/Transaction Does Not Exist"
		if req.Method == sipmsg.BYE {
			code, reason = 200, "OK"
		}
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, code, reason, nil))
		return
	}
	if d == nil || seq <= d.remoteCSeq {
		// RFC 3261 section 12.2.2: out of order.
		l.mu.Unlock()
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	d.remoteCSeq = seq
	l.mu.Unlock()
	switch req.Method {
	case sipmsg.BYE:
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
		l.remoteBye(req)
	case sipmsg.INVITE:
		l.reinvite(req, tx)
	case sipmsg.UPDATE:
		l.update(req, tx)
	case sipmsg.INFO:
		l.info(req, tx)
	case sipmsg.MESSAGE:
		l.message(req, tx)
	case sipmsg.PRACK:
		l.prack(req, tx)
	case sipmsg.REFER:
		l.transferRequested(req, tx)
	default:
		res := sipmsg.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sipmsg.NewHeader("Allow", allowed))
		l.c.srv.respond(tx, res)
	}
}

// remoteBye is the far end hanging up.
func (l *leg) remoteBye(bye *sipmsg.Request) {
	if l.in != nil {
		// A BYE in the early dialog: the INVITE is answered 487.
		l.in.finish(487, nil)
	}
	l.end(runtime.EventDisconnected, map[string]any{"headers": headersParam(bye)})
}

// info and message queue their event before they answer: the peer's next
// request (a BYE, as soon as it has our 200) is handled on another goroutine,
// and its Call.Disconnected must not reach the session first, which drops a
// call's events after it.

// info takes an INFO: DTMF (application/dtmf-relay, application/dtmf)
// becomes Call.ToneReceived while tones are handled, text becomes
// Call.MessageReceived (S20).
func (l *leg) info(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	body := strings.TrimSpace(string(req.Body()))
	switch ct := contentType(req); {
	case ct == "application/dtmf-relay" || ct == "application/dtmf":
		digit, ok := infoDigit(ct, body)
		if !ok {
			l.c.srv.bad(req, tx, 400, "Bad Request", "INFO without a digit")
			return
		}
		l.mu.Lock()
		tones := l.tones
		l.mu.Unlock()
		if tones {
			l.post(runtime.EventToneReceived, map[string]any{"tone": string(digit)})
		}
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	case body == "":
		// An empty INFO is a keep-alive (RFC 6086 section 4.2.1).
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	case isText(ct):
		l.post(runtime.EventMessageReceived, map[string]any{"text": body, "headers": headersParam(req)})
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	default:
		// Anything else is the scenario's to read (a PBX's or an app's
		// data): Voximplant's Call.InfoReceived.
		l.post(runtime.EventInfoReceived, map[string]any{"mimeType": ct, "body": string(req.Body()), "headers": headersParam(req)})
		l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	}
}

var _ runtime.InfoLeg = (*leg)(nil)

// SendInfo implements runtime.InfoLeg.
func (l *leg) SendInfo(ctx context.Context, mimeType, body string, headers map[string]string) error {
	return l.sendInDialog(sipmsg.INFO, mimeType, body, headers)
}

// message takes an in-dialog MESSAGE with a text body (S20).
func (l *leg) message(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	ct := contentType(req)
	if !isText(ct) {
		res := sipmsg.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(sipmsg.NewHeader("Accept", "text/plain, application/json"))
		l.c.srv.respond(tx, res)
		return
	}
	l.post(runtime.EventMessageReceived, map[string]any{"text": string(req.Body()), "headers": headersParam(req)})
	l.c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
}

func isText(ct string) bool {
	return ct == "" || strings.HasPrefix(ct, "text/") || ct == "application/json"
}

// infoDigit reads the key of a DTMF INFO: "Signal=5\r\nDuration=160"
// (application/dtmf-relay) or "5" (application/dtmf). Some phones send 10
// and 11 for * and #.
func infoDigit(ct, body string) (byte, bool) {
	v := body
	if ct == "application/dtmf-relay" {
		v = ""
		for _, line := range strings.Split(body, "\n") {
			name, val, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "Signal") {
				v = strings.TrimSpace(val)
				break
			}
		}
	}
	switch v = strings.ToUpper(v); {
	case v == "10":
		return '*', true
	case v == "11":
		return '#', true
	case len(v) == 1 && strings.Contains("0123456789*#ABCD", v):
		return v[0], true
	}
	return 0, false
}

// headersParam is the headers object of an event: the message's X- and VI-
// headers.
func headersParam(m headered) map[string]string {
	if h := customHeaders(m); h != nil {
		return h
	}
	return map[string]string{}
}
