package sip

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpOptions sends an OPTIONS over conn and reports whether a 200 came back.
func tcpOptions(t *testing.T, conn net.Conn, n int) bool {
	t.Helper()
	local := conn.LocalAddr().String()
	fmt.Fprintf(conn, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-tcp%d\r\nFrom: <sip:ping@%s>;tag=p%d\r\n"+
		"To: <sip:%s>\r\nCall-ID: tcp-%d-%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		testRealm, local, n, testRealm, n, testRealm, n, local)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line != "\r\n" { // keep-alive pongs come first
			return strings.HasPrefix(line, "SIP/2.0 200 ")
		}
	}
}

// closedByServer reports whether the server closed conn (rather than leaving
// it open until the deadline).
func closedByServer(conn net.Conn, within time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(within))
	_, err := conn.Read(make([]byte, 64))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func dialTCP(t *testing.T, addr netip.AddrPort) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestTCPConnectionsPerSource(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{MaxTCPPerSource: 3})
	var held []net.Conn
	for i := range 3 {
		conn := dialTCP(t, ts.addr)
		if !tcpOptions(t, conn, i) {
			t.Fatalf("connection %d not served", i)
		}
		held = append(held, conn)
	}
	if extra := dialTCP(t, ts.addr); !closedByServer(extra, 10*time.Second) {
		t.Fatal("a fourth connection from the source was kept")
	}
	held[0].Close()
	// The count drops once sipgo has seen the close; a new connection is
	// then served.
	deadline := time.Now().Add(10 * time.Second)
	for i := 10; ; i++ {
		conn := dialTCP(t, ts.addr)
		if tcpOptions(t, conn, i) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection served after one of the three closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(ts.logs.String(), "too many TCP connections from this source") {
		t.Errorf("no log line about the refused connection:\n%s", ts.logs.String())
	}
}

func TestTCPConnectionsInAll(t *testing.T) {
	t.Parallel()
	// Unlimited sources are exempt from the bound per source, not from the
	// bound on all.
	ts := startServer(t, Options{MaxTCP: 2, MaxTCPPerSource: 1, Unlimited: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for i := range 2 {
		if !tcpOptions(t, dialTCP(t, ts.addr), i) {
			t.Fatalf("connection %d not served", i)
		}
	}
	if !closedByServer(dialTCP(t, ts.addr), 10*time.Second) {
		t.Fatal("a third connection was kept")
	}
}

func TestTCPIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{TCPIdle: time.Second})
	silent := dialTCP(t, ts.addr)
	talking := dialTCP(t, ts.addr)
	if !tcpOptions(t, talking, 1) {
		t.Fatal("not served")
	}
	// RFC 5626 keep-alives keep a connection; nothing at all closes it.
	for range 25 {
		if _, err := talking.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !closedByServer(silent, 10*time.Second) {
		t.Fatal("a silent connection stayed open")
	}
	if !tcpOptions(t, talking, 2) {
		t.Fatal("a connection kept alive was closed")
	}
}

// fakeListener fails its first Accepts as a process out of file descriptors
// does, then hands out conns.
type fakeListener struct {
	fails  atomic.Int32
	conns  chan net.Conn
	closed chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *fakeListener) Close() error   { close(l.closed); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestTCPAcceptRetries: sipgo stops serving TCP at the first failed Accept,
// so one EMFILE used to end TCP for good.
func TestTCPAcceptRetries(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{}).Server
	fake := &fakeListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	fake.fails.Store(3)
	ours, theirs := net.Pipe()
	defer theirs.Close()
	fake.conns <- pipeConn{ours}
	l := srv.limitTCP(fake)
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept after three EMFILEs: %v", err)
	}
	c.Close()

	fake.fails.Store(1 << 30)
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept on a closed listener: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept kept retrying after Close")
	}
}

// pipeConn is a net.Pipe end with a TCP peer address, as accepted
// connections have.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5999} }
