package runtime

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU measures the CPU time of one OS thread from any goroutine. The session
// goroutine locks itself to its thread while it runs JS, so the thread's CPU time is
// the scenario's: wall time would also count the time other sessions spent on the
// same two cores.
type threadCPU struct{ clock int32 }

func currentThreadCPU() threadCPU {
	// Linux's per-thread CPU clock id, as glibc's pthread_getcpuclockid builds it:
	// the thread id complemented and shifted, with CPUCLOCK_SCHED and the
	// per-thread flag.
	tid := unix.Gettid()
	return threadCPU{clock: int32((^tid)<<3 | 6)}
}

// used reports the thread's CPU time so far; ok is false where the clock cannot be
// read, and the watchdog then falls back to wall time.
func (t threadCPU) used() (d time.Duration, ok bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(t.clock, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
