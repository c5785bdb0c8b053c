package runtime_test

import (
	"math"
	"runtime/debug"
	"testing"

	"vox/runtime"
)

// TestTuneServerGC checks that vox serve's collector settings apply unless the
// environment sets its own, which the Go runtime has already applied at start
// (the test stands in for that by setting the same value itself). It changes
// process-wide settings, so it does not run in parallel and restores them.
func TestTuneServerGC(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	tests := []struct {
		name, gogc, gomemlimit string
		envPercent             int
		envLimit               int64
		wantPercent            int
		wantLimit              int64
	}{
		{name: "no environment", envPercent: 100, envLimit: math.MaxInt64,
			wantPercent: runtime.ServerGCPercent, wantLimit: runtime.ServerMemoryLimit},
		{name: "GOGC set", gogc: "150", envPercent: 150, envLimit: math.MaxInt64,
			wantPercent: 150, wantLimit: runtime.ServerMemoryLimit},
		{name: "GOMEMLIMIT set", gomemlimit: "512MiB", envPercent: 100, envLimit: 512 << 20,
			wantPercent: runtime.ServerGCPercent, wantLimit: 512 << 20},
		{name: "both set", gogc: "off", gomemlimit: "1GiB", envPercent: -1, envLimit: 1 << 30,
			wantPercent: -1, wantLimit: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc)
			t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			debug.SetGCPercent(tt.envPercent)
			debug.SetMemoryLimit(tt.envLimit)
			runtime.TuneServerGC()
			if got := debug.SetGCPercent(tt.envPercent); got != tt.wantPercent {
				t.Errorf("GC percent = %d, want %d", got, tt.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit = %d, want %d", got, tt.wantLimit)
			}
		})
	}
}
