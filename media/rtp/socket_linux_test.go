//go:build linux && !386

package rtp

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestUDP4Pair: a pair reads what was queued on both sockets before and
// after a read started, with its source, taking turns; each socket sends
// from its own port; Close ends a read waiting and the writes to come.
func TestUDP4Pair(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	rtpConn, rtcpConn, port, err := pool.open()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.release(port)
	s, ok := rtpConn.(*udp4Socket)
	if !ok {
		t.Fatalf("an IPv4 pool's RTP socket is a %T", rtpConn)
	}
	rtcpSock := rtcpConn.(*udp4Socket)
	local := netip.AddrPortFrom(loopback, uint16(port))
	localRTCP := netip.AddrPortFrom(loopback, uint16(port+1))
	ph := newPhone(t)

	// Queued before any read, then read in one go: the poller sees input
	// that was there before it looked, and neither socket waits for the
	// other to run dry.
	const queued = 50
	for i := range queued {
		ph.conn.WriteToUDPAddrPort([]byte{byte(i)}, local)
		ph.conn.WriteToUDPAddrPort([]byte{byte(i), 'c'}, localRTCP)
	}
	rtpBuf, rtcpBuf := make([]byte, maxPacket), make([]byte, maxPacket)
	var nRTP, nRTCP int
	for i := range 2 * queued {
		n, from, isRTCP, err := s.ReadPair(rtpBuf, rtcpBuf)
		if err != nil || from != ph.addr() {
			t.Fatalf("datagram %d from %v: %v", i, from, err)
		}
		if isRTCP {
			if n != 2 || rtcpBuf[0] != byte(nRTCP) {
				t.Fatalf("RTCP datagram %d: %v", nRTCP, rtcpBuf[:n])
			}
			nRTCP++
		} else {
			if n != 1 || rtpBuf[0] != byte(nRTP) {
				t.Fatalf("RTP datagram %d: %v", nRTP, rtpBuf[:n])
			}
			nRTP++
		}
		if d := nRTP - nRTCP; d < -1 || d > 1 {
			t.Fatalf("%d RTP and %d RTCP datagrams read: one socket waits", nRTP, nRTCP)
		}
	}

	// A read that waits for its datagram.
	got := make(chan error, 1)
	go func() {
		n, from, isRTCP, err := s.ReadPair(rtpBuf, rtcpBuf)
		if err == nil && (n != 3 || from != ph.addr() || !isRTCP) {
			err = errors.New("wrong datagram")
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ph.conn.WriteToUDPAddrPort([]byte("abc"), localRTCP)
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// Each sends from its own port.
	for _, c := range []struct {
		s    *udp4Socket
		from netip.AddrPort
	}{{s, local}, {rtcpSock, localRTCP}} {
		if _, err := c.s.WriteToUDPAddrPort([]byte("xyz"), ph.addr()); err != nil {
			t.Fatal(err)
		}
		ph.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := ph.conn.ReadFromUDPAddrPort(ph.buf)
		if err != nil || string(ph.buf[:n]) != "xyz" || from != c.from {
			t.Fatalf("the phone got %q from %v, %v; want it from %v", ph.buf[:n], from, err, c.from)
		}
	}
	if _, err := s.WriteToUDPAddrPort([]byte("v6"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("sent to IPv6 from an IPv4 socket")
	}

	// Close ends a waiting read.
	go func() {
		_, _, _, err := s.ReadPair(rtpBuf, rtcpBuf)
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("a read after Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read")
	}
	if _, err := s.WriteToUDPAddrPort([]byte("late"), ph.addr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := rtcpSock.WriteToUDPAddrPort([]byte("still"), ph.addr()); err != nil {
		t.Fatalf("the RTCP socket closed with the RTP one: %v", err)
	}
	if err := rtcpSock.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestEndpointsLeaveNoDescriptors: an endpoint's sockets are closed by
// Close, and its epoll instance is closed or free for the next.
func TestEndpointsLeaveNoDescriptors(t *testing.T) {
	// Not parallel: it counts the process's descriptors.
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		epolls.Lock()
		defer epolls.Unlock()
		return len(ents) - len(epolls.free)
	}
	pool := testPool(t)
	ph := newPhone(t)
	before := fds()
	for range 100 {
		e, err := NewEndpoint(Config{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		e.SetRemote(ph.addr())
		ph.send(e.LocalAddr(), uint8(PCMU), make([]byte, 160))
		e.Close()
	}
	if after := fds(); after != before {
		t.Fatalf("%d descriptors open after the endpoints closed, %d before", after, before)
	}
}

// TestEpollReuse: a closed pair's epoll instance serves the next pair, whose
// reads wait for their datagrams again, and the first pair's late Close
// leaves it alone.
func TestEpollReuse(t *testing.T) {
	// Not parallel: it follows the free list.
	pool := testPool(t)
	ph := newPhone(t)
	a, aRTCP, aPort, err := pool.open()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	aRTCP.Close()
	pool.release(aPort)
	b, bRTCP, bPort, err := pool.open()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.release(bPort)
	defer bRTCP.Close()
	defer b.Close()
	if b.(*udp4Socket).pair.poll != a.(*udp4Socket).pair.poll {
		t.Fatal("the second pair has a new epoll instance")
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closing the first pair again: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, maxPacket)
		n, _, isRTCP, err := b.(*udp4Socket).ReadPair(buf, buf)
		if err == nil && (n != 4 || isRTCP) {
			err = errors.New("wrong datagram")
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ph.conn.WriteToUDPAddrPort([]byte("late"), netip.AddrPortFrom(loopback, uint16(bPort)))
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram through a reused epoll instance")
	}
}
