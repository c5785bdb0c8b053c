package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"time"
)

// The soak of the call-setup benchmark (issue 6: no memory growth over
// 100,000 calls), too long for every make bench: -sip-soak N places N calls
// into vox at a steady rate and prints, every -sip-soak-every calls, the
// live heap the last collection found, the goroutines and the sessions
// alive; then, once the calls and what SIP keeps after them have ended, the
// same for the idle server, after a full collection. Forcing one while the
// calls run would stall them: each such sample made the overload guard
// turn calls away for a second or two. Growth is the slope of the heap over the calls once
// the heap is steady, after the first -sip-soak-linger: until then every
// call adds the state kept after it ends.
var (
	soakRate  = flag.Int("sip-soak-rate", 400, "calls per second of the soak (-sip-soak); below the rate make bench finds vox holds")
	soakEvery = flag.Int("sip-soak-every", 10000, "calls between two soak samples")
	// sipgo keeps a server transaction over UDP for up to 64×T1 (32 s,
	// RFC 3261 section 17.2) after its last response.
	soakLinger = flag.Duration("sip-soak-linger", 40*time.Second, "how long the idle server is watched after the soak's calls")
	// vox runs in this process during the soak, so its profile is the server's
	// whole per-call cost: SIP, the JS session, RTP playback and the GC.
	soakCPUProfile = flag.String("sip-soak-cpuprofile", "", "write a CPU profile of the soak's calls to this file")
	soakMemProfile = flag.String("sip-soak-memprofile", "", "write a heap profile (allocations since the start, and what the idle server still holds) to this file after the linger")
)

type soakSample struct {
	calls      int64
	at         time.Duration
	heap       uint64
	goroutines int
	alive      int64
	cpu        time.Duration
}

func soakSIP(out io.Writer, calls int) error {
	if err := sippInstalled(); err != nil {
		return err
	}
	caller, err := sippScenario("bench_call.xml")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "vox-bench-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	hold := *sipHold
	v, err := startSIPVox(map[string]string{benchCaller: benchPassword}, hold)
	if err != nil {
		return fmt.Errorf("start vox: %w", err)
	}
	defer v.close()
	if _, err := voxStep(v, work, caller, 1, 1, hold); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncall soak: %d calls into vox at %d/s (answer, tone script %s, hang up; a fresh JS session each), GOMAXPROCS=%d\n",
		calls, *soakRate, hold, goruntime.GOMAXPROCS(0))
	fmt.Fprintf(out, "%9s %7s %11s %11s %15s %13s\n", "calls", "time", "live heap", "goroutines", "sessions alive", "vox CPU/call")
	t0, cpu0, started0 := time.Now(), processCPU(), v.launcher.started.Load()
	sample := func(idle bool) soakSample {
		heap := liveHeap()
		if idle {
			heap, _ = heapInUse()
		}
		s := soakSample{calls: v.launcher.started.Load() - started0, at: time.Since(t0), heap: heap,
			goroutines: goruntime.NumGoroutine(), alive: v.launcher.started.Load() - v.launcher.ended.Load(), cpu: processCPU() - cpu0}
		perCall := 0.0
		if s.calls > 0 {
			perCall = micros(s.cpu / time.Duration(s.calls))
		}
		fmt.Fprintf(out, "%9d %5.0f s %7.1f MiB %11d %15d %10.0f µs\n", s.calls, s.at.Seconds(), float64(s.heap)/(1<<20), s.goroutines, s.alive, perCall)
		return s
	}
	base := sample(true)

	args, err := uacArgs(v.addr.String(), caller, *soakRate, calls, hold)
	if err != nil {
		return err
	}
	type result struct {
		st  sippStats
		err error
	}
	stopProfile := func() {}
	if *soakCPUProfile != "" {
		if stopProfile, err = startCPUProfile(*soakCPUProfile); err != nil {
			return err
		}
	}
	drops0 := udpDrops(v.addr.Port())
	done := make(chan result, 1)
	go func() {
		st, err := runSIPp(context.Background(), work, args...)
		done <- result{st, err}
	}()
	var during []soakSample
	next := int64(*soakEvery)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var res result
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-tick.C:
			if v.launcher.started.Load()-started0 >= next {
				during = append(during, sample(false))
				next += int64(*soakEvery)
			}
		}
	}
	stopProfile()
	if res.err != nil {
		return res.err
	}
	st := res.st
	// Calls vox turned away for overload (503) are among the failed: the
	// count tells them from calls that timed out.
	fmt.Fprintf(out, "SIPp: %d calls, %d failed (%.2f%%, %d of them turned away with 503), %d retransmissions, placed at %.0f/s, setup %.1f ms mean; %d datagrams dropped by the kernel at vox's SIP socket\n",
		st.Created, st.Failed, 100*st.failRatio(), v.turnedAway(), st.Retrans, st.achieved(), ms(st.Setup), udpDrops(v.addr.Port())-drops0)
	// Idle: the sessions have ended; SIP's transactions end over the
	// next half minute.
	end := time.Now().Add(*soakLinger)
	idle := sample(true)
	for time.Now().Before(end) {
		time.Sleep(min(10*time.Second, time.Until(end)))
		idle = sample(true)
	}
	if *soakMemProfile != "" {
		if err := writeHeapProfile(*soakMemProfile); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "idle after the soak: live heap %+.1f MiB, goroutines %+d against the idle server before it\n",
		(float64(idle.heap)-float64(base.heap))/(1<<20), idle.goroutines-base.goroutines)
	var steady []soakSample
	for _, s := range during {
		if s.at >= *soakLinger {
			steady = append(steady, s)
		}
	}
	if len(steady) >= 2 {
		slope := heapSlope(steady)
		fmt.Fprintf(out, "growth while calls run: %+.1f KiB per 10,000 calls (median slope over the %d samples from %d to %d calls)\n",
			slope*10000/1024, len(steady), steady[0].calls, steady[len(steady)-1].calls)
	}
	if w := v.log.String(); w != "" {
		fmt.Fprintln(out, w)
	}
	return nil
}

// heapSlope is the median of the slopes between every two samples, in
// bytes per call (Theil and Sen): one sample taken in a burst of garbage does
// not move it, as it would a least-squares line.
func heapSlope(ss []soakSample) float64 {
	var slopes []float64
	for i, a := range ss {
		for _, b := range ss[i+1:] {
			if b.calls != a.calls {
				slopes = append(slopes, (float64(b.heap)-float64(a.heap))/float64(b.calls-a.calls))
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	slices.Sort(slopes)
	return slopes[len(slopes)/2]
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
