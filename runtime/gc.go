package runtime

import (
	"os"
	"runtime/debug"
)

// A server runs a fresh JS session per call, and each session leaves some
// hundreds of KiB of garbage (the VM's built-ins, the guards, the VoxEngine
// layer) while the live heap stays small: the sessions of the calls in
// progress and what SIP keeps of the calls that just ended. With Go's default
// GOGC of 100 the collector then runs every few hundred calls and takes about
// a fifth of the CPU a call costs. A higher target trades memory, which a
// telephony server has plenty of, for CPU; the soft limit keeps the heap
// bounded whatever the call rate: the closer the heap comes to it, the more
// often the collector runs.
const (
	ServerGCPercent = 400
	// ServerMemoryLimit is the soft limit on the Go heap and runtime memory.
	ServerMemoryLimit = 2 << 30
)

// TuneServerGC sets ServerGCPercent and ServerMemoryLimit for this process,
// each unless the environment sets it (GOGC, GOMEMLIMIT), so an operator's
// own setting wins. vox serve calls it once at start.
func TuneServerGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ServerGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(ServerMemoryLimit)
	}
}
