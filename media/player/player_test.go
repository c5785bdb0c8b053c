package player

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/media/pcm"
)

// needTool fails the test when a tool the tests use is missing: `make test`
// installs them (sox, espeak-ng).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (or `make test`), which installs it", name)
	}
}

// sox runs sox with args and returns what it printed (sox prints stat to stderr).
func sox(t *testing.T, args ...string) string {
	t.Helper()
	needTool(t, "sox")
	out, err := exec.Command("sox", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// soxStat returns the figures of `sox FILE -n stat` by name.
func soxStat(t *testing.T, path string) map[string]float64 {
	t.Helper()
	stats := map[string]float64{}
	for _, line := range strings.Split(sox(t, path, "-n", "stat"), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			stats[strings.TrimSpace(name)] = v
		}
	}
	return stats
}

// writeWAV writes 8 kHz mono 16-bit audio to a WAV file in the test's
// directory, header by hand (RIFF, fmt, data), for sox to check.
func writeWAV(t *testing.T, name string, samples []int16) string {
	t.Helper()
	data := make([]byte, 44+2*len(samples))
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*len(samples)))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], wavPCM)
	binary.LittleEndian.PutUint16(data[22:], 1) // channels
	binary.LittleEndian.PutUint32(data[24:], pcm.SampleRate)
	binary.LittleEndian.PutUint32(data[28:], 2*pcm.SampleRate) // bytes a second
	binary.LittleEndian.PutUint16(data[32:], 2)                // bytes a frame
	binary.LittleEndian.PutUint16(data[34:], 16)               // bits a sample
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(samples)))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(s))
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads src to its end, at most maxFrames frames, and returns the
// samples and the number of frames.
func readAll(t *testing.T, src pcm.Source, maxFrames int) []int16 {
	t.Helper()
	var out []int16
	var f pcm.Frame
	for range maxFrames {
		err := src.ReadFrame(&f)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadFrame after %d samples: %v", len(out), err)
		}
		out = append(out, f[:]...)
	}
	t.Fatalf("no end after %d frames", maxFrames)
	return nil
}

// amplitude is the peak amplitude of the component of x at hz (Goertzel).
func amplitude(x []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / pcm.SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+coeff*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(max(power, 0)) / float64(len(x))
}

func rms(x []int16) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(x)))
}

// zeroCrossings counts sign changes from negative to non-negative.
func zeroCrossings(x []int16) int {
	n := 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			n++
		}
	}
	return n
}

func dB(ratio float64) float64 { return 20 * math.Log10(ratio) }

// played collects what a Playback's finished reports.
type played struct {
	done chan error
}

func newPlayed() *played { return &played{done: make(chan error, 2)} }

func (p *played) finished(err error) { p.done <- err }

// result is the one report; a second would be a bug.
func (p *played) result(t *testing.T) error {
	t.Helper()
	err := <-p.done
	select {
	case again := <-p.done:
		t.Fatalf("finished called twice: %v, then %v", err, again)
	default:
	}
	return err
}

// waitLoaded waits until the playback is past loading and returns its first
// frame, or the error that ended it.
func waitLoaded(t *testing.T, pb *Playback) ([]int16, error) {
	t.Helper()
	<-pb.Ready()
	var f pcm.Frame
	if err := pb.ReadFrame(&f); err != nil {
		return nil, err
	}
	return append([]int16(nil), f[:]...), nil
}

func TestPlayRequiresExactlyOneMedia(t *testing.T) {
	p := New(Options{})
	for _, m := range []Media{{}, {URL: "x.wav", Text: "hello"}} {
		got := newPlayed()
		pb := p.Play(context.Background(), m, got.finished)
		if err := got.result(t); !errors.Is(err, ErrNoMedia) {
			t.Errorf("Play(%+v) finished with %v, want ErrNoMedia", m, err)
		}
		var f pcm.Frame
		if err := pb.ReadFrame(&f); !errors.Is(err, ErrNoMedia) {
			t.Errorf("ReadFrame = %v, want ErrNoMedia", err)
		}
	}
}

