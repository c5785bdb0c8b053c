// Package tonetest is how the media and WebRTC tests judge a tone they
// heard: the share of the energy at its frequency (Goertzel), window by
// window.
package tonetest

import (
	"math"

	"vox/media/pcm"
)

// Share is the part of x's energy at hz (Goertzel): 1 for a pure tone of hz
// over all of x, 0 for silence or other frequencies; a tone over a fraction p
// of x gives about p² where the rest is other sound, p where it is silence.
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

// Windows splits x into windows of n samples and counts those with sound
// and, of them, those where hz has at least min of the energy. Window by
// window, because on a loaded machine a late packet leaves a gap and the tone
// after it resumes with another phase, which one Goertzel filter over all of
// x counts against the tone.
func Windows(x []int16, hz float64, n int, min float64) (toned, voiced int) {
	for i := 0; i+n <= len(x); i += n {
		w := x[i : i+n]
		var energy float64
		for _, v := range w {
			energy += float64(v) * float64(v)
		}
		if math.Sqrt(energy/float64(n)) < 100 {
			continue
		}
		voiced++
		if Share(w, hz) >= min {
			toned++
		}
	}
	return toned, voiced
}
