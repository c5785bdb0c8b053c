package rtp

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// impairments say what the proxy does to which packet, by arrival index.
type impairments struct {
	drop, dup, swap map[int]bool
	delay           map[int]int // held until this many more packets passed
}

// proxy is a UDP hop between two endpoints that drops, duplicates, swaps
// and delays packets as told: the network the statistics must describe.
type proxy struct {
	t         testing.TB
	in, out   *net.UDPConn
	to        netip.AddrPort
	imp       impairments
	seen      atomic.Int64 // datagrams read
	forwarded atomic.Int64 // datagrams written
}

func newProxy(t testing.TB, imp impairments) *proxy {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return &proxy{t: t, in: listen(), out: listen(), imp: imp}
}

func (p *proxy) inAddr() netip.AddrPort  { return p.in.LocalAddr().(*net.UDPAddr).AddrPort() }
func (p *proxy) outAddr() netip.AddrPort { return p.out.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *proxy) run() {
	type held struct {
		b       []byte
		release int
	}
	var waiting []held
	buf := make([]byte, maxPacket)
	forward := func(b []byte) {
		if _, err := p.out.WriteToUDPAddrPort(b, p.to); err == nil {
			p.forwarded.Add(1)
		}
	}
	for i := 0; ; i++ {
		n, _, err := p.in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		switch {
		case p.imp.drop[i]:
		case p.imp.swap[i]:
			waiting = append(waiting, held{b, i + 1})
		case p.imp.delay[i] > 0:
			waiting = append(waiting, held{b, i + p.imp.delay[i]})
		default:
			forward(b)
			if p.imp.dup[i] {
				forward(b)
			}
		}
		kept := waiting[:0]
		for _, h := range waiting {
			if h.release <= i {
				forward(h.b)
			} else {
				kept = append(kept, h)
			}
		}
		waiting = kept
		p.seen.Add(1)
	}
}

// TestStatisticsUnderImpairment sends 1000 packets from one endpoint to
// another through the proxy, one clock tick at a time, and checks that the
// receiver's RFC 3550 statistics report exactly what the proxy did.
func TestStatisticsUnderImpairment(t *testing.T) {
	t.Parallel()
	const n = 1000
	// Impaired packets sit on slots 5 apart, away from the start (the
	// latch's probation) and the end, so that no two impairments touch.
	slots := rand.New(rand.NewPCG(1, 2)).Perm(195)
	pick := func(from, count int) map[int]bool {
		m := map[int]bool{}
		for _, s := range slots[from : from+count] {
			m[10+5*s] = true
		}
		return m
	}
	delays := func(from, count, by int) map[int]int {
		m := map[int]int{}
		for i := range pick(from, count) {
			m[i] = by
		}
		return m
	}
	for _, tc := range []struct {
		name                  string
		imp                   impairments
		lost                  int64
		duplicates, reordered uint64
		jitter                bool
	}{
		{name: "clean"},
		{name: "drop 5%", imp: impairments{drop: pick(0, 50)}, lost: 50},
		{name: "duplicate 3%", imp: impairments{dup: pick(0, 30)}, duplicates: 30},
		{name: "swap 20 pairs", imp: impairments{swap: pick(0, 20)}, reordered: 20, jitter: true},
		{name: "delay 10 by 3 packets", imp: impairments{delay: delays(0, 10, 3)}, reordered: 10, jitter: true},
		{name: "all at once", imp: impairments{drop: pick(0, 50), dup: pick(50, 30), swap: pick(80, 20), delay: delays(100, 10, 3)},
			lost: 50, duplicates: 30, reordered: 30, jitter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			pool := testPool(t)
			a := newEndpoint(t, Config{Pool: pool, Clock: clock})
			b := newEndpoint(t, Config{Pool: pool, Clock: clock})
			px := newProxy(t, tc.imp)
			px.to = b.LocalAddr()
			a.SetRemote(px.inAddr())
			b.SetRemote(px.outAddr())
			go px.run()

			// The clock moves only when the receiver has taken everything
			// the proxy sent: arrival times are then exact.
			settle := func(i int) {
				waitFor(t, "the proxy", func() bool { return px.seen.Load() == int64(i) })
				waitFor(t, "the receiver", func() bool {
					st := b.Stats()
					return int64(st.PacketsReceived+st.Duplicates+st.Rejected) == px.forwarded.Load()
				})
			}
			pb := a.Play(context.Background(), &frames{n: n, gen: ramp})
			for i := 1; i < n; i++ {
				settle(i)
				clock.Tick(t)
			}
			settle(n)
			a.StopPlayback()
			pb.Err()

			st := b.Stats()
			t.Logf("%+v", st)
			// Packet 0 is the latch's probation: counted from packet 1.
			if st.Expected != n-1 || st.Lost != tc.lost || st.PacketsReceived != uint64(n-1-tc.lost) {
				t.Errorf("expected %d lost %d received %d; want %d %d %d", st.Expected, st.Lost, st.PacketsReceived, n-1, tc.lost, n-1-tc.lost)
			}
			if st.Duplicates != tc.duplicates || st.Reordered != tc.reordered {
				t.Errorf("duplicates %d reordered %d; want %d %d", st.Duplicates, st.Reordered, tc.duplicates, tc.reordered)
			}
			if tc.jitter != (st.MaxJitter > 0) {
				t.Errorf("max jitter %v", st.MaxJitter)
			}
			if tc.lost > 0 && st.Quality >= Quality(0, 0, 0) {
				t.Errorf("quality %d with %d lost", st.Quality, st.Lost)
			}
		})
	}
}
