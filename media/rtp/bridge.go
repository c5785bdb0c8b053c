package rtp

import (
	"slices"
	"time"

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
		o.leave(e)
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
// stream. It runs on src's receive goroutine: b is the datagram p was parsed
// from, in src's receive buffer, and now is when it arrived. When the
// payload goes out unchanged (the same codec, or an event) the packet is
// sent from b, with e's header written over the end of the received one just
// before the payload: no copy, and no cache lines of e's own buffer touched.
// b is not read again after the event handler and the sinks have run, and
// each target writes its whole header, so several targets can share it.
func (e *Endpoint) relay(src *Endpoint, p *rtp.Packet, b []byte, event bool, now time.Time) {
	o := &e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.relayFrom != src || o.playback != nil || o.writer != nil {
		return
	}
	// The payload's place in b: RFC 3550 §5.1, header, payload, padding.
	end := len(b) - int(p.PaddingSize)
	off := end - len(p.Payload)
	var pt uint8
	var pkt []byte
	switch to := e.Codec(); {
	case event:
		pt = e.TelephoneEventPT()
		pkt = b[off-headerLen : end]
	case Codec(p.PayloadType) == to:
		pt = uint8(to)
		pkt = b[off-headerLen : end]
	default:
		if len(p.Payload) > len(o.payload()) {
			return
		}
		Transcode(o.payload(), to, Codec(p.PayloadType), p.Payload)
		pt = uint8(to)
		pkt = o.packet(len(p.Payload))
	}
	if err := o.emit(pkt, timeline{owner: src, ssrc: p.SSRC}, pt, p.Marker, p.SequenceNumber, p.Timestamp, now); err != nil {
		e.debug("rtp relay", "err", err)
	}
}