func TestStopAndContext(t *testing.T) {
	p := New(Options{})
	got := newPlayed()
	pb := p.Play(context.Background(), Media{ToneScript: "425@-19;*(1/4/1)"}, got.finished)
	var f pcm.Frame
	for range 10 {
		if err := pb.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
	}
	pb.Stop()
	pb.Stop()
	if err := got.result(t); !errors.Is(err, ErrStopped) {
		t.Errorf("finished with %v, want ErrStopped", err)
	}
	if err := pb.ReadFrame(&f); !errors.Is(err, pcm.ErrClosed) {
		t.Errorf("ReadFrame after Stop = %v, want pcm.ErrClosed", err)
	}

	// The call's context ending stops its playback.
	ctx, cancel := context.WithCancel(context.Background())
	got = newPlayed()
	p.Play(ctx, Media{ToneScript: "425@-19;*(1/4/1)"}, got.finished)
	cancel()
	if err := got.result(t); !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
		t.Errorf("finished with %v, want ErrStopped and context.Canceled", err)
	}
}

func TestLocalFilesStayInTheirDirectory(t *testing.T) {
	dir := t.TempDir()
	sox(t, "-n", "-r", "8000", "-b", "16", filepath.Join(dir, "hello.wav"), "synth", "0.1", "sine", "1000")
	outside := filepath.Join(t.TempDir(), "secret.wav")
	sox(t, "-n", "-r", "8000", "-b", "16", outside, "synth", "0.1", "sine", "1000")
	p := New(Options{FileDir: dir})
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"hello.wav", true},
		{filepath.Join(dir, "hello.wav"), true},
		{"file://" + filepath.Join(dir, "hello.wav"), true},
		{outside, false},
		{"../" + filepath.Base(filepath.Dir(outside)) + "/secret.wav", false},
		{"/etc/passwd", false},
		{"ftp://example.invalid/x.wav", false},
	} {
		got := newPlayed()
		pb := p.Play(context.Background(), Media{URL: tt.url}, got.finished)
		if _, err := waitLoaded(t, pb); (err == nil) != tt.ok {
			t.Errorf("play %s: %v, want ok=%v", tt.url, err, tt.ok)
		}
		pb.Stop()
	}
	got := newPlayed()
	New(Options{}).Play(context.Background(), Media{URL: "hello.wav"}, got.finished)
	if err := got.result(t); !errors.Is(err, ErrBadURL) {
		t.Errorf("local file without FileDir: %v, want ErrBadURL", err)
	}
}

func TestStopWhileReading(t *testing.T) {
	// The pacing loop reads while the session stops: the race detector watches.
	got := newPlayed()
	pb := New(Options{}).Play(context.Background(), Media{ToneScript: "425@-19;*(1/4/1)"}, got.finished)
	done := make(chan error)
	go func() {
		var f pcm.Frame
		for {
			if err := pb.ReadFrame(&f); err != nil {
				done <- err
				return
			}
		}
	}()
	pb.Stop()
	if err := <-done; !errors.Is(err, pcm.ErrClosed) {
		t.Errorf("ReadFrame ended with %v, want pcm.ErrClosed", err)
	}
	if err := got.result(t); !errors.Is(err, ErrStopped) {
		t.Errorf("finished with %v", err)
	}
}

func TestMaxDuration(t *testing.T) {
	dir := t.TempDir()
	sox(t, "-n", "-r", "44100", "-b", "16", filepath.Join(dir, "long.wav"), "synth", "3", "sine", "1000")
	got := newPlayed()
	New(Options{FileDir: dir, MaxDuration: 2 * time.Second}).Play(context.Background(), Media{URL: "long.wav"}, got.finished)
	if err := got.result(t); !errors.Is(err, ErrTooLong) {
		t.Errorf("finished with %v, want ErrTooLong", err)
	}
}

// A playback started with a context that is already done ends at once, stopped,
// without a data race between Play and the context's callback.
func TestPlayWithDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := make(chan error, 1)
	pb := New(Options{}).Play(ctx, Media{ToneScript: "440@-10;*(1/1/1)"}, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrStopped) {
		t.Errorf("finished with %v, want ErrStopped", err)
	}
	var f pcm.Frame
	if err := pb.ReadFrame(&f); err == nil {
		t.Error("a stopped playback gave a frame")
	}
}
