package sip

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// A phone registers with either algorithm over either transport, refreshes,
// and un-registers; the call code sees its binding in between.
func TestRegisterRefreshUnregister(t *testing.T) {
	srv := startServer(t, Options{})
	for _, transport := range []string{"UDP", "TCP"} {
		for _, alg := range []Algorithm{SHA256, MD5} {
			t.Run(transport+" "+string(alg), func(t *testing.T) {
				p := newPhone(t, srv.addr, transport, "alice", "secret")
				p.alg = alg
				contact := "<sip:alice@10.0.0.7:5062;transport=" + strings.ToLower(transport) + ">"

				first := p.send(p.request(600, contact))
				wantStatus(t, first, 401)
				if got := len(first.GetHeaders("WWW-Authenticate")); got != 2 {
					t.Fatalf("%d challenges, want SHA-256 and MD5", got)
				}
				res := p.registerWith(p.authorization(first, "secret"), 600, contact)
				wantStatus(t, res, 200)
				if cs := contactsOf(res); len(cs) != 1 || !strings.Contains(cs[0], "expires=600") {
					t.Fatalf("200 lists %q", cs)
				}
				bs := srv.Registrar().Bindings(testRealm, "alice")
				if len(bs) != 1 {
					t.Fatalf("bindings %+v", bs)
				}
				b := bs[0]
				// Behind NAT: the binding goes back where the REGISTER came
				// from, not to the private address in Contact.
				if b.Account != "acme" || b.User != "alice" || b.Transport != transport ||
					b.Source.Addr().String() != "127.0.0.1" || b.Source.Port() == 5062 ||
					!strings.HasPrefix(b.Contact, "sip:alice@10.0.0.7:5062") || b.UserAgent != "test-phone" ||
					!b.Expires.Equal(srv.clock.Now().Add(600*time.Second)) {
					t.Fatalf("binding %+v", b)
				}

				// A refresh reuses the nonce with the next count.
				srv.clock.add(time.Minute)
				res = p.registerWith(p.authorization(first, "secret"), 600, contact)
				wantStatus(t, res, 200)
				if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 1 || !bs[0].Expires.Equal(srv.clock.Now().Add(600*time.Second)) {
					t.Fatalf("after the refresh: %+v", bs)
				}

				res = p.registerWith(p.authorization(first, "secret"), 0, contact)
				wantStatus(t, res, 200)
				if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
					t.Fatalf("after un-registering: %+v", bs)
				}
			})
		}
	}
}

// An unknown user and a known user with a wrong password get the same
// answers, challenge and refusal, so that svwar finds nobody.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	srv := startServer(t, Options{})
	exchange := func(name, password string) (challenge, refusal string) {
		p := newPhone(t, srv.addr, "UDP", name, password)
		p.callID, p.tag = "same-call-id", "same-tag"
		first := p.send(p.request(600, "<sip:"+name+"@10.0.0.7>"))
		second := p.registerWith(p.authorization(first, password), 600, "<sip:"+name+"@10.0.0.7>")
		return normalize(first, name), normalize(second, name)
	}
	knownChallenge, knownRefusal := exchange("alice", "not-her-password")
	unknownChallenge, unknownRefusal := exchange("mallory", "not-her-password")
	if knownChallenge != unknownChallenge {
		t.Errorf("challenges differ:\n%s\n---\n%s", knownChallenge, unknownChallenge)
	}
	if knownRefusal != unknownRefusal {
		t.Errorf("refusals differ:\n%s\n---\n%s", knownRefusal, unknownRefusal)
	}
	if !strings.HasPrefix(knownRefusal, "SIP/2.0 401 Unauthorized") || strings.Contains(knownRefusal, "stale") {
		t.Errorf("a wrong password gets\n%s", knownRefusal)
	}
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Errorf("bindings %+v", bs)
	}
}

var volatile = regexp.MustCompile(`(nonce="|tag=|branch=|rport=|SIP/2.0/UDP )[^";,>\r\n]*`)

// normalize is res as text with what differs between any two exchanges (the
// name asked about, nonces, tags, branches, ports) blanked.
func normalize(res *sipmsg.Response, name string) string {
	s := strings.ReplaceAll(res.String(), name, "NAME")
	return volatile.ReplaceAllString(s, "${1}X")
}

