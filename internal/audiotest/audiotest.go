// Package audiotest tells tests whether 8 kHz audio carries a tone.
package audiotest

import (
	"math"

	"vox/media/pcm"
)

// Share is the part of x's energy at hz (Goertzel): 1 for a pure tone of hz
// over all of x, 0 for silence or other frequencies; a tone over a fraction p
// of x gives about p with silence in the rest, p² with other sound as loud.
func Share(x []int16, hz float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*hz/pcm.SampleRate)
	var s1, s2, energy float64
	for _, v := range x {
		s := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s
		energy += float64(v) * float64(v)
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(len(x)) * energy)
}

// silence is the RMS below which a window counts as no sound.
const silence = 100

// ToneWindows splits x into windows of n samples and counts those with sound
// and, of them, those where hz has at least min of the energy. Window by
// window, because on a loaded machine a late packet leaves a gap and the tone
// after it resumes with another phase, which one Goertzel filter over all of
// x counts against the tone.
func ToneWindows(x []int16, hz float64, n int, min float64) (toned, voiced int) {
	for i := 0; i+n <= len(x); i += n {
		w := x[i : i+n]
		var energy float64
		for _, v := range w {
			energy += float64(v) * float64(v)
		}
		if math.Sqrt(energy/float64(n)) < silence {
			continue
		}
		voiced++
		if Share(w, hz) >= min {
			toned++
		}
	}
	return toned, voiced
}

// Carries reports whether x carries a tone of hz as a phone hears it: sound
// in a quarter of its 20 ms frames at least, and in nine of ten of those the
// tone is nearly all the energy.
func Carries(x []int16, hz float64) (ok bool, toned, voiced, frames int) {
	toned, voiced = ToneWindows(x, hz, pcm.FrameSamples, 0.8)
	frames = len(x) / pcm.FrameSamples
	return voiced >= frames/4 && float64(toned) >= 0.9*float64(voiced), toned, voiced, frames
}
