package media_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"vox/internal/audiotest"
	"vox/media"
	"vox/media/dtmf"
	"vox/media/pcm"
	"vox/media/player"
	"vox/media/rtp"
)

// Tests run real RTP on loopback in real time: short tones, waits bounded
// generously, no assertion on how long anything took.

// testPool is a pool over a random stretch of the high ports; the pool skips
// ports others hold, so parallel tests and packages need no agreement.
func testPool(t testing.TB) *rtp.PortPool {
	t.Helper()
	base := 40000 + 2*rand.IntN(8000)
	p, err := rtp.NewPortPool(rtp.PortPoolConfig{Addr: netip.MustParseAddr("127.0.0.1"), MinPort: base, MaxPort: base + 400})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// events records what a Channel reports.
type events struct {
	played  chan error
	tones   chan byte
	started chan string
	stopped chan stoppedRecord
}

type stoppedRecord struct {
	url    string
	d      time.Duration
	reason string
}

func newEvents() *events {
	return &events{
		played:  make(chan error, 16),
		tones:   make(chan byte, 64),
		started: make(chan string, 4),
		stopped: make(chan stoppedRecord, 4),
	}
}

func (e *events) PlaybackFinished(err error) { e.played <- err }
func (e *events) ToneReceived(d byte)        { e.tones <- d }
func (e *events) RecordStarted(url string)   { e.started <- url }
func (e *events) RecordStopped(url string, d time.Duration, reason string) {
	e.stopped <- stoppedRecord{url, d, reason}
}

// next waits for the next value on ch.
func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// none checks that nothing more arrives on ch within a short wait: its length
// decides nothing on a slow machine, only something arriving does.
func none[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(200 * time.Millisecond):
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newEndpoint(t *testing.T, pool *rtp.PortPool) *rtp.Endpoint {
	t.Helper()
	ep, err := rtp.NewEndpoint(rtp.Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// leg is a Channel and the phone at its far end: a plain rtp.Endpoint.
type leg struct {
	ch     *media.Channel
	ev     *events
	phone  *rtp.Endpoint
	hears  *collector // what the phone receives
	record string     // the channel's recording directory
}

func newLeg(t *testing.T, pool *rtp.PortPool, opts media.ChannelOptions) *leg {
	t.Helper()
	ep := newEndpoint(t, pool)
	phone := newEndpoint(t, pool)
	ep.SetRemote(phone.LocalAddr())
	phone.SetRemote(ep.LocalAddr())
	if opts.RecordDir == "" {
		opts.RecordDir = t.TempDir()
	}
	if opts.RecordURL == nil {
		opts.RecordURL = func(token string) string { return "https://records.vox.test/" + token }
	}
	ev := newEvents()
	ch, err := media.NewChannel(ep, opts, ev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	l := &leg{ch: ch, ev: ev, phone: phone, hears: &collector{}, record: opts.RecordDir}
	phone.AddSink(l.hears)
	return l
}

// sine is an endless tone.
type sine struct {
	hz float64
	n  int
}

func (s *sine) ReadFrame(f *pcm.Frame) error {
	for i := range f {
		f[i] = int16(8000 * math.Sin(2*math.Pi*s.hz*float64(s.n)/pcm.SampleRate))
		s.n++
	}
	return nil
}

// speaks makes the phone send an endless tone of hz, until the test ends.
func (l *leg) speaks(t *testing.T, hz float64) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.phone.Play(ctx, &sine{hz: hz})
}

// collector is a Sink that keeps every sample.
type collector struct {
	mu      sync.Mutex
	samples []int16
}

func (c *collector) WriteFrame(f *pcm.Frame) error {
	c.mu.Lock()
	c.samples = append(c.samples, f[:]...)
	c.mu.Unlock()
	return nil
}

func (c *collector) reset() {
	c.mu.Lock()
	c.samples = nil
	c.mu.Unlock()
}

func (c *collector) frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.samples) / pcm.FrameSamples
}

// fresh forgets what was heard, waits for n frames more, and returns them
// without the first five (100 ms for what was in flight at a switch).
func (c *collector) fresh(t *testing.T, n int) []int16 {
	t.Helper()
	c.reset()
	waitFor(t, "audio", func() bool { return c.frames() >= n+5 })
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.samples[5*pcm.FrameSamples:(n+5)*pcm.FrameSamples]...)
}

func hearsTone(t *testing.T, who string, c *collector, hz float64) {
	t.Helper()
	if ok, toned, voiced, frames := audiotest.Carries(c.fresh(t, 15), hz); !ok {
		t.Fatalf("%s does not hear %v Hz: in %d of %d frames with sound (%d frames)", who, hz, toned, voiced, frames)
	}
}

func tone(t *testing.T, p *player.Player, script string) media.Audio {
	t.Helper()
	return p.Play(context.Background(), player.Media{ToneScript: script}, nil)
}

func TestChannelPlays(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	p := player.New(player.Options{})
	ctx := context.Background()

	t.Run("a tone script reaches the phone and finishes once", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		if err := a.ch.Play(ctx, tone(t, p, "1000@-10;1(1/0/1)")); err != nil {
			t.Fatal(err)
		}
		if err := next(t, a.ev.played, "PlaybackFinished"); err != nil {
			t.Fatalf("PlaybackFinished(%v), want nil", err)
		}
		// The phone heard the second it was sent, less the latch's first
		// packet (RFC 3550 A.1 probation).
		n := a.hears.frames()
		if n < 45 || n > 50 {
			t.Errorf("the phone heard %d frames of a 1 s tone", n)
		}
		a.hears.mu.Lock()
		x := a.hears.samples[5*pcm.FrameSamples : 45*pcm.FrameSamples]
		a.hears.mu.Unlock()
		if s := audiotest.Share(x, 1000); s < 0.9 {
			t.Errorf("the phone did not hear 1000 Hz: share %.2f (at 950 Hz %.2f)", s, audiotest.Share(x, 950))
		}
		none(t, a.ev.played, "second PlaybackFinished")
	})

	t.Run("stopped, replaced or cancelled playbacks report nothing", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		forever := "425@-10;1(0/0/1)"
		a.ch.Play(ctx, tone(t, p, forever))
		hearsTone(t, "the phone", a.hears, 425)
		a.ch.StopPlayback()

		cctx, cancel := context.WithCancel(ctx)
		a.ch.Play(cctx, tone(t, p, forever))
		hearsTone(t, "the phone", a.hears, 425)
		cancel()

		a.ch.Play(ctx, tone(t, p, forever))
		hearsTone(t, "the phone", a.hears, 425)
		a.ch.Play(ctx, tone(t, p, "1000@-10;1(0.5/0/1)")) // replaces
		if err := next(t, a.ev.played, "PlaybackFinished"); err != nil {
			t.Fatalf("PlaybackFinished(%v), want nil", err)
		}
		none(t, a.ev.played, "PlaybackFinished of a stopped playback")
	})

	t.Run("a URL that fails reports its error", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		cache, err := player.NewCache(t.TempDir(), player.CacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := player.New(player.Options{Cache: cache})
		a := newLeg(t, pool, media.ChannelOptions{})
		a.ch.Play(ctx, p.Play(ctx, player.Media{URL: srv.URL + "/hold.mp3"}, nil))
		if err := next(t, a.ev.played, "PlaybackFinished"); !errors.Is(err, player.ErrFetch) {
			t.Fatalf("PlaybackFinished(%v), want a download error", err)
		}
		a.ch.Play(ctx, tone(t, p, "not a tone script"))
		if err := next(t, a.ev.played, "PlaybackFinished"); err == nil {
			t.Fatal("a bad tone script finished without an error")
		}
		none(t, a.ev.played, "second PlaybackFinished")
	})
}

