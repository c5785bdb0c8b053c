package overload

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"sync"
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

func newFakeLoad() *fakeLoad {
	start := time.Unix(1e9, 0)
	return &fakeLoad{now: start, read: start}
}

// guard is a Guard on the fake load; tune changes its options.
func (f *fakeLoad) guard(t *testing.T, log *bytes.Buffer, tune ...func(*Options)) *Guard {
	t.Helper()
	opts := Options{
		Now:     func() time.Time { return f.now },
		Latency: func(float64) time.Duration { return f.latency },
		Busy:    f.busy,
		Log:     slog.New(slog.NewTextHandler(log, nil)),
	}
	for _, tu := range tune {
		tu(&opts)
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
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
		{"at the target is keeping up", 500 * time.Millisecond, DefaultTarget, false, 1},
		{"late but with idle cores: not our own load", 500 * time.Millisecond, 2 * DefaultTarget, true, 1},
		{"late once: a pause, not yet an overload", 500 * time.Millisecond, 2 * DefaultTarget, false, 1},
		{"late twice in a row", 500 * time.Millisecond, 3 * DefaultTarget, false, 0.75},
		{"still late: the queue gets time to drain", 500 * time.Millisecond, 3 * DefaultTarget, false, 0.75},
		{"late for as long again", 500 * time.Millisecond, 3 * DefaultTarget, false, 0.5625},
		{"not measured again within the interval", 250 * time.Millisecond, time.Second, false, 0.5625},
		{"caught up", 250 * time.Millisecond, time.Millisecond, false, 0.6625},
		{"caught up again", 500 * time.Millisecond, time.Millisecond, false, 0.7625},
		{"late once more: holds", 500 * time.Millisecond, time.Second, false, 0.7625},
		{"idle for two seconds", 2 * time.Second, 0, true, 1},
	}
	load := newFakeLoad()
	var log bytes.Buffer
	g := load.guard(t, &log)
	for _, s := range steps {
		load.now = load.now.Add(s.elapsed)
		load.latency, load.idle = s.latency, s.idle
		g.Admit()
		if share, _, _ := g.state(); share < s.share-1e-9 || share > s.share+1e-9 {
			t.Fatalf("%s: share %.4f, want %.4f", s.name, share, s.share)
		}
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "turning new calls away") || !strings.Contains(lines[1], "taking every new call again") {
		t.Fatalf("want one line when shedding starts and one when it ends, got:\n%s", log.String())
	}
}

func TestGuardNeverShedsEverything(t *testing.T) {
	load := newFakeLoad()
	load.latency = time.Second
	g := load.guard(t, &bytes.Buffer{})
	for range 100 {
		load.now = load.now.Add(500 * time.Millisecond)
		g.Admit()
	}
	if share, _, _ := g.state(); share != 0.05 {
		t.Fatalf("share after a long overload %.4f, want the minimum 0.05", share)
	}
	before := g.TurnedAway()
	in := admitted(g, 1000)
	if in < 49 || in > 51 {
		t.Fatalf("%d of 1000 calls admitted at the minimum share, want 50", in)
	}
	if away := g.TurnedAway() - before; away != uint64(1000-in) {
		t.Fatalf("TurnedAway counts %d of the %d calls refused", away, 1000-in)
	}
}

// TestGuardTakesTheFirstCall: a server whose first measurement finds it
// behind still takes the call that asked, and sheds from the next ones on.
func TestGuardTakesTheFirstCall(t *testing.T) {
	load := newFakeLoad()
	load.latency = time.Second
	g := load.guard(t, &bytes.Buffer{}, func(o *Options) { o.Sustain = 1 })
	load.now = load.now.Add(time.Second)
	if !g.Admit() {
		t.Fatal("the first call was turned away")
	}
	if share, _, _ := g.state(); share != 0.75 {
		t.Fatalf("share %.4f after a late interval, want 0.75", share)
	}
	if in := admitted(g, 100); in < 74 || in > 76 {
		t.Fatalf("%d of the next 100 calls admitted at share 0.75", in)
	}
}

// TestGuardShedsEvenly: a share is admitted call by call in turn, so every
// stretch of calls gets its share, not a random one.
func TestGuardShedsEvenly(t *testing.T) {
	load := newFakeLoad()
	g := load.guard(t, &bytes.Buffer{})
	load.latency = time.Second
	for range 10 { // a cut every second interval: 0.75, 0.5625, 0.4219, 0.3164, 0.2373
		load.now = load.now.Add(500 * time.Millisecond)
		g.Admit()
	}
	share, _, _ := g.state()
	if share > 0.25 {
		t.Fatalf("share %.4f after ten late intervals", share)
	}
	for stretch := range 10 {
		in := admitted(g, 100)
		if want := share * 100; float64(in) < want-1 || float64(in) > want+1 {
			t.Fatalf("stretch %d: %d of 100 admitted at share %.4f", stretch, in, share)
		}
	}
}

func TestNewNeedsLatency(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("a Guard without a latency to watch was made")
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	if got := h.Since(0.9); got != 0 {
		t.Fatalf("an empty histogram's quantile is %v, want 0", got)
	}
	record := func(d time.Duration, n int) {
		for range n {
			h.Record(d)
		}
	}
	record(time.Millisecond, 90)
	record(100*time.Millisecond, 10)
	cases := []struct {
		q        float64
		at, upto time.Duration // the quantile is within a quarter octave above at
	}{
		{0.5, time.Millisecond, 1190 * time.Microsecond},
		{0.9, time.Millisecond, 1190 * time.Microsecond},
		{0.91, 100 * time.Millisecond, 119 * time.Millisecond},
	}
	for _, c := range cases {
		// Since forgets what it has read: record the same again for each.
		if c.q != 0.5 {
			record(time.Millisecond, 90)
			record(100*time.Millisecond, 10)
		}
		if got := h.Since(c.q); got < c.at || got > c.upto {
			t.Errorf("quantile %v = %v, want in [%v, %v]", c.q, got, c.at, c.upto)
		}
	}
	if got := h.Since(0.9); got != 0 {
		t.Fatalf("quantile %v with nothing recorded since the last reading, want 0", got)
	}
	record(0, 1)
	record(time.Hour, 1)
	if got := h.Since(1); got < 16*time.Second {
		t.Fatalf("an hour's delay reads %v, want the top bucket's bound", got)
	}
}

// TestHistogramConcurrent: records from many goroutines are all counted.
func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				h.Record(time.Duration(i+1) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total != 8000 {
		t.Fatalf("%d of 8000 records counted", total)
	}
}
