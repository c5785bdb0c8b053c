package player

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vox/media/pcm"
)

// playFile plays a file through a Player to its end and returns the samples.
func playFile(t *testing.T, dir, name string) []int16 {
	t.Helper()
	got := newPlayed()
	pb := New(Options{FileDir: dir}).Play(context.Background(), Media{URL: name}, got.finished)
	<-pb.Ready()
	out := readAll(t, pb, 100000)
	if err := got.result(t); err != nil {
		t.Fatalf("finished with %v, want nil", err)
	}
	return out
}

func TestPlayWAV(t *testing.T) {
	// One second of 1 kHz at half scale (-6 dBFS) in every common layout; sox
	// writes 24-bit and float files as WAVE_FORMAT_EXTENSIBLE.
	const amp = 0.5 * 32768
	tests := []struct {
		name string
		sox  []string // output options before the file name
	}{
		{"44.1 kHz 16-bit", []string{"-r", "44100", "-b", "16"}},
		{"48 kHz 24-bit", []string{"-r", "48000", "-b", "24"}},
		{"22.05 kHz 8-bit", []string{"-r", "22050", "-b", "8"}},
		{"16 kHz 16-bit", []string{"-r", "16000", "-b", "16"}},
		{"16 kHz 32-bit", []string{"-r", "16000", "-b", "32"}},
		{"8 kHz 16-bit", []string{"-r", "8000", "-b", "16"}},
		{"32 kHz float", []string{"-r", "32000", "-e", "floating-point", "-b", "32"}},
		{"11.025 kHz double", []string{"-r", "11025", "-e", "floating-point", "-b", "64"}},
		{"8 kHz μ-law", []string{"-r", "8000", "-e", "u-law"}},
		{"8 kHz A-law", []string{"-r", "8000", "-e", "a-law"}},
		{"44.1 kHz 16-bit stereo", []string{"-r", "44100", "-b", "16", "-c", "2"}},
		{"48 kHz 24-bit 6 channels", []string{"-r", "48000", "-b", "24", "-c", "6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-n"}, tt.sox...)
			sox(t, append(args, filepath.Join(dir, "in.wav"), "synth", "1", "sine", "1000", "vol", "0.5")...)
			out := playFile(t, dir, "in.wav")
			// A second at any rate is 8000 samples at 8 kHz: 50 frames exactly.
			if len(out) != 8000 {
				t.Errorf("%d samples, want 8000", len(out))
			}
			mid := out[400:7600] // 0.9 s away from the edges
			if a := amplitude(mid, 1000); math.Abs(dB(a/amp)) > 0.3 {
				t.Errorf("1 kHz at %.2f dB of the input's level, want 0 ± 0.3", dB(a/amp))
			}
			if n := zeroCrossings(mid); n < 898 || n > 902 {
				t.Errorf("%d zero crossings in 0.9 s, want 900 for 1 kHz", n)
			}
			// Whatever is not the tone is small: no aliases, no distortion.
			if a := amplitude(mid, 1000); dB(rms(mid)*math.Sqrt2/a) > 0.1 {
				t.Errorf("energy outside 1 kHz: total %.2f dB over the tone", dB(rms(mid)*math.Sqrt2/a))
			}
		})
	}
}

func TestPlayWAVDownmix(t *testing.T) {
	// Left 1 kHz, right 2 kHz: the mono mix has both at half their level.
	dir := t.TempDir()
	sox(t, "-n", "-r", "16000", "-b", "16", "-c", "2", filepath.Join(dir, "in.wav"),
		"synth", "1", "sine", "1000", "sine", "2000", "vol", "0.5")
	out := playFile(t, dir, "in.wav")
	mid := out[400:7600]
	for _, hz := range []float64{1000, 2000} {
		if a := amplitude(mid, hz); math.Abs(dB(a/(0.25*32768))) > 0.3 {
			t.Errorf("%.0f Hz at %.2f dB of half the input's level, want 0 ± 0.3", hz, dB(a/(0.25*32768)))
		}
	}
}

func TestPlayWAVAliasing(t *testing.T) {
	// 6 kHz at 44.1 kHz would fold to 2 kHz at 8 kHz without the low-pass.
	dir := t.TempDir()
	sox(t, "-n", "-r", "44100", "-b", "16", filepath.Join(dir, "in.wav"), "synth", "1", "sine", "6000", "vol", "0.5")
	out := playFile(t, dir, "in.wav")
	level := dB(rms(out[400:7600]) * math.Sqrt2 / (0.5 * 32768))
	if level > -30 {
		t.Errorf("6 kHz comes out at %.1f dB, want at most -30 dB", level)
	}
	// sox agrees on the file the player made.
	path := writeWAV(t, "out.wav", out)
	if st := soxStat(t, path); dB(st["RMS     amplitude"]*math.Sqrt2/0.5) > -30 {
		t.Errorf("sox measures the 6 kHz output at RMS %v", st["RMS     amplitude"])
	}
}