// A request replayed with a nonce count already used is refused, and so is
// one that goes back in count; the refusal is stale=true, which makes a real
// phone take a fresh nonce.
func TestNonceReplayIsRefused(t *testing.T) {
	srv := startServer(t, Options{})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	contact := "<sip:alice@10.0.0.7>"
	first := p.send(p.request(600, contact))
	auth := p.authorization(first, "secret")
	wantStatus(t, p.registerWith(auth, 600, contact), 200)

	// The same Authorization in a new request (what an eavesdropper has).
	replay := p.registerWith(auth, 600, "<sip:mallory@10.6.6.6>")
	wantStatus(t, replay, 401)
	if !strings.Contains(replay.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Errorf("replay answered %s", replay)
	}
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 1 || !strings.Contains(bs[0].Contact, "10.0.0.7") {
		t.Fatalf("the replay changed the bindings: %+v", bs)
	}
	// A fresh nonce works again.
	p.nc = 0
	wantStatus(t, p.registerWith(p.authorization(replay, "secret"), 600, contact), 200)
}

// A nonce older than NonceTTL is stale: a right response to it gets 401 with
// stale=true and a fresh nonce, which works; a wrong one gets no stale.
func TestExpiredNonceIsStale(t *testing.T) {
	srv := startServer(t, Options{NonceTTL: 5 * time.Minute})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	contact := "<sip:alice@10.0.0.7>"
	first := p.send(p.request(600, contact))
	wantStatus(t, p.registerWith(p.authorization(first, "secret"), 600, contact), 200)

	srv.clock.add(5*time.Minute + time.Second)
	res := p.registerWith(p.authorization(first, "secret"), 600, contact)
	wantStatus(t, res, 401)
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		if !strings.Contains(h.Value(), "stale=true") {
			t.Errorf("no stale=true in %s", h.Value())
		}
	}
	wrong := p.registerWith(p.authorization(first, "guess"), 600, contact)
	wantStatus(t, wrong, 401)
	if strings.Contains(wrong.String(), "stale") {
		t.Errorf("a wrong password on an old nonce is told stale:\n%s", wrong)
	}
	p.nc = 0
	wantStatus(t, p.registerWith(p.authorization(res, "secret"), 600, contact), 200)
}

// A nonce signed by another server (before a restart, say) is stale for the
// right password, never accepted.
func TestForeignNonceIsStale(t *testing.T) {
	other := startServer(t, Options{})
	srv := startServer(t, Options{})
	p := newPhone(t, other.addr, "UDP", "alice", "secret")
	foreign := p.send(p.request(600))
	p.server = srv.addr
	res := p.registerWith(p.authorization(foreign, "secret"), 600, "<sip:alice@10.0.0.7>")
	wantStatus(t, res, 401)
	if !strings.Contains(res.String(), "stale=true") {
		t.Errorf("foreign nonce answered\n%s", res)
	}
}

// After MaxFailures wrong passwords a source is banned: its packets are
// dropped unread, with one log line; another source is still served.
func TestBanAfterFailures(t *testing.T) {
	srv := startServer(t, Options{MaxFailures: 3})
	p := newPhone(t, srv.addr, "UDP", "alice", "guess", "127.0.0.1:0")
	for i := range 3 {
		res := p.send(p.request(600))
		wantStatus(t, res, 401)
		p.nc = 0
		wantStatus(t, p.registerWith(p.authorization(res, "guess"), 600), 401)
		if i < 2 && srv.dropped.Load() != 0 {
			t.Fatalf("dropped after %d failures", i+1)
		}
	}
	if n := strings.Count(srv.logs.String(), "source banned"); n != 1 {
		t.Fatalf("%d ban lines in\n%s", n, srv.logs)
	}

	// Now even the right password from there is dropped.
	banned := newPhone(t, srv.addr, "UDP", "alice", "secret", "127.0.0.1:0")
	if err := banned.client.WriteRequest(banned.request(600)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a dropped packet", func() bool { return srv.dropped.Load() > 0 })

	// TCP from the banned source is closed at its first packet.
	tcp := newPhone(t, srv.addr, "TCP", "alice", "secret", "127.0.0.1:0")
	before := srv.dropped.Load()
	tcp.client.WriteRequest(tcp.request(600))
	waitFor(t, "a dropped TCP packet", func() bool { return srv.dropped.Load() > before })

	// Another address (all of 127/8 is loopback) is not banned.
	other := newPhone(t, srv.addr, "UDP", "alice", "secret", "127.0.0.2:0")
	wantStatus(t, other.register(600, "<sip:alice@10.0.0.8>"), 200)

	// The ban ends.
	srv.clock.add(srv.opts.BanFor + time.Second)
	wantStatus(t, newPhone(t, srv.addr, "UDP", "alice", "secret", "127.0.0.1:0").register(600, "<sip:alice@10.0.0.7>"), 200)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A changed password or a disabled user takes effect at once: Revoke drops
// the bindings, and the next request is checked against the new state.
func TestRevokeOnPasswordChangeAndDisable(t *testing.T) {
	srv := startServer(t, Options{})
	contact := "<sip:alice@10.0.0.7>"
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	first := p.send(p.request(600, contact))
	wantStatus(t, p.registerWith(p.authorization(first, "secret"), 600, contact), 200)

	// The admin changes the password.
	srv.dir.set(NewUser("acme", "alice", testRealm, "new-secret"))
	srv.Registrar().Revoke(testRealm, "alice")
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Fatalf("bindings after revoke: %+v", bs)
	}
	wantStatus(t, p.registerWith(p.authorization(first, "secret"), 600, contact), 401)
	p.password = "new-secret"
	wantStatus(t, p.register(600, contact), 200)

	// The admin disables the user: the right password is refused too.
	u := NewUser("acme", "alice", testRealm, "new-secret")
	u.Disabled = true
	srv.dir.set(u)
	srv.Registrar().Revoke(testRealm, "alice")
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Fatalf("bindings after disabling: %+v", bs)
	}
	wantStatus(t, p.register(600, contact), 403)
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Fatalf("a disabled user registered: %+v", bs)
	}

	// Even without a Revoke, a disabled user's REGISTER drops its bindings.
	srv.dir.set(NewUser("acme", "alice", testRealm, "new-secret"))
	wantStatus(t, p.register(600, contact), 200)
	srv.dir.set(u)
	wantStatus(t, p.register(600, contact), 403)
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Fatalf("bindings of a disabled user: %+v", bs)
	}
}

