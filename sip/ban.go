package sip

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// bans counts authentication failures per source and bans a source that
// fails too often, in the application: no firewall is needed. A source is an
// IPv4 address or an IPv6 /64, what one subscriber usually holds. Memory is
// bounded: at most max sources are tracked, the least recently failing one
// is forgotten first.
type bans struct {
	maxFailures int
	window      time.Duration // failures older than this are forgotten
	banFor      time.Duration

	mu      sync.Mutex
	max     int
	sources map[netip.Prefix]*list.Element // of *failures
	lru     *list.List                     // most recent failure first
}

type failures struct {
	source netip.Prefix
	count  int
	since  time.Time // the first failure of the window
	until  time.Time // the end of the ban, zero when not banned
}

func newBans(maxFailures int, window, banFor time.Duration, max int) *bans {
	return &bans{
		maxFailures: maxFailures, window: window, banFor: banFor, max: max,
		sources: make(map[netip.Prefix]*list.Element), lru: list.New(),
	}
}

// sourceOf is the prefix a ban applies to.
func sourceOf(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// fail records a failure from addr at now and returns the end of the ban it
// started, or the zero time when this failure started none.
func (b *bans) fail(addr netip.Addr, now time.Time) (bannedUntil time.Time) {
	src := sourceOf(addr)
	b.mu.Lock()
	defer b.mu.Unlock()
	var f *failures
	if e, ok := b.sources[src]; ok {
		b.lru.MoveToFront(e)
		f = e.Value.(*failures)
	} else {
		for len(b.sources) >= b.max {
			last := b.lru.Remove(b.lru.Back()).(*failures)
			delete(b.sources, last.source)
		}
		f = &failures{source: src}
		b.sources[src] = b.lru.PushFront(f)
	}
	if now.Before(f.until) {
		return time.Time{}
	}
	if f.count == 0 || now.Sub(f.since) > b.window {
		f.count, f.since, f.until = 0, now, time.Time{}
	}
	f.count++
	if f.count < b.maxFailures {
		return time.Time{}
	}
	f.count, f.until = 0, now.Add(b.banFor)
	return f.until
}

// banned says whether addr is banned at now.
func (b *bans) banned(addr netip.Addr, now time.Time) bool {
	src := sourceOf(addr)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.sources[src]
	return ok && now.Before(e.Value.(*failures).until)
}

// addrOf is the IP address of a transport's remote address.
func addrOf(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}
