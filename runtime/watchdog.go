package runtime

import (
	goruntime "runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// QuotaError is why a watchdog stopped a scenario. It is the value passed to
// goja's Interrupt and comes back inside the *goja.InterruptedError.
type QuotaError struct{ Reason string }

func (e *QuotaError) Error() string { return e.Reason }

// watchPeriod is how often a running callback is looked at. Callbacks that finish
// sooner, nearly all of them, only cost arming and stopping one timer.
const watchPeriod = 10 * time.Millisecond

// heapMetric counts bytes in heap objects, live or not yet swept. Reading it does
// not stop the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

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
	// wallStart mirrors wall for other watchdogs, which read it without w.mu.
	wallStart atomic.Int64
	heap      uint64
	timer     *time.Timer
	tripped   *QuotaError
	sample    []metrics.Sample
}

func newWatchdog(vm *goja.Runtime, cpu time.Duration, memory int64) *watchdog {
	return &watchdog{vm: vm, cpu: cpu, memory: memory, sample: []metrics.Sample{{Name: heapMetric}}}
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
	w.wallStart.Store(w.wall.UnixNano())
	w.heap = w.readHeap()
	running.Lock()
	running.set[w] = struct{}{}
	running.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(watchPeriod, w.check)
	} else {
		w.timer.Reset(watchPeriod)
	}
}

// end is called after JS returns and reports the quota it broke, if any.
func (w *watchdog) end() *QuotaError {
	running.Lock()
	delete(running.set, w)
	running.Unlock()
	w.mu.Lock()
	w.running = false
	w.timer.Stop()
	tripped := w.tripped
	w.mu.Unlock()
	goruntime.UnlockOSThread()
	return tripped
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watchdog) readHeap() uint64 {
	metrics.Read(w.sample)
	if w.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return w.sample[0].Value.Uint64()
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running || w.tripped != nil {
		return
	}
	spent := time.Since(w.wall)
	if w.hasCPU {
		if now, ok := w.thread.used(); ok {
			spent = now - w.cpuStart
		}
	}
	switch {
	case spent >= w.cpu:
		w.tripped = &QuotaError{Reason: "CPU limit: the event callback ran for more than " + w.cpu.String() + " of CPU time"}
	case w.memory > 0 && int64(w.readHeap())-int64(w.heap) > w.memory && w.oldestRunning():
		w.tripped = &QuotaError{Reason: "memory limit: the event callback grew the heap by more than " + byteSize(w.memory)}
	}
	if w.tripped != nil {
		w.vm.Interrupt(w.tripped)
		return
	}
	w.timer.Reset(watchPeriod)
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
// shared, so growth cannot be pinned on one session exactly; it is blamed on the
// callback that has been running longest, which is where a runaway allocation loop
// is and where short, ordinary callbacks are not.
var running = struct {
	sync.Mutex
	set map[*watchdog]struct{}
}{set: map[*watchdog]struct{}{}}

func (w *watchdog) oldestRunning() bool {
	running.Lock()
	defer running.Unlock()
	for o := range running.set {
		if o != w && o.startedBefore(w) {
			return false
		}
	}
	return true
}

func (w *watchdog) startedBefore(other *watchdog) bool {
	return w.wallStart.Load() < other.wallStart.Load()
}
