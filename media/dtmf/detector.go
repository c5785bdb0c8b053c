package dtmf

import (
	"fmt"
	"math"
	"time"

	"vox/media/pcm"
)

// DetectOptions tune the in-band detector; the zero value follows ITU-T Q.24's
// usual figures.
type DetectOptions struct {
	// MinTone is the shortest tone taken as a digit; 40 ms when zero
	// (Q.24: tones of 40 ms must be recognised). Tones shorter than about
	// 25 ms are never taken.
	MinTone time.Duration
	// MinPause is the shortest silence that separates two digits (a break
	// shorter than this inside a tone does not make it two); 40 ms when zero.
	MinPause time.Duration
	// MinLevel is the weakest tone accepted, in dBm0, per frequency; -30 when
	// zero.
	MinLevel float64
	// NormalTwist is how much weaker (dB) the column tone may be than the row
	// tone; 8 when zero. ReverseTwist is how much weaker the row tone may be
	// than the column tone; 4 when zero. Telephone lines lose more of the high
	// group, so the normal twist is the larger.
	NormalTwist  float64
	ReverseTwist float64
}

// Detection constants. Windows of 102 samples (12.75 ms) are long enough that
// the Goertzel filters (main lobe ±78 Hz) tell neighbouring rows apart and
// short enough to accept the ±1.5% frequency deviation Q.24 requires. They
// overlap by half (a new window every 51 samples, 6.4 ms), which measures a
// tone's length finely enough to take 40 ms tones and never 20 ms ones: a
// window counts when most of it holds the tone, so a tone of L samples makes
// about L/51 windows in a row.
const (
	windowSamples = 102
	hopSamples    = windowSamples / 2
	// relativePeak: the strongest row (column) must stand this many dB above
	// every other row (column), or it is not one clean tone.
	relativePeak = 6.0
	// minToneShare: the two tones must carry this share of the window's
	// energy. Speech and music spread energy over many frequencies; a DTMF
	// pair, even with noise 10 dB below it, holds most of it. It is also
	// what makes a window count only when the tone fills most of it.
	minToneShare = 0.5
	// harmonicMargin: a column tone's second harmonic must be this many dB
	// below it. A pure tone has almost none; voiced speech and music that
	// happen to peak at a column frequency have plenty.
	harmonicMargin = 10.0
)

// Detector finds DTMF digits in 8 kHz audio (Goertzel filters at the eight
// DTMF frequencies over 12.75 ms windows), for phones that send digits in band
// instead of as RFC 4733 events. A window counts as a digit when both tones are
// above MinLevel, one row and one column clearly dominate their groups, the
// twist is within limits, the pair holds most of the window's energy and the
// column tone has no strong second harmonic; a digit is reported once, when it
// has lasted MinTone, and again only after MinPause without it.
//
// A Detector is fed by one goroutine; it is not safe for concurrent use.
type Detector struct {
	window [windowSamples]float64 // the current window
	n      int                    // samples in it

	rowCoeff, colCoeff [4]float64
	harmCoeff          [4]float64 // second harmonics of the columns
	minPower           float64

	normalTwist, reverseTwist, relPeak, harmonic float64 // as power ratios
	onWindows, pauseWindows                      int

	last   byte // candidate of the previous window, 0 for none
	streak int  // windows in a row with that candidate
	active byte // digit reported and not yet ended, 0 for none
	gap    int  // windows since the active digit was last seen
}

// Check reports whether NewDetector would take o, without making a Detector.
func (o DetectOptions) Check() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults fills in what o leaves zero and checks the result.
func (o DetectOptions) withDefaults() (DetectOptions, error) {
	if o.MinTone == 0 {
		o.MinTone = 40 * time.Millisecond
	}
	if o.MinPause == 0 {
		o.MinPause = 40 * time.Millisecond
	}
	if o.MinLevel == 0 {
		o.MinLevel = -30
	}
	if o.NormalTwist == 0 {
		o.NormalTwist = 8
	}
	if o.ReverseTwist == 0 {
		o.ReverseTwist = 4
	}
	if o.MinTone < 0 || o.MinPause < 0 || o.NormalTwist < 0 || o.ReverseTwist < 0 || o.MinLevel > 3.17 {
		return o, fmt.Errorf("dtmf: invalid detect options %+v", o)
	}
	return o, nil
}

