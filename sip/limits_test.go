package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newRateLimiter(10, 20, []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, 3)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 20 {
		if !l.allow(a, 1, now) {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if l.allow(a, 1, now) {
		t.Fatal("the burst is not the limit")
	}
	// A refused request takes nothing: 100 ms later there is one token.
	now = now.Add(100 * time.Millisecond)
	if !l.allow(a, 1, now) || l.allow(a, 1, now) {
		t.Fatal("not one token after 100 ms at 10/s")
	}
	// A TCP read holding several requests takes as many.
	now = now.Add(time.Second)
	if l.allow(a, 11, now) || !l.allow(a, 10, now) {
		t.Fatal("a read of several requests")
	}
	if !l.allow(netip.MustParseAddr("192.0.2.2"), 1, now) {
		t.Fatal("another address is limited")
	}
	for range 100 {
		if !l.allow(netip.MustParseAddr("10.9.1.1"), 1, now) {
			t.Fatal("an unlimited source is limited")
		}
	}

	// IPv6: the /64 shares one bucket.
	for i := range 20 {
		l.allow(netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1)), 1, now)
	}
	if l.allow(netip.MustParseAddr("2001:db8:1:2:ffff::1"), 1, now) {
		t.Fatal("IPv6 rates are per /64")
	}
	if !l.allow(netip.MustParseAddr("2001:db8:1:3::1"), 1, now) {
		t.Fatal("the next /64 is limited")
	}

	// Bounded: many sources keep at most max buckets.
	for i := range 100_000 {
		l.allow(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 1, now)
	}
	if len(l.sources) != 3 || l.lru.Len() != 3 {
		t.Fatalf("%d sources, %d in the list", len(l.sources), l.lru.Len())
	}

	off := newRateLimiter(-1, 0, nil, 1)
	for range 1000 {
		if !off.allow(a, 1, now) {
			t.Fatal("a negative rate limits")
		}
	}
}

func TestRequestsIn(t *testing.T) {
	for _, tt := range []struct {
		data   string
		stream bool
		want   int
	}{
		{"OPTIONS sip:x SIP/2.0\r\n\r\n", false, 1},
		{"SIP/2.0 200 OK\r\n\r\n", false, 0},
		{"\r\n\r\n", false, 0},
		{"\r\n\r\n", true, 0},
		{"OPTIONS sip:x SIP/2.0\r\nA: b\r\n\r\nOPTIONS sip:x SIP/2.0\r\n\r\nOPTI", true, 2},
		{"OPTIONS sip:x SIP/2.0\r\nA: b", true, 0},
	} {
		if got := requestsIn([]byte(tt.data), tt.stream); got != tt.want {
			t.Errorf("requestsIn(%q, %v) = %d, want %d", tt.data, tt.stream, got, tt.want)
		}
	}
}

func TestHasSIPVersion(t *testing.T) {
	for line, want := range map[string]bool{
		"OPTIONS sip:x SIP/2.0\r\nVia: x":   true,
		"OPTIONS sip:x sip/7.0\r\n":         true,
		"OPTIONS sip:x SIP/2.0":             true,
		"OPTIONS sip:x SIP0000\r\n":         false,
		"OPTIONS sip:x SIP/2.\r\n":          false,
		"OPTIONS sip:x SIP/2.0 \r\n":        false,
		"OPTIONS sip:x SIP/a.0\r\n":         false,
		"":                                  false,
		"OPTIONS\r\nX: SIP/2.0":             false,
		"OPTIONS sip:x SIP/12.34\r\n\r\n":   true,
		"OPTIONS sip:x SIP/2.0\x00\r\n\r\n": false,
	} {
		if got := hasSIPVersion([]byte(line)); got != want {
			t.Errorf("hasSIPVersion(%q) = %v", line, got)
		}
	}
}

