package sip

import (
	"context"
	"fmt"
	"io"
	"strings"

	"vox/media/rtp"
	"vox/runtime"
)

// Browser calls (S5): a browser signals over WebSocket (websocket.go) and
// sends its media over WebRTC, which the webrtc package terminates. An
// INVITE whose SDP is WebRTC gets its answer there; a call to a browser's
// binding is offered from there. The browser's session ends in an
// rtp.Endpoint like a SIP leg's, so the channel, player, recorder, DTMF and
// bridges work the same on both.

// WebRTC is what calls need of the webrtc package; cmd/vox adapts its
// Engine.
type WebRTC interface {
	// IsWebRTC says whether an SDP offer or answer is a browser's
	// (DTLS-SRTP).
	IsWebRTC(sdp []byte) bool
	// Answer takes a browser's offer: the call's media and the answer.
	Answer(ctx context.Context, offer []byte) (BrowserMedia, []byte, error)
	// Offer starts a call to a browser: its media and the offer.
	Offer(ctx context.Context) (BrowserMedia, []byte, error)
	// Close releases what the browsers' calls shared; Shutdown calls it
	// once the calls have ended.
	Close() error
}

// BrowserMedia is one browser's WebRTC session.
type BrowserMedia interface {
	// Endpoint is the session's audio, for media.NewChannel, which owns it
	// from then on.
	Endpoint() *rtp.Endpoint
	// TelephoneEventPT is the RFC 4733 payload type agreed, 0 for none.
	TelephoneEventPT() uint8
	// SetAnswer takes the browser's answer to Offer.
	SetAnswer(answer []byte) error
	// Renegotiate answers a re-INVITE's offer (hold, unhold).
	Renegotiate(ctx context.Context, offer []byte) ([]byte, error)
	// Failed is closed when the browser went away without a BYE (ICE
	// consent lost, DTLS closed).
	Failed() <-chan struct{}
	Close() error
}

// What a call's far end is, for the call record (S21) and the
// VI-Client-Device header of Application.CallAlerting.
const (
	DevicePhone  = "PHONE"
	DeviceWebRTC = "WEBRTC"
)

// isWebSocket says whether transport reaches a browser.
func isWebSocket(transport string) bool {
	return strings.EqualFold(transport, "WS") || strings.EqualFold(transport, "WSS")
}

// forksMedia is the media a leg holds besides its channel: the browser's
// WebRTC session of an answered call, and the WebRTC sessions and SRTP
// offers of its forks; l.mu is held.
func (l *leg) forksMedia() []io.Closer {
	var out []io.Closer
	if l.rtc != nil {
		out = append(out, l.rtc)
	}
	if l.out != nil {
		for _, f := range l.out.forks {
			if f.rtc != nil && f.rtc != l.rtc {
				out = append(out, f.rtc)
			}
			if f.srtp != nil {
				out = append(out, f.srtp.ep)
				f.srtp = nil
			}
		}
	}
	return out
}

// browser says whether the leg's far end is a browser.
func (l *leg) browser() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtc != nil
}

// answerBrowser gives an incoming call from a browser its media: the
// WebRTC session that answers offer, and the answer.
func (c *calls) answerBrowser(l *leg, offer []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(l.ctx, c.srv.opts.LookupTimeout)
	defer cancel()
	m, answer, err := c.opts.WebRTC.Answer(ctx, offer)
	if err != nil {
		return nil, err
	}
	ch, err := c.newChannel(l, m.Endpoint())
	if err != nil {
		m.Close()
		return nil, err
	}
	ch.SetTelephoneEvent(m.TelephoneEventPT())
	l.mu.Lock()
	l.rtc, l.ep, l.ch, l.last = m, m.Endpoint(), ch, answer
	l.mu.Unlock()
	l.watchBrowser(m)
	return answer, nil
}

