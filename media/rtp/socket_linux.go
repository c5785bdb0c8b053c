//go:build linux && !386

package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// 386 Linux has no recvfrom or sendto system call of its own (both go through
// socketcall), so it takes the portable path of socket_other.go.
//
// On Linux an endpoint's sockets are not handed to Go's network poller
// directly. The poller registers every socket for output as well as input,
// and a UDP socket reports output space each time a datagram it sent is
// freed: so every RTP packet sent woke the poller's thread whenever it was
// idle in epoll_wait, to find nothing to do (golang/go#17249). Sending to
// loopback from 400 sockets every 20 ms, that cost about a third of the CPU
// of a send (7.2 µs a packet against 5.3 µs), and BenchmarkPlaybackLoad
// fell by a fifth without it.
//
// So a port pair is watched for input only, by an epoll instance of its own,
// and that instance is what the poller watches: it becomes readable when
// either socket does, and a packet sent does not concern it. One goroutine
// reads both sockets (ReadPair); reading and writing are system calls on the
// sockets themselves.
//
// An epoll instance outlives its pair: registering one with the poller and
// tearing it down cost more than the pair's two sockets, so a closed pair's
// instance, empty once its sockets are closed, waits in a free list for the
// next pair.
//
// Only IPv4 pools take this way; IPv6 ones use net.UDPConn.

// listenPair binds the RTP and RTCP sockets of a port pair.
func listenPair(addr netip.Addr, port int) (rtpConn, rtcpConn udpSocket, err error) {
	if !addr.Is4() {
		return listenUDPPair(addr, port)
	}
	return listenPair4(addr, port)
}

// udp4Socket is one IPv4 socket of a pair: writes may come from any
// goroutine; the pair's goroutine reads it.
type udp4Socket struct {
	fd   int
	pair *udp4Pair

	// mu is held for reading across a send and for writing to close fd,
	// so a send never reaches a descriptor number reused by another file.
	mu     sync.RWMutex
	closed bool
}

// udp4Pair is the two sockets of a pair, their epoll instance and the read
// in progress.
type udp4Pair struct {
	poll      *epoll
	rtp, rtcp *udp4Socket

	// reading is held across a ReadPair, so that Close can wait for one
	// and then close a socket that no read uses.
	reading sync.Mutex
	stopped atomic.Bool // no read may start: set by Close before it waits
	open    int         // sockets not yet closed; guarded by reading

	// The read in progress, for read, which is made once so a read
	// allocates nothing.
	rtpBuf, rtcpBuf []byte
	n               int
	from            netip.AddrPort
	isRTCP          bool
	err             error
	rtcpFirst       bool // whose turn it is, so neither socket starves the other
	read            func(uintptr) bool
}

// epoll is an epoll instance in Go's poller, watching nothing or one pair.
type epoll struct {
	fd   int
	file *os.File
	rc   syscall.RawConn
}

// epolls is the free list of epoll instances, bounded so that a burst of
// calls does not keep its descriptors for ever.
var epolls struct {
	sync.Mutex
	free []*epoll
}

const maxFreeEpolls = 1024

func getEpoll() (*epoll, error) {
	epolls.Lock()
	if n := len(epolls.free); n > 0 {
		ep := epolls.free[n-1]
		epolls.free = epolls.free[:n-1]
		epolls.Unlock()
		return ep, nil
	}
	epolls.Unlock()
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so that os.NewFile hands it to the poller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	ep := &epoll{fd: fd, file: os.NewFile(uintptr(fd), "rtp epoll")}
	if ep.rc, err = ep.file.SyscallConn(); err != nil {
		ep.file.Close()
		return nil, err
	}
	return ep, nil
}

// putEpoll takes back an instance whose sockets are closed (a closed file
// leaves every epoll instance by itself) and whose reader has returned.
func putEpoll(ep *epoll) {
	if err := ep.file.SetReadDeadline(time.Time{}); err == nil {
		epolls.Lock()
		if len(epolls.free) < maxFreeEpolls {
			epolls.free = append(epolls.free, ep)
			epolls.Unlock()
			return
		}
		epolls.Unlock()
	}
	ep.file.Close()
}

