package dtmf

import (
	"io"
	"math"

	"vox/media/pcm"
)

// Row and column frequencies of the DTMF keypad (ITU-T Q.23).
var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
)

// keypad is the digit at each row and column.
var keypad = [4][4]byte{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// position returns the keypad row and column of a valid digit.
func position(digit byte) (row, col int) {
	for r := range keypad {
		for c := range keypad[r] {
			if keypad[r][c] == digit {
				return r, c
			}
		}
	}
	return -1, -1
}

// dBm0Peak is the peak of a 0 dBm0 sine in 16-bit linear samples: G.711's
// largest sine is +3.17 dBm0 (ITU-T G.711 §4) and peaks at 8159 in 14-bit
// μ-law units, 32636 in 16 bits.
const dBm0Peak = 32636 / 1.4401

// Generator is a pcm.Source of in-band DTMF: each digit's tone pair for Tone,
// then Gap of silence, at Volume -dBm0 per tone. It ends (io.EOF) after the
// last digit's gap; the last frame is padded with silence.
type Generator struct {
	freqs     [][2]float64 // row and column frequency of each digit
	tone, gap int          // in samples
	amplitude float64
	pos       int // sample position in the whole string
}

// NewGenerator returns a Generator of digits; Update and ClockRate of opts do
// not apply in band.
func NewGenerator(digits string, opts SendOptions) (*Generator, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{
		tone:      int(o.Tone * pcm.SampleRate / 1e9),
		gap:       int(o.Gap * pcm.SampleRate / 1e9),
		amplitude: dBm0Peak * math.Pow(10, -float64(o.Volume)/20),
	}
	for i := range len(digits) {
		code, err := Code(digits[i])
		if err != nil {
			return nil, err
		}
		d, _ := Digit(code)
		r, c := position(d)
		g.freqs = append(g.freqs, [2]float64{rowFreqs[r], colFreqs[c]})
	}
	return g, nil
}

// ReadFrame fills f with the next 20 ms.
func (g *Generator) ReadFrame(f *pcm.Frame) error {
	per := g.tone + g.gap
	total := per * len(g.freqs)
	if g.pos >= total {
		return io.EOF
	}
	for i := range f {
		n := g.pos + i
		if n >= total {
			f[i] = 0
			continue
		}
		k, t := n/per, n%per
		if t >= g.tone {
			f[i] = 0
			continue
		}
		x := 2 * math.Pi * float64(t) / pcm.SampleRate
		v := g.amplitude * (math.Sin(g.freqs[k][0]*x) + math.Sin(g.freqs[k][1]*x))
		f[i] = int16(math.Round(max(-32768, min(32767, v))))
	}
	g.pos += len(f)
	return nil
}