// watchBrowser hangs up the call when the browser's session fails: a tab
// closed or a network gone sends no BYE.
func (l *leg) watchBrowser(m BrowserMedia) {
	l.c.goWork(func() {
		select {
		case <-m.Failed():
			l.log.Info("sip: the browser's media failed; ending the call")
			// 480 to an INVITE not answered yet, else a BYE, which may
			// not arrive.
			l.Hangup(context.Background(), 480, nil)
		case <-l.ctx.Done():
		}
	})
}

// chooseMedia gives an outgoing call that rang a browser (lazy) the media of
// the fork that answered, with its answer, and lets the others go.
func (l *leg) chooseMedia(f *fork, answer []byte) error {
	l.mu.Lock()
	sipEP, tones := l.ep, l.tones
	var others []io.Closer
	for _, o := range l.out.forks {
		if o == f {
			continue
		}
		if o.rtc != nil {
			others = append(others, o.rtc)
			o.rtc = nil
		}
		if o.srtp != nil {
			others = append(others, o.srtp.ep)
			o.srtp = nil
		}
	}
	own := f.srtp
	f.srtp = nil
	l.mu.Unlock()
	for _, m := range others {
		m.Close()
	}
	ep, device := sipEP, DevicePhone
	switch {
	case f.rtc != nil:
		if err := f.rtc.SetAnswer(answer); err != nil {
			return err
		}
		ep, device = f.rtc.Endpoint(), DeviceWebRTC
	case own != nil:
		ep = own.ep
	}
	if ep != sipEP && sipEP != nil {
		sipEP.Close()
	}
	if ep == nil {
		return fmt.Errorf("no media for the answer of %s", f.peer)
	}
	ch, err := l.c.newChannel(l, ep)
	if err != nil {
		if own != nil {
			own.ep.Close()
		}
		return err
	}
	if f.rtc != nil {
		ch.SetTelephoneEvent(f.rtc.TelephoneEventPT())
	}
	if tones {
		ch.HandleTones(true)
	}
	l.mu.Lock()
	if l.state == stateEnded {
		// Hung up meanwhile: what end closed was the media before this.
		l.mu.Unlock()
		ch.Close()
		return errEnded
	}
	l.ep, l.ch, l.rtc, l.device = ep, ch, f.rtc, device
	if own != nil {
		l.sdes, l.sdp = own.sdes, own.sdp
	}
	l.mu.Unlock()
	if f.rtc == nil {
		l.negotiate(answer)
	} else {
		l.watchBrowser(f.rtc)
	}
	return nil
}

// connectionClosed ends the calls that ran over a connection that closed:
// a browser whose WebSocket is gone can neither be reached nor hang up.
func (c *calls) connectionClosed(transport, peer string) {
	c.mu.Lock()
	var gone []*leg
	for l := range c.legs {
		if l.overConnection(transport, peer) {
			gone = append(gone, l)
		}
	}
	c.mu.Unlock()
	for _, l := range gone {
		l.log.Info("sip: the connection of the call closed", "transport", transport, "peer", peer)
		if l.inbound || l.answered() {
			if l.in != nil {
				l.in.finish(480, nil)
			}
			l.end(runtime.EventDisconnected, nil)
			continue
		}
		l.forksLost(transport, peer)
	}
}

// overConnection says whether the leg's dialog, or one of its forks, runs
// over transport to peer.
func (l *leg) overConnection(transport, peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dlg != nil {
		return strings.EqualFold(l.dlg.transport, transport) && l.dlg.peer == peer
	}
	if l.out != nil {
		for _, f := range l.out.forks {
			if !f.done && strings.EqualFold(f.transport, transport) && f.peer == peer {
				return true
			}
		}
	}
	return false
}

func (l *leg) answered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dlg != nil
}

// forksLost fails the forks of an unanswered outgoing call that went over a
// connection that closed; the others ring on.
func (l *leg) forksLost(transport, peer string) {
	l.mu.Lock()
	var lost []*fork
	for _, f := range l.out.forks {
		if !f.done && strings.EqualFold(f.transport, transport) && f.peer == peer {
			lost = append(lost, f)
		}
	}
	l.mu.Unlock()
	for _, f := range lost {
		l.forkFailed(f, failure{code: 480, reason: "Temporarily Unavailable"})
	}
}
