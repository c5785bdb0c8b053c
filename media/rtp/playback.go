package rtp

import (
	"context"
	"errors"
	"io"
	"sync"

	"vox/media/pcm"
)

// Playback is audio from a pcm.Source being sent by an endpoint.
type Playback struct {
	e       *Endpoint
	src     pcm.Source
	encoded PayloadReader // src, when it is one

	// mu serialises a frame with the playback's end, so that once end
	// has returned no ReadFrame is in progress or will start.
	mu      sync.Mutex
	ended   bool
	seq     uint16 // of the next frame, on the playback's timeline
	ts      uint32
	unwatch func() bool // stops watching the context
	done    chan struct{}
	err     error
}

// PayloadReader is a pcm.Source whose frames may exist encoded already, such
// as a tone made once for every call that plays it: a playback then copies
// them rather than encoding. ReadPayload writes the next frame in codec c
// into dst, pcm.FrameSamples bytes, and reports whether it did; when it does
// not, nothing was read, and the playback reads the frame with ReadFrame.
type PayloadReader interface {
	ReadPayload(dst []byte, c Codec) bool
}

// frameBuf is where a playback reads a frame and makes its packet: the
// pacer's, warm in the cache, rather than the endpoint's buffer, which at a
// thousand calls is not.
type frameBuf struct {
	frame  pcm.Frame
	packet [headerLen + pcm.FrameSamples]byte
}

func (b *frameBuf) payload() []byte { return b.packet[headerLen:] }

// frameBufs serve the first frame of each playback, which Play sends.
var frameBufs = sync.Pool{New: func() any { return new(frameBuf) }}

// Done is closed when the playback has ended.
func (p *Playback) Done() <-chan struct{} { return p.done }

// Err says why the playback ended, once Done is closed: nil when the source
// ran out (the last frame has been sent and its 20 ms have passed),
// ErrStopped, ErrReplaced, ErrClosed, the context's error, or the source's.
func (p *Playback) Err() error {
	<-p.done
	return p.err
}

// Play sends src's frames, one every 20 ms on the endpoint's clock, encoded
// with the endpoint's codec, replacing what was playing. While it plays it
// owns the outbound stream: a relay into this endpoint is held back and
// resumes after it (see the package comment).
//
// The first frame is read and sent before Play returns; the next ones are
// sent by the clock's pacer, which serves every playback in the process. So
// src.ReadFrame must not block: it runs on the goroutine that sends every
// other call's audio.
func (e *Endpoint) Play(ctx context.Context, src pcm.Source) *Playback {
	p := &Playback{e: e, src: src, done: make(chan struct{})}
	p.encoded, _ = src.(PayloadReader)
	o := &e.out
	o.mu.Lock()
	if e.isClosed() {
		// Close ends the current playback after marking the endpoint
		// closed, under o.mu: checked here, a playback is either ended
		// by Close or never starts.
		o.mu.Unlock()
		p.err = ErrClosed
		close(p.done)
		return p
	}
	old := o.playback
	o.playback = p
	o.release()
	o.mu.Unlock()
	if old != nil {
		old.end(ErrReplaced)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return p // replaced already
	}
	if ctx.Done() != nil {
		p.unwatch = context.AfterFunc(ctx, func() { p.end(ctx.Err()) })
	}
	b := frameBufs.Get().(*frameBuf)
	if p.frameLocked(b) {
		e.pacer.add(p)
	}
	frameBufs.Put(b)
	return p
}

// StopPlayback stops the current playback, if any; it ends with ErrStopped.
func (e *Endpoint) StopPlayback() { e.endPlayback(ErrStopped) }

func (e *Endpoint) endPlayback(err error) {
	e.out.mu.Lock()
	p := e.out.playback
	e.out.mu.Unlock()
	if p != nil {
		p.end(err)
	}
}

// next sends the playback's next frame, read into b, on the pacer's tick; it
// reports whether the playback goes on.
func (p *Playback) next(b *frameBuf) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return false
	}
	return p.frameLocked(b)
}

// frameLocked reads and sends one frame, or finishes the playback when the
// source has ended or failed; the caller holds mu.
func (p *Playback) frameLocked(b *frameBuf) bool {
	codec := p.e.Codec()
	if p.encoded == nil || !p.encoded.ReadPayload(b.payload(), codec) {
		if err := p.src.ReadFrame(&b.frame); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.finishLocked(err)
			return false
		}
		codec.Encode(b.payload(), b.frame[:])
	}
	p.send(b, codec, p.seq, p.ts)
	p.seq++
	p.ts += pcm.FrameSamples
	return true
}

// end finishes the playback with err from outside (stopped, replaced, its
// context or its endpoint closed) unless it has ended already. It waits for
// a frame in progress. The pacer drops the playback at its next tick.
func (p *Playback) end(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.finishLocked(err)
	}
}

// send sends b's packet, a frame in codec, if the playback holds the stream.
func (p *Playback) send(b *frameBuf, codec Codec, seq uint16, ts uint32) {
	o := &p.e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.playback != p || o.writer != nil {
		return
	}
	if err := o.emit(b.packet[:], timeline{owner: p}, uint8(codec), false, seq, ts, o.clock.Now()); err != nil {
		p.e.debug("rtp send", "err", err)
	}
}

func (p *Playback) finishLocked(err error) {
	p.ended = true
	if p.unwatch != nil {
		p.unwatch()
	}
	o := &p.e.out
	o.mu.Lock()
	if o.playback == p {
		o.playback = nil
		o.leave(p)
	}
	o.mu.Unlock()
	p.err = err
	close(p.done)
}
