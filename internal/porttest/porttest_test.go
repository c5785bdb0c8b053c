package porttest

import (
	"net"
	"strconv"
	"testing"
)

func bind(port int) error {
	c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		c.Close()
	}
	return err
}

// FreeUDP's port and the three above it can be bound; HeldUDPPair's two
// cannot while the test runs.
func TestPorts(t *testing.T) {
	free := FreeUDP(t)
	if free%2 != 0 {
		t.Errorf("FreeUDP gave the odd port %d", free)
	}
	for p := free; p < free+4; p++ {
		if err := bind(p); err != nil {
			t.Errorf("FreeUDP's port %d is taken: %v", p, err)
		}
	}
	held := HeldUDPPair(t)
	if held%2 != 0 {
		t.Errorf("HeldUDPPair gave the odd port %d", held)
	}
	for p := held; p < held+2; p++ {
		if bind(p) == nil {
			t.Errorf("HeldUDPPair's port %d could be bound", p)
		}
	}
	if c := ListenUDP(t); c.LocalAddr().(*net.UDPAddr).IP.String() != "127.0.0.1" {
		t.Errorf("ListenUDP is on %v", c.LocalAddr())
	}
}
