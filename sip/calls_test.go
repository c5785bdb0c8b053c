package sip

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"vox/internal/porttest"
	"vox/media/rtp"
	"vox/runtime"
)

// scriptLauncher runs every call in a real runtime session of one scenario,
// without the scenario store: the sip package's own tests.
type scriptLauncher struct {
	prog   *runtime.Program
	dialer runtime.Dialer
	log    *syncBuffer
}

func (l *scriptLauncher) Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	s, err := runtime.New(ctx, runtime.Config{
		Name: "test", Programs: []*runtime.Program{l.prog}, Clock: runtime.RealClock{},
		Dialer: l.dialer, Info: cs.Info, Log: runtime.NewSessionLog(l.log, runtime.LogText),
	})
	if err != nil {
		return nil, err
	}
	s.Incoming(*cs.Incoming)
	s.Run()
	return s, nil
}

type testRouter struct{}

func (testRouter) Route(_ context.Context, call CallInfo) (Route, error) {
	return Route{Account: call.Account, App: "test"}, nil
}

// startCallServer is startServer taking calls into sessions of scenario;
// opts adjusts the call options.
func startCallServer(t *testing.T, scenario string, opts CallOptions) (*testServer, *syncBuffer) {
	t.Helper()
	prog, err := runtime.Compile("test.js", scenario)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	launcher := &scriptLauncher{prog: prog, log: log}
	srv := startServerWith(t, Options{}, func(s *Server) {
		launcher.dialer = s
		opts.Router, opts.Launcher, opts.Ports = testRouter{}, launcher, ports
		if err := s.EnableCalls(opts); err != nil {
			t.Fatal(err)
		}
	})
	return srv, log
}

// waitLog waits for the session log to hold want.
func waitLog(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(log.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the session log has no %q:\n%s", want, log)
}

// A phone that asked for a session timer it refreshes itself, and then
// never refreshes, has its call ended with a BYE: dead calls end (RFC 4028).
func TestSessionTimerEndsDeadCall(t *testing.T) {
	srv, log := startCallServer(t, `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());`, CallOptions{MinSE: time.Second})
	out, err := RunSIPp(t, srv.addr.String(), "timer.xml", "-s", "100", "-au", "alice", "-ap", "secret",
		"-key", "caller", "alice", "-key", "domain", testRealm, "-p", strconv.Itoa(porttest.FreeUDP(t)), "-mp", strconv.Itoa(porttest.FreeUDP(t)))
	if err != nil {
		t.Fatalf("sipp: %v\n%s\nserver log:\n%s", err, out, srv.logs)
	}
	waitLog(t, log, "Call.Disconnected")
}

// A call is challenged with 407 and Proxy-Authenticate; an unknown user and
// a wrong password get the same answer, so calls cannot enumerate users
// either.
func TestInviteChallenge(t *testing.T) {
	srv, _ := startCallServer(t, `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());`, CallOptions{})
	p := newPhone(t, srv.addr, "UDP", "alice", "secret")
	invite := func(user, password string, chal *sipmsg.Response) *sipmsg.Response {
		req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "100", Host: srv.addr.Addr().String(), Port: int(srv.addr.Port())})
		req.SetTransport("UDP")
		req.SetDestination(srv.addr.String())
		from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: user, Host: testRealm}}
		from.Params.Add("tag", sipmsg.GenerateTagN(8))
		req.AppendHeader(from)
		req.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "100", Host: testRealm}})
		req.AppendHeader(sipmsg.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:5999>"))
		if chal != nil {
			c, err := digest.ParseChallenge(chal.GetHeaders("Proxy-Authenticate")[0].Value())
			if err != nil {
				t.Fatal(err)
			}
			cred, err := digest.Digest(c, digest.Options{Method: "INVITE", URI: req.Recipient.String(), Username: user, Password: password, Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			req.AppendHeader(sipmsg.NewHeader("Proxy-Authorization", cred.String()))
		}
		return p.send(req)
	}
	first := invite("alice", "", nil)
	wantStatus(t, first, 407)
	if len(first.GetHeaders("Proxy-Authenticate")) != len(DefaultAlgorithms) || len(first.GetHeaders("WWW-Authenticate")) != 0 {
		t.Fatalf("challenge:\n%s", first)
	}
	wrong := invite("alice", "guess", first)
	unknown := invite("mallory", "guess", invite("mallory", "", nil))
	for _, res := range []*sipmsg.Response{wrong, unknown} {
		wantStatus(t, res, 407)
		if len(res.GetHeaders("Proxy-Authenticate")) != len(DefaultAlgorithms) {
			t.Fatalf("challenge:\n%s", res)
		}
	}
}

// Work started while shutdown waits is waited for too (a sync.WaitGroup
// forbids that Add, and the race detector caught it in a CI run).
func TestWorkSetGrowsWhileWaitedFor(t *testing.T) {
	var w workSet
	if !closedSignal(w.idleSignal()) {
		t.Fatal("no work, yet not idle")
	}
	w.start()
	idle := w.idleSignal()
	w.start() // arrives while idle is waited for
	w.finish()
	if closedSignal(idle) {
		t.Fatal("idle with work still running")
	}
	w.finish()
	if !closedSignal(idle) {
		t.Fatal("not idle after the last work ended")
	}
}

func closedSignal(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
