package sip

import (
	"net"
	"testing"
	"time"
)

// TestArrivalsTimed: a datagram left unread for a while is reported as having
// waited at least that long, and reads as it would without the timing.
func TestArrivalsTimed(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var waits []time.Duration
	conn := timeArrivals(pc, func(d time.Duration) { waits = append(waits, d) })
	if _, ok := conn.(*timedConn); !ok {
		t.Fatalf("a UDP socket on Linux is not timed: %T", conn)
	}
	client, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	const held = 30 * time.Millisecond
	if _, err := client.Write([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(held)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "OPTIONS sip:x SIP/2.0\r\n\r\n" || from.String() != client.LocalAddr().String() {
		t.Fatalf("read %q from %v, want the datagram from %v", buf[:n], from, client.LocalAddr())
	}
	if len(waits) != 1 || waits[0] < held {
		t.Fatalf("waits %v, want one of at least %v", waits, held)
	}
}

// TestServerQueueDelay: the server's listener times what it reads.
func TestServerQueueDelay(t *testing.T) {
	srv := startServer(t, Options{})
	if d := srv.QueueDelays().Since(0.9); d != 0 {
		t.Fatalf("queue delay %v before any request", d)
	}
	p := newPhone(t, srv.addr, "udp", "alice", "secret")
	p.register(60)
	if d := srv.QueueDelays().Since(0.9); d <= 0 {
		t.Fatalf("queue delay %v after a REGISTER, want it measured", d)
	}
}
