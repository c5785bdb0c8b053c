package sip

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
	"vox/internal/sockbuf"
)

// A burst of requests larger than a default socket buffer holds (here 3,000
// keep-alive OPTIONS sent at once, as phones behind a NAT that just came
// back may send them) is answered whole: the SIP socket holds what its
// reader has not got to yet, rather than the kernel dropping it.
func TestUDPBurstAnswered(t *testing.T) {
	const burst = 3000
	ts := startServer(t, Options{RequestRate: -1})
	conn := porttest.ListenUDP(t)
	// The phones' side holds the answers as the server's holds the requests.
	if _, err := sockbuf.Grow(conn, 8<<20); err != nil {
		t.Fatal(err)
	}
	server := net.UDPAddrFromAddrPort(ts.addr)
	local := conn.LocalAddr().String()
	for i := range burst {
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-burst-%d;rport\r\n"+
			"From: <sip:alice@%s>;tag=b%d\r\nTo: <sip:%s>\r\nCall-ID: burst-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			ts.addr, local, i, testRealm, i, ts.addr, i)
		if _, err := conn.WriteToUDP([]byte(msg), server); err != nil {
			t.Fatal(err)
		}
	}
	answered := map[string]bool{}
	buf := make([]byte, 65536)
	for len(answered) < burst {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		msg := string(buf[:n])
		if strings.HasPrefix(msg, "SIP/2.0 200 ") {
			answered[headerOf(msg, "Call-ID")] = true
		}
	}
	if len(answered) != burst {
		t.Errorf("%d of a burst of %d OPTIONS answered", len(answered), burst)
	}
}
