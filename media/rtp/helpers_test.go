package rtp

import (
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// testPool is a pool over a random stretch of the high ports: the pool skips
// whatever other tests and programs hold, so no range has to be free.
func testPool(t testing.TB) *PortPool {
	t.Helper()
	base := 40000 + 2*rand.IntN(8000)
	p, err := NewPortPool(PortPoolConfig{Addr: loopback, MinPort: base, MaxPort: base + 400})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEndpoint(t testing.TB, cfg Config) *Endpoint {
	t.Helper()
	if cfg.Pool == nil {
		cfg.Pool = testPool(t)
	}
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// fakeClock moves only when the test says so. A tick is handed to one
// waiting ticker at a time, so the test knows the pacer took it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
	timers  []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d and fires the timers that came due, each
// on its own goroutine as time.AfterFunc does.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if t.live && !t.due.After(c.now) {
			t.live = false
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, due: c.now.Add(d), f: f, live: true}
	c.timers = append(c.timers, t)
	return t
}

// fakeTimer is a fakeClock's AfterFunc.
type fakeTimer struct {
	c    *fakeClock
	due  time.Time
	f    func()
	live bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live, t.due = true, t.c.now.Add(d)
	return was
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), d: d, stopped: make(chan struct{})}
	c.tickers = append(c.tickers, t)
	return t
}

// Tick advances the clock by one frame and delivers a tick to every running
// ticker of that period; it reports whether one took it.
func (c *fakeClock) Tick(t testing.TB) bool {
	t.Helper()
	c.Advance(pcm.FrameDuration)
	c.mu.Lock()
	var live []*fakeTicker
	for _, tk := range c.tickers {
		if tk.d == pcm.FrameDuration {
			live = append(live, tk)
		}
	}
	now := c.now
	c.mu.Unlock()
	took := false
	for _, tk := range live {
		select {
		case tk.c <- now:
			took = true
		case <-tk.stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("a ticker did not take its tick")
		}
	}
	return took
}

type fakeTicker struct {
	c       chan time.Time
	d       time.Duration
	once    sync.Once
	stopped chan struct{}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               { t.once.Do(func() { close(t.stopped) }) }

// phone is a bare UDP socket speaking RTP: the far end of an endpoint.
type phone struct {
	t    testing.TB
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
	buf  []byte
}

func newPhone(t testing.TB) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(), buf: make([]byte, maxPacket)}
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// send sends one packet of the phone's stream and steps it by 20 ms.
func (p *phone) send(to netip.AddrPort, pt uint8, payload []byte) {
	p.t.Helper()
	p.sendPacket(to, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload})
	p.seq++
	p.ts += pcm.FrameSamples
}

func (p *phone) sendPacket(to netip.AddrPort, pkt *rtp.Packet) {
	p.t.Helper()
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// read waits for one RTP packet.
func (p *phone) read() (*rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		p.t.Fatalf("phone read: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(p.buf[:n]); err != nil {
		p.t.Fatalf("phone read: %v", err)
	}
	pkt.Payload = append([]byte(nil), pkt.Payload...)
	return &pkt, from
}

// silent reports that nothing arrives within a short wait (a check that
// something did not happen; its length does not make a test pass or fail
// on a slow machine, only the absence of a packet does).
func (p *phone) silent() bool {
	p.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, _, err := p.conn.ReadFromUDPAddrPort(p.buf)
	return err != nil
}

// waitFor polls cond until it holds, failing the test after a generous
// bound: packets cross loopback asynchronously.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// frames is a Source of n frames made by gen, and counts what it gave.
type frames struct {
	n, i int
	gen  func(i int, f *pcm.Frame)
}

func (s *frames) ReadFrame(f *pcm.Frame) error {
	if s.i >= s.n {
		return io.EOF
	}
	s.gen(s.i, f)
	s.i++
	return nil
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

func (c *collector) frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.samples) / pcm.FrameSamples
}

func (c *collector) copy() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.samples...)
}