// sendEvents sends digits from ep as RFC 4733 events, on dtmf.Sender's
// schedule.
func sendEvents(t *testing.T, ep *rtp.Endpoint, digits string) {
	t.Helper()
	s, err := dtmf.NewSender(dtmf.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	packets, err := s.Packets(digits)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ep.OpenWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	for i, p := range packets {
		time.Sleep(time.Until(start.Add(p.At)))
		b := make([]byte, dtmf.PayloadSize)
		p.Event.MarshalTo(b)
		err := w.WriteRTP(&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: ep.TelephoneEventPT(),
			Marker: p.Marker, SequenceNumber: uint16(i), Timestamp: p.Timestamp}, Payload: b})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// playDigits makes the phone play digits in band and waits for the end.
func playDigits(t *testing.T, ep *rtp.Endpoint, digits string) {
	t.Helper()
	g, err := dtmf.NewGenerator(digits, dtmf.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Play(context.Background(), g).Err(); err != nil {
		t.Fatal(err)
	}
}

func digits(t *testing.T, ch <-chan byte, n int) string {
	t.Helper()
	var got []byte
	for range n {
		got = append(got, next(t, ch, "a digit"))
	}
	return string(got)
}

func TestChannelReceivesDigits(t *testing.T) {
	t.Parallel()
	pool := testPool(t)

	t.Run("RFC 4733", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		a.ch.HandleTones(true)
		sendEvents(t, a.phone, "12#")
		if got := digits(t, a.ev.tones, 3); got != "12#" {
			t.Fatalf("got %q, want 12#", got)
		}
		none(t, a.ev.tones, "digit")
	})

	t.Run("in band", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		a.ch.HandleTones(true)
		playDigits(t, a.phone, "12#")
		if got := digits(t, a.ev.tones, 3); got != "12#" {
			t.Fatalf("got %q, want 12#", got)
		}
		none(t, a.ev.tones, "digit")
	})

	t.Run("both ways at once count once", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		a.ch.HandleTones(true)
		sendEvents(t, a.phone, "4")
		playDigits(t, a.phone, "56") // the tones such a phone also sends
		sendEvents(t, a.phone, "7")
		if got := digits(t, a.ev.tones, 2); got != "47" {
			t.Fatalf("got %q, want 47: in-band detection goes on after RFC 4733", got)
		}
	})

	t.Run("not while tones are off", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		playDigits(t, a.phone, "3")
		a.ch.HandleTones(true)
		a.ch.HandleTones(false)
		playDigits(t, a.phone, "5")
		a.ch.HandleTones(true)
		playDigits(t, a.phone, "9")
		a.ch.HandleTones(false)
		sendEvents(t, a.phone, "6")
		a.ch.HandleTones(true)
		sendEvents(t, a.phone, "*")
		if got := digits(t, a.ev.tones, 2); got != "9*" {
			t.Fatalf("got %q, want 9*", got)
		}
	})
}

