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
