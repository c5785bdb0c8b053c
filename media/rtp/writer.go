package rtp

import (
	"github.com/pion/rtp"
)

// Writer sends RTP packets made outside the endpoint, such as RFC 4733 events
// from media/dtmf, on the endpoint's outbound stream. While it is open it owns
// the stream: playback and relayed audio are held back, as RFC 4733 senders
// commonly do during an event, and resume, rebased, after Close.
type Writer struct {
	e *Endpoint
}

// OpenWriter takes the outbound stream for a Writer; ErrWriterBusy if one is
// already open.
func (e *Endpoint) OpenWriter() (*Writer, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	o := &e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writer != nil {
		return nil, ErrWriterBusy
	}
	w := &Writer{e: e}
	o.writer = w
	o.release()
	return w, nil
}

// WriteRTP sends p with the stream's SSRC, and its sequence number and
// timestamp mapped onto the stream: consecutive packets keep their spacing,
// so an event's packets share one timestamp as RFC 4733 §2.5.1 wants. The
// payload type and marker bit are sent as given; p is not modified.
func (w *Writer) WriteRTP(p *rtp.Packet) error {
	o := &w.e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writer != w {
		return ErrWriterClose
	}
	if len(p.Payload) > len(o.payload()) {
		return errPayloadSize
	}
	n := copy(o.payload(), p.Payload)
	return o.emit(o.packet(n), timeline{owner: w, ssrc: p.SSRC}, p.PayloadType, p.Marker, p.SequenceNumber, p.Timestamp, o.clock.Now())
}

// Close gives the stream back.
func (w *Writer) Close() error {
	o := &w.e.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writer == w {
		o.writer = nil
		o.leave(w)
	}
	return nil
}
