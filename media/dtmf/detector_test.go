package dtmf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/zaf/g711"

	"vox/media/pcm"
)

// signal is audio as float samples at 8 kHz, made by the tests.
type signal []float64

func (s signal) add(o signal) signal {
	out := make(signal, max(len(s), len(o)))
	copy(out, s)
	for i, v := range o {
		out[i] += v
	}
	return out
}

// tone is a sine of f Hz at level dBm0 lasting n samples.
func tone(f, level float64, n int) signal {
	a := dBm0Peak * math.Pow(10, level/20)
	s := make(signal, n)
	for i := range s {
		s[i] = a * math.Sin(2*math.Pi*f*float64(i)/pcm.SampleRate)
	}
	return s
}

func ms(d int) int { return d * pcm.SampleRate / 1000 }

// keyTones is digit d's tone pair, rowLevel and colLevel in dBm0, the
// frequencies scaled by 1+dev, for n samples.
func keyTones(d byte, rowLevel, colLevel, dev float64, n int) signal {
	r, c := position(d)
	return tone(rowFreqs[r]*(1+dev), rowLevel, n).add(tone(colFreqs[c]*(1+dev), colLevel, n))
}

// digitsSignal is each digit for on ms, then off ms of silence.
func digitsSignal(digits string, on, off int, rowLevel, colLevel, dev float64) signal {
	var s signal
	for i := range len(digits) {
		s = append(s, keyTones(digits[i], rowLevel, colLevel, dev, ms(on))...)
		s = append(s, make(signal, ms(off))...)
	}
	return s
}

func noise(rng *rand.Rand, level float64, n int) signal {
	// White noise with the power of a level dBm0 sine: σ = peak/√2.
	sigma := dBm0Peak * math.Pow(10, level/20) / math.Sqrt2
	s := make(signal, n)
	for i := range s {
		s[i] = rng.NormFloat64() * sigma
	}
	return s
}

// frames cuts s into 20 ms frames, clipped to 16 bits, the last padded.
func (s signal) frames() []pcm.Frame {
	out := make([]pcm.Frame, (len(s)+pcm.FrameSamples-1)/pcm.FrameSamples)
	for i, v := range s {
		out[i/pcm.FrameSamples][i%pcm.FrameSamples] = int16(math.Round(max(-32768, min(32767, v))))
	}
	return out
}

// ulaw passes frames through G.711 μ-law and back, as a phone call does.
func ulaw(frames []pcm.Frame) []pcm.Frame {
	out := make([]pcm.Frame, len(frames))
	for i := range frames {
		for j, v := range frames[i] {
			out[i][j] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(v))
		}
	}
	return out
}