// NewDetector returns a Detector with opts.
func NewDetector(opts DetectOptions) (*Detector, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Detector{
		normalTwist:  dB(opts.NormalTwist),
		reverseTwist: dB(opts.ReverseTwist),
		relPeak:      dB(relativePeak),
		harmonic:     dB(harmonicMargin),
		onWindows:    max(1, hopsIn(opts.MinTone)-1),
		pauseWindows: max(1, hopsIn(opts.MinPause)-2),
	}
	for i := range 4 {
		d.rowCoeff[i] = goertzelCoeff(rowFreqs[i])
		d.colCoeff[i] = goertzelCoeff(colFreqs[i])
		d.harmCoeff[i] = goertzelCoeff(2 * colFreqs[i])
	}
	// A sine of peak A gives a Goertzel power of (A·N/2)² at its frequency.
	a := dBm0Peak * math.Pow(10, opts.MinLevel/20)
	d.minPower = (a * windowSamples / 2) * (a * windowSamples / 2)
	return d, nil
}

// hopsIn is how many window hops fit in d. A tone makes at least one window
// fewer than that in a row, wherever it starts; a pause spoils at least two
// fewer (the windows at its edges still hold much of the tones around it),
// which for 40 ms is four windows: a 12 ms break spoils at most three.
func hopsIn(d time.Duration) int {
	return int(d * pcm.SampleRate / time.Second / hopSamples)
}

func dB(x float64) float64 { return math.Pow(10, x/10) }

func goertzelCoeff(f float64) float64 { return 2 * math.Cos(2*math.Pi*f/pcm.SampleRate) }

// goertzel returns the power of a window at the frequency of coeff.
func goertzel(window *[windowSamples]float64, coeff float64) float64 {
	var s1, s2 float64
	for _, x := range window {
		s1, s2 = x+coeff*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// Detect takes the next 20 ms of audio and returns a digit when one has just
// been recognised.
func (d *Detector) Detect(f *pcm.Frame) (digit byte, ok bool) {
	for _, s := range f {
		d.window[d.n] = float64(s)
		d.n++
		if d.n < windowSamples {
			continue
		}
		if got, found := d.step(d.candidate()); found {
			digit, ok = got, true
		}
		d.n = copy(d.window[:], d.window[hopSamples:])
	}
	return digit, ok
}

// step advances the tone/pause state machine by one window whose candidate
// digit is c (0 for none).
func (d *Detector) step(c byte) (byte, bool) {
	if d.active != 0 {
		if c == d.active {
			d.gap = 0
		} else if d.gap++; d.gap >= d.pauseWindows {
			d.active = 0
		}
	}
	switch {
	case c == 0:
		d.streak = 0
	case c == d.last:
		d.streak++
	default:
		d.streak = 1
	}
	d.last = c
	if c != 0 && d.active == 0 && d.streak >= d.onWindows {
		d.active, d.gap = c, 0
		return c, true
	}
	return 0, false
}

// candidate returns the digit the current window holds, or 0.
func (d *Detector) candidate() byte {
	var rows, cols [4]float64
	r, c := 0, 0
	for i := range 4 {
		rows[i] = goertzel(&d.window, d.rowCoeff[i])
		cols[i] = goertzel(&d.window, d.colCoeff[i])
		if rows[i] > rows[r] {
			r = i
		}
		if cols[i] > cols[c] {
			c = i
		}
	}
	pr, pc := rows[r], cols[c]
	if pr < d.minPower || pc < d.minPower {
		return 0
	}
	if pc < pr && pr > pc*d.normalTwist || pr <= pc && pc > pr*d.reverseTwist {
		return 0
	}
	for i := range 4 {
		if i != r && rows[i]*d.relPeak > pr || i != c && cols[i]*d.relPeak > pc {
			return 0
		}
	}
	var energy float64
	for _, x := range d.window {
		energy += x * x
	}
	// A sine holding energy E over the window shows as N·E/2 in its filter.
	if pr+pc < minToneShare*energy*windowSamples/2 {
		return 0
	}
	if goertzel(&d.window, d.harmCoeff[c])*d.harmonic > pc {
		return 0
	}
	return keypad[r][c]
}
