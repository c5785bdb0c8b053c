package sip

import (
	"net/netip"
	"testing"
	"time"
)

func TestBans(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := newBans(3, time.Minute, 10*time.Minute, 2)
	a := netip.MustParseAddr("192.0.2.1")
	if !b.fail(a, now).IsZero() || !b.fail(a, now).IsZero() {
		t.Fatal("banned early")
	}
	// The window passes: counting starts again.
	now = now.Add(2 * time.Minute)
	b.fail(a, now)
	b.fail(a, now)
	if until := b.fail(a, now); !until.Equal(now.Add(10 * time.Minute)) {
		t.Fatalf("third failure in a window: until %v", until)
	}
	if !b.banned(a, now) || !b.banned(netip.MustParseAddr("::ffff:192.0.2.1"), now) {
		t.Fatal("not banned")
	}
	if !b.fail(a, now).IsZero() {
		t.Fatal("a failure during the ban started another")
	}
	if b.banned(netip.MustParseAddr("192.0.2.2"), now) || b.banned(a, now.Add(10*time.Minute)) {
		t.Fatal("banned too much")
	}

	// IPv6: the /64 is banned.
	v6 := netip.MustParseAddr("2001:db8:1:2::1")
	for range 3 {
		b.fail(v6, now)
	}
	if !b.banned(netip.MustParseAddr("2001:db8:1:2:ffff::9"), now) || b.banned(netip.MustParseAddr("2001:db8:1:3::1"), now) {
		t.Fatal("IPv6 bans are per /64")
	}

	// Bounded: a third source pushes out the least recent one (a).
	b.fail(netip.MustParseAddr("198.51.100.1"), now)
	if len(b.sources) != 2 || b.banned(a, now) {
		t.Fatalf("%d sources, a banned %v", len(b.sources), b.banned(a, now))
	}
}
