package rtp

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

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
		// The relay writes its header over the received one.
		pkt.SequenceNumber, pkt.Timestamp = seq, uint32(seq)*pcm.FrameSamples
		pkt.Header.MarshalTo(buf)
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
	p := &Playback{e: e, done: make(chan struct{})}
	e.out.playback = p
	var (
		f   pcm.Frame
		buf frameBuf
	)
	ramp(3, &f)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		PCMU.Encode(buf.payload(), f[:])
		p.send(&buf, PCMU, uint16(i), uint32(i)*pcm.FrameSamples)
		i++
	}
}

// BenchmarkRelayMany is BenchmarkRelay over many bridged calls fed in turn,
// as a relay under load sees them: each packet finds its endpoints' state
// cold in the CPU caches, which is what a packet costs at scale.
func BenchmarkRelayMany(b *testing.B) {
	const calls = 1000
	pool, err := NewPortPool(PortPoolConfig{Addr: loopback, MinPort: 30000, MaxPort: 60000})
	if err != nil {
		b.Fatal(err)
	}
	ph := newPhone(b)
	type stream struct {
		e   *Endpoint
		hdr rtp.Header
		buf []byte
		p   rtp.Packet
	}
	streams := make([]*stream, 0, 2*calls)
	for i := range calls {
		x := newEndpoint(b, Config{Pool: pool})
		y := newEndpoint(b, Config{Pool: pool})
		x.SetRemote(ph.addr())
		y.SetRemote(ph.addr())
		if err := SendMediaBetween(x, y); err != nil {
			b.Fatal(err)
		}
		for k, e := range []*Endpoint{x, y} {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(PCMU), SSRC: uint32(2*i + k + 1)}, Payload: make([]byte, pcm.FrameSamples)}
			buf := make([]byte, maxPacket)
			n, _ := pkt.MarshalTo(buf)
			streams = append(streams, &stream{e: e, hdr: pkt.Header, buf: buf[:n]})
		}
	}
	from := ph.addr()
	feed := func(i int) {
		s := streams[i%len(streams)]
		// The relay writes its header over the received one.
		seq := uint16(i / len(streams))
		s.hdr.SequenceNumber, s.hdr.Timestamp = seq, uint32(seq)*pcm.FrameSamples
		s.hdr.MarshalTo(s.buf)
		s.e.receive(&s.p, s.buf, from)
	}
	n := 2 * len(streams) // the latch's probation
	for i := range n {
		feed(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		feed(n)
		n++
	}
}

// BenchmarkPlaybackLoad is the media of a call-setup benchmark: playbacks of
// half a second started at 1,000 a second on the real clock, about 500
// playing at once, each on its own endpoint. It reports the process's CPU
// time per playback (every frame, its pacing and its end), which is what
// pacing costs at scale; ns/op is mostly the waiting between starts.
func BenchmarkPlaybackLoad(b *testing.B) {
	const (
		length   = 25 // frames
		interval = time.Millisecond
		slots    = 600
	)
	pool, err := NewPortPool(PortPoolConfig{Addr: loopback, MinPort: 30000, MaxPort: 60000})
	if err != nil {
		b.Fatal(err)
	}
	ph := newPhone(b)
	eps := make([]*Endpoint, slots)
	for i := range eps {
		eps[i] = newEndpoint(b, Config{Pool: pool})
		eps[i].SetRemote(ph.addr())
	}
	playing := make([]*Playback, slots)
	b.ReportAllocs()
	before := cpuTime(b)
	next := time.Now()
	n := 0
	for b.Loop() {
		if pb := playing[n%slots]; pb != nil {
			if err := pb.Err(); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		playing[n%slots] = eps[n%slots].Play(context.Background(), &frames{n: length, gen: ramp})
		n++
	}
	for _, pb := range playing {
		if pb != nil {
			pb.Err()
		}
	}
	b.ReportMetric(float64((cpuTime(b)-before)/time.Microsecond)/float64(n), "cpu-µs/playback")
}

// BenchmarkEndpointLifecycle is an endpoint opened and closed, as every call
// leg does: its port pair, goroutines and timers.
func BenchmarkEndpointLifecycle(b *testing.B) {
	pool, err := NewPortPool(PortPoolConfig{Addr: loopback, MinPort: 30000, MaxPort: 60000})
	if err != nil {
		b.Fatal(err)
	}
	ph := newPhone(b)
	b.ReportAllocs()
	before := cpuTime(b)
	n := 0
	for b.Loop() {
		e, err := NewEndpoint(Config{Pool: pool})
		if err != nil {
			b.Fatal(err)
		}
		e.SetRemote(ph.addr())
		e.Close()
		n++
	}
	b.ReportMetric(float64((cpuTime(b)-before)/time.Microsecond)/float64(n), "cpu-µs/endpoint")
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlaybackPacing is how evenly playbacks are paced with a thousand
// playing at once, their starts spread over a frame: each endpoint runs on a
// Transport that notes when each packet is handed to it. It reports the p99
// and the largest deviation from 20 ms between a playback's frames (the
// second frame on), and the shortest gap between a first and second frame
// (the pacer's beat takes a new playback's second frame up to 20 ms early).
func BenchmarkPlaybackPacing(b *testing.B) {
	const (
		streams = 1000
		length  = 50 // frames: a second
	)
	var devs []time.Duration
	firstGap := time.Duration(1 << 62)
	for b.Loop() {
		txs := make([]*timingTransport, streams)
		pbs := make([]*Playback, streams)
		for i := range txs {
			txs[i] = &timingTransport{closed: make(chan struct{}), sent: make([]time.Time, 0, length)}
			e, err := NewEndpoint(Config{Transport: txs[i]})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if i%(streams/20) == 0 {
				time.Sleep(time.Millisecond)
			}
			pbs[i] = e.Play(context.Background(), &frames{n: length, gen: ramp})
		}
		for _, pb := range pbs {
			if err := pb.Err(); err != nil {
				b.Fatal(err)
			}
		}
		for _, tx := range txs {
			if len(tx.sent) != length {
				b.Fatalf("%d frames sent of %d", len(tx.sent), length)
			}
			firstGap = min(firstGap, tx.sent[1].Sub(tx.sent[0]))
			for k := 2; k < length; k++ {
				d := tx.sent[k].Sub(tx.sent[k-1]) - pcm.FrameDuration
				devs = append(devs, max(d, -d))
			}
		}
	}
	slices.Sort(devs)
	b.ReportMetric(float64(devs[len(devs)*99/100].Microseconds()), "p99-dev-µs")
	b.ReportMetric(float64(devs[len(devs)-1].Microseconds()), "max-dev-µs")
	b.ReportMetric(float64(firstGap.Microseconds()), "min-first-gap-µs")
}

// timingTransport notes when each RTP packet is written; it receives nothing.
type timingTransport struct {
	closed chan struct{}
	once   sync.Once
	sent   []time.Time // written under the endpoint's outbound lock
}

func (t *timingTransport) ReadRTP([]byte) (int, error)  { <-t.closed; return 0, ErrClosed }
func (t *timingTransport) ReadRTCP([]byte) (int, error) { <-t.closed; return 0, ErrClosed }
func (t *timingTransport) WriteRTCP([]byte) error       { return nil }
func (t *timingTransport) Close() error                 { t.once.Do(func() { close(t.closed) }); return nil }
func (t *timingTransport) WriteRTP([]byte) error {
	t.sent = append(t.sent, time.Now())
	return nil
}
