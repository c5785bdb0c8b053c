package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Default port range of a PortPool (issue 5).
const (
	DefaultMinPort = 20000
	DefaultMaxPort = 30000
)

// Errors of the port pool.
var (
	ErrNoPorts   = errors.New("rtp: no free port pair in the range")
	ErrPortRange = errors.New("rtp: bad port range")
)

// PortPool hands out UDP port pairs from a range: an even port for RTP and the
// odd one above it for RTCP (RFC 3550 §11). A port another program holds is
// skipped: the pool does not own the range, it only tries it, so a bind that
// fails moves on to the next pair. Allocation goes round the range, so a pair
// just released is the last to be handed out again and stray packets of an
// ended call do not reach the next one.
type PortPool struct {
	addr     netip.Addr
	min, max int // even, inclusive; max+1 is the highest RTCP port

	mu    sync.Mutex
	next  int
	inUse map[int]bool
}

// PortPoolConfig configures a PortPool. The zero value binds 127.0.0.1 on the
// default range.
type PortPoolConfig struct {
	Addr    netip.Addr // default 127.0.0.1
	MinPort int        // default DefaultMinPort; rounded up to even
	MaxPort int        // default DefaultMaxPort; the last RTCP port is at most this
}

// NewPortPool checks the range and returns a pool over it.
func NewPortPool(cfg PortPoolConfig) (*PortPool, error) {
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if cfg.MinPort == 0 {
		cfg.MinPort = DefaultMinPort
	}
	if cfg.MaxPort == 0 {
		cfg.MaxPort = DefaultMaxPort
	}
	lo := cfg.MinPort + cfg.MinPort%2
	hi := cfg.MaxPort - 1
	hi -= hi % 2
	if lo < 1024 || cfg.MaxPort > 65535 || hi < lo {
		return nil, fmt.Errorf("%w: %d-%d", ErrPortRange, cfg.MinPort, cfg.MaxPort)
	}
	return &PortPool{addr: cfg.Addr, min: lo, max: hi, next: lo, inUse: map[int]bool{}}, nil
}

// Addr is the address the pool binds.
func (p *PortPool) Addr() netip.Addr { return p.addr }

// InUse is how many pairs are handed out and not yet released.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// open binds the next free pair. Binding happens under the lock: it is a
// syscall per port, and it keeps two callers from racing for the same pair.
func (p *PortPool) open() (rtpConn, rtcpConn udpSocket, port int, err error) {
	return openWith(p, listenPair)
}

// openUDP is open with net.UDPConns, which SDES reads itself.
func (p *PortPool) openUDP() (rtpConn, rtcpConn *net.UDPConn, port int, err error) {
	return openWith(p, listenUDPPair)
}

func openWith[S any](p *PortPool, listen func(netip.Addr, int) (S, S, error)) (rtpConn, rtcpConn S, port int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pairs := (p.max-p.min)/2 + 1
	for range pairs {
		port = p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		rtpConn, rtcpConn, err = listen(p.addr, port)
		if err != nil {
			continue
		}
		p.inUse[port] = true
		return rtpConn, rtcpConn, port, nil
	}
	var none S
	return none, none, 0, fmt.Errorf("%w %d-%d on %s", ErrNoPorts, p.min, p.max+1, p.addr)
}

// udpSocket is how an endpoint sends on its RTP and RTCP sockets: a
// *net.UDPConn, which it also reads from, or on Linux a socket that spares Go's
// poller a wake-up per packet sent, read through its pair (see
// socket_linux.go). Close ends a read in progress.
type udpSocket interface {
	WriteToUDPAddrPort(b []byte, dst netip.AddrPort) (int, error)
	Close() error
}

// listenUDPPair binds a port pair as net.UDPConns.
func listenUDPPair(addr netip.Addr, port int) (rtpConn, rtcpConn *net.UDPConn, err error) {
	r, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
	if err != nil {
		return nil, nil, err
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port+1))))
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, c, nil
}

func (p *PortPool) release(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
}
