package rtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// bridged is two Vox legs bridged, each with a phone at the far end, on one
// fake clock.
type bridged struct {
	clock  *fakeClock
	a, b   *Endpoint
	pa, pb *phone
}

func newBridged(t *testing.T, ca, cb Codec) *bridged {
	clock := newFakeClock()
	pool := testPool(t)
	x := &bridged{
		clock: clock,
		a:     newEndpoint(t, Config{Pool: pool, Codec: ca, Clock: clock}),
		b:     newEndpoint(t, Config{Pool: pool, Codec: cb, Clock: clock, TelephoneEventPT: 96}),
		pa:    newPhone(t),
		pb:    newPhone(t),
	}
	x.a.SetRemote(x.pa.addr())
	x.b.SetRemote(x.pb.addr())
	return x
}

// received is a packet as the far end saw it, with the clock when it left.
type received struct {
	p  *rtp.Packet
	at time.Time
}

// TestBridgeContinuity: relay, stop and restart, hold music, relay again —
// the far end sees one stream: one SSRC, sequence numbers without a jump,
// timestamps that advance with the clock, a marker at every switch.
func TestBridgeContinuity(t *testing.T) {
	t.Parallel()
	x := newBridged(t, PCMU, PCMU)
	var got []received
	take := func() {
		p, _ := x.pb.read()
		got = append(got, received{p, x.clock.Now()})
	}
	relay := func(n int, expect bool) {
		for range n {
			x.clock.Advance(pcm.FrameDuration)
			x.pa.send(x.a.LocalAddr(), 0, bytes.Repeat([]byte{0x55}, 160))
			if expect {
				take()
			}
		}
	}
	if err := SendMediaBetween(x.a, x.b); err != nil {
		t.Fatal(err)
	}
	relay(1, false) // the latch's probation at A
	relay(10, true)
	switches := []int{0}

	StopMediaBetween(x.a, x.b)
	relay(3, false)
	waitFor(t, "A to take the packets", func() bool { return x.a.Stats().PacketsReceived == 13 })
	if err := SendMediaBetween(x.a, x.b); err != nil {
		t.Fatal(err)
	}
	switches = append(switches, len(got))
	relay(3, true)

	// Hold: stop the bridge and play music, then bridge again.
	StopMediaBetween(x.a, x.b)
	switches = append(switches, len(got))
	pb := x.b.Play(context.Background(), &frames{n: 5, gen: ramp})
	take()
	for range 4 {
		x.clock.Tick(t)
		take()
	}
	x.clock.Tick(t)
	if err := pb.Err(); err != nil {
		t.Fatal(err)
	}
	x.clock.Advance(3 * pcm.FrameDuration)
	if err := SendMediaBetween(x.a, x.b); err != nil {
		t.Fatal(err)
	}
	switches = append(switches, len(got))
	relay(10, true)
	if !x.pb.silent() {
		t.Fatal("a packet the bridge should have dropped reached the far end")
	}

	if len(got) != 28 {
		t.Fatalf("%d packets at the far end, want 28", len(got))
	}
	for i, r := range got {
		p := r.p
		if p.SSRC != x.b.SSRC() {
			t.Fatalf("packet %d SSRC %x, want %x", i, p.SSRC, x.b.SSRC())
		}
		if p.Marker != (i == switches[0] || i == switches[1] || i == switches[2] || i == switches[3]) {
			t.Fatalf("packet %d marker %v; switches at %v", i, p.Marker, switches)
		}
		if i == 0 {
			continue
		}
		prev := got[i-1]
		if p.SequenceNumber != prev.p.SequenceNumber+1 {
			t.Fatalf("packet %d seq %d after %d", i, p.SequenceNumber, prev.p.SequenceNumber)
		}
		// A writer that takes over sooner than 20 ms after the last
		// packet starts after that packet's audio.
		elapsed := max(uint32(r.at.Sub(prev.at)/(time.Second/ClockRate)), pcm.FrameSamples)
		if d := p.Timestamp - prev.p.Timestamp; d != elapsed {
			t.Fatalf("packet %d timestamp +%d after %v, want +%d", i, d, r.at.Sub(prev.at), elapsed)
		}
	}
}

func tone(hz float64, amp float64) func(i int, f *pcm.Frame) {
	return func(i int, f *pcm.Frame) {
		for j := range f {
			k := float64(i*pcm.FrameSamples + j)
			f[j] = int16(amp * math.Sin(2*math.Pi*hz*k/pcm.SampleRate+0.3))
		}
	}
}

func snr(want, got []int16) float64 {
	var s, e float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		s += float64(want[i]) * float64(want[i])
		e += d * d
	}
	return 10 * math.Log10(s/e)
}

