package rtp

import (
	"slices"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// maxConceal is the longest gap (in samples) filled with silence for sinks:
// one second. A longer gap is a pause (hold, silence suppression) and the
// sinks' timeline simply resumes.
const maxConceal = pcm.SampleRate

type sinkEntry struct{ sink pcm.Sink }

// AddSink delivers the audio the endpoint receives, decoded to 20 ms frames,
// to s (a recorder, an in-band DTMF detector) until remove is called or s
// returns an error. WriteFrame runs on the receive goroutine and must not
// block; the frame is only valid during the call. Lost packets become
// silence, so a sink's frames keep the stream's timeline; late packets are
// not delivered.
func (e *Endpoint) AddSink(s pcm.Sink) (remove func()) {
	entry := &sinkEntry{sink: s}
	e.tmu.Lock()
	var cur []*sinkEntry
	if p := e.sinks.Load(); p != nil {
		cur = *p
	}
	next := append(slices.Clone(cur), entry)
	e.sinks.Store(&next)
	e.tmu.Unlock()
	return func() { e.removeSink(entry) }
}

func (e *Endpoint) removeSink(entry *sinkEntry) {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	p := e.sinks.Load()
	if p == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*p), func(x *sinkEntry) bool { return x == entry })
	if len(next) == 0 {
		e.sinks.Store(nil)
		return
	}
	e.sinks.Store(&next)
}

// inbound reframes received audio into pcm.Frames: packets of any ptime,
// gaps concealed with silence, by RTP timestamp.
type inbound struct {
	frame  pcm.Frame
	n      int // samples in frame
	nextTs uint32
	ssrc   uint32
	have   bool
}

func (in *inbound) deliver(e *Endpoint, sinks []*sinkEntry, p *rtp.Packet) {
	if in.have && p.SSRC == in.ssrc {
		gap := int32(p.Timestamp - in.nextTs)
		switch {
		case gap < 0:
			return // late, or overlapping what was delivered
		case gap <= maxConceal:
			for range gap {
				in.frame[in.n] = 0
				in.n++
				if in.n == pcm.FrameSamples {
					in.emit(e, sinks)
				}
			}
		}
	}
	in.have, in.ssrc = true, p.SSRC
	in.nextTs = p.Timestamp + uint32(len(p.Payload))
	codec := Codec(p.PayloadType)
	for rest := p.Payload; len(rest) > 0; {
		k := min(len(rest), pcm.FrameSamples-in.n)
		codec.Decode(in.frame[in.n:in.n+k], rest[:k])
		in.n += k
		rest = rest[k:]
		if in.n == pcm.FrameSamples {
			in.emit(e, sinks)
		}
	}
}

func (in *inbound) emit(e *Endpoint, sinks []*sinkEntry) {
	in.n = 0
	for _, s := range sinks {
		if err := s.sink.WriteFrame(&in.frame); err != nil {
			e.debug("sink removed", "err", err)
			e.removeSink(s)
		}
	}
}
