package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"vox/internal/porttest"
	"vox/media/rtp"
	"vox/runtime"
)

// scriptedAdmission admits while open is set, and counts the calls asked.
type scriptedAdmission struct {
	open  atomic.Bool
	asked atomic.Int32
}

func (a *scriptedAdmission) Admit() bool {
	a.asked.Add(1)
	return a.open.Load()
}

// countingLauncher counts the sessions started and runs hangupLauncher's.
type countingLauncher struct {
	mu       sync.Mutex
	launched int
}

func (l *countingLauncher) Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	l.mu.Lock()
	l.launched++
	l.mu.Unlock()
	return hangupLauncher{}.Launch(ctx, cs)
}

// TestOverloadedServerTurnsCallsAway: while the Admission says no, an
// authenticated INVITE is answered 503 before any session starts, without a
// Retry-After (which would make a carrier stop sending everything); the
// challenge comes first, and the next call is taken once it says yes.
func TestOverloadedServerTurnsCallsAway(t *testing.T) {
	admission := &scriptedAdmission{}
	launcher := &countingLauncher{}
	p, res := dialRefused(t, CallOptions{Launcher: launcher, Admission: admission}, "an overloaded server")
	if got := headerOf(string(res), "Retry-After"); got != "" {
		t.Errorf("the 503 has Retry-After %q", got)
	}
	if got := headerOf(string(res), "Warning"); !strings.Contains(got, "overloaded") {
		t.Errorf("the 503's Warning is %q, want it to say overloaded", got)
	}
	if n := admission.asked.Load(); n != 1 {
		t.Errorf("the Admission was asked %d times for one challenged call, want once (after the challenge)", n)
	}
	launcher.mu.Lock()
	launched := launcher.launched
	launcher.mu.Unlock()
	if launched != 0 {
		t.Errorf("%d sessions started for a call turned away", launched)
	}
	// The 503 is a final response to the INVITE: the phone acknowledges it.
	if err := p.send(p.ack("sip:100@"+p.server.String(), "bench-1-1", "<sip:alice@"+testRealm+">;tag=t1x1",
		headerOf(string(res), "To"), "z9hG4bK-1-1-2", 2)); err != nil {
		t.Fatal(err)
	}

	admission.open.Store(true)
	if err := p.call(); err != nil {
		t.Fatalf("once admitted, the call failed: %v", err)
	}
}

// TestNoMediaPortTurnsCallAway: a call that finds no RTP port pair free (a
// range used up, or the process out of file descriptors) is answered 503
// with a Warning that says so without naming the range, and no session
// starts.
func TestNoMediaPortTurnsCallAway(t *testing.T) {
	lo := porttest.HeldUDPPair(t)
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{MinPort: lo, MaxPort: lo + 1})
	if err != nil {
		t.Fatal(err)
	}
	launcher := &countingLauncher{}
	_, res := dialRefused(t, CallOptions{Launcher: launcher, Ports: ports}, "a server with no RTP port free")
	warning := headerOf(string(res), "Warning")
	if !strings.Contains(warning, "no media port free") || strings.Contains(warning, strconv.Itoa(lo)) {
		t.Errorf("the 503's Warning is %q, want it to say no media port is free, and not which", warning)
	}
	launcher.mu.Lock()
	defer launcher.mu.Unlock()
	if launcher.launched != 0 {
		t.Errorf("%d sessions started for a call with no media", launcher.launched)
	}
}

// dialRefused has a phone call a server with opts, which must answer 503;
// it returns the phone, closed with the test, and the response.
func dialRefused(t *testing.T, opts CallOptions, server string) (*rawPhone, errUnexpected) {
	t.Helper()
	_, addr := startRawCallServerWith(t, opts)
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	_, err = p.dial()
	var res errUnexpected
	if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 503 ") {
		t.Fatalf("%s answered the call with %v, want 503", server, err)
	}
	return p, res
}
