// Package porttest gives tests UDP ports and sockets on 127.0.0.1: free port
// numbers for the tests that start SIPp and other outside phones, which want
// a number, not a socket; ports held so that nobody else can take them; and
// sockets closed with the test.
package porttest

import (
	"net"
	"strconv"
	"testing"
)

// FreeUDP is an even UDP port free on 127.0.0.1 now, with the three above it
// free too: SIPp's media port is followed by its RTCP and video ports.
func FreeUDP(t testing.TB) int {
	t.Helper()
	port, held := evenRun(t, 4)
	for _, c := range held {
		c.Close()
	}
	return port
}

// HeldUDPPair is an even UDP port on 127.0.0.1 and the odd one above it,
// bound until the test ends: an RTP port pair no pool can hand out.
func HeldUDPPair(t testing.TB) int {
	t.Helper()
	port, held := evenRun(t, 2)
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	return port
}

// ListenUDP is a socket on a free port of 127.0.0.1, closed when the test
// ends.
func ListenUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// evenRun binds n UDP ports in a row on 127.0.0.1, the first of them even,
// and returns the first and the sockets holding them.
func evenRun(t testing.TB, n int) (int, []net.PacketConn) {
	t.Helper()
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held := []net.PacketConn{c}
		port := c.LocalAddr().(*net.UDPAddr).Port
		for p := port + 1; port%2 == 0 && port+n-1 <= 65535 && p < port+n; p++ {
			c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break
			}
			held = append(held, c)
		}
		if len(held) == n && port%2 == 0 {
			return port, held
		}
		for _, c := range held {
			c.Close()
		}
	}
	t.Fatalf("no %d free UDP ports in a row", n)
	return 0, nil
}
