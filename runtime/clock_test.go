package runtime

import (
	"strings"
	"testing"
	"time"
)

func TestVirtualClockRunsCallsInTimeOrder(t *testing.T) {
	start := time.Date(2015, 7, 24, 8, 50, 8, 0, time.UTC)
	c := NewVirtualClock(start)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(start).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	stopped := c.AfterFunc(2*time.Second, at("never"))
	c.AfterFunc(time.Second, at("b")) // same instant as a: scheduled later, runs later
	c.AfterFunc(-time.Second, at("now"))
	if !stopped.Stop() {
		t.Fatal("Stop of a pending call reported false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
	for c.Step() {
	}
	want := []string{"now@0s", "a@1s", "b@1s", "c@3s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if c.Pending() != 0 {
		t.Errorf("Pending() = %d after running everything", c.Pending())
	}
}

func TestVirtualClockCallsMayScheduleMore(t *testing.T) {
	c := NewVirtualClock(time.Unix(0, 0))
	n := 0
	var tick func()
	tick = func() {
		n++
		if n < 5 {
			c.AfterFunc(time.Minute, tick)
		}
	}
	c.AfterFunc(time.Minute, tick)
	for c.Step() {
	}
	if n != 5 || c.Now() != time.Unix(300, 0) {
		t.Errorf("n = %d, now = %v; want 5 ticks ending at 5 minutes", n, c.Now())
	}
}

func TestJobQueueOrderAndOverflow(t *testing.T) {
	q := newJobQueue(3)
	var got []int
	for i := range 3 {
		if !q.push(func() { got = append(got, i) }) {
			t.Fatalf("push %d refused below the limit", i)
		}
	}
	if q.push(func() {}) || !q.overflowed() {
		t.Fatal("a fourth job was taken by a queue of three")
	}
	for {
		job, ok := q.pop()
		if !ok {
			break
		}
		job()
	}
	if len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("jobs ran as %v, want 0 1 2", got)
	}
	q.close()
	if q.push(func() {}) {
		t.Error("a closed queue took a job")
	}
}

// Background calls run in time order among the others, but Next reports only
// foreground ones: a clock with only background calls left is idle.
func TestVirtualClockBackgroundCalls(t *testing.T) {
	start := time.Unix(0, 0)
	c := NewVirtualClock(start)
	var got []string
	var tick func()
	tick = func() {
		got = append(got, "tick@"+c.Now().Sub(start).String())
		c.AfterFuncBackground(20*time.Millisecond, tick)
	}
	c.AfterFuncBackground(0, tick)
	c.AfterFunc(50*time.Millisecond, func() { got = append(got, "fg@"+c.Now().Sub(start).String()) })
	stopped := c.AfterFuncBackground(30*time.Millisecond, func() { got = append(got, "never") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a background call")
	}
	if at, ok := c.Next(); !ok || !at.Equal(start.Add(50*time.Millisecond)) {
		t.Fatalf("Next = %v, %v; want the foreground call at 50ms", at, ok)
	}
	// As a session does: step while a foreground call is pending.
	for _, ok := c.Next(); ok; _, ok = c.Next() {
		c.Step()
	}
	want := "tick@0s tick@20ms tick@40ms fg@50ms"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("ran %s, want %s", s, want)
	}
	if _, ok := c.Next(); ok || c.Pending() != 1 {
		t.Errorf("after the foreground call: Next ok = %v, Pending = %d; want only the tick pending", ok, c.Pending())
	}
}
