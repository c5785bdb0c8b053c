package rtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// ramp fills frame i with samples that say which frame and sample they are,
// loud enough that G.711 keeps them apart.
func ramp(i int, f *pcm.Frame) {
	for j := range f {
		f[j] = int16((i%8)*3000 + j*10 - 12000)
	}
}

func TestEndpointsExchangeAudio(t *testing.T) {
	t.Parallel()
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			pool := testPool(t)
			a := newEndpoint(t, Config{Pool: pool, Codec: codec, Clock: clock})
			b := newEndpoint(t, Config{Pool: pool, Codec: codec, Clock: clock})
			a.SetRemote(b.LocalAddr())
			b.SetRemote(a.LocalAddr())
			got := &collector{}
			b.AddSink(got)

			const n = 50
			pb := a.Play(context.Background(), &frames{n: n, gen: ramp})
			for i := 1; i < n; i++ {
				waitFor(t, "frame at the sink", func() bool { return got.frames() >= i-1 })
				clock.Tick(t)
			}
			// The first packet is the latch's probation (RFC 3550 A.1).
			waitFor(t, "all frames", func() bool { return got.frames() == n-1 })
			clock.Tick(t) // the 20 ms of the last frame
			if err := pb.Err(); err != nil {
				t.Fatalf("playback ended with %v", err)
			}
			samples := got.copy()
			var want pcm.Frame
			for i := 1; i < n; i++ {
				ramp(i, &want)
				f := samples[(i-1)*pcm.FrameSamples : i*pcm.FrameSamples]
				for j := range f {
					if d := int(f[j]) - int(want[j]); d < -600 || d > 600 {
						t.Fatalf("frame %d sample %d = %d, sent %d", i, j, f[j], want[j])
					}
				}
			}
			st := b.Stats()
			if st.PacketsReceived != n-1 || st.Lost != 0 || st.Jitter != 0 || st.Rejected != 1 {
				t.Fatalf("receiver stats %+v", st)
			}
			if st := a.Stats(); st.PacketsSent != n || st.OctetsSent != n*pcm.FrameSamples {
				t.Fatalf("sender stats %+v", st)
			}
		})
	}
}

// TestLatching follows the package comment's rule step by step.
func TestLatching(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, Config{})
	sdp := newPhone(t) // where the SDP says the phone is
	nat := newPhone(t) // where its packets really come from
	e.SetRemote(sdp.addr())
	w, err := e.OpenWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	probe := func(n byte) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(n), Timestamp: uint32(n) * 160, SSRC: 7}, Payload: []byte{n}}
	}
	expectAt := func(p *phone, n byte) {
		t.Helper()
		if err := w.WriteRTP(probe(n)); err != nil {
			t.Fatal(err)
		}
		got, from := p.read()
		if from != e.LocalAddr() || !bytes.Equal(got.Payload, []byte{n}) || got.SSRC != e.SSRC() {
			t.Fatalf("got payload %v SSRC %x from %s, want %d from the endpoint", got.Payload, got.SSRC, from, n)
		}
	}
	frame := make([]byte, 160)

	expectAt(sdp, 1) // nothing latched: the SDP address
	nat.send(e.LocalAddr(), 0, frame)
	waitFor(t, "a packet on probation", func() bool { return e.Stats().Rejected == 1 })
	expectAt(sdp, 2) // one packet is not enough
	nat.send(e.LocalAddr(), 0, frame)
	waitFor(t, "the latch", func() bool { return e.Remote() == nat.addr() })
	expectAt(nat, 3)

	// Another source with its own stream does not take over, however many
	// valid packets it sends; nor does garbage from the phone's new port.
	attacker := newPhone(t)
	for range 5 {
		attacker.send(e.LocalAddr(), 0, frame)
	}
	moved := newPhone(t)
	moved.conn.WriteToUDPAddrPort([]byte("not rtp at all"), e.LocalAddr())
	moved.sendPacket(e.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 34, SequenceNumber: nat.seq, SSRC: nat.ssrc}, Payload: frame})
	waitFor(t, "rejections", func() bool { return e.Stats().Rejected == 1+5+2 })
	expectAt(nat, 4)

	// The phone's NAT mapping changes: the same stream from a new port.
	moved.ssrc, moved.seq, moved.ts = nat.ssrc, nat.seq, nat.ts
	moved.send(e.LocalAddr(), 0, frame)
	moved.send(e.LocalAddr(), 0, frame)
	waitFor(t, "the latch to follow", func() bool { return e.Remote() == moved.addr() })
	expectAt(moved, 5)
	if st := e.Stats(); st.PacketsReceived != 2 || st.Expected != 3 || st.Lost != 1 {
		t.Fatalf("stats after the move: %+v (the moved stream's first packet was its probation)", st)
	}
	if !nat.silent() {
		t.Fatal("the old address still gets packets")
	}

	// A re-INVITE with a new address starts learning over.
	e.SetRemote(sdp.addr())
	expectAt(sdp, 6)
}