// A flood from one address is cut to its rate while another address is
// served; the clock stands still, so the burst is all the flood gets.
func TestRequestRateFlood(t *testing.T) {
	srv := startServer(t, Options{RequestRate: 5, RequestBurst: 10})
	flood, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	other, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	to := net.UDPAddrFromAddrPort(srv.addr)
	for i := range 50 {
		if _, err := flood.WriteTo([]byte(options(fmt.Sprintf("flood-%d", i), "UDP "+flood.LocalAddr().String())), to); err != nil {
			t.Fatal(err)
		}
	}
	sendProbe(t, other, srv.addr, "other-1")
	readAnswers(t, other, "", "other-1", false)
	// The other source's request was read after the flood: every drop is
	// counted by now.
	if got := srv.limited.Load(); got != 40 {
		t.Fatalf("%d requests dropped, want 40", got)
	}
	if got := countAnswers(t, flood, "flood-"); got != 10 {
		t.Fatalf("the flood got %d answers, want the burst of 10", got)
	}

	// A second later, the rate's worth is served again.
	srv.clock.add(time.Second)
	for i := range 10 {
		flood.WriteTo([]byte(options(fmt.Sprintf("later-%d", i), "UDP "+flood.LocalAddr().String())), to)
	}
	sendProbe(t, other, srv.addr, "other-2")
	readAnswers(t, other, "", "other-2", false)
	if got := countAnswers(t, flood, "later-"); got != 5 {
		t.Fatalf("a second later the flood got %d answers, want 5", got)
	}

	logged := strings.Count(srv.logs.String(), "over its request rate")
	if logged == 0 || logged > logBurst {
		t.Fatalf("%d log lines about the flood:\n%s", logged, srv.logs)
	}

	// Over TCP, a read of more requests than the source may send closes
	// the connection.
	conn, err := net.Dial("tcp", srv.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var burst strings.Builder
	for i := range 50 {
		burst.WriteString(options(fmt.Sprintf("tcp-flood-%d", i), "TCP "+conn.LocalAddr().String()))
	}
	conn.Write([]byte(burst.String()))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a TCP flood keeps its connection")
			}
			break
		}
	}
}

// countAnswers reads the 200s to the requests whose Call-ID starts with
// prefix until none comes for a while.
func countAnswers(t *testing.T, conn net.PacketConn, prefix string) int {
	t.Helper()
	n := 0
	buf := make([]byte, 65536)
	for {
		// Only the end of the answers waits this long.
		conn.SetReadDeadline(time.Now().Add(time.Second))
		size, _, err := conn.ReadFrom(buf)
		if err != nil {
			return n
		}
		if m := callIDLine.FindSubmatch(buf[:size]); m != nil && strings.HasPrefix(string(m[1]), prefix) && statusOf(buf[:size]) == 200 {
			n++
		}
	}
}

// Requests that may not go on get the answer that says why.
func TestRefused(t *testing.T) {
	srv := startServer(t, Options{})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	self := srv.addr.String()
	request := func(method, uri, cseqMethod, extra string) func(string) string {
		return func(callID string) string {
			return method + " " + uri + " SIP/2.0\r\n" + extra +
				"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK-" + callID + ";rport\r\n" +
				"From: <sip:ping@vox.test>;tag=p\r\nTo: <sip:vox.test>\r\nCall-ID: " + callID + "\r\nCSeq: 1 " + cseqMethod + "\r\n" +
				"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		}
	}
	tests := []struct {
		name    string
		request func(callID string) string
		code    int
	}{
		{"our own address in a Via below the first", func(callID string) string {
			return strings.Replace(request("OPTIONS", "sip:vox.test", "OPTIONS", "")(callID), "Call-ID:",
				"Via: SIP/2.0/UDP "+self+";branch=z9hG4bK-earlier\r\nCall-ID:", 1)
		}, 482},
		{"our own address in the first Via", func(callID string) string {
			return strings.Replace(request("OPTIONS", "sip:vox.test", "OPTIONS", "")(callID), "Via: SIP/2.0/UDP ",
				"Via: SIP/2.0/UDP "+self+";branch=z9hG4bK-x;rport\r\nVia: SIP/2.0/UDP ", 1)
		}, 482},
		{"another port of ours is another server", func(callID string) string {
			return strings.Replace(request("OPTIONS", "sip:vox.test", "OPTIONS", "")(callID), "Call-ID:",
				fmt.Sprintf("Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-other\r\nCall-ID:", srv.addr.Addr(), srv.addr.Port()+1), 1)
		}, 200},
		{"SIP/3.0", func(callID string) string {
			return strings.Replace(request("OPTIONS", "sip:vox.test", "OPTIONS", "")(callID), "SIP/2.0\r\n", "SIP/3.0\r\n", 1)
		}, 505},
		{"CSeq of another method", request("OPTIONS", "sip:vox.test", "REGISTER", ""), 400},
		{"headers in the Request-URI", request("OPTIONS", "sip:vox.test?Route=%3Csip:evil.example%3E", "OPTIONS", ""), 400},
		{"an unknown method", request("FROBNICATE", "sip:vox.test", "FROBNICATE", ""), 501},
		{"a known method nobody handles", request("PUBLISH", "sip:vox.test", "PUBLISH", ""), 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callID := strings.NewReplacer(" ", "-", "/", "-", ".", "-").Replace(tt.name)
			if _, err := conn.WriteTo([]byte(tt.request(callID)), net.UDPAddrFromAddrPort(srv.addr)); err != nil {
				t.Fatal(err)
			}
			got := readAnswers(t, conn, callID, "", true)
			if len(got) != 1 || got[0] != tt.code {
				t.Fatalf("got %v, want %d", got, tt.code)
			}
		})
	}
}