// Several contacts are all kept, in one REGISTER or from several phones; *
// removes them all; bounds hold.
func TestSeveralContacts(t *testing.T) {
	tests := []struct {
		name     string
		expires  int
		contacts []string
		code     int
		want     []string // contacts bound after, by host
	}{
		{"two in one request", 600, []string{"<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>;expires=300"}, 200, []string{"10.0.0.1", "10.0.0.2"}},
		{"comma separated", 600, []string{"<sip:alice@10.0.0.3>, <sip:alice@10.0.0.4>"}, 200, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}},
		{"one removed", 600, []string{"<sip:alice@10.0.0.2>;expires=0"}, 200, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"query", -1, nil, 200, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"too brief", 10, []string{"<sip:alice@10.0.0.5>"}, 423, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"star without Expires: 0", 600, []string{"*"}, 400, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"star with another contact", 0, []string{"*", "<sip:alice@10.0.0.1>"}, 400, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"not a SIP contact", 600, []string{"<mailto:alice@example.com>"}, 400, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"more contacts than MaxBindings", 600, []string{"<sip:alice@10.0.0.5>", "<sip:alice@10.0.0.6>", "<sip:alice@10.0.0.7>", "<sip:alice@10.0.0.8>", "<sip:alice@10.0.0.9>"}, 400, []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}},
		{"star", 0, []string{"*"}, 200, nil},
		{"up to MaxBindings", 600, []string{"<sip:alice@10.0.1.1>", "<sip:alice@10.0.1.2>", "<sip:alice@10.0.1.3>", "<sip:alice@10.0.1.4>"}, 200, []string{"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"}},
		{"three refreshed", 600, []string{"<sip:alice@10.0.1.1>", "<sip:alice@10.0.1.2>", "<sip:alice@10.0.1.3>"}, 200, []string{"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"}},
		{"a new phone pushes out the least recently refreshed", 600, []string{"<sip:alice@10.0.2.1>"}, 200, []string{"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.1"}},
	}
	srv := startServer(t, Options{MaxBindings: 4})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.clock.add(time.Second) // so that "newest" has a meaning
			res := p.register(tt.expires, tt.contacts...)
			wantStatus(t, res, tt.code)
			if tt.code == 423 && res.GetHeader("Min-Expires").Value() != "60" {
				t.Errorf("423 without Min-Expires: 60\n%s", res)
			}
			var got []string
			for _, b := range srv.Registrar().Bindings(testRealm, "alice") {
				got = append(got, strings.TrimPrefix(b.Contact, "sip:alice@"))
			}
			if tt.code == 200 && len(contactsOf(res)) != len(tt.want) {
				t.Errorf("200 lists %q, want %d contacts", contactsOf(res), len(tt.want))
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("bound %q, want %q", got, want)
			}
		})
	}
}