func TestPlayWAVCheckedBySox(t *testing.T) {
	dir := t.TempDir()
	sox(t, "-n", "-r", "44100", "-b", "16", filepath.Join(dir, "in.wav"), "synth", "2", "sine", "1000", "vol", "0.5")
	path := writeWAV(t, "out.wav", playFile(t, dir, "in.wav"))
	info := sox(t, "--i", path)
	if !strings.Contains(info, "Sample Rate    : 8000") || !strings.Contains(info, "= 16000 samples") {
		t.Errorf("sox --i:\n%s", info)
	}
	st := soxStat(t, path)
	if f := st["Rough   frequency"]; math.Abs(f-1000) > 40 {
		t.Errorf("sox: rough frequency %v, want 1000", f)
	}
	if a := st["Maximum amplitude"]; math.Abs(dB(a/0.5)) > 0.2 {
		t.Errorf("sox: maximum amplitude %v, want 0.5", a)
	}
}

func TestPlayMP3(t *testing.T) {
	// testdata/README.md says how these were made: one second of 1 kHz at
	// half scale each. MP3 adds the encoder's delay and padding as silence
	// (LAME: 576 + 529 samples and up to a frame), which go-mp3 keeps.
	for _, name := range []string{"sine1k-44100-stereo.mp3", "sine1k-16000-mono.mp3"} {
		t.Run(name, func(t *testing.T) {
			out := playFile(t, "testdata", name)
			t.Logf("%d samples", len(out))
			if len(out) < 8000 || len(out) > 8000+800 {
				t.Errorf("%d samples, want one second and the encoder's padding", len(out))
			}
			mid := out[1200:7200]
			if a := amplitude(mid, 1000); math.Abs(dB(a/(0.5*32768))) > 0.5 {
				t.Errorf("1 kHz at %.2f dB of the input's level", dB(a/(0.5*32768)))
			}
			path := writeWAV(t, "out.wav", out)
			if f := soxStat(t, path)["Rough   frequency"]; math.Abs(f-1000) > 40 {
				t.Errorf("sox: rough frequency %v, want 1000", f)
			}
		})
	}
}

func TestPlayBadFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "text.wav"), []byte("this is not a WAV file at all"), 0o644)
	os.WriteFile(filepath.Join(dir, "text.mp3"), []byte("nor is this an MP3 file"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.wav"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	sox(t, "-n", "-r", "8000", "-e", "gsm-full-rate", filepath.Join(dir, "gsm.wav"), "synth", "0.1", "sine", "1000")
	for name, want := range map[string]error{
		"text.wav":    ErrNotAudio,
		"text.mp3":    ErrNotAudio,
		"empty.wav":   ErrNotAudio,
		"notes.txt":   ErrUnsupportedFormat,
		"gsm.wav":     ErrUnsupportedFormat,
		"missing.wav": os.ErrNotExist,
	} {
		got := newPlayed()
		New(Options{FileDir: dir}).Play(context.Background(), Media{URL: name}, got.finished)
		if err := got.result(t); !errors.Is(err, want) {
			t.Errorf("%s: finished with %v, want %v", name, err, want)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestPlayLoopingFile(t *testing.T) {
	dir := t.TempDir()
	// 0.1 s: 800 samples, five frames; looping goes on without a gap.
	sox(t, "-n", "-r", "8000", "-b", "16", filepath.Join(dir, "beep.wav"), "synth", "0.1", "sine", "1000")
	once := playFile(t, dir, "beep.wav")
	got := newPlayed()
	pb := New(Options{FileDir: dir}).Play(context.Background(), Media{URL: "beep.wav", Loop: true}, got.finished)
	<-pb.Ready()
	var f [4000]int16
	for i := 0; i < len(f); i += 160 {
		var fr pcm.Frame
		if err := pb.ReadFrame(&fr); err != nil {
			t.Fatal(err)
		}
		copy(f[i:], fr[:])
	}
	for i, v := range f {
		if v != once[i%len(once)] {
			t.Fatalf("sample %d = %d, want %d (sample %d of the file)", i, v, once[i%len(once)], i%len(once))
		}
	}
	pb.Stop()
	if err := got.result(t); !errors.Is(err, ErrStopped) {
		t.Errorf("finished with %v", err)
	}
}
