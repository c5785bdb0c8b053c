package overload

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLoad is a Guard's clock, latency and CPU use, moved by the test.
type fakeLoad struct {
	now     time.Time
	latency time.Duration
	idle    bool // the process leaves its cores idle; otherwise it uses them all
	read    time.Time
}

func (f *fakeLoad) guard(log *bytes.Buffer) *Guard {
	return New(Options{
		Now:     func() time.Time { return f.now },
		Latency: func(float64) time.Duration { return f.latency },
		Busy:    f.busy,
		Log:     slog.New(slog.NewTextHandler(log, nil)),
	})
}

func (f *fakeLoad) busy() time.Duration {
	elapsed := f.now.Sub(f.read)
	f.read = f.now
	if f.idle {
		return elapsed / 10
	}
	return elapsed * time.Duration(runtime.GOMAXPROCS(0))
}

// admitted counts the admissions of n calls.
func admitted(g *Guard, n int) int {
	in := 0
	for range n {
		if g.Admit() {
			in++
		}
	}
	return in
}

func TestGuardFollowsLatency(t *testing.T) {
	steps := []struct {
		name    string
		elapsed time.Duration
		latency time.Duration
		idle    bool
		share   float64 // after the step's first Admit
	}{
		{"keeping up", 500 * time.Millisecond, 2 * time.Millisecond, false, 1},
		{"at the target is keeping up", 500 * time.Millisecond, 20 * time.Millisecond, false, 1},
		{"late but with idle cores: not our own load", 500 * time.Millisecond, 50 * time.Millisecond, true, 1},
		{"behind", 500 * time.Millisecond, 50 * time.Millisecond, false, 0.75},
		{"still behind", 500 * time.Millisecond, 80 * time.Millisecond, false, 0.5625},
		{"not measured again within the interval", 250 * time.Millisecond, time.Second, false, 0.5625},
		{"caught up", 250 * time.Millisecond, time.Millisecond, false, 0.6625},
		{"caught up again", 500 * time.Millisecond, time.Millisecond, false, 0.7625},
		{"idle for two seconds", 2 * time.Second, 0, true, 1},
	}
	load := &fakeLoad{now: time.Unix(1e9, 0)}
	load.read = load.now
	var log bytes.Buffer
	g := load.guard(&log)
	for _, s := range steps {
		load.now = load.now.Add(s.elapsed)
		load.latency, load.idle = s.latency, s.idle
		g.Admit()
		if share, _, _ := g.Share(); share < s.share-1e-9 || share > s.share+1e-9 {
			t.Fatalf("%s: share %.4f, want %.4f", s.name, share, s.share)
		}
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "turning new calls away") || !strings.Contains(lines[1], "taking every new call again") {
		t.Fatalf("want one line when shedding starts and one when it ends, got:\n%s", log.String())
	}
}

func TestGuardNeverShedsEverything(t *testing.T) {
	load := &fakeLoad{now: time.Unix(1e9, 0), latency: time.Second}
	g := load.guard(&bytes.Buffer{})
	for range 100 {
		load.now = load.now.Add(500 * time.Millisecond)
		g.Admit()
	}
	if share, _, _ := g.Share(); share != 0.05 {
		t.Fatalf("share after a long overload %.4f, want the minimum 0.05", share)
	}
	if in := admitted(g, 1000); in < 49 || in > 51 {
		t.Fatalf("%d of 1000 calls admitted at the minimum share, want 50", in)
	}
}

// TestGuardTakesTheFirstCall: a server whose first measurement finds it
// behind still takes the call that asked, and sheds from the next ones on.
func TestGuardTakesTheFirstCall(t *testing.T) {
	load := &fakeLoad{now: time.Unix(1e9, 0), latency: time.Second}
	load.read = load.now
	g := load.guard(&bytes.Buffer{})
	load.now = load.now.Add(time.Second)
	if !g.Admit() {
		t.Fatal("the first call was turned away")
	}
	if in := admitted(g, 100); in < 74 || in > 76 {
		t.Fatalf("%d of the next 100 calls admitted at share 0.75", in)
	}
}

// TestGuardShedsEvenly: a share is admitted call by call in turn, so every
// stretch of calls gets its share, not a random one.
func TestGuardShedsEvenly(t *testing.T) {
	load := &fakeLoad{now: time.Unix(1e9, 0)}
	g := load.guard(&bytes.Buffer{})
	load.latency = time.Second
	for range 5 { // 1 → 0.75 → 0.5625 → 0.4219 → 0.3164 → 0.2373
		load.now = load.now.Add(500 * time.Millisecond)
		g.Admit()
	}
	share, _, _ := g.Share()
	for stretch := range 10 {
		in := admitted(g, 100)
		if want := share * 100; float64(in) < want-1 || float64(in) > want+1 {
			t.Fatalf("stretch %d: %d of 100 admitted at share %.4f", stretch, in, share)
		}
	}
}

func TestQuantile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1}
	cases := []struct {
		counts []uint64
		q      float64
		want   time.Duration
	}{
		{[]uint64{0, 0, 0, 0}, 0.99, 0},
		{[]uint64{100, 0, 0, 0}, 0.99, time.Millisecond},
		{[]uint64{98, 1, 1, 0}, 0.99, 10 * time.Millisecond},
		{[]uint64{98, 1, 1, 0}, 0.995, 100 * time.Millisecond},
		{[]uint64{50, 0, 0, 50}, 0.5, time.Millisecond},
		{[]uint64{50, 0, 0, 50}, 0.51, time.Second},
	}
	for _, c := range cases {
		if got := quantile(c.counts, buckets, c.q); got != c.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.counts, c.q, got, c.want)
		}
	}
}

// TestSchedulerLatencyUnderLoad: goroutines that keep one thread's processor
// busy make a ready goroutine wait for their time slices (10 ms each), and
// the Guard sees it and sheds; once they stop, it admits everything again.
func TestSchedulerLatencyUnderLoad(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var log bytes.Buffer
	clock := time.Unix(1e9, 0)
	g := New(Options{Now: func() time.Time { return clock }, Log: slog.New(slog.NewTextHandler(&log, nil))})

	var stop atomic.Bool
	var spinners sync.WaitGroup
	for range 8 {
		spinners.Go(func() {
			for !stop.Load() {
			}
		})
	}
	// A sleeping goroutine is ready again after a millisecond and waits
	// for the spinners each time.
	for range 10 {
		time.Sleep(time.Millisecond)
	}
	clock = clock.Add(500 * time.Millisecond)
	g.Admit()
	stop.Store(true)
	spinners.Wait()
	share, latency, busy := g.Share()
	if share >= 1 || latency <= 20*time.Millisecond {
		t.Fatalf("under load: share %.2f, latency %v, cores used %.2f; want shedding over a 20 ms latency", share, latency, busy)
	}
	// The spinners' last slices are in the next interval, which may still
	// be over the target; the quiet seconds after it are not.
	clock = clock.Add(500 * time.Millisecond)
	g.Admit()

	for range 10 {
		time.Sleep(time.Millisecond)
	}
	clock = clock.Add(5 * time.Second)
	g.Admit()
	if share, latency, busy := g.Share(); share != 1 {
		t.Fatalf("after the load: share %.2f, latency %v, cores used %.2f; want every call admitted", share, latency, busy)
	}
	if !strings.Contains(log.String(), "turning new calls away") {
		t.Fatalf("no log line when shedding started:\n%s", log.String())
	}
}
