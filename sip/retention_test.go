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
	// The session's goroutines finish just after its log's last line, and
	// the BYE's when SIPp has answered it; on a loaded machine (CI runs every
	// package at once) that can take seconds. Ten of them still tell a leg
	// let go from one the transaction keeps for its 32 s.
	for range 500 {
		goruntime.GC()
		if l.Value() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var stacks strings.Builder
	pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	t.Fatalf("the ended call's leg is still held, by the INVITE's transaction or otherwise; goroutines:\n%s\nserver log:\n%s", stacks.String(), srv.logs)
}
