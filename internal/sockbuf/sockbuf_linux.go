package sockbuf

import (
	"net"

	"golang.org/x/sys/unix"
)

func grow(conn *net.UDPConn, size int) (Sizes, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Sizes{}, err
	}
	var got Sizes
	var serr error
	if err := raw.Control(func(fd uintptr) { got, serr = growFD(int(fd), size) }); err != nil {
		return Sizes{}, err
	}
	return got, serr
}

func growFD(fd, size int) (Sizes, error) {
	for _, opt := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
		// The forced option ignores the sysctl's cap but needs
		// CAP_NET_ADMIN; the plain one is capped silently.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt[0], size) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt[1], size); err != nil {
				return Sizes{}, err
			}
		}
	}
	read, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return Sizes{}, err
	}
	write, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return Sizes{}, err
	}
	return Sizes{Read: read / 2, Write: write / 2}, nil
}
