package sip

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/runtime"
)

// Blind transfer (RFC 3515): a phone's transfer key sends REFER with the
// target in Refer-To. Vox does not place the new call itself: the scenario
// hears Call.BlindTransferRequested and places it (callUser, callSIP,
// callPSTN, with the caller ID and headers it chooses, and billed as any
// call of its), then tells the phone how it went, which Vox sends as the
// final NOTIFY of the REFER's implicit subscription.

// transfer is a REFER the far end sent and the scenario has not yet
// answered. Guarded by the leg's mu.
type transfer struct {
	// event is the NOTIFYs' Event header: "refer" for the dialog's first
	// REFER, then with the REFER's CSeq as id (RFC 3515 section 2.4.6).
	event string
	// noSub: the REFER said Refer-Sub: false (RFC 4488), so no NOTIFY.
	noSub bool
	// sent is closed once the NOTIFY before the next one was answered (at
	// first, once the REFER was), so that the NOTIFYs go in order.
	sent chan struct{}
	// expiry ends the subscription the scenario leaves unanswered for
	// CallOptions.TransferSubscription; nil with noSub.
	expiry *time.Timer
}

var _ runtime.TransferLeg = (*leg)(nil)

// HandleBlindTransfer implements runtime.TransferLeg.
func (l *leg) HandleBlindTransfer(ctx context.Context, on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == stateEnded {
		return errEnded
	}
	l.transfers = on
	return nil
}

// NotifyBlindTransfer implements runtime.TransferLeg.
func (l *leg) NotifyBlindTransfer(ctx context.Context, code int, reason string) error {
	l.mu.Lock()
	t, d, state := l.transfer, l.dlg, l.state
	l.transfer = nil
	l.mu.Unlock()
	switch {
	case state == stateEnded:
		return errEnded
	case t == nil:
		return runtime.ErrNoTransfer
	case t.noSub:
		return nil
	}
	t.expiry.Stop()
	reason = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, reason)
	if reason == "" {
		reason = reasonPhrase(code)
	}
	l.notifyTransfer(d, t, fmt.Sprintf("SIP/2.0 %d %s", code, reason), "terminated;reason=noresource")
	return nil
}

// transferRequested takes a REFER: while the scenario handles transfers, it
// is accepted (202) and reported; otherwise it is refused.
func (l *leg) transferRequested(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	refuse := func(code int, why string) { l.c.srv.respond(tx, refusal(req, code, why)) }
	var values []string
	for _, name := range []string{"Refer-To", "r"} {
		for h := range headersNamed(req, name) {
			values = append(values, h.Value())
		}
	}
	if len(values) != 1 {
		refuse(400, "a REFER names one Refer-To")
		return
	}
	var to sipmsg.Uri
	params := sipmsg.NewParams()
	if _, err := sipmsg.ParseAddressValue(values[0], &to, &params); err != nil {
		refuse(400, "Refer-To is not a URI")
		return
	}
	target, ok := transferTarget(to)
	if !ok {
		refuse(416, "a transfer goes to a sip:, sips: or tel: URI")
		return
	}
	noSub := false
	for h := range headersNamed(req, "Refer-Sub") {
		noSub = strings.EqualFold(strings.TrimSpace(h.Value()), "false")
	}
	if replaces, ok := to.Headers.Get("Replaces"); ok {
		l.attendedTransfer(req, tx, replaces, noSub)
		return
	}

	l.mu.Lock()
	d := l.dlg
	code, why := runtime.TransferRefusal(l.state >= stateAnswered && l.state != stateEnded, l.transfers, l.transfer != nil)
	// accepted is closed once the 202 is sent: the NOTIFYs wait for it.
	accepted := make(chan struct{})
	t := &transfer{event: "refer", noSub: noSub, sent: accepted}
	if code == 0 {
		if l.transfersAsked > 0 {
			t.event = "refer;id=" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
		}
		l.transfersAsked++
		l.transfer = t
		if !noSub {
			t.expiry = l.afterFunc(l.c.opts.TransferSubscription, func(l *leg) { l.transferExpired(t) })
		}
	}
	l.mu.Unlock()
	if code != 0 {
		refuse(code, why)
		return
	}

	headers := headersParam(req)
	headers["Refer-To"] = to.String()
	l.log.Info("sip: transfer requested", "to", trimForLog(to.String()))
	if !noSub {
		// The subscription's first NOTIFY goes right after the 202 (RFC
		// 3515 section 2.4.4), and before the scenario's answer, which
		// may come at once.
		expires := int(math.Ceil(l.c.opts.TransferSubscription.Seconds()))
		l.notifyTransfer(d, t, "SIP/2.0 100 Trying", "active;expires="+strconv.Itoa(expires))
	}
	// Queued before the answer, as info and message are.
	l.post(runtime.EventBlindTransferRequested, map[string]any{"transferTo": target, "headers": headers})
	l.acceptRefer(req, tx, d, noSub, accepted)
}

// acceptRefer answers a REFER taken with 202, then closes accepted, which
// the subscription's first NOTIFY waits for.
func (l *leg) acceptRefer(req *sipmsg.Request, tx sipmsg.ServerTransaction, d *dialog, noSub bool, accepted chan struct{}) {
	res := sipmsg.NewResponseFromRequest(req, 202, "Accepted", nil)
	res.AppendHeader(sipmsg.HeaderClone(d.contact))
	if noSub {
		res.AppendHeader(sipmsg.NewHeader("Refer-Sub", "false"))
	}
	l.c.srv.respond(tx, res)
	close(accepted)
}

// transferExpired ends t's subscription if the scenario has not answered it
// by its expiry: the phone learns the transfer failed (408) and goes on with
// the call, rather than wait on a transfer nobody will report.
func (l *leg) transferExpired(t *transfer) {
	l.mu.Lock()
	d, current := l.dlg, l.transfer == t && l.state != stateEnded
	if current {
		l.transfer = nil
	}
	l.mu.Unlock()
	if !current {
		return
	}
	l.log.Info("sip: the scenario did not answer a transfer in time; telling the phone it failed", "after", l.c.opts.TransferSubscription)
	l.notifyTransfer(d, t, "SIP/2.0 408 Request Timeout", "terminated;reason=timeout")
}

// transferTarget is what Call.BlindTransferRequested calls transferTo: the
// user part of a SIP URI (a user name or a number) or a tel: URI's number.
func transferTarget(u sipmsg.Uri) (string, bool) {
	switch strings.ToLower(u.Scheme) {
	case "sip", "sips":
		if u.User != "" {
			return u.User, true
		}
		return u.Host, u.Host != ""
	case "tel":
		number, _, _ := strings.Cut(u.Raw(), ";")
		return number, number != ""
	}
	return "", false
}

// notifyTransfer sends a NOTIFY of t's subscription with frag (a status
// line, message/sipfrag) after the previous one was answered.
func (l *leg) notifyTransfer(d *dialog, t *transfer, frag, state string) {
	req := l.c.request(d, sipmsg.NOTIFY)
	req.AppendHeader(sipmsg.NewHeader("Event", t.event))
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", state))
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	l.mu.Lock()
	prev := t.sent
	sent := make(chan struct{})
	t.sent = sent
	l.mu.Unlock()
	log := l.log
	l.c.goWork(func() {
		defer close(sent)
		<-prev
		ctx, cancel := context.WithTimeout(l.c.ctx, transactionTimeout)
		defer cancel()
		if res, err := l.c.send(ctx, req); err != nil || !res.IsSuccess() {
			log.Debug("sip: transfer NOTIFY not taken", "err", err, "res", res)
		}
	})
}