func detect(t *testing.T, opts DetectOptions, frames []pcm.Frame) string {
	t.Helper()
	d, err := NewDetector(opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := range frames {
		if digit, ok := d.Detect(&frames[i]); ok {
			got = append(got, digit)
		}
	}
	// Trailing silence lets a last digit end.
	for range 5 {
		if digit, ok := d.Detect(&pcm.Silence); ok {
			got = append(got, digit)
		}
	}
	return string(got)
}

const allDigits = "0123456789*#ABCD"

func TestDetectorDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	long := len(digitsSignal(allDigits, 100, 70, -10, -10, 0))
	tests := []struct {
		name   string
		signal signal
		want   string
	}{
		{"all 16 at -10 dBm0", digitsSignal(allDigits, 100, 70, -10, -10, 0), allDigits},
		{"quiet, -25 dBm0", digitsSignal(allDigits, 100, 70, -25, -25, 0), allDigits},
		{"loud, -3 dBm0", digitsSignal(allDigits, 100, 70, -3, -3, 0), allDigits},
		{"white noise 15 dB below", digitsSignal(allDigits, 100, 70, -10, -10, 0).add(noise(rng, -25, long)), allDigits},
		{"normal twist 6 dB", digitsSignal(allDigits, 100, 70, -8, -14, 0), allDigits},
		{"reverse twist 3 dB", digitsSignal(allDigits, 100, 70, -13, -10, 0), allDigits},
		{"frequencies 1.5% high", digitsSignal(allDigits, 100, 70, -10, -10, 0.015), allDigits},
		{"frequencies 1.5% low", digitsSignal(allDigits, 100, 70, -10, -10, -0.015), allDigits},
		{"shortest: 40 ms on, 40 ms off", digitsSignal(allDigits, 40, 40, -10, -10, 0), allDigits},
		{"same digit repeated", digitsSignal("1111", 60, 50, -10, -10, 0), "1111"},
		{"long press is one digit", digitsSignal("5", 2000, 0, -10, -10, 0), "5"},
		{"digit change without pause", digitsSignal("1", 100, 0, -10, -10, 0).add(append(make(signal, ms(100)), digitsSignal("2", 100, 0, -10, -10, 0)...)), "12"},
		{"shortest, 1.5% off, with noise", digitsSignal(allDigits, 40, 40, -10, -10, 0.015).add(noise(rng, -25, long)), allDigits},
		{"20 ms tones are too short", digitsSignal("123", 20, 60, -10, -10, 0), ""},
		{"25 ms tones are too short", digitsSignal("123", 25, 60, -10, -10, 0), ""},
		{"too quiet, -40 dBm0", digitsSignal("123", 100, 70, -40, -40, 0), ""},
		{"twist 12 dB", digitsSignal("123", 100, 70, -5, -17, 0), ""},
		{"frequencies 5% off", digitsSignal("123", 100, 70, -10, -10, 0.05), ""},
		{"one tone alone", tone(697, -10, ms(500)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(t, DetectOptions{}, tt.signal.frames()); got != tt.want {
				t.Fatalf("digits = %q, want %q", got, tt.want)
			}
		})
	}
}

// A 10 ms break in a tone (a lost packet's half, concealed by silence) does
// not make it two digits, however it falls on the windows; a 40 ms pause does.
func TestDetectorPauses(t *testing.T) {
	for off := 0; off < 102; off += 3 {
		for _, tc := range []struct {
			gap  int
			want string
		}{{10, "7"}, {40, "77"}} {
			s := append(make(signal, off), keyTones('7', -10, -10, 0.015, ms(100))...)
			s = append(s, make(signal, ms(tc.gap))...)
			s = append(s, keyTones('7', -10, -10, 0.015, ms(100))...)
			if got := detect(t, DetectOptions{}, s.frames()); got != tc.want {
				t.Fatalf("offset %d, break of %d ms: digits = %q, want %q", off, tc.gap, got, tc.want)
			}
		}
	}
}

func TestDetectorThroughG711(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := digitsSignal(allDigits, 80, 60, -15, -15, 0)
	s = s.add(noise(rng, -35, len(s)))
	if got := detect(t, DetectOptions{}, ulaw(s.frames())); got != allDigits {
		t.Fatalf("digits through μ-law = %q, want %q", got, allDigits)
	}
}

