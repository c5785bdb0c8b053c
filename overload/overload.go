// Package overload tells a server when to turn new work away because it can
// no longer keep up with the work it has.
//
// Past the call rate a machine can serve, a server that takes every call
// makes every call late: requests wait in its queue, callers retransmit them,
// which adds work, and the calls already up lose their media timing, so
// throughput collapses instead of levelling off. Turning a share of the new
// calls away keeps the calls that are taken whole.
//
// A Guard watches how late the server is (for SIP, how long requests wait in
// the socket before they are read, sip.Server.QueueDelays, or, while little
// comes over UDP, how long its goroutines wait to run, SchedLatency; see
// Prefer) and sets the share
// of new work it admits by additive increase and multiplicative decrease:
// while the latency stays over Target, every Sustain Intervals admit a
// Decrease fraction fewer; each one under it, Increase more. The admitted
// rate settles where the server keeps up.
package overload

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// DefaultTarget is the latency past which a server is behind: a healthy SIP
// server reads a request within a few milliseconds, and one that has fallen
// behind lets them wait longer and longer, until callers retransmit (after
// 500 ms, T1) and give up. A fifth of T1 leaves most of that margin, and is
// above what a collection or a burst makes requests wait for a moment at a
// rate the server holds: with 25 ms, on two cores, 1,000 calls/s (which they
// hold) saw 225 of 20,000 turned away in one run of two, and 1,600/s offered
// 14-23% turned away where 100 ms turned away 5-9%, with setup at 130-208 ms
// and no retransmissions.
const DefaultTarget = 100 * time.Millisecond

// Options tune a Guard; Latency is required, the rest has defaults.
type Options struct {
	// Latency is the quantile of the delays since its previous call, such
	// as the Since of sip.Server.QueueDelays.
	Latency func(quantile float64) time.Duration
	// Target is the latency above which new work is shed (default
	// DefaultTarget).
	Target time.Duration
	// Quantile of an interval's delays compared with Target (default 0.9).
	Quantile float64
	// Interval between two measurements (default 500 ms), and Sustain the
	// intervals in a row the latency must be over Target before the Guard
	// sheds (default 2): a collection's pause or a burst makes one late
	// interval, an overload one after another.
	Interval time.Duration
	Sustain  int
	// Decrease is the fraction of the admitted share taken away by Sustain
	// intervals over Target (default 0.25); Increase the share given back
	// for each interval under it (default 0.1 of all work).
	Decrease, Increase float64
	// MinShare is the least share admitted (default 0.05), so that the
	// measurement goes on seeing what admitted work costs.
	MinShare float64
	// MinBusy is the share of its cores (GOMAXPROCS) the process must have
	// used over an interval for its latency to count (default 0.5): a
	// process that leaves its cores idle is not overloaded by its own work,
	// whatever made it late (a machine busy with other work, a single
	// request on a quiet server).
	MinBusy float64
	// Busy is the process's CPU time since its previous call (default:
	// getrusage; negative: unknown), Now the clock (default time.Now).
	// Tests set them.
	Busy func() time.Duration
	Now  func() time.Time
	// Log gets a line when shedding starts and when it ends (default
	// slog.Default()).
	Log *slog.Logger
}

