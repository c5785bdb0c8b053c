//go:build !linux

package jsapi

import "time"

// threadCPU has no per-thread clock here; regexp checks use wall time alone.
func threadCPU() (time.Duration, bool) { return 0, false }
