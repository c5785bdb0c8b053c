// Package sockbuf sizes the buffers of a server's busy UDP sockets.
//
// A SIP or media server reads each socket on one goroutine; when the Go
// scheduler or a collection leaves that goroutine waiting, datagrams queue in
// the kernel, and beyond the socket's buffer they are dropped. The default
// buffer (net.core.rmem_default, 208 KiB on Debian) holds a hundred or so
// datagrams: at a thousand calls a second, SIP alone fills it in tens of
// milliseconds, and every INVITE or ACK dropped there costs the caller a
// retransmission half a second later, or the call.
package sockbuf

import (
	"fmt"
	"net"
)

// Sizes are a socket's buffers as the kernel granted them, in bytes of
// payload and overhead as the setter asked for them (Linux reports twice
// that; see socket(7)).
type Sizes struct {
	Read, Write int
}

// Short reports whether s falls short of want, and why, in words for an
// operator: the sysctl to raise.
func (s Sizes) Short(want int) (string, bool) {
	switch {
	case s.Read < want && s.Write < want:
		return fmt.Sprintf("receive %d and send %d bytes, not %d: raise net.core.rmem_max and net.core.wmem_max, or run with CAP_NET_ADMIN", s.Read, s.Write, want), true
	case s.Read < want:
		return fmt.Sprintf("receive %d bytes, not %d: raise net.core.rmem_max, or run with CAP_NET_ADMIN", s.Read, want), true
	case s.Write < want:
		return fmt.Sprintf("send %d bytes, not %d: raise net.core.wmem_max, or run with CAP_NET_ADMIN", s.Write, want), true
	}
	return "", false
}

// Grow asks for size bytes each way on conn, past net.core.rmem_max and
// wmem_max where the process may (CAP_NET_ADMIN), and returns what it got.
func Grow(conn *net.UDPConn, size int) (Sizes, error) {
	got, err := grow(conn, size)
	if err != nil {
		return got, fmt.Errorf("socket buffers: %w", err)
	}
	return got, nil
}
