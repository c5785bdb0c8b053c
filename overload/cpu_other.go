//go:build !unix

package overload

import "time"

// cpuTime is unknown here.
func cpuTime() time.Duration { return -1 }
