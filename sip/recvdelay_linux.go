package sip

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// timedConn is the UDP listener as sipgo reads it, with the kernel's arrival
// time of every datagram (SO_TIMESTAMPNS): how long it waited in the socket
// is the SIP server's queue, which grows first when the server falls behind.
type timedConn struct {
	*net.UDPConn
	record func(time.Duration)
	oob    []byte // sipgo reads from one goroutine, so one buffer serves
}

// timeArrivals makes conn report each datagram's wait to record; conn as it
// is when the kernel will not time them.
func timeArrivals(conn net.PacketConn, record func(time.Duration)) net.PacketConn {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return conn
	}
	raw, err := udp.SyscallConn()
	if err != nil {
		return conn
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return conn
	}
	return &timedConn{UDPConn: udp, record: record, oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))}
}

func (c *timedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, oobn, _, addr, err := c.ReadMsgUDP(b, c.oob)
	if err != nil {
		return n, nil, err
	}
	if at, ok := arrival(c.oob[:oobn]); ok {
		c.record(max(0, time.Since(at)))
	}
	return n, addr, nil
}

// arrival reads the SCM_TIMESTAMPNS control message, the only one asked
// for, without the allocations of unix.ParseSocketControlMessage.
func arrival(oob []byte) (time.Time, bool) {
	const size = int(unsafe.Sizeof(unix.Timespec{}))
	if len(oob) < unix.CmsgLen(size) {
		return time.Time{}, false
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return time.Time{}, false
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
	return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
}
