package player

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"

	"vox/media/pcm"
)

// playTone reads frames of a tone script through a Player: all of it when it
// ends, or the first n samples of one that does not.
func playTone(t *testing.T, script string, loop bool, n int) (out []int16, ended bool) {
	t.Helper()
	got := newPlayed()
	pb := New(Options{}).Play(context.Background(), Media{ToneScript: script, Loop: loop}, got.finished)
	var f pcm.Frame
	for len(out) < n {
		err := pb.ReadFrame(&f)
		if err == io.EOF {
			if err := got.result(t); err != nil {
				t.Fatalf("finished with %v after the end", err)
			}
			return out, true
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f[:]...)
	}
	pb.Stop()
	return out, false
}

// expected is the script's sample n computed directly: the sum of tones at
// their amplitudes, phase zero at the burst's start.
func expected(hz []float64, dBm0 float64, n int) int16 {
	var v float64
	for _, h := range hz {
		v += Amplitude(dBm0) * math.Sin(2*math.Pi*h*float64(n)/pcm.SampleRate)
	}
	return int16(math.Round(v))
}

func TestToneScriptCadence(t *testing.T) {
	type burst struct {
		start, length int // in samples
		hz            []float64
	}
	us := []float64{440, 480}
	gb := []float64{400, 450}
	tests := []struct {
		script  string
		loop    bool
		samples int     // how much to read
		total   int     // where it ends; 0 when it does not
		bursts  []burst // everything else is silence
	}{
		// The seed's US ringback (S23): 16000 samples on, 32000 off, for ever.
		{"440@-19,480@-19;*(2/4/1+2)", false, 3 * 48000, 0, []burst{
			{0, 16000, us}, {48000, 16000, us}, {96000, 16000, us}}},
		// GB double ring: 0.4 on, 0.2 off, 0.4 on, 2 off.
		{"400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)", false, 2 * 24000, 0, []burst{
			{0, 3200, gb}, {4800, 3200, gb}, {24000, 3200, gb}, {28800, 3200, gb}}},
		// Three beeps and the end: 9600 samples, 60 frames, then io.EOF.
		{"950@-10;3(0.3/0.1/1)", false, 20000, 9600, []burst{
			{0, 2400, []float64{950}}, {3200, 2400, []float64{950}}, {6400, 2400, []float64{950}}}},
		// The same, looped: it starts again at sample 9600.
		{"950@-10;3(0.3/0.1/1)", true, 12000, 0, []burst{
			{0, 2400, []float64{950}}, {3200, 2400, []float64{950}}, {6400, 2400, []float64{950}}, {9600, 2400, []float64{950}}}},
		// 100 samples: the one frame is completed with silence.
		{"1000@-10;1(0.0125/0/1)", false, 1000, 160, []burst{{0, 100, []float64{1000}}}},
		// Ten short beeps, then a tone held for ever from sample 16000.
		{"350@-19,440@-19;10(0.1/0.1/1+2),*(0/0/1+2)", false, 24000, 0, func() []burst {
			var b []burst
			for i := range 10 {
				b = append(b, burst{i * 1600, 800, []float64{350, 440}})
			}
			return append(b, burst{16000, 8000, []float64{350, 440}})
		}()},
	}
	for _, tt := range tests {
		name := tt.script
		if tt.loop {
			name += " loop"
		}
		t.Run(strings.ReplaceAll(name, "/", "|"), func(t *testing.T) {
			out, ended := playTone(t, tt.script, tt.loop, tt.samples)
			if ended != (tt.total > 0) || (ended && len(out) != tt.total) {
				t.Fatalf("%d samples, ended %v; want %d (0: no end)", len(out), ended, tt.total)
			}
			level := -19.0
			if strings.Contains(tt.script, "@-10") {
				level = -10
			}
			want := make([]int16, len(out))
			for _, b := range tt.bursts {
				for i := range b.length {
					if b.start+i < len(want) {
						want[b.start+i] = expected(b.hz, level, i)
					}
				}
			}
			bad := 0
			for i := range out {
				if d := int(out[i]) - int(want[i]); d < -1 || d > 1 {
					if bad < 5 {
						t.Errorf("sample %d = %d, want %d", i, out[i], want[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d samples wrong", bad)
			}
		})
	}
}

func TestToneScriptLevels(t *testing.T) {
	// One tone: its RMS says its level in dBm0 (a sine's peak is RMS × √2).
	out, _ := playTone(t, "1000@-10;1(1/0/1)", false, 8000)
	level := dB(rms(out)*math.Sqrt2/fullScale) + fullScaleDBm0
	if math.Abs(level - -10) > 0.5 {
		t.Errorf("1000@-10 plays at %.2f dBm0", level)
	}
	// sox measures the same in the file the player made.
	path := writeWAV(t, "tone.wav", out)
	st := soxStat(t, path)
	if l := dB(st["RMS     amplitude"]*math.Sqrt2*32768/fullScale) + fullScaleDBm0; math.Abs(l - -10) > 0.5 {
		t.Errorf("sox: RMS %v is %.2f dBm0", st["RMS     amplitude"], l)
	}
	if f := st["Rough   frequency"]; math.Abs(f-1000) > 40 {
		t.Errorf("sox: rough frequency %v", f)
	}

	// Two tones: each at its own level, measured apart (Goertzel; 2 s hold
	// whole cycles of both, so nothing leaks between them).
	out, _ = playTone(t, "440@-19,480@-13;*(2/4/1+2)", false, 16000)
	for _, tone := range []struct{ hz, dBm0 float64 }{{440, -19}, {480, -13}} {
		level := dB(amplitude(out, tone.hz)/fullScale) + fullScaleDBm0
		if math.Abs(level-tone.dBm0) > 0.5 {
			t.Errorf("%.0f Hz at %.2f dBm0, want %.0f", tone.hz, level, tone.dBm0)
		}
	}
}

func TestToneScriptFileCheckedBySox(t *testing.T) {
	// One cycle of the US ringback: sox sees 6 s, 48000 samples, at 8 kHz.
	out, _ := playTone(t, "440@-19,480@-19;1(2/4/1+2)", false, 1<<20)
	path := writeWAV(t, "ringback.wav", out)
	info := sox(t, "--i", path)
	if !strings.Contains(info, "= 48000 samples") {
		t.Errorf("sox --i:\n%s", info)
	}
	// The second half is silence to the last sample.
	tail := writeWAV(t, "tail.wav", out[16000:])
	if st := soxStat(t, tail); st["Maximum amplitude"] != 0 || st["Minimum amplitude"] != 0 {
		t.Errorf("the off part is not silent: %v", st)
	}
}

func TestToneScriptBadSyntax(t *testing.T) {
	got := newPlayed()
	pb := New(Options{}).Play(context.Background(), Media{ToneScript: "440@-19"}, got.finished)
	if err := got.result(t); err == nil || !strings.Contains(err.Error(), "tone script") {
		t.Errorf("finished with %v, want a tone script error", err)
	}
	var f pcm.Frame
	if err := pb.ReadFrame(&f); err == nil {
		t.Error("ReadFrame of a bad script succeeded")
	}
}

func BenchmarkToneScriptFrame(b *testing.B) {
	pb := New(Options{}).Play(context.Background(), Media{ToneScript: "440@-19,480@-19;*(2/4/1+2)"}, nil)
	var f pcm.Frame
	b.ReportAllocs()
	for b.Loop() {
		if err := pb.ReadFrame(&f); err != nil {
			b.Fatal(err)
		}
	}
}