func TestChannelSendsDigits(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	ctx := context.Background()

	t.Run("RFC 4733", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		got := make(chan byte, 16)
		var (
			r    dtmf.Receiver
			ends atomic.Int32
		)
		a.phone.OnEvent(func(p *pionrtp.Packet) {
			if d, ok := r.Receive(p); ok {
				got <- d
			}
			var ev dtmf.Event
			if ev.Unmarshal(p.Payload) == nil && ev.End {
				ends.Add(1)
			}
		})
		// Music goes on between the keys.
		p := player.New(player.Options{})
		a.ch.Play(ctx, tone(t, p, "425@-10;1(0/0/1)"))
		if err := a.ch.SendDigits(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if err := a.ch.SendDigits(ctx, "2#"); err != nil { // queued behind "1"
			t.Fatal(err)
		}
		if s := digits(t, got, 3); s != "12#" {
			t.Fatalf("the phone got %q, want 12#", s)
		}
		// The music is back after the last of the three end packets of
		// the last digit (RFC 4733 §2.5.1.4).
		// The phone conceals the time the events took with silence when
		// the audio resumes: skip it.
		waitFor(t, "the end packets", func() bool { return ends.Load() == 9 })
		a.hears.fresh(t, 10)
		hearsTone(t, "the phone", a.hears, 425)
		if err := a.ch.SendDigits(ctx, "1x"); !errors.Is(err, dtmf.ErrInvalidDigit) {
			t.Errorf("SendDigits(1x) = %v", err)
		}
		none(t, a.ev.played, "PlaybackFinished")
	})

	t.Run("in band", func(t *testing.T) {
		t.Parallel()
		a := newLeg(t, pool, media.ChannelOptions{})
		a.ch.SetTelephoneEvent(0)
		got := make(chan byte, 16)
		det, err := dtmf.NewDetector(dtmf.DetectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a.phone.AddSink(sinkFunc(func(f *pcm.Frame) error {
			if d, ok := det.Detect(f); ok {
				got <- d
			}
			return nil
		}))
		a.ch.SendDigits(ctx, "0*")
		a.ch.SendDigits(ctx, "D")
		if s := digits(t, got, 3); s != "0*D" {
			t.Fatalf("the phone got %q, want 0*D", s)
		}
		// The digits end by themselves, and say nothing.
		for prev := uint64(0); ; {
			time.Sleep(60 * time.Millisecond)
			sent := a.ch.Stats().PacketsSent
			if sent == prev {
				break
			}
			prev = sent
		}
		none(t, a.ev.played, "PlaybackFinished")
	})
}

type sinkFunc func(f *pcm.Frame) error

func (s sinkFunc) WriteFrame(f *pcm.Frame) error { return s(f) }

// record starts a recording on l and returns its file.
func (l *leg) startRecording(t *testing.T, stereo bool) string {
	t.Helper()
	if err := l.ch.Record(stereo); err != nil {
		t.Fatal(err)
	}
	url := next(t, l.ev.started, "RecordStarted")
	if !strings.HasPrefix(url, "https://records.vox.test/") {
		t.Fatalf("RecordStarted(%q)", url)
	}
	return filepath.Join(l.record, path.Base(url)+".wav")
}

// waitRecorded waits until file holds at least d of audio.
func waitRecorded(t *testing.T, file string, channels int, d time.Duration) {
	t.Helper()
	want := int64(44 + 2*channels*int(d/(time.Second/pcm.SampleRate)))
	waitFor(t, "the recording", func() bool {
		st, err := os.Stat(file)
		return err == nil && st.Size() >= want
	})
}

func (l *leg) stopRecording(t *testing.T, file string) time.Duration {
	t.Helper()
	if err := l.ch.StopRecording(); err != nil {
		t.Fatal(err)
	}
	st := next(t, l.ev.stopped, "RecordStopped")
	if path.Base(st.url)+".wav" != filepath.Base(file) || st.reason != media.ReasonStoppedByUser {
		t.Fatalf("RecordStopped(%q, %v, %q) for %s", st.url, st.d, st.reason, file)
	}
	return st.d
}

func needSox(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sox"); err != nil {
		t.Fatal("sox is not installed: run `make deps` (or `make test`), which installs it")
	}
}

