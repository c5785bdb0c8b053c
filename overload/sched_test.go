package overload

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestQuantileBucket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []uint64
		q      float64
		want   int
		ok     bool
	}{
		{"none", []uint64{0, 0, 0}, 0.9, 0, false},
		{"all in one", []uint64{0, 5, 0}, 0.9, 1, true},
		{"median", []uint64{2, 2, 2, 2}, 0.5, 1, true},
		{"p90 of ten", []uint64{9, 0, 1}, 0.9, 0, true},
		{"p99 of ten", []uint64{9, 0, 1}, 0.99, 2, true},
		{"q 0 is the first that holds any", []uint64{0, 0, 3}, 0, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := quantileBucket(tc.counts, tc.q)
			if got != tc.want || ok != tc.ok {
				t.Errorf("quantileBucket(%v, %v) = %d, %v; want %d, %v", tc.counts, tc.q, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// Goroutines that outnumber the cores, each wanting all of one, wait in the
// run queue for the scheduler's time slices (10 ms): the waits of a server
// overloaded whatever its requests arrive by.
func TestSchedLatencySeesContention(t *testing.T) {
	var s SchedLatency
	s.Since(0.9) // what came before this test
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if got := s.Since(0.9); got < time.Millisecond {
		t.Errorf("with 4 busy goroutines a core, 90%% of waits to run were under %v", got)
	}
	if got := s.Since(0.9); got >= time.Millisecond {
		// Only what came after the previous call counts.
		t.Errorf("with the contention over, 90%% of waits to run were under %v", got)
	}
}

func TestPrefer(t *testing.T) {
	var udp Histogram
	sched := time.Duration(0)
	latency := Prefer(&udp, 3, func(float64) time.Duration { return sched })
	sched = 40 * time.Millisecond
	if got := latency(0.9); got != sched {
		t.Errorf("no UDP: %v, want the scheduler's %v", got, sched)
	}
	for range 3 {
		udp.Record(time.Millisecond)
	}
	if got := latency(0.9); got > 2*time.Millisecond {
		t.Errorf("with UDP traffic: %v, want UDP's 1 ms, not the scheduler's %v", got, sched)
	}
	udp.Record(time.Millisecond)
	if got := latency(0.9); got != sched {
		t.Errorf("too little UDP since the last call: %v, want the scheduler's %v", got, sched)
	}
}

func TestScale(t *testing.T) {
	latency := Scale(func(q float64) time.Duration { return time.Duration(q * float64(10*time.Millisecond)) }, SchedWaitsPerRequest)
	if got, want := latency(0.5), 20*time.Millisecond; got != want {
		t.Errorf("Scale: %v, want %v", got, want)
	}
}
