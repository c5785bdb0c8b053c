package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// On Linux an endpoint's sockets are not handed to Go's network poller
// directly. The poller registers every socket for output as well as input,
// and a UDP socket reports output space each time a datagram it sent is
// freed: so every RTP packet sent woke the poller's thread whenever it was
// idle in epoll_wait, to find nothing to do. At fifty packets a second a
// call, that wake-up cost about a third of a packet's send (golang/go#17249).
//
// So the socket is watched for input only, by an epoll instance of its own,
// and that instance is what the poller watches: it becomes readable when the
// socket does, and a packet sent does not concern it. Reading and writing are
// system calls on the socket itself.
//
// Only IPv4 pools take this way; IPv6 ones use net.UDPConn.

// listenUDP binds one socket of a port pair.
func listenUDP(addr netip.AddrPort) (udpSocket, error) {
	if !addr.Addr().Is4() {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	}
	return listenUDP4(addr)
}

// udp4Socket is an IPv4 UDP socket read through its own epoll instance. It
// has one reader at a time (the endpoint's receive goroutine); writes may
// come from any goroutine.
type udp4Socket struct {
	fd int
	// mu is held for reading across a send and for writing to close fd,
	// so a send never reaches a descriptor number reused by another file.
	mu     sync.RWMutex
	closed bool

	poll *os.File // the epoll instance, in Go's poller
	rc   syscall.RawConn

	// The read in progress: read is made once, so a read allocates
	// nothing.
	buf  []byte
	n    int
	from netip.AddrPort
	err  error
	read func(uintptr) bool
}

func listenUDP4(addr netip.AddrPort) (_ *udp4Socket, err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	defer func() {
		if err != nil {
			syscall.Close(fd)
		}
	}()
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, os.NewSyscallError("bind", err))
	}
	efd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(efd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, so that os.NewFile hands it to the poller.
	if err := syscall.SetNonblock(efd, true); err != nil {
		syscall.Close(efd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	s := &udp4Socket{fd: fd, poll: os.NewFile(uintptr(efd), "rtp epoll")}
	if s.rc, err = s.poll.SyscallConn(); err != nil {
		s.poll.Close()
		return nil, err
	}
	s.read = s.readLocked
	return s, nil
}

// ReadFromUDPAddrPort waits for a datagram, as net.UDPConn's does.
func (s *udp4Socket) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	s.buf, s.err = b, nil
	if err := s.rc.Read(s.read); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if s.err != nil {
		return 0, netip.AddrPort{}, s.err
	}
	return s.n, s.from, nil
}

// readLocked reads a datagram without waiting; false asks the poller to wait
// for one. The poller's Read keeps Close from closing fd meanwhile.
func (s *udp4Socket) readLocked(uintptr) bool {
	var sa syscall.RawSockaddrInet4
	for {
		salen := uint32(syscall.SizeofSockaddrInet4)
		var p unsafe.Pointer
		if len(s.buf) > 0 {
			p = unsafe.Pointer(&s.buf[0])
		}
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(s.fd), uintptr(p), uintptr(len(s.buf)),
			syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		switch errno {
		case 0:
			port := (*[2]byte)(unsafe.Pointer(&sa.Port))
			s.n, s.from = int(n), netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(port[0])<<8|uint16(port[1]))
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.err = os.NewSyscallError("recvfrom", errno)
		return true
	}
}

var errFamily = errors.New("rtp: not an IPv4 address")

// WriteToUDPAddrPort sends b to dst at once: a datagram that finds the send
// buffer full is dropped (EAGAIN), where net.UDPConn would wait.
func (s *udp4Socket) WriteToUDPAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	ip := dst.Addr().Unmap()
	if !ip.Is4() {
		return 0, errFamily
	}
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ip.As4()}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(dst.Port()>>8), byte(dst.Port())
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(s.fd), uintptr(p), uintptr(len(b)),
			syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), syscall.SizeofSockaddrInet4)
		switch errno {
		case 0:
			return len(b), nil
		case syscall.EINTR:
			continue
		}
		return 0, os.NewSyscallError("sendto", errno)
	}
}

// Close ends a read in progress, which returns an error, and closes the
// socket once no read or write uses it.
func (s *udp4Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.closed = true
	// Closing the poller's file waits for a read in its callback.
	s.poll.Close()
	return syscall.Close(s.fd)
}
