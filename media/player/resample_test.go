package player

import (
	"math"
	"testing"
)

// resampleSine runs seconds of a sine at hz, amplitude 0.5, sampled at rate,
// through the resampler in uneven blocks, as a decoder feeds it.
func resampleSine(rate int, hz float64, seconds float64) []int16 {
	n := int(math.Round(seconds * float64(rate)))
	in := make([]float32, n)
	for i := range in {
		in[i] = float32(0.5 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	r := newResampler(rate)
	var out []int16
	for len(in) > 0 {
		k := min(len(in), 997)
		out = r.push(in[:k], out)
		in = in[k:]
	}
	return r.flush(out)
}

func TestResampler(t *testing.T) {
	const amp = 0.5 * 32768
	tests := []struct {
		name   string
		rate   int
		hz     float64
		wantDB float64 // level out against level in
		tolDB  float64
		below  bool // wantDB is a ceiling: the tone must be at most this loud
	}{
		{"1 kHz from 44.1 kHz passes", 44100, 1000, 0, 0.1, false},
		{"3 kHz from 44.1 kHz passes", 44100, 3000, 0, 0.1, false},
		{"1 kHz from 48 kHz passes", 48000, 1000, 0, 0.1, false},
		{"1 kHz from 11.025 kHz passes", 11025, 1000, 0, 0.1, false},
		{"1 kHz from 6 kHz (upsampled) passes", 6000, 1000, 0, 0.1, false},
		// Would alias to 2 kHz without the filter.
		{"6 kHz from 44.1 kHz is stopped", 44100, 6000, -30, 0, true},
		{"4.4 kHz from 44.1 kHz is stopped", 44100, 4400, -30, 0, true},
		{"7 kHz from 16 kHz is stopped", 16000, 7000, -30, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := resampleSine(tt.rate, tt.hz, 1)
			if len(out) != 8000 {
				t.Fatalf("%d samples out of a second, want 8000", len(out))
			}
			// Away from the edges, where the filter sees silence on one side.
			mid := out[400:7600]
			level := dB(rms(mid) * math.Sqrt2 / amp)
			t.Logf("%.0f Hz at %d Hz: %.2f dB", tt.hz, tt.rate, level)
			if tt.below {
				if level > tt.wantDB {
					t.Errorf("%.0f Hz at %d Hz comes out at %.1f dB, want at most %.0f dB", tt.hz, tt.rate, level, tt.wantDB)
				}
				return
			}
			if math.Abs(level-tt.wantDB) > tt.tolDB {
				t.Errorf("%.0f Hz at %d Hz comes out at %.2f dB, want %.1f ± %.1f", tt.hz, tt.rate, level, tt.wantDB, tt.tolDB)
			}
			if a := amplitude(mid, tt.hz); math.Abs(dB(a/amp)) > tt.tolDB+0.05 {
				t.Errorf("the %.0f Hz component is at %.2f dB", tt.hz, dB(a/amp))
			}
		})
	}
}

func TestResamplerLength(t *testing.T) {
	// One output sample for every output instant before the end of the input.
	for _, tt := range []struct {
		rate, in, want int
	}{
		{44100, 44100, 8000},
		{44100, 441, 80},
		{44100, 442, 81},
		{44100, 1, 1},
		{16000, 3, 2},
		{8000, 123, 123},
		{6000, 3, 4},
	} {
		r := newResampler(tt.rate)
		out := r.flush(r.push(make([]float32, tt.in), nil))
		if len(out) != tt.want {
			t.Errorf("%d samples at %d Hz -> %d, want %d", tt.in, tt.rate, len(out), tt.want)
		}
	}
}

func TestResamplerKeepsDC(t *testing.T) {
	r := newResampler(44100)
	in := make([]float32, 44100)
	for i := range in {
		in[i] = 0.25
	}
	out := r.flush(r.push(in, nil))
	for i, v := range out[200 : len(out)-200] {
		if v != 8192 {
			t.Fatalf("sample %d = %d, want 8192", i+200, v)
		}
	}
}

// BenchmarkResample44100 decodes a second of 44.1 kHz audio per op.
func BenchmarkResample44100(b *testing.B) {
	in := make([]float32, 44100)
	for i := range in {
		in[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/44100))
	}
	out := make([]int16, 0, 8000)
	b.ReportAllocs()
	for b.Loop() {
		r := newResampler(44100)
		out = r.flush(r.push(in, out[:0]))
	}
}
