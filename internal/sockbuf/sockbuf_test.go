package sockbuf

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
)

// A grown socket holds a burst its reader has not got to yet, as many
// datagrams as its granted size allows; a socket left at the default drops
// most of the same burst.
func TestGrownSocketHoldsBurst(t *testing.T) {
	const want = 8 << 20
	grown := porttest.ListenUDP(t)
	got, err := Grow(grown, want)
	if err != nil {
		t.Fatal(err)
	}
	if why, short := got.Short(want); short {
		// Root has CAP_NET_ADMIN, which the forced size needs (CI runs as
		// root); elsewhere the sysctls may cap it.
		if os.Geteuid() == 0 {
			t.Fatalf("root was granted less: %s", why)
		}
		t.Logf("this machine grants less: %s", why)
	}
	// A 1,000-byte datagram takes at most 4 KiB of buffer with the
	// kernel's overhead; 2,000 of them are ten times the default buffer.
	burst := min(2000, got.Read/4096)
	if held := sendBurst(t, grown, burst); held != burst {
		t.Errorf("the grown socket (%+v) held %d of a burst of %d", got, held, burst)
	}
	if held := sendBurst(t, porttest.ListenUDP(t), 2000); held >= 2000 {
		t.Errorf("a socket with the default buffer held all of a burst of 2,000: the burst proves nothing")
	}
}

func TestShort(t *testing.T) {
	for _, tc := range []struct {
		got   Sizes
		short bool
		says  string
	}{
		{Sizes{Read: 8 << 20, Write: 8 << 20}, false, ""},
		{Sizes{Read: 212992, Write: 8 << 20}, true, "net.core.rmem_max"},
		{Sizes{Read: 8 << 20, Write: 212992}, true, "net.core.wmem_max"},
		{Sizes{Read: 212992, Write: 212992}, true, "rmem_max and net.core.wmem_max"},
	} {
		why, short := tc.got.Short(8 << 20)
		if short != tc.short || !strings.Contains(why, tc.says) {
			t.Errorf("%+v: short %v, %q; want %v, saying %q", tc.got, short, why, tc.short, tc.says)
		}
	}
}

// sendBurst sends n datagrams of 1,000 bytes to conn before reading any, and
// returns how many it then reads.
func sendBurst(t *testing.T, conn *net.UDPConn, n int) int {
	t.Helper()
	out, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	payload := make([]byte, 1000)
	for range n {
		if _, err := out.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2000)
	held := 0
	for held < n {
		// Loopback delivers within the sender's write, so whatever is not
		// queued by now was dropped.
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			break
		}
		held++
	}
	return held
}
