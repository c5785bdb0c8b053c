package rtp

import (
	"context"
	"errors"
	"io"

	"vox/media/pcm"
)

// Playback is audio from a pcm.Source being sent by an endpoint.
type Playback struct {
	e    *Endpoint
	src  pcm.Source
	stop chan error
	done chan struct{}
	err  error
}

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
func (e *Endpoint) Play(ctx context.Context, src pcm.Source) *Playback {
	p := &Playback{e: e, src: src, stop: make(chan error, 1), done: make(chan struct{})}
	if e.isClosed() {
		p.err = ErrClosed
		close(p.done)
		return p
	}
	o := &e.out
	o.mu.Lock()
	old := o.playback
	o.playback = p
	o.release()
	o.mu.Unlock()
	if old != nil {
		old.end(ErrReplaced)
	}
	e.wg.Add(1)
	go p.run(ctx, e.clock.NewTicker(pcm.FrameDuration))
	return p
}

// StopPlayback stops the current playback, if any; it ends with ErrStopped.
func (e *Endpoint) StopPlayback() {
	e.out.mu.Lock()
	p := e.out.playback
	e.out.mu.Unlock()
	if p != nil {
		p.end(ErrStopped)
	}
}

// end asks the playback goroutine to finish with err.
func (p *Playback) end(err error) {
	select {
	case p.stop <- err:
	default:
	}
}

func (p *Playback) run(ctx context.Context, t Ticker) {
	defer p.e.wg.Done()
	defer t.Stop()
	var (
		frame pcm.Frame
		seq   uint16
		ts    uint32
	)
	for {
		if err := p.src.ReadFrame(&frame); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.finish(err)
			return
		}
		p.send(&frame, seq, ts)
		seq++
		ts += pcm.FrameSamples
		select {
		case <-t.C():
		case err := <-p.stop:
			p.finish(err)
			return
		case <-ctx.Done():
			p.finish(ctx.Err())
			return
		case <-p.e.closed:
			p.finish(ErrClosed)
			return
		}
	}
}

func (p *Playback) send(f *pcm.Frame, seq uint16, ts uint32) {
	o := &p.e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.playback != p || o.writer != nil {
		return
	}
	codec := p.e.Codec()
	codec.Encode(o.payload(), f[:])
	if err := o.emit(o.packet(pcm.FrameSamples), timeline{owner: p}, uint8(codec), false, seq, ts, o.clock.Now()); err != nil {
		p.e.log.Debug("rtp send", "err", err)
	}
}

func (p *Playback) finish(err error) {
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
