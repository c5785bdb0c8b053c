//go:build !linux

package runtime

import "time"

// threadCPU has no per-thread clock here; the watchdog falls back to wall time.
type threadCPU struct{}

func currentThreadCPU() threadCPU { return threadCPU{} }

func (threadCPU) used() (time.Duration, bool) { return 0, false }
