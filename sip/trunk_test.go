package sip

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/numbers"
	"vox/runtime"
)

// kazakh is the seed's Kazakh operator (S18).
var kazakh = numbers.DialFormat{Country: "KZ", Domestic: numbers.DialNational, InternationalPrefix: "810"}

func TestTrunkValidate(t *testing.T) {
	ok := Trunk{Name: "kz", Account: "demo", Address: "192.0.2.1:5060"}
	cases := []struct {
		name  string
		edit  func(*Trunk)
		valid bool
	}{
		{"outbound only", func(*Trunk) {}, true},
		{"a name host", func(t *Trunk) { t.Address = "sip.example.net:5080"; t.Transport = "tcp" }, true},
		{"everything", func(t *Trunk) {
			t.AllowFrom = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
			t.InboundUser, t.InboundPassword = "in", "secret"
			t.User, t.Password, t.Register = "out", "secret", true
			t.CallerID, t.Dial = "77172000000", kazakh
		}, true},
		{"no name", func(t *Trunk) { t.Name = "" }, false},
		{"no account", func(t *Trunk) { t.Account = "" }, false},
		{"no port", func(t *Trunk) { t.Address = "192.0.2.1" }, false},
		{"port out of range", func(t *Trunk) { t.Address = "192.0.2.1:70000" }, false},
		{"TLS", func(t *Trunk) { t.Transport = "tls" }, true},
		{"SCTP", func(t *Trunk) { t.Transport = "sctp" }, false},
		{"inbound user without password", func(t *Trunk) { t.InboundUser = "in" }, false},
		{"register without credentials", func(t *Trunk) { t.Register = true }, false},
		{"caller ID breaking the URI", func(t *Trunk) { t.CallerID = "7717@evil" }, false},
		{"bad dial format", func(t *Trunk) { t.Dial = numbers.DialFormat{Domestic: numbers.DialNational} }, false},
		{"invalid prefix", func(t *Trunk) { t.AllowFrom = []netip.Prefix{{}} }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := ok
			c.edit(&tr)
			err := tr.Validate()
			if (err == nil) != c.valid {
				t.Fatalf("Validate() = %v, want valid %v", err, c.valid)
			}
			if err != nil && !errors.Is(err, ErrTrunk) {
				t.Fatalf("%v does not wrap ErrTrunk", err)
			}
		})
	}
}

func TestTrunkAdmits(t *testing.T) {
	allowed := Trunk{AllowFrom: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	digest := Trunk{InboundUser: "in", InboundPassword: "secret"}
	outbound := Trunk{}
	cases := []struct {
		name  string
		trunk Trunk
		src   string
		want  bool
	}{
		{"allow-listed", allowed, "192.0.2.7", true},
		{"allow-listed, IPv4 in IPv6", allowed, "::ffff:192.0.2.7", true},
		{"not allow-listed", allowed, "198.51.100.7", false},
		{"digest from anywhere", digest, "198.51.100.7", true},
		{"outbound only", outbound, "192.0.2.7", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.trunk.admits(netip.MustParseAddr(c.src)); got != c.want {
				t.Fatalf("admits(%s) = %v, want %v", c.src, got, c.want)
			}
		})
	}
}

// memTrunks holds trunks in memory, as the controller will.
type memTrunks []Trunk

