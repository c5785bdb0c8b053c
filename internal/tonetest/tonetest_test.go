package tonetest

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

func TestShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		x        []int16
		hz       float64
		min, max float64
	}{
		{"the tone itself", sine(1000, 800), 1000, 0.95, 1.05},
		{"another tone", sine(600, 800), 1000, 0, 0.05},
		{"silence", make([]int16, 800), 1000, 0, 0},
		{"the tone over half, then another", append(sine(1000, 400), sine(600, 400)...), 1000, 0.2, 0.3},
		{"the tone over half, then silence", append(sine(1000, 400), make([]int16, 400)...), 1000, 0.45, 0.55},
	}
	for _, tt := range tests {
		if s := Share(tt.x, tt.hz); s < tt.min || s > tt.max {
			t.Errorf("%s: share %.3f, want %.2f to %.2f", tt.name, s, tt.min, tt.max)
		}
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	quiet := make([]int16, 2*pcm.FrameSamples)
	x := append(append(sine(1000, 3*pcm.FrameSamples), quiet...), sine(600, pcm.FrameSamples)...)
	x = append(x, 1, 2, 3) // a partial window is not judged
	toned, voiced := Windows(x, 1000, pcm.FrameSamples, 0.8)
	if toned != 3 || voiced != 4 {
		t.Errorf("toned %d of %d windows with sound, want 3 of 4", toned, voiced)
	}
}