func (o *Options) defaults() error {
	if o.Latency == nil {
		return errors.New("overload: Options.Latency is required")
	}
	if o.Target <= 0 {
		o.Target = DefaultTarget
	}
	if o.Quantile <= 0 || o.Quantile >= 1 {
		o.Quantile = 0.9
	}
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	if o.Sustain <= 0 {
		o.Sustain = 2
	}
	if o.Decrease <= 0 || o.Decrease >= 1 {
		o.Decrease = 0.25
	}
	if o.Increase <= 0 {
		o.Increase = 0.1
	}
	if o.MinShare <= 0 || o.MinShare > 1 {
		o.MinShare = 0.05
	}
	if o.MinBusy <= 0 || o.MinBusy > 1 {
		o.MinBusy = 0.5
	}
	if o.Busy == nil {
		o.Busy = (&processCPU{}).since
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Guard admits new work in the share the server keeps up with. It measures
// when asked to admit, at most once an Interval, so an idle server spends
// nothing on it and it needs no goroutine. Its methods are safe for
// concurrent use.
type Guard struct {
	opts Options

	mu       sync.Mutex
	measured time.Time // when the latency was last measured
	late     int       // intervals in a row over Target
	share    float64   // of new work admitted, in [MinShare, 1]
	credit   float64   // admissions owed: Admit spreads the share evenly
	shed     uint64    // new work turned away, ever
	shedFrom uint64    // shed when shedding last started, for its log line
	latency  time.Duration
	busy     float64 // of the cores, over the last interval measured
}

// New returns a Guard that admits everything until it measures otherwise.
func New(opts Options) (*Guard, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	// credit starts full: the first call is taken whatever the share.
	g := &Guard{opts: opts, share: 1, credit: 1}
	g.measured = opts.Now()
	// What came before is not this Guard's to judge.
	opts.Latency(opts.Quantile)
	opts.Busy()
	return g, nil
}

// Admit reports whether one new piece of work may start now. At a share s
// it admits s of the calls in turn rather than at random, so that a short
// burst is shed as evenly as a long one.
func (g *Guard) Admit() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := g.opts.Now(); now.Sub(g.measured) >= g.opts.Interval {
		elapsed := now.Sub(g.measured)
		busy := 1.0 // when the CPU time is unknown, the latency alone decides
		if cpu := g.opts.Busy(); cpu >= 0 {
			busy = float64(cpu) / float64(elapsed) / float64(runtime.GOMAXPROCS(0))
		}
		g.observe(g.opts.Latency(g.opts.Quantile), busy, elapsed)
		g.measured = now
	}
	// At most one admission is owed at a time, so that a share that grows
	// back admits no burst.
	g.credit = min(g.credit+g.share, 1+g.share)
	if g.credit >= 1 {
		g.credit--
		return true
	}
	g.shed++
	return false
}

// TurnedAway counts the new work Admit refused since the Guard was made.
func (g *Guard) TurnedAway() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shed
}

// state is the fraction of new work admitted now, and what was last
// measured: the latency quantile and the share of the cores used.
func (g *Guard) state() (share float64, latency time.Duration, busy float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.share, g.latency, g.busy
}

// observe moves the admitted share by what was measured over elapsed. A
// quiet spell after an overload counts as the intervals it lasted, so a
// server that was idle for a while takes every call again at once.
func (g *Guard) observe(latency time.Duration, busy float64, elapsed time.Duration) {
	g.latency, g.busy = latency, busy
	if latency > g.opts.Target && busy >= g.opts.MinBusy {
		g.late++
	} else {
		g.late = 0
	}
	was := g.share
	switch {
	case g.late >= g.opts.Sustain:
		// The next cut waits for as long again: what is queued takes that
		// long to drain, and cutting meanwhile would shed far more than
		// the overload.
		g.share = max(g.opts.MinShare, g.share*(1-g.opts.Decrease))
		g.late = 0
	case g.late == 0:
		intervals := float64(elapsed) / float64(g.opts.Interval)
		g.share = min(1, g.share+g.opts.Increase*intervals)
	}
	switch {
	case was == 1 && g.share < 1:
		g.shedFrom = g.shed
		g.opts.Log.Warn("overload: turning new calls away", "latency", latency, "target", g.opts.Target,
			"cpu", fmt.Sprintf("%.0f%%", busy*100), "admitted", fmt.Sprintf("%.0f%%", g.share*100))
	case was < 1 && g.share == 1:
		g.opts.Log.Info("overload: taking every new call again", "turned_away", g.shed-g.shedFrom)
	}
}

// processCPU reads the process's CPU time, user and system.
type processCPU struct {
	last time.Duration
}

// since is the CPU time used since the previous call; negative when the
// system does not tell.
func (p *processCPU) since() time.Duration {
	now := cpuTime()
	if now < 0 {
		return -1
	}
	d := now - p.last
	p.last = now
	return d
}
