//go:build !linux

package sockbuf

import (
	"errors"
	"net"
)

func grow(conn *net.UDPConn, size int) (Sizes, error) {
	// Without a portable way to ask what the kernel granted, what was
	// asked for is reported.
	return Sizes{Read: size, Write: size}, errors.Join(conn.SetReadBuffer(size), conn.SetWriteBuffer(size))
}