// TestBridgeTranscodes: a PCMU leg bridged to a PCMA leg, both ways.
func TestBridgeTranscodes(t *testing.T) {
	t.Parallel()
	x := newBridged(t, PCMU, PCMA)
	if err := SendMediaBetween(x.a, x.b); err != nil {
		t.Fatal(err)
	}
	gen := tone(1000, 12000)
	for _, dir := range []struct {
		name     string
		from, to *phone
		via      *Endpoint
		in, out  Codec
	}{
		{"PCMU→PCMA", x.pa, x.pb, x.a, PCMU, PCMA},
		{"PCMA→PCMU", x.pb, x.pa, x.b, PCMA, PCMU},
	} {
		var f pcm.Frame
		payload := make([]byte, pcm.FrameSamples)
		dir.from.send(dir.via.LocalAddr(), uint8(dir.in), payload) // probation
		for i := range 20 {
			gen(i, &f)
			dir.in.Encode(payload, f[:])
			dir.from.send(dir.via.LocalAddr(), uint8(dir.in), payload)
			p, _ := dir.to.read()
			if p.PayloadType != uint8(dir.out) || len(p.Payload) != pcm.FrameSamples {
				t.Fatalf("%s: PT %d, %d bytes", dir.name, p.PayloadType, len(p.Payload))
			}
			got := make([]int16, pcm.FrameSamples)
			dir.out.Decode(got, p.Payload)
			if s := snr(f[:], got); s < 30 {
				t.Fatalf("%s: frame %d SNR %.1f dB", dir.name, i, s)
			}
		}
	}
}

// TestBridgeRelaysEvents: RFC 4733 packets cross the bridge with the
// payload type the far leg negotiated.
func TestBridgeRelaysEvents(t *testing.T) {
	t.Parallel()
	x := newBridged(t, PCMU, PCMU)
	if err := x.a.SendMediaTo(x.b); err != nil {
		t.Fatal(err)
	}
	x.pa.send(x.a.LocalAddr(), 0, make([]byte, 160))
	x.pa.send(x.a.LocalAddr(), 0, make([]byte, 160))
	if p, _ := x.pb.read(); p.PayloadType != 0 {
		t.Fatalf("audio arrived with PT %d", p.PayloadType)
	}
	ev := []byte{9, 0x8a, 0x03, 0x20}
	x.pa.send(x.a.LocalAddr(), DefaultTelephoneEventPT, ev)
	p, _ := x.pb.read()
	if p.PayloadType != 96 || !bytes.Equal(p.Payload, ev) {
		t.Fatalf("event arrived as PT %d payload %x", p.PayloadType, p.Payload)
	}
	// One way only: B's media does not reach A's phone.
	x.pb.send(x.b.LocalAddr(), 0, make([]byte, 160))
	x.pb.send(x.b.LocalAddr(), 0, make([]byte, 160))
	if !x.pa.silent() {
		t.Fatal("SendMediaTo relayed the other way too")
	}
}

// TestToneThroughBridge plays a 1 kHz tone from one phone endpoint through
// a bridge of two legs into another phone endpoint, records it with a sink,
// and checks frequency and length, ours and sox's.
func TestToneThroughBridge(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	pool := testPool(t)
	open := func(c Codec) *Endpoint { return newEndpoint(t, Config{Pool: pool, Clock: clock, Codec: c}) }
	caller, a, b, callee := open(PCMA), open(PCMA), open(PCMU), open(PCMU)
	caller.SetRemote(a.LocalAddr())
	a.SetRemote(caller.LocalAddr())
	b.SetRemote(callee.LocalAddr())
	callee.SetRemote(b.LocalAddr())
	if err := SendMediaBetween(a, b); err != nil {
		t.Fatal(err)
	}
	rec := &collector{}
	callee.AddSink(rec)

	const n = 100
	pb := caller.Play(context.Background(), &frames{n: n, gen: tone(1000, 8000)})
	for i := 0; i < n; i++ {
		// Packet i left the caller; the first is A's probation, the
		// first B relays is the callee's.
		waitFor(t, "the bridge", func() bool { return b.Stats().PacketsSent == uint64(max(i, 0)) })
		waitFor(t, "the callee", func() bool {
			st := callee.Stats()
			return st.PacketsReceived+st.Rejected == b.Stats().PacketsSent
		})
		clock.Tick(t)
	}
	if err := pb.Err(); err != nil {
		t.Fatal(err)
	}
	samples := rec.copy()
	if want := (n - 2) * pcm.FrameSamples; len(samples) != want {
		t.Fatalf("recorded %d samples, want %d (two probation packets)", len(samples), want)
	}
	crossings := 0
	for i := 1; i < len(samples); i++ {
		if (samples[i-1] < 0) != (samples[i] < 0) {
			crossings++
		}
	}
	secs := float64(len(samples)) / pcm.SampleRate
	if hz := float64(crossings) / 2 / secs; math.Abs(hz-1000) > 5 {
		t.Fatalf("zero crossings say %.1f Hz", hz)
	}

	// sox reads the recording as a WAV file.
	path := filepath.Join(t.TempDir(), "tone.wav")
	if err := os.WriteFile(path, wav(samples), 0o600); err != nil {
		t.Fatal(err)
	}
	if d := strings.TrimSpace(runSox(t, "--i", "-D", path)); d != "1.960000" {
		t.Fatalf("sox --i -D says %q, want 1.960000", d)
	}
	stat := runSox(t, path, "-n", "stat")
	m := regexp.MustCompile(`Rough\s+frequency:\s+(\d+)`).FindStringSubmatch(stat)
	if m == nil {
		t.Fatalf("no frequency in sox stat:\n%s", stat)
	}
	// sox estimates the frequency from the RMS of the sample-to-sample
	// difference, which for a sine at fs/8 reads low by sin(π/8)/(π/8):
	// a true 1000 Hz shows as 974 Hz.
	if hz, _ := strconv.Atoi(m[1]); hz < 964 || hz > 984 {
		t.Fatalf("sox stat says %d Hz:\n%s", hz, stat)
	}
}

