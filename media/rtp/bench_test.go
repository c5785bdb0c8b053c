package rtp

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// benchLegs is a phone's stream arriving at a, bridged to b, whose far end
// is a socket nobody reads (the kernel drops what overflows it).
func benchLegs(b *testing.B, ca, cb Codec) (a, dst *Endpoint, feed func()) {
	pool := testPool(b)
	a = newEndpoint(b, Config{Pool: pool, Codec: ca})
	dst = newEndpoint(b, Config{Pool: pool, Codec: cb})
	ph := newPhone(b)
	dst.SetRemote(ph.addr())
	if err := a.SendMediaTo(dst); err != nil {
		b.Fatal(err)
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(ca), SSRC: 99}, Payload: make([]byte, pcm.FrameSamples)}
	buf, _ := pkt.Marshal()
	var p rtp.Packet
	from := ph.addr()
	seq := uint16(0)
	feed = func() {
		binary.BigEndian.PutUint16(buf[2:], seq)
		binary.BigEndian.PutUint32(buf[4:], uint32(seq)*pcm.FrameSamples)
		seq++
		a.receive(&p, buf, from)
	}
	return a, dst, feed
}

// BenchmarkRelay is one packet through the receive path and the bridge:
// parse, latch check, statistics, header rewrite, send.
func BenchmarkRelay(b *testing.B) {
	for _, tc := range []struct {
		name   string
		ca, cb Codec
	}{{"same codec", PCMU, PCMU}, {"transcode", PCMU, PCMA}} {
		b.Run(tc.name, func(b *testing.B) {
			_, _, feed := benchLegs(b, tc.ca, tc.cb)
			feed()
			feed()
			b.ReportAllocs()
			for b.Loop() {
				feed()
			}
		})
	}
}

// BenchmarkReceiveToSink is one packet decoded into a frame for a sink.
func BenchmarkReceiveToSink(b *testing.B) {
	a, dst, feed := benchLegs(b, PCMA, PCMU)
	a.StopMediaTo(dst)
	a.AddSink(discard{})
	feed()
	feed()
	b.ReportAllocs()
	for b.Loop() {
		feed()
	}
}

type discard struct{}

func (discard) WriteFrame(*pcm.Frame) error { return nil }

// BenchmarkPlaybackFrame is one frame of a playback: encode and send.
func BenchmarkPlaybackFrame(b *testing.B) {
	e := newEndpoint(b, Config{Clock: newFakeClock()})
	e.SetRemote(newPhone(b).addr())
	p := &Playback{e: e}
	e.out.playback = p
	var f pcm.Frame
	ramp(3, &f)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.send(&f, uint16(i), uint32(i)*pcm.FrameSamples)
		i++
	}
}
