package player

import (
	"math"
	"time"

	"vox/media"
	"vox/media/pcm"
)

// Levels in a tone script are dBm0: the power at the zero-relative-level point
// of a G.711 channel. ITU-T G.711 puts the overload point of A-law at +3.14
// dBm0 (μ-law's is +3.17, 0.03 dB apart); we take a sine at the full scale of
// 16-bit linear audio (peak 32767) as that +3.14 dBm0. So 0 dBm0, the digital
// milliwatt, is a sine of peak 22 826, and the seed's -19 dBm ringback tones
// have peaks of 2 560 each.
const (
	fullScaleDBm0 = 3.14
	fullScale     = 32767.0
)

// Amplitude is the peak of a sine at level dBm0 in 16-bit linear audio.
func Amplitude(dBm0 float64) float64 {
	return fullScale * math.Pow(10, (dBm0-fullScaleDBm0)/20)
}

// toneSource plays a tone script (S23) sample by sample: each step's burst
// lasts exactly round(On × 8000) samples and its silence round(Off × 8000),
// sections repeat their count (for ever for `*`), and every burst starts at
// phase zero and stays phase-continuous to its end. With loop set, a script
// that ends starts again.
type toneSource struct {
	ts    *media.ToneScript
	omega []float64 // radians per sample, by tone
	amp   []float64
	loop  bool

	section, repeat, step int
	pos                   int64 // sample within the current step
	on, off               int64 // the current step's lengths; on < 0 is for ever
	done                  bool
}

func newToneSource(ts *media.ToneScript, loop bool) *toneSource {
	s := &toneSource{ts: ts, loop: loop}
	for _, t := range ts.Tones {
		s.omega = append(s.omega, 2*math.Pi*t.Hz/pcm.SampleRate)
		s.amp = append(s.amp, Amplitude(t.Level))
	}
	s.enterStep()
	return s
}

// samples is a duration in whole samples, rounded to the nearest.
func samples(d time.Duration) int64 {
	const period = int64(time.Second / pcm.SampleRate)
	return (int64(d) + period/2) / period
}

func (s *toneSource) enterStep() {
	st := s.ts.Sections[s.section].Steps[s.step]
	s.pos = 0
	s.on, s.off = samples(st.On), samples(st.Off)
	switch {
	case st.On == 0:
		s.on = -1 // `0` on is a tone held for ever
	case s.on == 0:
		s.on = 1 // a burst shorter than a sample still takes one, so a cadence always moves on
	}
}

// advance moves to the next step; it reports false when the script has ended
// and does not loop.
func (s *toneSource) advance() bool {
	sec := s.ts.Sections[s.section]
	s.step++
	if s.step == len(sec.Steps) {
		s.step = 0
		s.repeat++
		if sec.Repeat == 0 || s.repeat < sec.Repeat {
			s.enterStep()
			return true
		}
		s.repeat = 0
		s.section++
		if s.section == len(s.ts.Sections) {
			if !s.loop {
				return false
			}
			s.section = 0
		}
	}
	s.enterStep()
	return true
}

// read fills f; it reports false when the script had already ended. The frame
// in which it ends is completed with silence.
func (s *toneSource) read(f *pcm.Frame) bool { return s.next(f) }

// next is read, or with f nil, a frame's worth of the cadence without its
// samples.
func (s *toneSource) next(f *pcm.Frame) bool {
	if s.done {
		return false
	}
	for i := 0; i < pcm.FrameSamples; {
		n := pcm.FrameSamples - i
		if s.on < 0 || s.pos < s.on {
			if s.on >= 0 {
				n = int(min(int64(n), s.on-s.pos))
			}
			if f != nil {
				s.burst(f[i:i+n], s.pos)
			}
		} else {
			n = int(min(int64(n), s.on+s.off-s.pos))
			if f != nil {
				clear(f[i : i+n])
			}
		}
		s.pos += int64(n)
		i += n
		// Step at once, so a script that ends on a frame boundary is over
		// before the next read.
		if s.on >= 0 && s.pos == s.on+s.off && !s.advance() {
			s.done = true
			if f != nil {
				clear(f[i:])
			}
			break
		}
	}
	return true
}

// burst writes the sum of the step's tones for the samples from pos on. Each
// tone's phase is computed exactly at the start of the run and rotated by a
// fixed phasor within it, so a burst held for hours does not drift.
func (s *toneSource) burst(out []int16, pos int64) {
	st := s.ts.Sections[s.section].Steps[s.step]
	var acc [pcm.FrameSamples]float64
	for _, t := range st.Tones {
		w, a := s.omega[t-1], s.amp[t-1]
		sin, cos := math.Sincos(math.Mod(w*float64(pos), 2*math.Pi))
		dsin, dcos := math.Sincos(w)
		for i := range out {
			acc[i] += a * sin
			sin, cos = sin*dcos+cos*dsin, cos*dcos-sin*dsin
		}
	}
	for i := range out {
		out[i] = int16(max(-32768, min(32767, math.Round(acc[i]))))
	}
}
