package sip

import (
	"context"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
	"weak"

	"vox/internal/porttest"
	"vox/media/rtp"
	"vox/runtime"
)

// legWatcher is a launcher that keeps a weak pointer to the leg of the call it
// launches, to see when nothing holds the leg any more.
type legWatcher struct {
	scriptLauncher
	legs chan weak.Pointer[leg]
}

func (w *legWatcher) Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	if l, ok := cs.Incoming.Leg.(*leg); ok {
		w.legs <- weak.Make(l)
	}
	return w.scriptLauncher.Launch(ctx, cs)
}

// An answered call that has ended leaves nothing of itself behind in the
// INVITE's server transaction, which sipgo keeps for 32 s after the 2xx
// (RFC 6026): at a few thousand calls a second that would keep the media,
// dialog and session of every call of the last half minute alive.
func TestEndedCallIsNotHeldByItsTransaction(t *testing.T) {
	prog, err := runtime.Compile("test.js", `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.addEventListener(CallEvents.Connected, () => e.call.hangup());
	e.call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	e.call.answer();
});`)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	watcher := &legWatcher{scriptLauncher: scriptLauncher{prog: prog, log: log}, legs: make(chan weak.Pointer[leg], 1)}
	srv := startServerWith(t, Options{}, func(s *Server) {
		watcher.dialer = s
		if err := s.EnableCalls(CallOptions{Router: testRouter{}, Launcher: watcher, Ports: ports}); err != nil {
			t.Fatal(err)
		}
	})
	out, err := RunSIPp(t, srv.addr.String(), "bench_call.xml", "-s", "100", "-au", "alice", "-ap", "secret", "-key", "rtcp", "9",
		"-key", "caller", "alice", "-key", "domain", testRealm, "-p", strconv.Itoa(porttest.FreeUDP(t)))
	if err != nil {
		t.Fatalf("sipp: %v\n%s\nserver log:\n%s", err, out, srv.logs)
	}
	waitLog(t, log, "Application.Terminated")
	var l weak.Pointer[leg]
	select {
	case l = <-watcher.legs:
	default:
		t.Fatal("the call was not launched")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.logs)
		}
	})
	waitLetGo(t, l)
}

// waitLetGo waits for nothing to hold l, and fails the test, with the
// goroutines, if something still does. The session's goroutines finish
// just after its log's last line, and the BYE's when the far end has
// answered it; on a loaded machine (CI runs every package at once) that can
// take seconds. Ten of them still tell a leg let go from one a transaction
// keeps for its 32 s.
func waitLetGo(t *testing.T, l weak.Pointer[leg]) {
	t.Helper()
	for range 500 {
		goruntime.GC()
		if l.Value() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var stacks strings.Builder
	pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	t.Fatalf("the ended call's leg is still held, by a transaction or otherwise; goroutines:\n%s", stacks.String())
}

// An ended call Vox placed is not held either by the INVITE's client
// transaction, which sipgo keeps for 64×T1 after the 2xx to acknowledge
// its retransmissions.
func TestEndedOutgoingCallIsNotHeldByItsTransaction(t *testing.T) {
	u, out, events := dialRawUAS(t)
	l := weak.Make(out.(*leg))
	out = nil
	u.respond(t, readSIP(t, u.conn, "INVITE "), "200 OK", "", answerSDP(9, "0", "0 PCMU/8000"))
	readSIP(t, u.conn, "ACK ")
	waitConnected(t, events)
	if err := l.Value().Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	u.respond(t, readSIP(t, u.conn, "BYE "), "200 OK", "", "")
	waitLetGo(t, l)
}
