package sip

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tcpListener is the SIP TCP listener as sipgo serves it. sipgo keeps every
// accepted connection for as long as the peer holds it, with a goroutine and
// a 32 KiB buffer each, and stops serving TCP for good at the first failed
// Accept: a burst of connections that used up the process's file descriptors
// (EMFILE) left a server that never took a TCP connection again, without a
// word. So this listener
//   - retries a failed Accept, backing off, until it is closed;
//   - closes, as soon as it is accepted, a connection past MaxTCPPerSource
//     of its source (Unlimited sources aside) or past MaxTCP in all, and one
//     from a banned source;
//   - closes a connection that brings nothing for TCPIdle, or nothing at all
//     in its first tcpFirstBytes.
type tcpListener struct {
	net.Listener
	srv    *Server
	closed chan struct{}
	once   sync.Once
}

// tcpCounts are the open connections of the server's TCP and TLS listeners,
// which share the bounds.
type tcpCounts struct {
	mu    sync.Mutex
	conns map[netip.Prefix]int
	total int
}

// tcpFirstBytes is how long a new connection may stay silent: a phone or a
// PBX sends its request as soon as it has connected.
const tcpFirstBytes = 30 * time.Second

func (s *Server) limitTCP(l net.Listener) *tcpListener {
	return &tcpListener{Listener: l, srv: s, closed: make(chan struct{})}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// Out of file descriptors or kernel memory: calls ending and
			// connections closing will free some.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			l.srv.badLog.Warn("sip: cannot accept TCP connections, retrying", "error", err.Error(), "in", wait.String())
			select {
			case <-time.After(wait):
				continue
			case <-l.closed:
				return nil, net.ErrClosed
			}
		}
		wait = 0
		if conn, ok := l.admit(c); ok {
			return conn, nil
		}
		c.Close()
	}
}

// admit counts an accepted connection, or says it must be closed.
func (l *tcpListener) admit(c net.Conn) (net.Conn, bool) {
	addr, ok := addrOf(c.RemoteAddr())
	if !ok {
		return nil, false
	}
	opts := &l.srv.opts
	if l.srv.auth.bans.banned(addr, opts.Now()) {
		l.srv.dropped.Add(1)
		return nil, false
	}
	src := sourceOf(addr)
	limited := !inPrefixes(addr, opts.Unlimited)
	n := &l.srv.tcp
	n.mu.Lock()
	why := ""
	switch {
	case n.total >= opts.MaxTCP:
		why = "too many TCP connections"
	case limited && n.conns[src] >= opts.MaxTCPPerSource:
		why = "too many TCP connections from this source"
	default:
		if n.conns == nil {
			n.conns = map[netip.Prefix]int{}
		}
		n.total++
		n.conns[src]++
	}
	n.mu.Unlock()
	if why != "" {
		l.srv.badLog.Warn("sip: TCP connection refused", "source", src.String(), "why", why)
		return nil, false
	}
	return &tcpConn{Conn: c, l: l, src: src, idle: min(tcpFirstBytes, opts.TCPIdle)}, true
}

func (l *tcpListener) release(src netip.Prefix) {
	n := &l.srv.tcp
	n.mu.Lock()
	defer n.mu.Unlock()
	n.total--
	if n.conns[src]--; n.conns[src] <= 0 {
		delete(n.conns, src)
	}
}

func (l *tcpListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// tcpConn is an accepted connection that counts against its source's until it
// is closed, and is closed when idle.
type tcpConn struct {
	net.Conn
	l    *tcpListener
	src  netip.Prefix
	idle time.Duration // until the first bytes, tcpFirstBytes; then TCPIdle
	once sync.Once
}

// Read is called by the connection's one reading goroutine only.
func (c *tcpConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.idle = c.l.srv.opts.TCPIdle
	}
	return n, err
}

func (c *tcpConn) Close() error {
	c.once.Do(func() { c.l.release(c.src) })
	return c.Conn.Close()
}