// wav is a mono 16-bit 8 kHz WAV file of samples.
func wav(samples []int16) []byte {
	var b bytes.Buffer
	size := uint32(2 * len(samples))
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, 36+size)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(pcm.SampleRate), uint32(2 * pcm.SampleRate), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, size)
	binary.Write(&b, binary.LittleEndian, samples)
	return b.Bytes()
}

// TestRelayHeaderInPlace: the relay writes its header over the received one
// in the receive buffer. A packet with CSRCs, an extension and padding goes
// out as a plain header and the payload alone, to two targets at once (one
// relayed, one transcoded), while a sink on the source still gets the audio.
func TestRelayHeaderInPlace(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	src := newEndpoint(t, Config{Pool: pool})
	same := newEndpoint(t, Config{Pool: pool})
	other := newEndpoint(t, Config{Pool: pool, Codec: PCMA})
	ph, pSame, pOther := newPhone(t), newPhone(t), newPhone(t)
	src.SetRemote(ph.addr())
	same.SetRemote(pSame.addr())
	other.SetRemote(pOther.addr())
	sink := &collector{}
	src.AddSink(sink)
	if err := src.SendMediaTo(same); err != nil {
		t.Fatal(err)
	}
	if err := src.SendMediaTo(other); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, pcm.FrameSamples)
	for i := range payload {
		payload[i] = byte(0x80 + i%0x70)
	}
	want := make([]byte, len(payload))
	Transcode(want, PCMA, PCMU, payload)
	for i := range 3 {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(PCMU), SequenceNumber: ph.seq, Timestamp: ph.ts, SSRC: ph.ssrc,
			CSRC: []uint32{7, 8}, Padding: true, PaddingSize: 4}, Payload: payload}
		if err := pkt.Header.SetExtension(1, []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		ph.sendPacket(src.LocalAddr(), pkt)
		ph.seq++
		ph.ts += pcm.FrameSamples
		if i == 0 {
			continue // the latch's probation
		}
		for _, c := range []struct {
			p       *phone
			e       *Endpoint
			payload []byte
		}{{pSame, same, payload}, {pOther, other, want}} {
			got, from := c.p.read()
			if from != c.e.LocalAddr() || got.SSRC != c.e.SSRC() || len(got.CSRC) != 0 || got.Extension || got.Padding {
				t.Fatalf("packet %d from %v: %+v", i, from, got.Header)
			}
			if !bytes.Equal(got.Payload, c.payload) {
				t.Fatalf("packet %d payload %x, want %x", i, got.Payload, c.payload)
			}
		}
	}
	waitFor(t, "the sink's frames", func() bool { return sink.frames() == 2 })
	var wantFrame pcm.Frame
	PCMU.Decode(wantFrame[:], payload)
	if s := sink.copy(); !slices.Equal(s[:pcm.FrameSamples], wantFrame[:]) || !slices.Equal(s[pcm.FrameSamples:], wantFrame[:]) {
		t.Fatal("the sink did not get the audio the source received")
	}
}

// TestHoldStopsSending: while the far end has the call on hold, nothing is sent
// to it; when it unholds, the stream resumes with the next sequence number and
// a marker, as after any switch.
func TestHoldStopsSending(t *testing.T) {
	t.Parallel()
	x := newBridged(t, PCMU, PCMU)
	if err := x.a.SendMediaTo(x.b); err != nil {
		t.Fatal(err)
	}
	send := func() {
		x.clock.Advance(pcm.FrameDuration)
		x.pa.send(x.a.LocalAddr(), 0, bytes.Repeat([]byte{0x55}, 160))
	}
	send() // the latch's probation at A
	send()
	before, _ := x.pb.read()

	x.b.SetSending(false)
	for range 5 {
		send()
	}
	waitFor(t, "A to take the packets on hold", func() bool { return x.a.Stats().PacketsReceived == 6 })
	if !x.pb.silent() {
		t.Fatal("a packet reached the far end while it had the call on hold")
	}

	x.b.SetSending(true)
	send()
	after, _ := x.pb.read()
	if after.SequenceNumber != before.SequenceNumber+1 || !after.Marker || after.SSRC != before.SSRC {
		t.Errorf("after unhold: seq %d (before %d), marker %v, SSRC %x (before %x); want the next number, a marker, the same SSRC",
			after.SequenceNumber, before.SequenceNumber, after.Marker, after.SSRC, before.SSRC)
	}
	if int32(after.Timestamp-before.Timestamp) < 6*160 {
		t.Errorf("after unhold the timestamp moved %d, want at least the 6 frames' time", after.Timestamp-before.Timestamp)
	}
}
