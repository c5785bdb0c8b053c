package runtime

import (
	goruntime "runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// QuotaError is why a watchdog stopped a scenario. It is the value passed to
// goja's Interrupt and comes back inside the *goja.InterruptedError.
type QuotaError struct{ Reason string }

func (e *QuotaError) Error() string { return e.Reason }

// watchPeriod is how often the running callbacks are looked at. One ticker
// serves every session, and runs only while some callback runs past a tick:
// a callback costs joining and leaving the running set, not a timer of its
// own. (A timer reset at every callback made the Go runtime rescan its whole
// timer heap, thousands of SIP and media timers on a busy server, once per
// callback.)
const watchPeriod = 10 * time.Millisecond

// The heap is measured two ways; reading either does not stop the world.
// liveMetric is what the last garbage collection found reachable: the memory a
// callback holds on to, untouched by what other sessions allocate and drop, but
// only as fresh as the last collection. heapMetric counts every heap object, live
// or not yet swept: always fresh, but it also grows with the garbage of every
// other session.
const (
	liveMetric   = "/gc/heap/live:bytes"
	heapMetric   = "/memory/classes/heap/objects:bytes"
	cyclesMetric = "/gc/cycles/total:gc-cycles"
)

// heapBackstop is how many memory budgets the whole heap may grow by during one
// callback before the callback is blamed even though no collection has yet shown
// it holding the memory: when the live heap is large, the next collection may be
// far off. It is a multiple so that the garbage of the other sessions during a
// long callback is not mistaken for this one's.
const heapBackstop = 8

// watchdog stops a JS callback that spends more than its CPU budget or grows the
// heap by more than the session's memory budget. Interrupt only stops JS; the
// builtins that allocate much in one call are guarded in jsapi.
type watchdog struct {
	vm     *goja.Runtime
	cpu    time.Duration
	memory int64

	mu       sync.Mutex
	running  bool
	thread   threadCPU
	cpuStart time.Duration
	hasCPU   bool
	wall     time.Time
	live     uint64
	heap     uint64
	cycles   uint64
	tripped  *QuotaError
	sample   []metrics.Sample
}

func newWatchdog(vm *goja.Runtime, cpu time.Duration, memory int64) *watchdog {
	return &watchdog{vm: vm, cpu: cpu, memory: memory, sample: []metrics.Sample{{Name: liveMetric}, {Name: heapMetric}, {Name: cyclesMetric}}}
}

// begin is called on the session goroutine before JS runs. It pins the goroutine
// to its thread until end so that the thread's CPU clock measures this callback.
func (w *watchdog) begin() {
	goruntime.LockOSThread()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running = true
	w.tripped = nil
	w.thread = currentThreadCPU()
	w.cpuStart, w.hasCPU = w.thread.used()
	w.wall = time.Now()
	w.live, w.heap, w.cycles = w.readHeap()
	running.Lock()
	running.set[w] = struct{}{}
	if !running.ticking {
		running.ticking = true
		go watchRunning()
	}
	running.Unlock()
}

// end is called after JS returns and reports the quota it broke, if any.
func (w *watchdog) end() *QuotaError {
	running.Lock()
	delete(running.set, w)
	running.Unlock()
	w.mu.Lock()
	w.running = false
	tripped := w.tripped
	w.mu.Unlock()
	goruntime.UnlockOSThread()
	return tripped
}

func (w *watchdog) readHeap() (live, heap, cycles uint64) {
	metrics.Read(w.sample)
	for i, v := range []*uint64{&live, &heap, &cycles} {
		if w.sample[i].Value.Kind() == metrics.KindUint64 {
			*v = w.sample[i].Value.Uint64()
		}
	}
	return live, heap, cycles
}

// heapGrew reports whether the heap grew past the memory budget since the callback
// began: its live part by one budget, or the whole of it by heapBackstop budgets.
// The live part counts only once a whole collection has run inside the callback:
// the first one to finish may have started before it, and would report what an
// earlier callback, perhaps of another session, left behind.
func (w *watchdog) heapGrew() bool {
	live, heap, cycles := w.readHeap()
	return cycles >= w.cycles+2 && int64(live)-int64(w.live) > w.memory ||
		int64(heap)-int64(w.heap) > heapBackstop*w.memory
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running || w.tripped != nil {
		return
	}
	spent := w.used()
	switch {
	case spent >= w.cpu:
		w.tripped = &QuotaError{Reason: "CPU limit: the event callback ran for more than " + w.cpu.String() + " of CPU time"}
	case w.memory > 0 && spent >= minBlameCPU && w.heapGrew() && w.busiestRunning(spent):
		w.tripped = &QuotaError{Reason: "memory limit: the event callback grew the heap by more than " + byteSize(w.memory)}
	}
	if w.tripped != nil {
		w.vm.Interrupt(w.tripped)
	}
}

// watchRunning checks the running callbacks every watchPeriod, and returns
// once a tick finds none; the next begin starts it again.
func watchRunning() {
	t := time.NewTicker(watchPeriod)
	defer t.Stop()
	var due []*watchdog
	for range t.C {
		running.Lock()
		if len(running.set) == 0 {
			running.ticking = false
			running.Unlock()
			return
		}
		due = due[:0]
		for w := range running.set {
			due = append(due, w)
		}
		running.Unlock()
		// check takes running's lock itself (busiestRunning).
		for _, w := range due {
			w.check()
		}
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// running lists the callbacks executing JS right now, across sessions. The heap is
// shared, so growth cannot be pinned on one session exactly. It is blamed on the
// running callback that has used the most CPU time, and only once that is at
// least minBlameCPU: allocating megabytes takes CPU, so that is where a runaway
// allocation loop is, and where short, ordinary callbacks are not, even when they
// happen to be running as the heap grows or as a collection reports what a
// callback that has since ended left behind.
var running = struct {
	sync.Mutex
	set map[*watchdog]struct{}
	// ticking is whether watchRunning is running.
	ticking bool
}{set: map[*watchdog]struct{}{}}

// minBlameCPU is the CPU time a callback must have used before heap growth is put
// down to it; an ordinary event callback uses a few milliseconds.
const minBlameCPU = 20 * time.Millisecond

func (w *watchdog) busiestRunning(spent time.Duration) bool {
	running.Lock()
	defer running.Unlock()
	for o := range running.set {
		if o != w && o.used() > spent {
			return false
		}
	}
	return true
}

// used is the CPU time the running callback has used, read from its thread's
// clock, or the wall time where that cannot be read. Other watchdogs call it while
// holding running's lock: begin sets what it reads before the callback joins
// running, and the callback leaves running before the next begin changes it.
func (w *watchdog) used() time.Duration {
	if w.hasCPU {
		if now, ok := w.thread.used(); ok {
			return now - w.cpuStart
		}
	}
	return time.Since(w.wall)
}
