//go:build unix

package overload

import (
	"syscall"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1 // unknown, as elsewhere
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
