package jsapi

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the calling thread's CPU time, ok false when it cannot be read.
// A session locks its goroutine to one thread while JS runs, so the difference
// of two readings is the scenario's own CPU, whatever other sessions do.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
