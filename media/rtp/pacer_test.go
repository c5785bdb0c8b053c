package rtp

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// TestPlaybacksShareThePacer: playbacks on one clock, started together and
// of different lengths, each send one frame per tick, one stream each with
// continuous numbering, and each ends on the tick after its last frame.
func TestPlaybacksShareThePacer(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	lengths := []int{5, 3, 4, 1}
	var (
		phones []*phone
		pbs    []*Playback
	)
	for _, n := range lengths {
		e := newEndpoint(t, Config{Clock: clock})
		ph := newPhone(t)
		e.SetRemote(ph.addr())
		phones = append(phones, ph)
		pbs = append(pbs, e.Play(context.Background(), &frames{n: n, gen: ramp}))
	}
	last := make([]*rtp.Packet, len(lengths))
	for tick := 0; tick <= 5; tick++ {
		for i, n := range lengths {
			switch {
			case tick < n:
				p, _ := phones[i].read()
				if p.Marker != (tick == 0) {
					t.Fatalf("playback %d frame %d: marker %v", i, tick, p.Marker)
				}
				if l := last[i]; l != nil && (p.SequenceNumber != l.SequenceNumber+1 || p.Timestamp != l.Timestamp+pcm.FrameSamples) {
					t.Fatalf("playback %d frame %d: seq %d ts %d after %d %d", i, tick, p.SequenceNumber, p.Timestamp, l.SequenceNumber, l.Timestamp)
				}
				last[i] = p
				select {
				case <-pbs[i].Done():
					t.Fatalf("playback %d ended after %d of %d frames", i, tick+1, n)
				default:
				}
			case tick == n:
				select {
				case <-pbs[i].Done():
				case <-time.After(5 * time.Second):
					t.Fatalf("playback %d did not end on the tick after its last frame", i)
				}
				if err := pbs[i].Err(); err != nil {
					t.Fatalf("playback %d: %v", i, err)
				}
				if !phones[i].silent() {
					t.Fatalf("playback %d sent after its end", i)
				}
			}
		}
		clock.Tick(t)
	}
	if clock.Tick(t) {
		t.Fatal("a pacer still ticks with nothing to play")
	}
}

// encodedFrames is frames that has every other frame encoded already, as a
// byte that says which frame and law it is, and reports the codec asked.
type encodedFrames struct {
	frames
	codecs []Codec
}

func (s *encodedFrames) ReadPayload(dst []byte, c Codec) bool {
	s.codecs = append(s.codecs, c)
	if s.i%2 == 1 || s.i >= s.n {
		return false
	}
	for j := range pcm.FrameSamples {
		dst[j] = byte(s.i) ^ byte(c)
	}
	s.i++
	return true
}

// TestPlaybackSendsEncodedFrames: a PayloadReader's payloads go out as they
// are, in the endpoint's codec, and the frames it does not have encoded are
// read and encoded, on one timeline.
func TestPlaybackSendsEncodedFrames(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEndpoint(t, Config{Clock: clock, Codec: PCMA})
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	const n = 6
	src := &encodedFrames{frames: frames{n: n, gen: ramp}}
	pb := e.Play(context.Background(), src)
	var last *rtp.Packet
	for i := range n {
		p, _ := ph.read()
		if p.PayloadType != uint8(PCMA) || len(p.Payload) != pcm.FrameSamples {
			t.Fatalf("frame %d: payload type %d, %d bytes", i, p.PayloadType, len(p.Payload))
		}
		if last != nil && (p.SequenceNumber != last.SequenceNumber+1 || p.Timestamp != last.Timestamp+pcm.FrameSamples) {
			t.Fatalf("frame %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, last.SequenceNumber, last.Timestamp)
		}
		last = p
		want := make([]byte, pcm.FrameSamples)
		if i%2 == 0 {
			for j := range want {
				want[j] = byte(i) ^ byte(PCMA)
			}
		} else {
			var f pcm.Frame
			ramp(i, &f)
			PCMA.Encode(want, f[:])
		}
		if string(p.Payload) != string(want) {
			t.Fatalf("frame %d: payload %x, want %x", i, p.Payload[:4], want[:4])
		}
		clock.Tick(t)
	}
	if err := pb.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range src.codecs {
		if c != PCMA {
			t.Fatalf("asked for %s", c)
		}
	}
}
