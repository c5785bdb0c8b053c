package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// Registration with a trunk's provider (RFC 3261 section 10): Vox registers
// as the trunk's User so that the provider knows where to send the
// account's calls, refreshes the binding before it expires, retries with
// backoff when the provider refuses or does not answer, and un-registers
// when the server shuts down. Every change of state is a log line.

// Backoff of a failed registration: the first retry after registerRetryMin,
// doubling up to registerRetryMax.
var (
	registerRetryMin = time.Second
	registerRetryMax = 5 * time.Minute
)

// registration is a trunk's registration with its provider; its goroutine
// (run) owns it.
type registration struct {
	c     *calls
	trunk Trunk
	log   *slog.Logger

	callID string // the same for every REGISTER of the binding (section 10.2.4)
	cseq   uint32
	// expires is what we ask for: the trunk's, raised by a 423.
	expires time.Duration
}

// RegisterTrunk keeps t registered with its provider from now until the
// server shuts down. Calls must be enabled (EnableCalls) and the server
// listening: the binding's Contact is its address.
func (s *Server) RegisterTrunk(t Trunk) error {
	if s.calls == nil {
		return errors.New("sip: RegisterTrunk needs EnableCalls")
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if !t.Register {
		return fmt.Errorf("%w %q: it does not register", ErrTrunk, t.Name)
	}
	if t.RegisterExpires <= 0 {
		t.RegisterExpires = time.Hour
	}
	r := &registration{
		c: s.calls, trunk: t, callID: newTag() + newTag(), cseq: newCSeq(), expires: t.RegisterExpires,
		log: s.log.With("trunk", t.Name, "account", t.Account, "provider", t.Address),
	}
	s.calls.goWork(r.run)
	return nil
}

// run registers, refreshes and retries until the server shuts down, then
// un-registers.
func (r *registration) run() {
	c := r.c
	// Requests in flight end with the server: shutdown does not wait for
	// a provider's transaction timeout.
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	retry := registerRetryMin
	registered, failures := false, 0
	for {
		granted, err := r.register(ctx, r.expires)
		if ctx.Err() != nil {
			// Shut down meanwhile: a binding made before is still there.
			break
		}
		var wait time.Duration
		if err != nil {
			registered, failures = false, failures+1
			wait, retry = retry, min(2*retry, registerRetryMax)
		} else {
			registered, failures = true, 0
			wait, retry = refreshAfter(granted), registerRetryMin
		}
		if err != nil {
			r.log.Warn("sip: trunk registration failed", "err", err, "failures", failures, "retry_in", wait)
		} else {
			r.log.Info("sip: trunk registered", "expires", granted, "refresh_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		break
	}
	if !registered {
		return
	}
	// A short, separate deadline: the transports close after the calls.
	uctx, ucancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer ucancel()
	if _, err := r.register(uctx, 0); err != nil {
		r.log.Warn("sip: trunk not un-registered", "err", err)
		return
	}
	r.log.Info("sip: trunk un-registered")
}

// refreshAfter is when a binding granted for d is refreshed: a minute
// before it expires, or halfway through a short one.
func refreshAfter(d time.Duration) time.Duration {
	return d - min(d/2, time.Minute)
}

// register sends one REGISTER asking for expires (0: un-register), answers
// a challenge with the trunk's credentials and a 423 with the interval the
// provider wants, and returns the expiry granted.
func (r *registration) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	c, t := r.c, r.trunk
	aor := t.uri(t.User)
	registrar := t.uri("")
	req := sipmsg.NewRequest(sipmsg.REGISTER, registrar)
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", newTag())
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor})
	callID := sipmsg.CallIDHeader(r.callID)
	req.AppendHeader(&callID)
	r.cseq++
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: r.cseq, MethodName: sipmsg.REGISTER})
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	contact := c.contact(t.transport(), peerAddr(t.Address))
	contact.Address.User = t.User
	req.AppendHeader(contact)
	req.AppendHeader(sipmsg.NewHeader("Expires", seconds(expires)))
	req.SetBody(nil)
	c.route(req, t.transport(), t.Address)

	res, err := c.send(ctx, req)
	authTried := false
	for err == nil {
		switch res.StatusCode {
		case 401, 407:
			if authTried {
				return 0, fmt.Errorf("the provider refused the credentials of %s: %d %s", t.User, res.StatusCode, trimForLog(res.Reason))
			}
			authTried = true
			res, err = c.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: t.User, Password: t.Password})
		case 423:
			least := minExpires(res)
			if least <= expires || least > 24*time.Hour {
				return 0, errors.New("423 without a usable Min-Expires")
			}
			// Asked again with the interval the provider wants, which
			// later refreshes ask for too (section 10.2.8).
			r.expires, expires = least, least
			req.ReplaceHeader(sipmsg.NewHeader("Expires", seconds(expires)))
			req.CSeq().SeqNo++
			req.RemoveHeader("Via")
			res, err = c.send(ctx, req)
		default:
			r.cseq = req.CSeq().SeqNo
			if !res.IsSuccess() {
				return 0, fmt.Errorf("%d %s", res.StatusCode, trimForLog(res.Reason))
			}
			g := granted(res, contact.Address, expires)
			if expires > 0 && g <= 0 {
				return 0, errors.New("the provider accepted the REGISTER but kept no binding")
			}
			return g, nil
		}
	}
	r.cseq = req.CSeq().SeqNo
	return 0, err
}

// granted is the expiry of our binding in a 2xx to a REGISTER: our
// Contact's expires parameter, or the Expires header, or what we asked.
func granted(res *sipmsg.Response, ours sipmsg.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ct, ok := h.(*sipmsg.ContactHeader)
		if !ok || ct.Address.User != ours.User || !strings.EqualFold(ct.Address.Host, ours.Host) || ct.Address.Port != ours.Port {
			continue
		}
		if v, ok := ct.Params.Get("expires"); ok {
			if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second
			}
		}
	}
	if h := header(res, "Expires"); h != nil {
		if secs, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
	}
	return asked
}

// minExpires reads Min-Expires; 0 when absent.
func minExpires(res *sipmsg.Response) time.Duration {
	h := header(res, "Min-Expires")
	if h == nil {
		return 0
	}
	secs, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || secs < 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}