func (m memTrunks) Inbound(_ context.Context, src netip.Addr) ([]Trunk, error) {
	var out []Trunk
	for _, t := range m {
		if t.admits(src) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m memTrunks) Outbound(_ context.Context, account string) ([]Trunk, error) {
	var out []Trunk
	for _, t := range m {
		if t.Account == account {
			out = append(out, t)
		}
	}
	return out, nil
}

// CallPSTN's number and caller ID as the trunk's carrier wants them (S18).
func TestTrunkTarget(t *testing.T) {
	ru := numbers.Preference{Country: "RU"}
	trunks := memTrunks{
		{Name: "kz", Account: "demo", Address: "192.0.2.1:5060", Dial: kazakh, Numbers: ru, User: "vox", Password: "pw"},
		{Name: "second", Account: "demo", Address: "192.0.2.2:5060"},
		{Name: "plus", Account: "intl", Address: "192.0.2.3:5080", Transport: "tcp", Domain: "sip.example.net",
			Dial: numbers.DialFormat{Plus: true}, CallerID: "441632960001"},
	}
	c := &calls{srv: &Server{opts: Options{LookupTimeout: time.Second}}, opts: CallOptions{Trunks: trunks}, log: slog.Default()}
	cases := []struct {
		name, account, to, caller string
		uri, from, peer           string
		code                      int
	}{
		{name: "seed's Moscow number on a Kazakh trunk", account: "demo", to: "74954451120", caller: "74951234567",
			uri: "sip:84954451120@192.0.2.1:5060", from: "84951234567", peer: "192.0.2.1:5060"},
		{name: "typed the Russian way", account: "demo", to: "8 (495) 445-11-20", caller: "phone67",
			uri: "sip:84954451120@192.0.2.1:5060", from: "phone67", peer: "192.0.2.1:5060"},
		{name: "international through a Kazakh trunk", account: "demo", to: "+44 20 7946 0958", caller: "",
			uri: "sip:810442079460958@192.0.2.1:5060", from: "", peer: "192.0.2.1:5060"},
		{name: "fixed caller ID, plus, TCP, domain", account: "intl", to: "+74954451120", caller: "74951234567",
			uri: "sip:+74954451120@sip.example.net;transport=tcp", from: "441632960001", peer: "192.0.2.3:5080"},
		{name: "not a number", account: "demo", to: "phone68", code: 484},
		{name: "no trunk", account: "other", to: "74954451120", code: 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			targets, req, err := c.trunkTarget(context.Background(), runtime.DialRequest{Account: tc.account, Kind: runtime.DialPSTN, To: tc.to, CallerID: tc.caller})
			if tc.code != 0 {
				var de *runtime.DialError
				if !errors.As(err, &de) || de.Code != tc.code {
					t.Fatalf("err = %v, want a DialError %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) == 0 || targets[0].uri.String() != tc.uri || targets[0].peer != tc.peer || targets[0].standby {
				t.Fatalf("targets = %+v, want %s via %s first", targets, tc.uri, tc.peer)
			}
			if from := targets[0].caller; req.CallerID != from || from != tc.from && !(tc.from == "" && from == "anonymous") {
				t.Fatalf("caller ID %q (request %q), want %q", from, req.CallerID, tc.from)
			}
			if tc.account == "demo" {
				// The second trunk stands by, with its own number format
				// and no credentials.
				if targets[0].authUser != "vox" || targets[0].password != "pw" || len(targets) != 2 ||
					!targets[1].standby || targets[1].peer != "192.0.2.2:5060" || targets[1].authUser != "" {
					t.Fatalf("targets %+v: want the Kazakh trunk with its credentials, then the second standing by", targets)
				}
			}
		})
	}
}

func TestRegistrationTimes(t *testing.T) {
	for _, c := range []struct{ granted, refresh time.Duration }{
		{time.Hour, 59 * time.Minute},
		{2 * time.Minute, time.Minute},
		{60 * time.Second, 30 * time.Second},
		{2 * time.Second, time.Second},
	} {
		if got := refreshAfter(c.granted); got != c.refresh {
			t.Errorf("refreshAfter(%v) = %v, want %v", c.granted, got, c.refresh)
		}
	}
	ours := sipmsg.Uri{Scheme: "sip", User: "vox", Host: "192.0.2.9", Port: 5060}
	cases := []struct {
		name    string
		headers []sipmsg.Header
		want    time.Duration
	}{
		{"our contact's expires", []sipmsg.Header{
			contactWith("sip:other@192.0.2.8:5060", "7200"), contactWith("sip:vox@192.0.2.9:5060", "300"),
			sipmsg.NewHeader("Expires", "600")}, 300 * time.Second},
		{"Expires header", []sipmsg.Header{sipmsg.NewHeader("Expires", "600")}, 600 * time.Second},
		{"what we asked", nil, 120 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := sipmsg.NewResponse(200, "OK")
			for _, h := range c.headers {
				res.AppendHeader(h)
			}
			if got := granted(res, ours, 120*time.Second); got != c.want {
				t.Fatalf("granted = %v, want %v", got, c.want)
			}
		})
	}
}

func contactWith(uri, expires string) *sipmsg.ContactHeader {
	h := &sipmsg.ContactHeader{Params: sipmsg.NewParams()}
	sipmsg.ParseUri(uri, &h.Address)
	h.Params.Add("expires", expires)
	return h
}

// CallSIP's URI says where the call goes: its host, its port or the
// transport's (5061 for TLS), and its transport; a sips: URI goes over TLS
// with SRTP, and over nothing else.
func TestSIPTarget(t *testing.T) {
	cases := []struct {
		to, proxy, transport, peer string
		srtp                       bool
		code                       int
	}{
		{to: "sips:bob@192.0.2.7", transport: "TLS", peer: "192.0.2.7:5061", srtp: true},
		{to: "SIPS:bob@192.0.2.7:5071;transport=tls", transport: "TLS", peer: "192.0.2.7:5071", srtp: true},
		{to: "sips:bob@192.0.2.7;transport=udp", code: 400},
		{to: "sip:bob@192.0.2.7", transport: "UDP", peer: "192.0.2.7:5060"},
		{to: "bob@192.0.2.7:5080;transport=tcp", transport: "TCP", peer: "192.0.2.7:5080"},
		{to: "sip:bob@192.0.2.7;transport=tls", transport: "TLS", peer: "192.0.2.7:5061"},
		{to: "sip:bob@192.0.2.7;transport=tls", proxy: "sip:192.0.2.1:5070", transport: "TLS", peer: "192.0.2.1:5070"},
		{to: "sip:bob@192.0.2.7;transport=sctp", code: 400},
		{to: "sip:", code: 400},
	}
	for _, c := range cases {
		targets, err := sipTarget(runtime.DialRequest{Kind: runtime.DialSIP, To: c.to, OutProxy: c.proxy})
		if c.code != 0 {
			var de *runtime.DialError
			if !errors.As(err, &de) || de.Code != c.code {
				t.Errorf("%s: err = %v, want a DialError %d", c.to, err, c.code)
			}
			continue
		}
		if err != nil || len(targets) != 1 || targets[0].transport != c.transport || targets[0].peer != c.peer || targets[0].srtp != c.srtp {
			t.Errorf("%s via %q: %+v, %v; want %s to %s, SRTP %v", c.to, c.proxy, targets, err, c.transport, c.peer, c.srtp)
		}
	}
}

// A call over TLS from a server without a TLS listener fails at once: its
// Contact could name no TLS port, and the far end's BYE would never reach us.
func TestTLSCallNeedsTLSListener(t *testing.T) {
	srv, _ := startRawCallServerFor(t, hangupLauncher{})
	_, err := srv.Dial(context.Background(), runtime.DialRequest{ID: "tls-call", Account: "acme", Kind: runtime.DialSIP, To: "sip:bob@127.0.0.1:5999;transport=tls"})
	var de *runtime.DialError
	if !errors.As(err, &de) || de.Code != 503 || !strings.Contains(de.Reason, "--sip-tls") {
		t.Fatalf("err = %v, want a 503 that names --sip-tls", err)
	}
}
