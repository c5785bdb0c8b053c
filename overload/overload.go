// Package overload tells a server when to turn new work away because the
// process can no longer keep up with the work it has.
//
// A call's setup, its scenario's events and its media all run as goroutines,
// so when the cores are saturated every goroutine waits longer for one: the
// Go scheduler's latency (runtime/metrics /sched/latencies:seconds) is the
// queue of the whole process, measured where it forms. Past a call rate the
// machine can serve, accepting more calls makes every call late, SIP
// retransmissions add work, and the calls already up lose their media timing:
// throughput collapses instead of levelling off. Turning a share of the new
// calls away keeps the calls that are taken whole.
//
// The share admitted follows the measured latency, additive increase and
// multiplicative decrease: an Interval whose latency quantile is over Target
// admits a Decrease fraction fewer, one under it Increase more, so the
// admitted rate settles where the machine keeps up.
package overload

import (
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

const schedLatencies = "/sched/latencies:seconds"

// DefaultTarget is an RTP frame's time: the calls already up lose their media
// timing when goroutines wait longer than that for a core.
const DefaultTarget = 20 * time.Millisecond

// Options tune a Guard; the zero value is the defaults.
type Options struct {
	// Target is the scheduler latency above which new work is shed (default
	// DefaultTarget).
	Target time.Duration
	// Quantile of an interval's latencies compared with Target (default
	// 0.9). A garbage collection makes a tenth of a second where a few
	// goroutines wait longer; an overload makes many wait, all the time.
	Quantile float64
	// Interval between two measurements (default 500 ms), long enough that a
	// collection's pause does not fill one.
	Interval time.Duration
	// Decrease is the fraction of the admitted share taken away after an
	// interval over Target (default 0.25); Increase the share given back for
	// each interval under it (default 0.1 of all work).
	Decrease, Increase float64
	// MinShare is the least share admitted (default 0.05), so that the
	// measurement goes on seeing what admitted work costs.
	MinShare float64
	// MinBusy is the share of its cores (GOMAXPROCS) the process must have
	// used over an interval for its latency to count (default 0.5): a
	// process that leaves its cores idle is not overloaded by its own work,
	// whatever made its goroutines wait (a busy machine, a collection's
	// pause, a single call on a quiet server).
	MinBusy float64
	// Latency measures the quantile since its previous call (default: the Go
	// scheduler's), Busy the process's CPU time since its previous call
	// (default: getrusage; negative: unknown), Now is the clock (default
	// time.Now). Tests set them.
	Latency func(quantile float64) time.Duration
	Busy    func() time.Duration
	Now     func() time.Time
	// Log gets a line when shedding starts and when it ends (default
	// slog.Default()).
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Target <= 0 {
		o.Target = DefaultTarget
	}
	if o.Quantile <= 0 || o.Quantile >= 1 {
		o.Quantile = 0.9
	}
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
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
	if o.Latency == nil {
		o.Latency = (&schedulerLatency{}).since
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// Guard admits new work in the share the process keeps up with. It measures
// when asked to admit, at most once an Interval, so an idle server spends
// nothing on it and it needs no goroutine. Its methods are safe for
// concurrent use.
type Guard struct {
	opts Options

	mu       sync.Mutex
	measured time.Time // when the latency was last measured
	share    float64   // of new work admitted, in [MinShare, 1]
	credit   float64   // admissions owed: Admit spreads the share evenly
	shed     uint64    // since shedding last started, for its log line
	latency  time.Duration
	busy     float64 // of the cores, over the last interval measured
}

// New returns a Guard that admits everything until it measures otherwise.
func New(opts Options) *Guard {
	opts.defaults()
	// credit starts full: the first call is taken whatever the share.
	g := &Guard{opts: opts, share: 1, credit: 1}
	g.measured = opts.Now()
	// What came before is not this Guard's to judge.
	opts.Latency(opts.Quantile)
	opts.Busy()
	return g
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

// Share is the fraction of new work admitted now; latency and busy are what
// was last measured: the scheduler latency quantile and the share of the
// cores used.
func (g *Guard) Share() (share float64, latency time.Duration, busy float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.share, g.latency, g.busy
}

// observe moves the admitted share by what was measured over elapsed. A
// quiet spell after an overload counts as the intervals it lasted, so a
// server that was idle for a while takes every call again at once.
func (g *Guard) observe(latency time.Duration, busy float64, elapsed time.Duration) {
	g.latency, g.busy = latency, busy
	was := g.share
	if latency > g.opts.Target && busy >= g.opts.MinBusy {
		g.share = max(g.opts.MinShare, g.share*(1-g.opts.Decrease))
	} else {
		intervals := float64(elapsed) / float64(g.opts.Interval)
		g.share = min(1, g.share+g.opts.Increase*intervals)
	}
	switch {
	case was == 1 && g.share < 1:
		g.shed = 0
		g.opts.Log.Warn("overload: turning new calls away", "latency", latency, "target", g.opts.Target,
			"cpu", fmt.Sprintf("%.0f%%", busy*100), "admitted", fmt.Sprintf("%.0f%%", g.share*100))
	case was < 1 && g.share == 1:
		g.opts.Log.Info("overload: taking every new call again", "turned_away", g.shed)
	}
}

// schedulerLatency reads the Go scheduler's latencies: how long goroutines
// that were ready to run waited for a thread.
type schedulerLatency struct {
	sample []metrics.Sample
	last   []uint64 // the histogram's counts at the previous reading
}

// since is the quantile of the latencies recorded since the previous call;
// 0 when none were.
func (s *schedulerLatency) since(q float64) time.Duration {
	if s.sample == nil {
		s.sample = []metrics.Sample{{Name: schedLatencies}}
	}
	metrics.Read(s.sample)
	if s.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0 // a Go without the metric: never shed
	}
	h := s.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	for i, n := range h.Counts {
		if i < len(s.last) {
			n -= s.last[i]
		}
		delta[i] = n
	}
	s.last = append(s.last[:0], h.Counts...)
	return quantile(delta, h.Buckets, q)
}

// quantile is the upper bound of the bucket holding quantile q of counts;
// buckets has one more boundary than counts.
func quantile(counts []uint64, buckets []float64, q float64) time.Duration {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= want {
			upper := buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
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
