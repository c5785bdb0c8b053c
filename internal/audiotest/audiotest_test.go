package audiotest

import (
	"math"
	"testing"

	"vox/media/pcm"
)

func sine(hz float64, n int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/pcm.SampleRate))
	}
	return x
}

func TestCarries(t *testing.T) {
	// A tone with a gap after which it resumes with another phase: what a
	// late packet leaves in a recording.
	gapped := append(append(sine(1000, 4000), make([]int16, 1600)...), sine(1000, 4003)[3:]...)
	cases := []struct {
		name string
		x    []int16
		hz   float64
		want bool
	}{
		{"the tone", sine(1000, 8000), 1000, true},
		{"the tone with a gap", gapped, 1000, true},
		{"another tone", sine(600, 8000), 1000, false},
		{"silence", make([]int16, 8000), 1000, false},
		{"mostly silence", append(make([]int16, 7600), sine(1000, 400)...), 1000, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, toned, voiced, frames := Carries(c.x, c.hz); got != c.want {
				t.Errorf("Carries = %v (%d of %d frames with sound, %d frames), want %v", got, toned, voiced, frames, c.want)
			}
		})
	}
}

func TestShare(t *testing.T) {
	if s := Share(sine(440, 8000), 440); s < 0.95 {
		t.Errorf("a pure 440 Hz tone: share %.2f", s)
	}
	if s := Share(sine(440, 8000), 1000); s > 0.05 {
		t.Errorf("440 Hz at 1000 Hz: share %.2f", s)
	}
}