// TestDetectorGenerator: what the Generator makes, the Detector hears, through
// μ-law too.
func TestDetectorGenerator(t *testing.T) {
	g, err := NewGenerator(allDigits, SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var frames []pcm.Frame
	for {
		var f pcm.Frame
		if err := g.ReadFrame(&f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	// 16 × (100 + 70) ms = 2720 ms = 136 frames, sample-exact.
	if len(frames) != 136 {
		t.Fatalf("%d frames, want 136", len(frames))
	}
	if got := detect(t, DetectOptions{}, frames); got != allDigits {
		t.Fatalf("digits = %q", got)
	}
	if got := detect(t, DetectOptions{}, ulaw(frames)); got != allDigits {
		t.Fatalf("digits through μ-law = %q", got)
	}
}

func TestDetectorRejectsNonDTMF(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := ms(5000)
	chirp := make(signal, n)
	// 300 Hz to 3400 Hz over 5 s: it passes every DTMF frequency.
	var phase float64
	for i := range chirp {
		f := 300 + 3100*float64(i)/float64(n)
		phase += 2 * math.Pi * f / pcm.SampleRate
		chirp[i] = dBm0Peak * 0.3 * math.Sin(phase)
	}
	// A chord whose notes sit near DTMF frequencies, with harmonics, like
	// music: 700 and 1210 Hz sawtooth-ish tones.
	var chord signal
	for h := 1.0; h <= 5; h++ {
		chord = chord.add(tone(700*h, -12-6*(h-1), n)).add(tone(1210*h, -12-6*(h-1), n))
	}
	// Dial tone (350+440 Hz) and a ringback cadence.
	dial := tone(350, -13, n).add(tone(440, -13, n))
	tests := []struct {
		name   string
		signal signal
	}{
		{"1 kHz tone", tone(1000, -10, n)},
		{"chirp", chirp},
		{"white noise", noise(rng, -10, n)},
		{"music-like chord with harmonics", chord},
		{"dial tone", dial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, frames := range [][]pcm.Frame{tt.signal.frames(), ulaw(tt.signal.frames())} {
				if got := detect(t, DetectOptions{}, frames); got != "" {
					t.Fatalf("false digits %q", got)
				}
			}
		})
	}
}

// TestDetectorRejectsSpeech: espeak-ng (installed by make test) reads
// sentences; no digit may be heard in them.
func TestDetectorRejectsSpeech(t *testing.T) {
	requireTool(t, "espeak-ng")
	requireTool(t, "sox")
	dir := t.TempDir()
	sentences := []string{
		"Thank you for calling. All our operators are busy at the moment; please stay on the line, or leave a message after the tone.",
		"Добрый день! Вы позвонили в компанию. Оставайтесь на линии, вам обязательно ответят.",
	}
	voices := []string{"en", "ru"}
	for i, text := range sentences {
		for _, pitch := range []string{"30", "70"} {
			raw := filepath.Join(dir, "speech.raw")
			wav := filepath.Join(dir, "speech.wav")
			if out, err := exec.Command("espeak-ng", "-v", voices[i], "-p", pitch, "-w", wav, text).CombinedOutput(); err != nil {
				t.Fatalf("espeak-ng: %v: %s", err, out)
			}
			if out, err := exec.Command("sox", wav, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", raw).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v: %s", err, out)
			}
			data, err := os.ReadFile(raw)
			if err != nil {
				t.Fatal(err)
			}
			samples := make([]int16, len(data)/2)
			if err := binary.Read(bytes.NewReader(data), binary.LittleEndian, samples); err != nil {
				t.Fatal(err)
			}
			if len(samples) < pcm.SampleRate {
				t.Fatalf("espeak-ng made only %d samples", len(samples))
			}
			s := make(signal, len(samples))
			for j, v := range samples {
				s[j] = float64(v)
			}
			for _, frames := range [][]pcm.Frame{s.frames(), ulaw(s.frames())} {
				if got := detect(t, DetectOptions{}, frames); got != "" {
					t.Errorf("voice %s pitch %s: false digits %q", voices[i], pitch, got)
				}
			}
			// And a digit spoken over must still be heard at a fair level.
			mixed := s.add(append(make(signal, ms(500)), keyTones('5', -8, -8, 0, ms(120))...))
			if got := detect(t, DetectOptions{}, mixed.frames()); got != "5" {
				t.Errorf("voice %s pitch %s: digit over speech heard as %q", voices[i], pitch, got)
			}
		}
	}
}

// requireTool fails a test whose tool is missing: make test installs it, and a
// skipped check proves nothing.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (make test installs it)", name)
	}
}

func TestDetectOptionsInvalid(t *testing.T) {
	for _, o := range []DetectOptions{{MinTone: -1}, {NormalTwist: -1}, {MinLevel: 5}} {
		if _, err := NewDetector(o); err == nil {
			t.Errorf("NewDetector(%+v) accepted", o)
		}
		if o.Check() == nil {
			t.Errorf("Check(%+v) passed", o)
		}
	}
	if err := (DetectOptions{}).Check(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
