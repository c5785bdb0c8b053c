package record

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/media/pcm"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sine fills frame k of a tone of f Hz at peak amplitude a.
func sine(f, a float64, k int) *pcm.Frame {
	var fr pcm.Frame
	for i := range fr {
		n := k*pcm.FrameSamples + i
		fr[i] = int16(math.Round(a * math.Sin(2*math.Pi*f*float64(n)/pcm.SampleRate)))
	}
	return &fr
}

// constant is a frame whose samples all are v: a label tests can find again.
func constant(v int16) *pcm.Frame {
	var fr pcm.Frame
	for i := range fr {
		fr[i] = v
	}
	return &fr
}

func write(t *testing.T, s pcm.Sink, f *pcm.Frame) {
	t.Helper()
	if err := s.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (make test installs it)", name)
	}
}

// soxInfo runs `sox --i FLAG file` and returns its one-line answer.
func soxInfo(t *testing.T, path, flag string) string {
	t.Helper()
	out, err := exec.Command("sox", "--i", flag, path).CombinedOutput()
	if err != nil {
		t.Fatalf("sox --i %s: %v: %s", flag, err, out)
	}
	return strings.TrimSpace(string(out))
}

// soxStat runs `sox file -n [effects] stat` and returns its figures by name
// ("Rough frequency", "Maximum amplitude", ...).
func soxStat(t *testing.T, path string, effects ...string) map[string]float64 {
	t.Helper()
	args := append([]string{path, "-n"}, effects...)
	out, err := exec.Command("sox", append(args, "stat")...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox stat: %v: %s", err, out)
	}
	stats := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			stats[strings.Join(strings.Fields(name), " ")] = v
		}
	}
	if _, ok := stats["Rough frequency"]; !ok {
		t.Fatalf("sox stat said: %s", out)
	}
	return stats
}

// samples reads the data of a recording as 16-bit samples.
func samples(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < headerSize || string(b[:4]) != "RIFF" || string(b[36:40]) != "data" {
		t.Fatalf("%s is not a canonical WAV file", path)
	}
	n := int(binary.LittleEndian.Uint32(b[40:]))
	if riff := int(binary.LittleEndian.Uint32(b[4:])); riff != n+36 {
		t.Fatalf("RIFF size %d with data size %d", riff, n)
	}
	if headerSize+n != len(b) {
		t.Fatalf("data size %d, file has %d bytes of data", n, len(b)-headerSize)
	}
	out := make([]int16, n/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[headerSize+2*i:]))
	}
	return out
}

