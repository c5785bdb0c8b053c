package media_test

import (
	"context"
	"net"
	"net/netip"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vox/media"
	"vox/media/player"
	"vox/media/rtp"
)

// BenchmarkCallMedia is the media of a call-setup benchmark's call, as SIP
// sets it up: an endpoint and its channel, the Russian ringback played for
// 500 ms, then Close. Calls start at 1,000 a second on the real clock, about
// 500 at once, sending to a socket nobody reads. It reports the process's CPU
// time per call; ns/op is mostly the waiting between starts.
func BenchmarkCallMedia(b *testing.B) {
	const (
		interval = time.Millisecond
		hold     = 500 * time.Millisecond
	)
	pool, err := rtp.NewPortPool(rtp.PortPoolConfig{Addr: netip.MustParseAddr("127.0.0.1"), MinPort: 30000, MaxPort: 60000})
	if err != nil {
		b.Fatal(err)
	}
	far, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer far.Close()
	p := player.New(player.Options{})
	ctx := context.Background()
	type call struct {
		ch    *media.Channel
		until time.Time
	}
	var calls []call
	hangUp := func(now time.Time) {
		for len(calls) > 0 && !calls[0].until.After(now) {
			calls[0].ch.Close()
			calls = calls[1:]
		}
	}
	b.ReportAllocs()
	before := cpuTime(b)
	next := time.Now()
	n := 0
	for b.Loop() {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		ep, err := rtp.NewEndpoint(rtp.Config{Pool: pool})
		if err != nil {
			b.Fatal(err)
		}
		ep.SetRemote(far.LocalAddr().(*net.UDPAddr).AddrPort())
		ch, err := media.NewChannel(ep, media.ChannelOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := ch.Play(ctx, p.Play(ctx, player.Media{ToneScript: "425@-19;*(1/4/1)"}, nil)); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		calls = append(calls, call{ch, now.Add(hold)})
		hangUp(now)
		n++
	}
	hangUp(time.Now().Add(hold))
	b.ReportMetric(float64((cpuTime(b)-before)/time.Microsecond)/float64(n), "cpu-µs/call")
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPacedFrames is the pacer's work per frame with a thousand calls
// playing the Russian ringback through their channels, each endpoint on a
// Transport that only counts packets (no system call), with the CPU caches
// flushed between ticks as the rest of a busy server does: what the chain
// from the pacer to the transport costs in cache misses and locks.
func BenchmarkPacedFrames(b *testing.B) {
	const calls = 1000
	clock := &tickClock{}
	p := player.New(player.Options{})
	ctx := context.Background()
	var sent atomic.Int64
	for range calls {
		ep, err := rtp.NewEndpoint(rtp.Config{Transport: newCountingTransport(&sent), Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := media.NewChannel(ep, media.ChannelOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ch.Close()
		if err := ch.Play(ctx, p.Play(ctx, player.Media{ToneScript: "425@-19;*(1/4/1)"}, nil)); err != nil {
			b.Fatal(err)
		}
	}
	flush := make([]byte, 64<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for i := 0; i < len(flush); i += 64 {
			flush[i]++
		}
		want := sent.Load() + calls
		b.StartTimer()
		clock.tick()
		for sent.Load() < want {
			goruntime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/frame")
}

// tickClock is the real clock whose tickers tick when the test says.
type tickClock struct {
	mu      sync.Mutex
	tickers []chan time.Time
}

func (c *tickClock) Now() time.Time { return time.Now() }

func (c *tickClock) AfterFunc(d time.Duration, f func()) rtp.Timer { return time.AfterFunc(d, f) }

func (c *tickClock) NewTicker(time.Duration) rtp.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := make(chan time.Time, 1)
	c.tickers = append(c.tickers, t)
	return tickTicker(t)
}

func (c *tickClock) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tickers {
		t <- time.Now()
	}
}

type tickTicker chan time.Time

func (t tickTicker) C() <-chan time.Time { return t }
func (t tickTicker) Stop()               {}

// countingTransport counts the RTP packets written to it.
type countingTransport struct {
	sent   *atomic.Int64
	closed chan struct{}
	once   sync.Once
}

func newCountingTransport(sent *atomic.Int64) *countingTransport {
	return &countingTransport{sent: sent, closed: make(chan struct{})}
}

func (t *countingTransport) ReadRTP([]byte) (int, error)  { <-t.closed; return 0, rtp.ErrClosed }
func (t *countingTransport) ReadRTCP([]byte) (int, error) { <-t.closed; return 0, rtp.ErrClosed }
func (t *countingTransport) WriteRTP([]byte) error        { t.sent.Add(1); return nil }
func (t *countingTransport) WriteRTCP([]byte) error       { return nil }
func (t *countingTransport) Close() error                 { t.once.Do(func() { close(t.closed) }); return nil }