// Bindings from two phones of one user are both kept, each with its own
// source, and expire on their own.
func TestTwoPhonesOneUser(t *testing.T) {
	srv := startServer(t, Options{})
	desk := newPhone(t, srv.addr, "UDP", "alice", "secret")
	soft := newPhone(t, srv.addr, "TCP", "alice", "secret")
	wantStatus(t, desk.register(3600, "<sip:alice@192.168.1.10>"), 200)
	srv.clock.add(time.Second)
	wantStatus(t, soft.register(120, "<sip:alice@192.168.1.11;transport=tcp>"), 200)
	bs := srv.Registrar().Bindings(testRealm, "alice")
	if len(bs) != 2 || bs[0].Transport != "TCP" || bs[1].Transport != "UDP" || bs[0].Source == bs[1].Source {
		t.Fatalf("bindings %+v", bs)
	}
	srv.clock.add(120 * time.Second)
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 1 || bs[0].Transport != "UDP" {
		t.Fatalf("after the softphone's expiry: %+v", bs)
	}
	if bs := srv.Registrar().Bindings(testRealm, "bob"); len(bs) != 0 {
		t.Fatalf("bob: %+v", bs)
	}
}

// Max and default expiry: more than MaxExpires is cut to it, none gets the
// default.
func TestExpiryBounds(t *testing.T) {
	srv := startServer(t, Options{MaxExpires: time.Hour, DefaultExpires: 30 * time.Minute})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	wantStatus(t, p.register(86400, "<sip:alice@10.0.0.1>"), 200)
	wantStatus(t, p.register(-1, "<sip:alice@10.0.0.2>"), 200)
	for _, b := range srv.Registrar().Bindings(testRealm, "alice") {
		want := time.Hour
		if strings.Contains(b.Contact, "10.0.0.2") {
			want = 30 * time.Minute
		}
		if got := b.Expires.Sub(srv.clock.Now()); got != want {
			t.Errorf("%s expires in %s, want %s", b.Contact, got, want)
		}
	}
}

// One user's credentials cannot register another user's address of record.
func TestCredentialsOfAnotherUser(t *testing.T) {
	srv := startServer(t, Options{})
	p := newPhone(t, srv.addr, "UDP", "bob", "hunter2")
	first := p.send(p.request(600, "<sip:bob@10.0.0.9>"))
	auth := p.authorization(first, "hunter2")
	p.name = "alice"
	wantStatus(t, p.registerWith(auth, 600, "<sip:alice@10.0.0.9>"), 403)
	if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
		t.Fatalf("bob registered alice: %+v", bs)
	}
}

// OPTIONS keep-alives get 200 with Allow and Accept; an unknown method gets
// 405 with Allow.
func TestOptionsAndUnknownMethods(t *testing.T) {
	srv := startServer(t, Options{})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	for _, tt := range []struct {
		method sipmsg.RequestMethod
		code   int
	}{{sipmsg.OPTIONS, 200}, {sipmsg.SUBSCRIBE, 405}} {
		t.Run(string(tt.method), func(t *testing.T) {
			req := sipmsg.NewRequest(tt.method, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(srv.addr.Port())})
			req.SetDestination(srv.addr.String())
			res := p.send(req)
			wantStatus(t, res, tt.code)
			if allow := res.GetHeader("Allow"); allow == nil || allow.Value() != "OPTIONS, REGISTER" {
				t.Errorf("Allow: %v", allow)
			}
			if tt.code == 200 && (res.GetHeader("Accept") == nil || res.GetHeader("Accept").Value() != "application/sdp") {
				t.Errorf("no Accept: application/sdp in\n%s", res)
			}
		})
	}
}

// IPv6 works as IPv4 does.
func TestRegisterOverIPv6(t *testing.T) {
	srv := startServer(t, Options{}, "[::1]:0")
	if !srv.addr.Addr().Is6() {
		t.Fatalf("bound %s", srv.addr)
	}
	for _, transport := range []string{"UDP", "TCP"} {
		p := newPhone(t, srv.addr, transport, "bob", "hunter2")
		wantStatus(t, p.register(600, "<sip:bob@[fd00::7]:5060>"), 200)
	}
	bs := srv.Registrar().Bindings(testRealm, "bob")
	if len(bs) != 1 || bs[0].Source.Addr().String() != "::1" {
		t.Fatalf("bindings %+v", bs)
	}
}

// With SHA-256 listed first, sipgo's client, which answers the first
// challenge, registers with SHA-256.
func TestSHA256First(t *testing.T) {
	srv := startServer(t, Options{Algorithms: []Algorithm{SHA256, MD5}})
	p := newPhone(t, srv.addr, "UDP", "bob", "hunter2")
	req := p.request(600, "<sip:bob@10.0.0.9>")
	res := p.send(req)
	wantStatus(t, res, 401)
	if h := res.GetHeader("WWW-Authenticate").Value(); !strings.Contains(h, "algorithm=SHA-256") {
		t.Fatalf("first challenge %s", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "bob", Password: "hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 200)
	if !strings.Contains(req.GetHeader("Authorization").Value(), "algorithm=SHA-256") {
		t.Errorf("sent %s", req.GetHeader("Authorization").Value())
	}
}
