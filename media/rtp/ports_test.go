package rtp

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestPortPoolReleasesOnClose(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	seen := map[int]bool{}
	for round := range 5 {
		var eps []*Endpoint
		for range 20 {
			e, err := NewEndpoint(Config{Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			port := int(e.LocalAddr().Port())
			if port%2 != 0 {
				t.Fatalf("RTP port %d is odd", port)
			}
			seen[port] = true
			eps = append(eps, e)
		}
		if got := pool.InUse(); got != 20 {
			t.Fatalf("round %d: %d pairs in use, want 20", round, got)
		}
		for _, e := range eps {
			e.Close()
			e.Close() // twice is harmless
		}
		if got := pool.InUse(); got != 0 {
			t.Fatalf("round %d: %d pairs still in use after close", round, got)
		}
		// The sockets are really gone: the pair binds again.
		for _, e := range eps {
			for _, port := range []uint16{e.LocalAddr().Port(), e.LocalAddr().Port() + 1} {
				c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
				if err != nil {
					t.Fatalf("port %d not released: %v", port, err)
				}
				c.Close()
			}
		}
	}
	if len(seen) < 40 {
		t.Errorf("the pool reused ports early: %d distinct ports over 100 endpoints", len(seen))
	}
}

// bindFree binds a UDP port the test holds; ok is false when p is taken.
func bindFree(t *testing.T, port int) (*net.UDPConn, bool) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(port))))
	if err != nil {
		return nil, false
	}
	t.Cleanup(func() { c.Close() })
	return c, true
}

func TestPortPoolSkipsPortsInUse(t *testing.T) {
	t.Parallel()
	// Find an even port P and hold P (RTP of the first pair) and P+3 (RTCP
	// of the second): the pool must hand out neither pair.
	base := testPool(t).min
	var p int
	for p = base; p < base+400; p += 4 {
		_, ok1 := bindFree(t, p)
		_, ok2 := bindFree(t, p+3)
		if ok1 && ok2 {
			break
		}
	}
	pool, err := NewPortPool(PortPoolConfig{Addr: loopback, MinPort: p, MaxPort: p + 40})
	if err != nil {
		t.Fatal(err)
	}
	e := newEndpoint(t, Config{Pool: pool})
	got := int(e.LocalAddr().Port())
	if got == p || got == p+2 {
		t.Fatalf("pool handed out port %d, whose pair is held by another socket", got)
	}
	if got < p || got > p+40 {
		t.Fatalf("port %d outside the range %d-%d", got, p, p+40)
	}
}

func TestPortPoolExhausted(t *testing.T) {
	t.Parallel()
	// A small range may be partly held by other tests' sockets: try ranges until
	// one hands out at least one pair, so the test always checks something.
	var pool *PortPool
	var eps []*Endpoint
	for attempt := 0; attempt < 20 && len(eps) == 0; attempt++ {
		base := testPool(t).min
		var err error
		if pool, err = NewPortPool(PortPoolConfig{Addr: loopback, MinPort: base, MaxPort: base + 3}); err != nil {
			t.Fatal(err)
		}
		for {
			e, err := NewEndpoint(Config{Pool: pool})
			if errors.Is(err, ErrNoPorts) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, e)
			if len(eps) > 2 {
				t.Fatal("a range of two pairs handed out three")
			}
		}
	}
	if len(eps) == 0 {
		t.Fatal("20 probed ranges of two pairs were all held by other sockets")
	}
	eps[0].Close()
	e, err := NewEndpoint(Config{Pool: pool})
	if err != nil {
		t.Fatalf("a released pair was not handed out again: %v", err)
	}
	e.Close()
	for _, e := range eps[1:] {
		e.Close()
	}
}

func TestPortPoolConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      PortPoolConfig
		min, max int
		err      bool
	}{
		{name: "defaults", min: 20000, max: 29998},
		{name: "odd bounds", cfg: PortPoolConfig{MinPort: 30001, MaxPort: 30010}, min: 30002, max: 30008},
		{name: "one pair", cfg: PortPoolConfig{MinPort: 30000, MaxPort: 30001}, min: 30000, max: 30000},
		{name: "empty", cfg: PortPoolConfig{MinPort: 30000, MaxPort: 30000}, err: true},
		{name: "privileged", cfg: PortPoolConfig{MinPort: 100, MaxPort: 200}, err: true},
		{name: "too high", cfg: PortPoolConfig{MinPort: 60000, MaxPort: 70000}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPortPool(tc.cfg)
			if tc.err {
				if !errors.Is(err, ErrPortRange) {
					t.Fatalf("err = %v, want ErrPortRange", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.min != tc.min || p.max != tc.max || p.Addr() != loopback {
				t.Fatalf("range %d-%d on %s, want %d-%d on 127.0.0.1", p.min, p.max, p.Addr(), tc.min, tc.max)
			}
		})
	}
}
