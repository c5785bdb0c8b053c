package overload

import (
	"math"
	"runtime/metrics"
	"sync"
	"time"
)

// SchedLatency measures how long the process's goroutines waited to run, from
// the Go scheduler's own histogram. A server whose cores cannot keep up makes
// every piece of work wait in the run queue, however it arrived: requests over
// TCP, TLS and WebSocket (a browser's calls) show no socket queue, which
// sip.Server.QueueDelays records for UDP only, but they show here. Its zero value
// is ready; the first call measures from the start of the process.
type SchedLatency struct {
	mu     sync.Mutex
	sample [1]metrics.Sample
	last   []uint64
}

const schedLatencies = "/sched/latencies:seconds"

// Since is quantile q of the waits since the previous call, to the upper
// bound of the runtime's bucket; 0 when there were none.
func (s *SchedLatency) Since(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sample[0].Name = schedLatencies
	metrics.Read(s.sample[:])
	if s.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0 // a runtime without the metric
	}
	h := s.sample[0].Value.Float64Histogram()
	if len(s.last) != len(h.Counts) {
		s.last = make([]uint64, len(h.Counts))
	}
	delta := make([]uint64, len(h.Counts))
	for i, n := range h.Counts {
		delta[i] = n - s.last[i]
		s.last[i] = n
	}
	i, ok := quantileBucket(delta, q)
	if !ok {
		return 0
	}
	// Bucket i holds [Buckets[i], Buckets[i+1]); the last one is open.
	upper := h.Buckets[i+1]
	if math.IsInf(upper, 1) {
		upper = h.Buckets[i]
	}
	return time.Duration(upper * float64(time.Second))
}

// quantileBucket is the bucket holding quantile q of counts; false when
// counts are all zero.
func quantileBucket(counts []uint64, q float64) (int, bool) {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	want := max(1, uint64(math.Ceil(q*float64(total))))
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= want {
			return i, true
		}
	}
	return len(counts) - 1, true
}

// SchedWaitsPerRequest is about how many times a request over TCP waits to
// run before it is answered (read, handled, answered by its call's session,
// sent): Scale the scheduler's waits by it to compare them with a target for
// requests. With DefaultTarget it turns calls away at 25 ms, where it was
// measured to: on two cores, the 90th percentile of the scheduler's waits is
// 0.1-0.5 ms at a rate the server holds and 17-42 ms past it.
const SchedWaitsPerRequest = 4

// Scale is latency multiplied by factor.
func Scale(latency func(quantile float64) time.Duration, factor int) func(quantile float64) time.Duration {
	return func(q float64) time.Duration { return latency(q) * time.Duration(factor) }
}

// MinUDPSamples is how many datagrams an interval (half a second by
// default) must bring for Prefer to judge by their queue delay: 50 is what
// about ten calls a second bring, enough for a 90th percentile.
const MinUDPSamples = 50

// Prefer is a Latency (Options.Latency): quantile q of primary's durations
// when it recorded at least min of them since the previous call, else
// fallback's. A server's UDP queue delay already holds every cause of its
// being late (the reader waits to run like all the rest) and is what its
// callers feel, so it decides while UDP carries the traffic; the scheduler's
// waits, which also count work nobody waits for, decide when little comes
// over UDP (a server of browsers and TCP phones). Both are measured at
// every call, so that each interval covers the same time.
func Prefer(primary *Histogram, min uint64, fallback func(quantile float64) time.Duration) func(quantile float64) time.Duration {
	return func(q float64) time.Duration {
		d, n := primary.since(q)
		other := fallback(q)
		if n >= min {
			return d
		}
		return other
	}
}

// ServerLatency is the Latency of a SIP server whose UDP requests wait in
// udp: their queue delay while UDP brings traffic, else the scheduler's
// waits, scaled to a request's.
func ServerLatency(udp *Histogram) func(quantile float64) time.Duration {
	return Prefer(udp, MinUDPSamples, Scale((&SchedLatency{}).Since, SchedWaitsPerRequest))
}
