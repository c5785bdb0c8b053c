package sip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const testRealm = "vox.test"

// memDirectory is a Directory in memory, the way the controller will hold
// users, for the tests.
type memDirectory struct {
	mu    sync.Mutex
	users map[string]User
}

func newMemDirectory(users ...User) *memDirectory {
	d := &memDirectory{users: make(map[string]User)}
	for _, u := range users {
		d.set(u)
	}
	return d
}

func (d *memDirectory) set(u User) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[u.Name] = u
}

func (d *memDirectory) User(_ context.Context, realm, name string) (User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[name]
	if !ok || realm != testRealm {
		return User{}, fmt.Errorf("%s@%s: %w", name, realm, ErrUnknownUser)
	}
	return u, nil
}

// testClock is a clock the tests move by hand, so that nothing waits for a
// nonce or a binding to expire.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log lines written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*Server
	addr  netip.AddrPort
	clock *testClock
	dir   *memDirectory
	logs  *syncBuffer
}

// startServer runs a Server on a free port of 127.0.0.1 (or host) with
// alice (password "secret") and bob (password "hunter2") in its directory.
func startServer(t *testing.T, opts Options, host ...string) *testServer {
	t.Helper()
	return startServerWith(t, opts, nil, host...)
}

// startServerWith is startServer with setup run on the Server before it
// listens.
func startServerWith(t *testing.T, opts Options, setup func(*Server), host ...string) *testServer {
	t.Helper()
	ts := &testServer{
		clock: &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		dir: newMemDirectory(
			NewUser("acme", "alice", testRealm, "secret"),
			NewUser("acme", "bob", testRealm, "hunter2"),
		),
		logs: &syncBuffer{},
	}
	if opts.Realm == "" {
		opts.Realm = testRealm
	}
	opts.Directory, opts.Now = ts.dir, ts.clock.Now
	opts.Log = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	listen := "127.0.0.1:0"
	if len(host) > 0 {
		listen = host[0]
	}
	addr, err := srv.Listen(listen)
	if err != nil {
		t.Fatal(err)
	}
	if addr.Port() == 0 {
		t.Fatalf("bound %s", addr)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	ts.Server, ts.addr = srv, addr
	return ts
}

// phone is a SIP UA on sipgo's client that registers one user.
type phone struct {
	t         *testing.T
	client    *sipgo.Client
	server    netip.AddrPort
	transport string
	name      string
	password  string
	alg       Algorithm
	callID    string
	tag       string
	cseq      uint32
	nc        int
}

// newPhone makes a phone for name on transport ("UDP" or "TCP"); from, when
// given, is the local address it sends from.
func newPhone(t *testing.T, server netip.AddrPort, transport, name, password string, from ...string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	opts := []sipgo.ClientOption{sipgo.WithClientNAT()}
	if len(from) > 0 {
		opts = append(opts, sipgo.WithClientConnectionAddr(from[0]))
	}
	client, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{
		t: t, client: client, server: server, transport: transport, name: name, password: password,
		alg: SHA256, callID: sipmsg.GenerateTagN(16), tag: sipmsg.GenerateTagN(8),
	}
}

func (p *phone) aor() sipmsg.Uri {
	return sipmsg.Uri{Scheme: "sip", User: p.name, Host: testRealm}
}

// request builds a REGISTER with the next CSeq; contacts are Contact values,
// expires an Expires header when not negative.
func (p *phone) request(expires int, contacts ...string) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: p.server.Addr().String(), Port: int(p.server.Port())})
	req.SetTransport(p.transport)
	req.SetDestination(p.server.String())
	to := &sipmsg.ToHeader{Address: p.aor()}
	from := &sipmsg.FromHeader{Address: p.aor()}
	from.Params.Add("tag", p.tag)
	callID := sipmsg.CallIDHeader(p.callID)
	p.cseq++
	req.AppendHeader(to)
	req.AppendHeader(from)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: p.cseq, MethodName: sipmsg.REGISTER})
	for _, c := range contacts {
		req.AppendHeader(sipmsg.NewHeader("Contact", c))
	}
	if expires >= 0 {
		req.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(expires)))
	}
	req.AppendHeader(sipmsg.NewHeader("User-Agent", "test-phone"))
	return req
}

// send sends req and returns the final response.
func (p *phone) send(req *sipmsg.Request) *sipmsg.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.client.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: %v", req.StartLine(), err)
	}
	return res
}

// authorization answers the challenge in res for p.alg with the nonce count
// nc (the next one when 0).
func (p *phone) authorization(res *sipmsg.Response, password string) string {
	p.t.Helper()
	chal := p.challenge(res)
	p.nc++
	cred, err := digest.Digest(chal, digest.Options{
		Method: "REGISTER", URI: "sip:" + p.server.String(),
		Username: p.name, Password: password, Count: p.nc,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return cred.String()
}

// challenge is the challenge of res for p.alg.
func (p *phone) challenge(res *sipmsg.Response) *digest.Challenge {
	p.t.Helper()
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			p.t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if strings.EqualFold(chal.Algorithm, string(p.alg)) {
			return chal
		}
	}
	p.t.Fatalf("no %s challenge in %s", p.alg, res)
	return nil
}

// register does the whole exchange: a REGISTER, the challenge, the REGISTER
// with credentials; it returns the last response, or the first when it was
// no challenge.
func (p *phone) register(expires int, contacts ...string) *sipmsg.Response {
	p.t.Helper()
	res := p.send(p.request(expires, contacts...))
	if res.StatusCode != 401 {
		return res
	}
	p.nc = 0
	return p.registerWith(p.authorization(res, p.password), expires, contacts...)
}

// registerWith sends a REGISTER with the Authorization value auth.
func (p *phone) registerWith(auth string, expires int, contacts ...string) *sipmsg.Response {
	p.t.Helper()
	req := p.request(expires, contacts...)
	req.AppendHeader(sipmsg.NewHeader("Authorization", auth))
	return p.send(req)
}

func contactsOf(res *sipmsg.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

func wantStatus(t *testing.T, res *sipmsg.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("got %s, want %d\n%s", res.StartLine(), code, res)
	}
}
