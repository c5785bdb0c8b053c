package rtp

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDP4Socket: the socket reads what was queued before and after a read
// started, with its source, sends from its own port, and Close ends a read
// waiting and the writes to come.
func TestUDP4Socket(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	rtpConn, rtcpConn, port, err := pool.open()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.release(port)
	defer rtcpConn.Close()
	s, ok := rtpConn.(*udp4Socket)
	if !ok {
		t.Fatalf("an IPv4 pool's RTP socket is a %T", rtpConn)
	}
	local := netip.AddrPortFrom(loopback, uint16(port))
	ph := newPhone(t)

	// Queued before any read, then read in one go: the poller sees input
	// that was there before it looked.
	const queued = 100
	for i := range queued {
		ph.conn.WriteToUDPAddrPort([]byte{byte(i)}, local)
	}
	buf := make([]byte, maxPacket)
	for i := range queued {
		n, from, err := s.ReadFromUDPAddrPort(buf)
		if err != nil || n != 1 || buf[0] != byte(i) || from != ph.addr() {
			t.Fatalf("datagram %d: %d bytes %v from %v, %v", i, n, buf[:n], from, err)
		}
	}

	// A read that waits for its datagram.
	got := make(chan error, 1)
	go func() {
		n, from, err := s.ReadFromUDPAddrPort(buf)
		if err == nil && (n != 3 || from != ph.addr()) {
			err = errors.New("wrong datagram")
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ph.conn.WriteToUDPAddrPort([]byte("abc"), local)
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// Sent from the socket's port.
	if _, err := s.WriteToUDPAddrPort([]byte("xyz"), ph.addr()); err != nil {
		t.Fatal(err)
	}
	ph.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := ph.conn.ReadFromUDPAddrPort(ph.buf)
	if err != nil || string(ph.buf[:n]) != "xyz" || from != local {
		t.Fatalf("the phone got %q from %v, %v", ph.buf[:n], from, err)
	}
	if _, err := s.WriteToUDPAddrPort([]byte("v6"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("sent to IPv6 from an IPv4 socket")
	}

	// Close ends a waiting read.
	go func() {
		_, _, err := s.ReadFromUDPAddrPort(buf)
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
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}
