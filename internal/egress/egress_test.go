package egress

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	own := netip.MustParseAddrPort("127.0.0.1:8080")
	p := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, Own: []netip.AddrPort{own}}
	cases := []struct {
		addr string
		why  string // "": reachable
	}{
		{"93.184.216.34:443", ""},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", ""},
		{"127.0.0.1:8080", ""}, // Vox's own listener
		{"[::ffff:127.0.0.1]:8080", ""},
		{"127.0.0.1:8081", "loopback"},
		{"[::1]:8080", "loopback"},
		{"10.20.3.4:80", ""}, // allowed
		{"10.21.3.4:80", "private"},
		{"192.168.1.1:80", "private"},
		{"172.16.0.1:80", "private"},
		{"[fd00::1]:80", "private"},
		{"169.254.169.254:80", "link-local"},
		{"[fe80::1]:80", "link-local"},
		{"0.0.0.0:80", "unicast"},
		{"224.0.0.1:80", "unicast"},
		{"100.64.0.1:80", "special-purpose"},
		{"[::ffff:10.0.0.1]:80", "private"},
		// Through NAT64 and 6to4, to the IPv4 address inside.
		{"[64:ff9b::a9fe:a9fe]:80", "link-local"},
		{"[64:ff9b::7f00:1]:8080", ""}, // 127.0.0.1:8080, Vox's own
		{"[64:ff9b::5db8:d822]:443", ""},
		{"[2002:c0a8:101::1]:80", "private"},
		{"[2002:5db8:d822::1]:443", ""},
		{"[64:ff9b:1::a00:1]:80", "special-purpose"},
		{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", "special-purpose"},
		{"[::a00:1]:80", "special-purpose"},
	}
	for _, c := range cases {
		err := p.Check(netip.MustParseAddrPort(c.addr))
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s refused: %v", c.addr, err)
		case c.why != "" && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: err = %v, want it refused as %s", c.addr, err, c.why)
		}
	}
}

// The client checks every connection it makes, redirects included.
func TestClient(t *testing.T) {
	hidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("secret")) }))
	defer hidden.Close()
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, hidden.URL, http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer open.Close()
	client := Policy{Own: []netip.AddrPort{netip.MustParseAddrPort(open.Listener.Addr().String())}}.Client()

	res, err := client.Get(open.URL)
	if err != nil {
		t.Fatalf("an allowed address: %v", err)
	}
	res.Body.Close()
	if _, err := client.Get(hidden.URL); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a loopback address: err = %v, want ErrForbidden", err)
	}
	if _, err := client.Get(open.URL + "/away"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a redirect to a loopback address: err = %v, want ErrForbidden", err)
	}
}
