package runtime

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is the time source of a session: timers, timestamps in the session log and
// the durations reported in call events all come from it. A live call uses
// RealClock; `vox sim` uses a VirtualClock so that a 60-second call plays in
// milliseconds.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once, on a goroutine of the clock's choosing, after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call scheduled on a Clock.
type Timer interface {
	// Stop prevents the call from running and reports whether it did so.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// VirtualClock is a discrete-event clock: time stands still until Step moves it to
// the next scheduled call and runs that call. A session running on a VirtualClock
// steps it whenever it has nothing else to do, which is what makes simulated time
// free.
//
// Calls are foreground (AfterFunc) or background (AfterFuncBackground). Both run
// in time order; only foreground calls are something happening: Next reports
// the earliest of those, so a session whose only pending calls are background
// ones (a simulated leg's 20 ms media ticks) is idle and may end.
type VirtualClock struct {
	mu         sync.Mutex
	now        time.Time
	seq        uint64
	timers     timerHeap // foreground
	background timerHeap
}

// NewVirtualClock returns a virtual clock that starts at start.
func NewVirtualClock(start time.Time) *VirtualClock {
	return &VirtualClock{now: start}
}

func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *VirtualClock) AfterFunc(d time.Duration, f func()) Timer {
	return c.schedule(d, f, false)
}

// AfterFuncBackground is AfterFunc for a call that keeps nothing alive: Step
// runs it in time order with the others, but Next does not report it. Work
// that goes on for as long as something else does (a leg's media ticks while
// it records or bridges) schedules itself this way, so that it does not keep a
// simulation from ever becoming idle.
func (c *VirtualClock) AfterFuncBackground(d time.Duration, f func()) Timer {
	return c.schedule(d, f, true)
}

func (c *VirtualClock) schedule(d time.Duration, f func(), background bool) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &virtualTimer{clock: c, at: c.now.Add(d), seq: c.seq, f: f, index: -1, background: background}
	heap.Push(c.heapOf(t), t)
	return t
}

func (c *VirtualClock) heapOf(t *virtualTimer) *timerHeap {
	if t.background {
		return &c.background
	}
	return &c.timers
}

// Step advances the clock to the earliest pending call, foreground or
// background, runs it on the caller's goroutine and reports whether there was
// one. Calls due at the same instant run in the order they were scheduled.
func (c *VirtualClock) Step() bool {
	c.mu.Lock()
	h := &c.timers
	if len(c.background) > 0 && (len(c.timers) == 0 || c.background[0].before(c.timers[0])) {
		h = &c.background
	}
	if len(*h) == 0 {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(h).(*virtualTimer)
	if t.at.After(c.now) {
		c.now = t.at
	}
	c.mu.Unlock()
	t.f()
	return true
}

// Next reports when the earliest pending foreground call is due; ok is false
// when none is. Background calls (AfterFuncBackground) are not reported.
func (c *VirtualClock) Next() (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].at, true
}

// Pending reports how many calls are scheduled, background ones included.
func (c *VirtualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers) + len(c.background)
}

type virtualTimer struct {
	clock *VirtualClock
	at    time.Time
	seq   uint64
	f     func()
	index int

	background bool
}

func (t *virtualTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(c.heapOf(t), t.index)
	return true
}

type timerHeap []*virtualTimer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].before(h[j]) }

// before orders calls by due time, then by when they were scheduled.
func (t *virtualTimer) before(u *virtualTimer) bool {
	if t.at.Equal(u.at) {
		return t.seq < u.seq
	}
	return t.at.Before(u.at)
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