func listenPair4(addr netip.Addr, port int) (_, _ udpSocket, err error) {
	var fds []int
	defer func() {
		if err != nil {
			for _, fd := range fds {
				syscall.Close(fd)
			}
		}
	}()
	for _, port := range []int{port, port + 1} {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, os.NewSyscallError("socket", err)
		}
		fds = append(fds, fd)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: addr.As4()}); err != nil {
			return nil, nil, fmt.Errorf("listen udp %s:%d: %w", addr, port, os.NewSyscallError("bind", err))
		}
	}
	ep, err := getEpoll()
	if err != nil {
		return nil, nil, err
	}
	for i, fd := range fds {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			for _, fd := range fds[:i] {
				syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_DEL, fd, nil)
			}
			putEpoll(ep)
			return nil, nil, os.NewSyscallError("epoll_ctl", err)
		}
	}
	p := &udp4Pair{poll: ep, open: 2}
	p.rtp = &udp4Socket{fd: fds[0], pair: p}
	p.rtcp = &udp4Socket{fd: fds[1], pair: p}
	p.read = p.readLocked
	return p.rtp, p.rtcp, nil
}

// pairReader is a port pair read by one goroutine.
type pairReader interface {
	// ReadPair waits for a datagram on either socket, reads it into
	// rtpBuf or rtcpBuf and says which.
	ReadPair(rtpBuf, rtcpBuf []byte) (n int, from netip.AddrPort, isRTCP bool, err error)
}

// ReadPair is the pair's ReadPair, on its RTP socket.
func (s *udp4Socket) ReadPair(rtpBuf, rtcpBuf []byte) (int, netip.AddrPort, bool, error) {
	p := s.pair
	p.reading.Lock()
	defer p.reading.Unlock()
	if p.stopped.Load() {
		return 0, netip.AddrPort{}, false, net.ErrClosed
	}
	p.rtpBuf, p.rtcpBuf, p.err = rtpBuf, rtcpBuf, nil
	if err := p.poll.rc.Read(p.read); err != nil {
		return 0, netip.AddrPort{}, false, err
	}
	if p.err != nil {
		return 0, netip.AddrPort{}, p.isRTCP, p.err
	}
	return p.n, p.from, p.isRTCP, nil
}

// readLocked reads a datagram from either socket without waiting; false asks
// the poller to wait for one. The caller holds reading, which keeps Close
// from closing the sockets meanwhile.
func (p *udp4Pair) readLocked(uintptr) bool {
	p.rtcpFirst = !p.rtcpFirst
	for i := range 2 {
		p.isRTCP = p.rtcpFirst == (i == 0)
		s, buf := p.rtp, p.rtpBuf
		if p.isRTCP {
			s, buf = p.rtcp, p.rtcpBuf
		}
		switch p.n, p.from, p.err = recvFrom4(s.fd, buf); {
		case p.err == syscall.EAGAIN:
		case p.err != nil:
			p.err = os.NewSyscallError("recvfrom", p.err)
			return true
		default:
			return true
		}
	}
	return false
}

// recvFrom4 reads a datagram without waiting, EAGAIN when there is none.
func recvFrom4(fd int, b []byte) (int, netip.AddrPort, error) {
	var (
		sa syscall.RawSockaddrInet4
		p  unsafe.Pointer
	)
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	for {
		salen := uint32(syscall.SizeofSockaddrInet4)
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(p), uintptr(len(b)),
			syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		switch errno {
		case 0:
			port := (*[2]byte)(unsafe.Pointer(&sa.Port))
			return int(n), netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(port[0])<<8|uint16(port[1])), nil
		case syscall.EINTR:
			continue
		}
		return 0, netip.AddrPort{}, errno
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

// Close ends the pair's read in progress, which returns an error, and
// closes the socket once no read or write uses it. The pair's epoll instance
// goes back to the free list with its second socket.
//
// It holds no lock of the socket while it waits for the reader, whose
// handlers may send on the socket: they fail at once.
func (s *udp4Socket) Close() error {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	// From here on no send uses fd, and the pair's epoll instance is
	// still the pair's: it goes back only after both sockets got here.
	p := s.pair
	// A read started before stopped was set ends at the deadline; one
	// after it does not start.
	p.stopped.Store(true)
	p.poll.file.SetReadDeadline(time.Unix(1, 0))
	p.reading.Lock()
	defer p.reading.Unlock()
	err := syscall.Close(s.fd)
	if p.open--; p.open == 0 {
		putEpoll(p.poll)
	}
	return err
}
