// Package porttest finds free UDP ports on 127.0.0.1 for the tests that start
// SIPp and other outside phones, which want a port number, not a socket.
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
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if port%2 != 0 || port > 65000 {
			continue
		}
		free := true
		for p := port + 1; p < port+4 && free; p++ {
			c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if free = err == nil; free {
				c.Close()
			}
		}
		if free {
			return port
		}
	}
	t.Fatal("no four free UDP ports in a row")
	return 0
}