func TestMonoTone(t *testing.T) {
	requireTool(t, "sox")
	clock := newFakeClock()
	dir := t.TempDir()
	r, err := Start(dir, Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Three seconds: the caller says a 1 kHz tone, nothing is played to it.
	for k := range 150 {
		write(t, r.Caller(), sine(1000, 12000, k))
		write(t, r.Callee(), &pcm.Silence)
		clock.Advance(pcm.FrameDuration)
	}
	d, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d != 3*time.Second {
		t.Fatalf("duration %v, want 3s", d)
	}
	if filepath.Dir(r.Path()) != dir || filepath.Base(r.Path()) != r.Token()+".wav" || !validToken(r.Token()) {
		t.Fatalf("recording at %s with token %q", r.Path(), r.Token())
	}
	if got := soxInfo(t, r.Path(), "-r"); got != "8000" {
		t.Errorf("sample rate %s", got)
	}
	if got := soxInfo(t, r.Path(), "-c"); got != "1" {
		t.Errorf("channels %s", got)
	}
	if got := soxInfo(t, r.Path(), "-s"); got != "24000" {
		t.Errorf("%s samples, want 24000 (3 s)", got)
	}
	if got := soxInfo(t, r.Path(), "-b"); got != "16" {
		t.Errorf("%s bits per sample", got)
	}
	// sox's rough frequency counts zero crossings: a few percent off.
	if f := soxStat(t, r.Path())["Rough frequency"]; math.Abs(f-1000) > 50 {
		t.Errorf("rough frequency %v, want 1000 Hz", f)
	}
}

func TestStereoChannels(t *testing.T) {
	requireTool(t, "sox")
	clock := newFakeClock()
	r, err := Start(t.TempDir(), Options{Stereo: true, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 100 {
		write(t, r.Caller(), sine(440, 10000, k))
		write(t, r.Callee(), sine(1000, 10000, k))
		clock.Advance(pcm.FrameDuration)
	}
	if d, err := r.Close(); err != nil || d != 2*time.Second {
		t.Fatalf("Close = %v, %v", d, err)
	}
	if got := soxInfo(t, r.Path(), "-c"); got != "2" {
		t.Fatalf("channels %s", got)
	}
	if got := soxInfo(t, r.Path(), "-s"); got != "16000" {
		t.Errorf("%s samples per channel, want 16000", got)
	}
	for _, ch := range []struct {
		remix string
		freq  float64
	}{{"1", 440}, {"2", 1000}} {
		if f := soxStat(t, r.Path(), "remix", ch.remix)["Rough frequency"]; math.Abs(f-ch.freq) > ch.freq/20 {
			t.Errorf("channel %s: rough frequency %v, want %v Hz", ch.remix, f, ch.freq)
		}
	}
}

// TestMixClips: two loud voices in phase add up past 16 bits; the mix must
// clip at full scale, never wrap around to the other sign.
func TestMixClips(t *testing.T) {
	requireTool(t, "sox")
	clock := newFakeClock()
	r, err := Start(t.TempDir(), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var in []int16
	for k := range 50 {
		f := sine(1000, 30000, k)
		in = append(in, f[:]...)
		write(t, r.Caller(), f)
		write(t, r.Callee(), f)
		clock.Advance(pcm.FrameDuration)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	out := samples(t, r.Path())
	if len(out) != len(in) {
		t.Fatalf("%d samples, want %d", len(out), len(in))
	}
	clipped := 0
	for i, v := range out {
		want := min(max(2*int32(in[i]), -32768), 32767)
		if int32(v) != want {
			t.Fatalf("sample %d = %d, want %d (from %d twice)", i, v, want, in[i])
		}
		if v == 32767 || v == -32768 {
			clipped++
		}
	}
	if clipped == 0 {
		t.Fatal("the test signal never clipped")
	}
	st := soxStat(t, r.Path())
	if st["Maximum amplitude"] < 0.99 || st["Minimum amplitude"] > -0.99 {
		t.Errorf("sox sees amplitudes %v..%v, want full scale", st["Minimum amplitude"], st["Maximum amplitude"])
	}
	if f := st["Rough frequency"]; math.Abs(f-1000) > 50 {
		t.Errorf("rough frequency %v, want about 1000 Hz", f)
	}
}

// TestAlignment: frames a side did not send become silence on its side, in
// their place in time; the other side does not move.
func TestAlignment(t *testing.T) {
	tests := []struct {
		name string
		// calleeSends tells whether the callee sends frame k, and when
		// (how many frame times late).
		calleeSends func(k int) (send bool, late int)
		silent      func(k int) bool // which slots are silent on the callee side
	}{
		{
			name:        "all frames",
			calleeSends: func(int) (bool, int) { return true, 0 },
			silent:      func(int) bool { return false },
		},
		{
			name:        "200 ms lost",
			calleeSends: func(k int) (bool, int) { return k < 50 || k >= 60, 0 },
			silent:      func(k int) bool { return k >= 50 && k < 60 },
		},
		{
			name:        "jitter: frames come in bursts of four, up to 60 ms late",
			calleeSends: func(k int) (bool, int) { return true, (4 - k%4) % 4 },
			silent:      func(int) bool { return false },
		},
		{
			name:        "callee starts 300 ms late",
			calleeSends: func(k int) (bool, int) { return k >= 15, 0 },
			silent:      func(k int) bool { return k < 15 },
		},
		{
			name:        "callee stops early",
			calleeSends: func(k int) (bool, int) { return k < 70, 0 },
			silent:      func(k int) bool { return k >= 70 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			r, err := Start(t.TempDir(), Options{Stereo: true, Clock: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			const n = 100
			due := map[int][]int{} // frame time -> callee frames sent then
			for k := range n {
				if send, late := tt.calleeSends(k); send {
					due[k+late] = append(due[k+late], k)
				}
			}
			for tick := range n + 3 {
				if tick < n {
					write(t, r.Caller(), constant(int16(tick+1)))
				}
				for _, k := range due[tick] {
					write(t, r.Callee(), constant(int16(-(k + 1))))
				}
				clock.Advance(pcm.FrameDuration)
			}
			if d, err := r.Close(); err != nil || d != n*pcm.FrameDuration {
				t.Fatalf("Close = %v, %v; want %v", d, err, n*pcm.FrameDuration)
			}
			out := samples(t, r.Path())
			if len(out) != 2*n*pcm.FrameSamples {
				t.Fatalf("%d samples, want %d", len(out), 2*n*pcm.FrameSamples)
			}
			for k := range n {
				left, right := out[2*k*pcm.FrameSamples], out[2*k*pcm.FrameSamples+1]
				wantRight := int16(-(k + 1))
				if tt.silent(k) {
					wantRight = 0
				}
				if left != int16(k+1) || right != wantRight {
					t.Fatalf("slot %d: left %d right %d, want %d %d", k, left, right, k+1, wantRight)
				}
			}
		})
	}
}

// TestClockKeepsGoing: when neither side sends (hold without RTP), the
// recording goes on in silence, so what follows stays in its place in time.
func TestClockKeepsGoing(t *testing.T) {
	clock := newFakeClock()
	r, err := Start(t.TempDir(), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.Caller(), constant(1000))
	write(t, r.Callee(), constant(1))
	clock.Advance(2 * time.Second)
	write(t, r.Caller(), constant(2000))
	write(t, r.Callee(), constant(2))
	d, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Slot 0, two seconds of silence, then the last frames at 2 s.
	wantSlots := 101
	if d != time.Duration(wantSlots)*pcm.FrameDuration {
		t.Fatalf("duration %v, want %v", d, time.Duration(wantSlots)*pcm.FrameDuration)
	}
	out := samples(t, r.Path())
	if len(out) != wantSlots*pcm.FrameSamples || out[0] != 1001 || out[pcm.FrameSamples] != 0 || out[len(out)-1] != 2002 {
		t.Fatalf("%d samples: first %d, second frame %d, last %d", len(out), out[0], out[pcm.FrameSamples], out[len(out)-1])
	}
}

func TestCloseTwiceAndWriteAfterClose(t *testing.T) {
	r, err := Start(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.Caller(), constant(5))
	d1, err := r.Close()
	if err != nil || d1 != pcm.FrameDuration {
		t.Fatalf("Close = %v, %v", d1, err)
	}
	if d2, err := r.Close(); err != nil || d2 != d1 {
		t.Fatalf("second Close = %v, %v", d2, err)
	}
	if err := r.Callee().WriteFrame(&pcm.Silence); !errors.Is(err, pcm.ErrClosed) {
		t.Fatalf("write after Close = %v", err)
	}
	if r.Duration() != d1 {
		t.Fatalf("Duration after Close = %v", r.Duration())
	}
}

func TestTokensDiffer(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 20 {
		r, err := Start(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.Token()] || !validToken(r.Token()) {
			t.Fatalf("token %q repeated or malformed", r.Token())
		}
		seen[r.Token()] = true
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentSides: each side written from its own goroutine, as the RTP
// endpoints of two legs do (run with -race).
func TestConcurrentSides(t *testing.T) {
	r, err := Start(t.TempDir(), Options{Stereo: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range []pcm.Sink{r.Caller(), r.Callee()} {
		wg.Go(func() {
			for k := range 200 {
				if err := s.WriteFrame(sine(700, 8000, k)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = r.Duration()
		}
	})
	wg.Wait()
	d, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Written faster than real time, the frames pair up by order.
	if d < 200*pcm.FrameDuration {
		t.Fatalf("duration %v, want at least 4s", d)
	}
	if got := len(samples(t, r.Path())); got != int(d/pcm.FrameDuration)*2*pcm.FrameSamples {
		t.Fatalf("%d samples for %v", got, d)
	}
}
