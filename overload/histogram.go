package overload

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Histogram counts durations in buckets a quarter of an octave wide, from
// histogramMin up; a Guard reads a quantile of what was recorded between two
// of its measurements. Record is safe from any goroutine and allocates
// nothing.
type Histogram struct {
	counts [histogramBuckets]atomic.Uint64

	mu   sync.Mutex // Since's
	last [histogramBuckets]uint64
}

const (
	histogramMin     = 16 * time.Microsecond
	bucketsPerOctave = 4
	// 20 octaves over 16 µs reach 16.8 s, far past any delay that matters.
	histogramBuckets = 20*bucketsPerOctave + 1
)

// Record counts one duration.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
}

// bucketOf is the bucket holding d: 0 below histogramMin, the last one at
// and past the top.
func bucketOf(d time.Duration) int {
	if d < histogramMin {
		return 0
	}
	i := 1 + int(math.Log2(float64(d)/float64(histogramMin))*bucketsPerOctave)
	return min(i, histogramBuckets-1)
}

// upperBound is the longest duration bucket i holds.
func upperBound(i int) time.Duration {
	return time.Duration(float64(histogramMin) * math.Exp2(float64(i)/bucketsPerOctave))
}

// Since is quantile q of the durations recorded since the previous call, to
// a quarter of an octave (the upper bound of its bucket); 0 when none were.
func (h *Histogram) Since(q float64) time.Duration {
	d, _ := h.since(q)
	return d
}

// since is Since and how many durations were recorded.
func (h *Histogram) since(q float64) (time.Duration, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var delta [histogramBuckets]uint64
	var n uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		delta[i] = c - h.last[i]
		h.last[i] = c
		n += delta[i]
	}
	i, ok := quantileBucket(delta[:], q)
	if !ok {
		return 0, 0
	}
	return upperBound(i), n
}