func TestEventsToHandler(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, Config{TelephoneEventPT: 96})
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	var mu sync.Mutex
	var got [][]byte
	e.OnEvent(func(p *rtp.Packet) {
		if p.PayloadType != 96 {
			t.Errorf("event with PT %d", p.PayloadType)
		}
		mu.Lock()
		got = append(got, append([]byte(nil), p.Payload...))
		mu.Unlock()
	})
	audio := &collector{}
	e.AddSink(audio)
	for range 3 {
		ph.send(e.LocalAddr(), 0, make([]byte, 160))
	}
	// Digit 5, volume 10: two updates and the end packet (RFC 4733 §2.3).
	ev := func(end bool, dur uint16) []byte {
		b := []byte{5, 10, byte(dur >> 8), byte(dur)}
		if end {
			b[1] |= 0x80
		}
		return b
	}
	ts := ph.ts
	for i, p := range [][]byte{ev(false, 160), ev(false, 320), ev(true, 480)} {
		ph.sendPacket(e.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Marker: i == 0, SequenceNumber: ph.seq, Timestamp: ts, SSRC: ph.ssrc}, Payload: p})
		ph.seq++
	}
	waitFor(t, "three events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	if !bytes.Equal(got[2], ev(true, 480)) {
		t.Fatalf("last event payload %x", got[2])
	}
	if n := audio.frames(); n != 2 {
		t.Fatalf("%d audio frames reached the sink, want 2 (events are not audio)", n)
	}
	e.OnEvent(nil)
}

// TestEventsWithOfferedPT: a far end whose answer numbered telephone-event 96
// against our 101 may send events with ours (RFC 3264 section 6.1); they are
// events as well as those with the answer's number, which we send with.
func TestEventsWithOfferedPT(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, Config{})
	e.SetTelephoneEventPT(96)
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	var mu sync.Mutex
	var pts []uint8
	e.OnEvent(func(p *rtp.Packet) {
		mu.Lock()
		pts = append(pts, p.PayloadType)
		mu.Unlock()
	})
	audio := &collector{}
	e.AddSink(audio)
	for range 3 {
		ph.send(e.LocalAddr(), 0, make([]byte, 160))
	}
	for _, pt := range []uint8{DefaultTelephoneEventPT, 96, 97} {
		ph.sendPacket(e.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: true, SequenceNumber: ph.seq, Timestamp: ph.ts, SSRC: ph.ssrc},
			Payload: []byte{5, 0x8a, 0, 160}})
		ph.seq++
	}
	// A frame after the events: once it is in, so are they.
	ph.send(e.LocalAddr(), 0, make([]byte, 160))
	waitFor(t, "the last frame", func() bool { return audio.frames() == 3 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(pts, []uint8{DefaultTelephoneEventPT, 96}) {
		t.Fatalf("events taken with payload types %v, want the offered %d and the answered 96 (97 is neither)", pts, DefaultTelephoneEventPT)
	}
	if got := e.TelephoneEventPT(); got != 96 {
		t.Fatalf("events are sent with %d, want the answer's 96", got)
	}
}

// TestWriterHoldsTheStream: an event writer takes the stream from a
// playback, the playback resumes after it, and the far end sees one stream.
func TestWriterHoldsTheStream(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEndpoint(t, Config{Clock: clock})
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	pb := e.Play(context.Background(), &frames{n: 100, gen: ramp})
	var seen []*rtp.Packet
	take := func() *rtp.Packet {
		p, _ := ph.read()
		seen = append(seen, p)
		return p
	}
	take()
	clock.Tick(t)
	take()

	w, err := e.OpenWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenWriter(); !errors.Is(err, ErrWriterBusy) {
		t.Fatalf("second writer: %v", err)
	}
	clock.Tick(t) // the playback's frame is held back
	for i := range 3 {
		clock.Advance(pcm.FrameDuration)
		w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: i == 0, SequenceNumber: uint16(9000 + i), Timestamp: 5000, SSRC: 1}, Payload: []byte{1, 10, 0, byte(160 * (i + 1))}})
		take()
	}
	w.Close()
	if err := w.WriteRTP(&rtp.Packet{}); !errors.Is(err, ErrWriterClose) {
		t.Fatalf("write after close: %v", err)
	}
	clock.Tick(t)
	take()
	e.StopPlayback()
	if err := pb.Err(); !errors.Is(err, ErrStopped) {
		t.Fatalf("playback ended with %v", err)
	}

	for i, p := range seen {
		if p.SSRC != e.SSRC() {
			t.Fatalf("packet %d SSRC %x", i, p.SSRC)
		}
		if i > 0 && p.SequenceNumber != seen[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d seq %d after %d", i, p.SequenceNumber, seen[i-1].SequenceNumber)
		}
	}
	pts := []uint8{0, 0, 101, 101, 101, 0}
	for i, p := range seen {
		if p.PayloadType != pts[i] {
			t.Fatalf("packet %d PT %d, want %d", i, p.PayloadType, pts[i])
		}
	}
	// The event's packets share its start timestamp; it starts after the
	// playback's last frame, and the audio after it where the clock is.
	if seen[2].Timestamp != seen[3].Timestamp || seen[3].Timestamp != seen[4].Timestamp {
		t.Fatal("event packets have different timestamps")
	}
	if d := seen[2].Timestamp - seen[1].Timestamp; d != 2*160 {
		t.Fatalf("event starts %d units after the last audio, want 320", d)
	}
	if d := seen[5].Timestamp - seen[2].Timestamp; d != 3*160 {
		t.Fatalf("audio resumes %d units after the event start, want 480", d)
	}
	if !seen[2].Marker || !seen[5].Marker {
		t.Fatal("no marker bit at a switch of writer")
	}
}

func TestEndpointErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewEndpoint(Config{}); !errors.Is(err, ErrNoPool) {
		t.Fatalf("no pool: %v", err)
	}
	if _, err := NewEndpoint(Config{Pool: testPool(t), Codec: 18}); !errors.Is(err, ErrCodec) {
		t.Fatalf("G.729: %v", err)
	}
	e := newEndpoint(t, Config{})
	if err := e.SetCodec(9); !errors.Is(err, ErrCodec) {
		t.Fatalf("SetCodec(G.722): %v", err)
	}
	if err := e.SendMediaTo(e); !errors.Is(err, ErrSelf) {
		t.Fatalf("media to itself: %v", err)
	}
	e.Close()
	if err := e.Play(context.Background(), &frames{n: 1, gen: ramp}).Err(); !errors.Is(err, ErrClosed) {
		t.Fatalf("play after close: %v", err)
	}
	if _, err := e.OpenWriter(); !errors.Is(err, ErrClosed) {
		t.Fatalf("writer after close: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := newEndpoint(t, Config{Clock: newFakeClock()})
	pb := f.Play(ctx, &frames{n: 10, gen: ramp})
	cancel()
	if err := pb.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled playback: %v", err)
	}
	pb = f.Play(context.Background(), &frames{n: 10, gen: ramp})
	f.Play(context.Background(), &frames{n: 10, gen: ramp})
	if err := pb.Err(); !errors.Is(err, ErrReplaced) {
		t.Fatalf("replaced playback: %v", err)
	}
}

// TestPlaybackEndingUnderAWriter: a playback that ends while an event Writer
// holds the stream (SendDigits right after StopPlayback) leaves the event's
// timeline alone: its packets keep one timestamp and one marker bit.
func TestPlaybackEndingUnderAWriter(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEndpoint(t, Config{Clock: clock})
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	pb := e.Play(context.Background(), &frames{n: 100, gen: ramp})
	ph.read()

	w, err := e.OpenWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	event := func(i int) *rtp.Packet {
		w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: i == 0, SequenceNumber: uint16(i), Timestamp: 7000}, Payload: []byte{5, 10, 0, byte(160 * i)}})
		p, _ := ph.read()
		return p
	}
	first := event(0)
	e.StopPlayback()
	<-pb.Done()
	second := event(1)
	if second.Timestamp != first.Timestamp || second.Marker {
		t.Fatalf("event's second packet: timestamp %d (first %d), marker %v", second.Timestamp, first.Timestamp, second.Marker)
	}
}

// TestEndpointDebugLog: debug messages name the endpoint by its port.
func TestEndpointDebugLog(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(b)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEndpoint(t, Config{Pool: testPool(t), Logger: log})
	ph := newPhone(t)
	for range minSequential {
		ph.send(e.LocalAddr(), uint8(PCMU), make([]byte, pcm.FrameSamples))
	}
	want := fmt.Sprintf("msg=\"rtp latched\" rtp=%d from=%s", e.LocalAddr().Port(), ph.addr())
	waitFor(t, "the latch logged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), want)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestEndpointsOverIPv6: a pool on an IPv6 address, whose sockets are read
// apart (see socket_linux.go), carries RTP and RTCP both ways.
func TestEndpointsOverIPv6(t *testing.T) {
	t.Parallel()
	base := 40000 + 2*rand.IntN(8000)
	pool, err := NewPortPool(PortPoolConfig{Addr: netip.IPv6Loopback(), MinPort: base, MaxPort: base + 400})
	if err != nil {
		t.Fatal(err)
	}
	a := newEndpoint(t, Config{Pool: pool, RTCPInterval: 20 * time.Millisecond})
	b := newEndpoint(t, Config{Pool: pool, RTCPInterval: 20 * time.Millisecond})
	a.SetRemote(b.LocalAddr())
	b.SetRemote(a.LocalAddr())
	got := &collector{}
	b.AddSink(got)
	a.Play(context.Background(), &frames{n: 1 << 20, gen: ramp})
	b.Play(context.Background(), &frames{n: 1 << 20, gen: ramp})
	waitFor(t, "audio over IPv6", func() bool { return got.frames() > 5 })
	waitFor(t, "a report over IPv6", func() bool { return a.Stats().RemoteReport })
}
