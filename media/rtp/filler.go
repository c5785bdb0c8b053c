package rtp

import (
	"time"

	"vox/media/pcm"
)

// Phones, PBXes and carriers' SBCs take a stream that stops for long as a
// call that is gone: rtpengine and Asterisk end such calls after a timeout,
// and so does Vox (sip.CallOptions.MediaTimeout). A NAT in front of a
// phone closes the pinhole our packets come through, too. A scenario that
// plays nothing, records a caller or waits for digits would send nothing,
// so a connected call's stream is filled with silence whenever no playback,
// relay or event writer has sent for fillAfter, as a muted phone keeps
// sending.
const fillAfter = 200 * time.Millisecond

// silentFrame is the frame a filler encodes.
var silentFrame pcm.Frame

// filler is the writer of last resort of one endpoint's stream, served by
// the pacer: it sends a silent frame on each tick once the stream has been
// quiet for fillAfter, on a timeline of its own.
type filler struct {
	e     *Endpoint
	since time.Time // when filling was turned on
	seq   uint16
	ts    uint32
}

// FillSilence turns filling the outbound stream with silence on or off.
// On, silence frames go out every 20 ms whenever nothing else has sent for
// 200 ms, until a playback, a relay or an event writer sends again; a
// stream on hold (SetSending false) stays quiet.
func (e *Endpoint) FillSilence(on bool) {
	o := &e.out
	o.mu.Lock()
	if !on || e.isClosed() {
		o.filler = nil // the pacer drops it at its next tick
		o.mu.Unlock()
		return
	}
	if o.filler != nil {
		o.mu.Unlock()
		return
	}
	f := &filler{e: e, since: o.clock.Now()}
	o.filler = f
	o.mu.Unlock()
	e.pacer.add(f)
}

func (f *filler) next(b *frameBuf) bool {
	o := &f.e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.filler != f || f.e.isClosed() {
		return false
	}
	if o.muted || o.playback != nil || o.writer != nil {
		return true
	}
	// Once filling, the stream is the filler's until another writer sends.
	now := o.clock.Now()
	filling := o.cur.owner == f
	if !filling && (now.Sub(o.lastSent) < fillAfter || now.Sub(f.since) < fillAfter) {
		return true
	}
	codec := Codec(o.codec.Load())
	codec.Encode(b.payload(), silentFrame[:])
	if err := o.emit(b.packet[:], timeline{owner: f}, uint8(codec), false, f.seq, f.ts, now); err != nil {
		f.e.debug("rtp silence", "err", err)
	}
	f.seq++
	f.ts += pcm.FrameSamples
	return true
}
