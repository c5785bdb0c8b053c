package rtp

import (
	"slices"

	"github.com/pion/rtp"
)

// SendMediaTo relays the media e receives to dst's far end (the runtime's
// SendMediaTo): audio without decoding when the codecs match, transcoded
// byte for byte between PCMU and PCMA when they differ, and RFC 4733 events
// with dst's payload type. dst takes media from one endpoint at a time: this
// replaces any other relay into dst. The relay runs on e's receive goroutine.
func (e *Endpoint) SendMediaTo(dst *Endpoint) error {
	if e == dst {
		return ErrSelf
	}
	if e.isClosed() || dst.isClosed() {
		return ErrClosed
	}
	o := &dst.out
	o.mu.Lock()
	old := o.relayFrom
	o.relayFrom = e
	o.release()
	o.mu.Unlock()
	if old != nil && old != e {
		old.removeTarget(dst)
	}
	e.tmu.Lock()
	defer e.tmu.Unlock()
	var cur []*Endpoint
	if p := e.targets.Load(); p != nil {
		cur = *p
	}
	if !slices.Contains(cur, dst) {
		next := append(slices.Clone(cur), dst)
		e.targets.Store(&next)
	}
	return nil
}

// StopMediaTo ends what SendMediaTo started.
func (e *Endpoint) StopMediaTo(dst *Endpoint) {
	e.removeTarget(dst)
	o := &dst.out
	o.mu.Lock()
	if o.relayFrom == e {
		o.relayFrom = nil
		o.release()
	}
	o.mu.Unlock()
}

// SendMediaBetween relays a's media to b and b's to a.
func SendMediaBetween(a, b *Endpoint) error {
	if err := a.SendMediaTo(b); err != nil {
		return err
	}
	if err := b.SendMediaTo(a); err != nil {
		a.StopMediaTo(b)
		return err
	}
	return nil
}

// StopMediaBetween stops relaying both ways.
func StopMediaBetween(a, b *Endpoint) {
	a.StopMediaTo(b)
	b.StopMediaTo(a)
}

func (e *Endpoint) removeTarget(dst *Endpoint) {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	p := e.targets.Load()
	if p == nil || !slices.Contains(*p, dst) {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*p), func(x *Endpoint) bool { return x == dst })
	if len(next) == 0 {
		e.targets.Store(nil)
		return
	}
	e.targets.Store(&next)
}

// detach removes e from every relay, both ways, when it closes.
func (e *Endpoint) detach() {
	e.tmu.Lock()
	var targets []*Endpoint
	if p := e.targets.Load(); p != nil {
		targets = *p
	}
	e.targets.Store(nil)
	e.tmu.Unlock()
	for _, t := range targets {
		e.StopMediaTo(t)
	}
	e.out.mu.Lock()
	src := e.out.relayFrom
	e.out.mu.Unlock()
	if src != nil {
		src.StopMediaTo(e)
	}
}

// relay sends a packet src received out of e, if src's relay owns e's
// stream. It runs on src's receive goroutine.
func (e *Endpoint) relay(src *Endpoint, p *rtp.Packet, event bool) {
	o := &e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.relayFrom != src || o.playback != nil || o.writer != nil || len(p.Payload) > len(o.payload()) {
		return
	}
	var pt uint8
	if event {
		pt = e.TelephoneEventPT()
		copy(o.payload(), p.Payload)
	} else {
		to := e.Codec()
		Transcode(o.payload(), to, Codec(p.PayloadType), p.Payload)
		pt = uint8(to)
	}
	if err := o.emit(timeline{owner: src, ssrc: p.SSRC}, pt, p.Marker, p.SequenceNumber, p.Timestamp, len(p.Payload)); err != nil {
		e.log.Debug("rtp relay", "err", err)
	}
}