// sox runs sox and returns what it printed (stat prints to stderr).
func sox(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("sox", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// soxField returns the number after "name:" in sox's output.
func soxField(t *testing.T, out, name string) float64 {
	t.Helper()
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.Join(strings.Fields(k), " ") != name {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
		if err != nil {
			t.Fatalf("sox %s: %q", name, line)
		}
		return f
	}
	t.Fatalf("sox printed no %s:\n%s", name, out)
	return 0
}

// checkWAV checks the file's format with sox --i and returns its samples per
// channel.
func checkWAV(t *testing.T, file string, channels int, d time.Duration) [][]int16 {
	t.Helper()
	info := sox(t, "--i", file)
	if got := soxField(t, info, "Channels"); got != float64(channels) {
		t.Errorf("sox --i: %v channels, want %d", got, channels)
	}
	if got := soxField(t, info, "Sample Rate"); got != pcm.SampleRate {
		t.Errorf("sox --i: rate %v", got)
	}
	if want := d / (time.Second / pcm.SampleRate); !strings.Contains(info, "= "+strconv.Itoa(int(want))+" samples") {
		t.Errorf("sox --i does not show %d samples (RecordStopped said %v):\n%s", want, d, info)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]int16, channels)
	for i := 44; i+2 <= len(b); i += 2 {
		ch := (i - 44) / 2 % channels
		out[ch] = append(out[ch], int16(binary.LittleEndian.Uint16(b[i:])))
	}
	return out
}

// roughFrequency is sox's rough frequency of one channel of file.
func roughFrequency(t *testing.T, file string, channel int) float64 {
	t.Helper()
	return soxField(t, sox(t, file, "-n", "remix", strconv.Itoa(channel), "stat"), "Rough frequency")
}

func near(got, want float64) bool { return math.Abs(got-want) <= 0.05*want }

func TestChannelRecords(t *testing.T) {
	t.Parallel()
	needSox(t)
	pool := testPool(t)
	p := player.New(player.Options{})
	ctx := context.Background()

	start := func(t *testing.T) *leg {
		a := newLeg(t, pool, media.ChannelOptions{})
		a.speaks(t, 440)
		// A cadence the player keeps encoded (a tone held for ever is
		// not): the recording must still get its samples.
		a.ch.Play(ctx, tone(t, p, "1000@-10;*(1/0/1)"))
		waitFor(t, "the phone's audio", func() bool { return a.ch.Stats().PacketsReceived > 5 })
		return a
	}

	t.Run("stereo", func(t *testing.T) {
		t.Parallel()
		a := start(t)
		file := a.startRecording(t, true)
		waitRecorded(t, file, 2, 1500*time.Millisecond)
		d := a.stopRecording(t, file)
		checkWAV(t, file, 2, d)
		left, right := roughFrequency(t, file, 1), roughFrequency(t, file, 2)
		t.Logf("%v recorded: left %v Hz, right %v Hz", d, left, right)
		if !near(left, 440) {
			t.Errorf("left (the caller) at %v Hz, want 440", left)
		}
		if !near(right, 1000) {
			t.Errorf("right (what the caller hears) at %v Hz, want 1000", right)
		}
	})

	t.Run("mono mixes both", func(t *testing.T) {
		t.Parallel()
		a := start(t)
		file := a.startRecording(t, false)
		waitRecorded(t, file, 1, 1500*time.Millisecond)
		d := a.stopRecording(t, file)
		x := checkWAV(t, file, 1, d)[0]
		// Two tones of equal level: about half of the energy each, far
		// above anything else, in most 100 ms windows.
		for _, hz := range []float64{440, 1000} {
			if toned, voiced := audiotest.ToneWindows(x, hz, 800, 0.15); voiced == 0 || 2*toned < voiced {
				t.Errorf("the mix has little %v Hz: in %d of %d windows with sound", hz, toned, voiced)
			}
		}
		if err := a.ch.StopRecording(); !errors.Is(err, media.ErrNotRecording) {
			t.Errorf("second StopRecording = %v", err)
		}
	})

	t.Run("refused without a directory", func(t *testing.T) {
		t.Parallel()
		ep := newEndpoint(t, pool)
		ch, err := media.NewChannel(ep, media.ChannelOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := ch.Record(true); !errors.Is(err, media.ErrNoRecordDir) {
			t.Fatalf("Record = %v", err)
		}
	})
}

func TestChannelBridge(t *testing.T) {
	t.Parallel()
	needSox(t)
	pool := testPool(t)
	p := player.New(player.Options{})
	ctx := context.Background()
	a, c := newLeg(t, pool, media.ChannelOptions{}), newLeg(t, pool, media.ChannelOptions{})
	a.speaks(t, 440)  // phone B
	c.speaks(t, 1000) // phone D
	bridge := func() {
		t.Helper()
		if err := a.ch.SendMediaTo(c.ch); err != nil {
			t.Fatal(err)
		}
		if err := c.ch.SendMediaTo(a.ch); err != nil {
			t.Fatal(err)
		}
	}
	bridge()
	hearsTone(t, "D", c.hears, 440)
	hearsTone(t, "B", a.hears, 1000)

	file := a.startRecording(t, true)
	waitRecorded(t, file, 2, 500*time.Millisecond)

	// A prompt over the bridge: B hears it alone, and so does the recording.
	a.ch.Play(ctx, tone(t, p, "600@-10;1(0/0/1)"))
	hearsTone(t, "B", a.hears, 600)
	waitRecorded(t, file, 2, 1500*time.Millisecond)
	a.ch.StopPlayback()
	hearsTone(t, "B", a.hears, 1000)

	// Hold: the bridge stops, B hears music, then the bridge is back.
	a.ch.StopMediaTo(c.ch)
	c.ch.StopMediaTo(a.ch)
	a.ch.Play(ctx, tone(t, p, "600@-10;1(0/0/1)"))
	hearsTone(t, "B", a.hears, 600)
	a.ch.StopPlayback()
	bridge()
	hearsTone(t, "B", a.hears, 1000)
	hearsTone(t, "D", c.hears, 440)

	d := a.stopRecording(t, file)
	x := checkWAV(t, file, 2, d)
	if f := roughFrequency(t, file, 1); !near(f, 440) {
		t.Errorf("left (B) at %v Hz, want 440", f)
	}
	// The right channel is D or the prompt, never both: a frame recorded
	// from the playback and from the bridge would interleave the two.
	const window = 800 // 100 ms
	var bridged, prompt, mixed int
	right := x[1]
	for i := 0; i+window <= len(right); i += window {
		w := right[i : i+window]
		s1000, s600 := audiotest.Share(w, 1000), audiotest.Share(w, 600)
		switch {
		case s1000 > 0.1 && s600 > 0.1:
			mixed++
		case s1000 > 0.6:
			bridged++
		case s600 > 0.6:
			prompt++
		}
	}
	t.Logf("right channel in 100 ms windows: %d of D, %d of the prompt or music, %d of both", bridged, prompt, mixed)
	if bridged < 5 || prompt < 10 || mixed > 8 {
		t.Errorf("right channel: %d windows of D, %d of the prompt, %d of both", bridged, prompt, mixed)
	}
}

// TestChannelCloseLeavesNothing runs before the parallel tests resume, so the
// goroutine count is this test's alone.
func TestChannelCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	pool := testPool(t)
	p := player.New(player.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	var legs []*leg
	func() {
		a := newLeg(t, pool, media.ChannelOptions{RecordDir: dir})
		c := newLeg(t, pool, media.ChannelOptions{RecordDir: dir})
		legs = append(legs, a, c)
		a.speaks(t, 440)
		a.ch.HandleTones(true)
		a.ch.Play(ctx, tone(t, p, "1000@-10;1(0/0/1)"))
		a.ch.SendDigits(ctx, "123")
		c.ch.SetTelephoneEvent(0)
		c.ch.SendDigits(ctx, "456")
		a.startRecording(t, false)
		c.startRecording(t, true)
		a.ch.SendMediaTo(c.ch)
		c.ch.SendMediaTo(a.ch)
		waitFor(t, "D to hear the call", func() bool { return c.hears.frames() > 25 })
	}()
	for _, l := range legs {
		l.ch.Close()
		l.ch.Close()
		st := next(t, l.ev.stopped, "RecordStopped at Close")
		if st.reason != media.ReasonStoppedByUser {
			t.Errorf("RecordStopped(%q, %v, %q) at Close", st.url, st.d, st.reason)
		}
		if err := l.ch.Play(ctx, tone(t, p, "1000@-10;1(1/0/1)")); !errors.Is(err, media.ErrClosed) {
			t.Errorf("Play after Close = %v", err)
		}
		l.phone.Close()
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d port pairs still in use", n)
	}
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestChannelLockOrder crosses two channels' operations, both ways at once,
// and closes them while they go on: nothing may deadlock (and -race checks
// the rest).
func TestChannelLockOrder(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	p := player.New(player.Options{})
	ctx := context.Background()
	a, c := newLeg(t, pool, media.ChannelOptions{}), newLeg(t, pool, media.ChannelOptions{})
	a.speaks(t, 440)
	c.speaks(t, 1000)
	var wg sync.WaitGroup
	hammer := func(x, y *leg) {
		defer wg.Done()
		for range 50 {
			x.ch.SendMediaTo(y.ch)
			if x.ch.Record(true) == nil {
				<-x.ev.started
			}
			x.ch.Play(ctx, tone(t, p, "600@-10;1(0/0/1)"))
			y.ch.StopMediaTo(x.ch)
			x.ch.HandleTones(true)
			if x.ch.StopRecording() == nil {
				<-x.ev.stopped
			}
			x.ch.StopPlayback()
			x.ch.StopMediaTo(y.ch)
		}
	}
	wg.Add(2)
	go hammer(a, c)
	go hammer(c, a)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		a.ch.SendMediaTo(c.ch)
		c.ch.SendMediaTo(a.ch)
		var closing sync.WaitGroup
		closing.Add(2)
		go func() { defer closing.Done(); a.ch.Close() }()
		go func() { defer closing.Done(); c.ch.Close() }()
		closing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("deadlock: two channels' operations did not finish")
	}
}

func TestNewChannelChecksOptions(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, testPool(t))
	for _, opts := range []media.ChannelOptions{
		{Detect: dtmf.DetectOptions{MinLevel: 5}},
		{Send: dtmf.SendOptions{Tone: -time.Second}},
	} {
		if ch, err := media.NewChannel(ep, opts, nil); err == nil {
			ch.Close()
			t.Errorf("NewChannel took %+v", opts)
		}
	}
}
