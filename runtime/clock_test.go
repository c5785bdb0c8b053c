package runtime

import (
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
