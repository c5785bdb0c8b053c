package runtime

import (
	"context"
	goruntime "runtime"
	"sync"
	"testing"
	"time"
	"weak"
)

// hoardingClock is the wall clock, but it keeps every function it was given,
// stopped or not, as Go's runtime keeps a stopped timer's function in its
// timer heap until the timer's time or until its P clears it out.
type hoardingClock struct {
	RealClock
	mu    sync.Mutex
	funcs []func()
}

func (c *hoardingClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	c.funcs = append(c.funcs, f)
	c.mu.Unlock()
	return c.RealClock.AfterFunc(d, f)
}

// An ended session is let go even while the functions of its timers (its
// deadline, its idle timer, a scenario's setTimeout) are still held: its JS
// runtime is most of a call's memory, and the deadline is four hours away.
func TestEndedSessionNotHeldByItsTimers(t *testing.T) {
	clock := &hoardingClock{}
	s, _ := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.Started, () => {
	setTimeout(() => {}, 600000);
	VoxEngine.terminate();
});`, Config{Clock: clock})
	waitDone(t, s)
	ended := weak.Make(s)
	s = nil
	clock.mu.Lock()
	held := len(clock.funcs)
	clock.mu.Unlock()
	if held < 2 {
		t.Fatalf("the clock holds %d timer functions, want the deadline's and the setTimeout's", held)
	}
	// The clock, and so the functions, stay reachable throughout.
	defer goruntime.KeepAlive(clock)
	for range 100 {
		goruntime.GC()
		if ended.Value() == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the ended session is still held, by its timers' functions or otherwise")
}
