package player

import (
	"math"

	"vox/media/pcm"
)

// The low-pass in front of every rate change: a Kaiser-windowed sinc whose
// pass band ends at 3300 Hz (the top of the telephone band, ITU-T G.712) and
// whose stop band starts at 4000 Hz, the Nyquist frequency of pcm.SampleRate,
// so content above it (a 6 kHz tone in a 44.1 kHz file) is attenuated by
// about stopbandDB instead of folding back into the call as an alias. For an
// input below 8 kHz the same shape is scaled to the input's Nyquist frequency
// and removes the images of upsampling instead.
const (
	stopbandDB = 60
	passEdge   = 3300.0 / 4000 // as fractions of the lower Nyquist frequency
	stopEdge   = 1.0
)

// resampler converts mono audio at one sample rate to pcm.SampleRate. It is a
// polyphase filter: the rates reduce to up/down (44100 -> 8000 is 80/441), so
// every output sample falls on one of up fixed phases between two input
// samples, and each phase has its own precomputed taps. It is fed in blocks, so
// a long file never has to sit in memory at its original rate.
type resampler struct {
	up, down int64
	half     int       // taps on each side of an output sample
	bank     []float32 // phase p's 2*half taps at bank[p*2*half:]
	buf      []float32 // input from absolute index base on
	base     int64
	total    int64 // input samples pushed
	next     int64 // index of the next output sample
	identity bool
}

func newResampler(inRate int) *resampler {
	g := gcd(inRate, pcm.SampleRate)
	r := &resampler{up: int64(pcm.SampleRate / g), down: int64(inRate / g)}
	if inRate == pcm.SampleRate {
		r.identity = true
		return r
	}
	// Everything in units of the input's sample period: the filter edges are
	// fractions of the input's Nyquist frequency (0.5 cycles per sample).
	nyquist := 0.5 * float64(min(inRate, pcm.SampleRate)) / float64(inRate)
	cutoff := nyquist * (passEdge + stopEdge) / 2 // the -6 dB point
	width := nyquist * (stopEdge - passEdge)
	// Kaiser's design formulas (Oppenheim & Schafer, Discrete-Time Signal
	// Processing, 7.6): the window's beta and length for the wanted
	// attenuation and transition width.
	beta := 0.1102 * (stopbandDB - 8.7)
	length := (stopbandDB - 8) / (2.285 * 2 * math.Pi * width)
	r.half = int(math.Ceil(length/2)) + 1
	taps := 2 * r.half
	r.bank = make([]float32, int(r.up)*taps)
	i0beta := besselI0(beta)
	for p := range int(r.up) {
		frac := float64(p) / float64(r.up)
		phase := r.bank[p*taps : (p+1)*taps]
		var sum float64
		coef := make([]float64, taps)
		for j := range taps {
			// Tap j weighs input sample k0-half+1+j for an output at k0+frac.
			x := float64(j-r.half+1) - frac
			u := x / float64(r.half)
			if u <= -1 || u >= 1 {
				continue
			}
			coef[j] = 2 * cutoff * sinc(2*cutoff*x) * besselI0(beta*math.Sqrt(1-u*u)) / i0beta
			sum += coef[j]
		}
		// Unity gain at DC on every phase, so a constant stays constant.
		for j := range taps {
			phase[j] = float32(coef[j] / sum)
		}
	}
	// half-1 samples of silence before the first input, so the first output's
	// taps never reach before the buffer.
	r.base = -int64(r.half - 1)
	r.buf = make([]float32, r.half-1)
	return r
}

// outLen is how many output samples n input samples make: one for every
// output instant before the end of the input, so a second in gives a second out.
func (r *resampler) outLen(n int64) int64 {
	return (n*r.up + r.down - 1) / r.down
}

// push feeds input samples in [-1, 1] and appends the output that is complete.
func (r *resampler) push(in []float32, out []int16) []int16 {
	r.total += int64(len(in))
	if r.identity {
		for _, v := range in {
			out = append(out, toInt16(v))
		}
		return out
	}
	r.buf = append(r.buf, in...)
	return r.drain(out, r.outLen(r.total))
}

// flush appends the output that depends on the end of the input.
func (r *resampler) flush(out []int16) []int16 {
	if r.identity {
		return out
	}
	r.buf = append(r.buf, make([]float32, r.half+1)...)
	return r.drain(out, r.outLen(r.total))
}

func (r *resampler) drain(out []int16, limit int64) []int16 {
	taps := 2 * r.half
	end := r.base + int64(len(r.buf))
	for r.next < limit {
		pos := r.next * r.down
		k0, p := pos/r.up, pos%r.up
		if k0+int64(r.half) >= end {
			break
		}
		x := r.buf[k0-int64(r.half)+1-r.base:][:taps]
		h := r.bank[int(p)*taps:][:taps]
		var acc float32
		for j, c := range h {
			acc += c * x[j]
		}
		out = append(out, toInt16(acc))
		r.next++
	}
	// Drop the input no later output will reach.
	first := (r.next*r.down)/r.up - int64(r.half) + 1
	if drop := first - r.base; drop > 0 && drop <= int64(len(r.buf)) {
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
		r.base = first
	}
	return out
}

func toInt16(v float32) int16 {
	s := math.Round(float64(v) * 32768)
	return int16(max(-32768, min(32767, s)))
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by its
// power series; it converges fast for the arguments a Kaiser window uses.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; term > 1e-12*sum; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
