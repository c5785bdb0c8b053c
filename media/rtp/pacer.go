package rtp

import (
	"runtime"
	"sync"
	"sync/atomic"

	"vox/media/pcm"
)

// paced is what the pacer serves on each tick: a Playback, or a filler.
// next sends its frame, if any is due, into b and reports whether it goes on.
type paced interface {
	next(b *frameBuf) bool
}

// pacer sends the next frame of every playback on one clock, all on one
// ticker: at a thousand calls a ticker and a goroutine per playback cost more
// CPU in waking up than the frames cost to send. The first frame of a
// playback goes out at once, from Play; the rest on the pacer's 20 ms beat,
// so a playback's second frame comes up to 20 ms early and every later one
// keeps that spacing, which a receiver's jitter buffer absorbs like any
// network delay change.
//
// Playbacks are served in the order they started, so each stream's packets
// leave at the same offset into every tick.
type pacer struct {
	clock Clock

	mu      sync.Mutex
	active  []paced // started since the last tick, or still playing
	spare   []paced // the other slice, reused between ticks
	running bool    // a goroutine owns a ticker
}

// pacers is one clock's pacers, one per CPU: a send is a system call of a
// few microseconds, so ten thousand playbacks would not fit in a tick on one
// core. Each has its own ticker, started when its first playback came, so
// their beats also spread the sends over the 20 ms.
type pacers struct {
	shards []*pacer
	next   atomic.Uint32
}

func (ps *pacers) add(p paced) {
	ps.shards[ps.next.Add(1)%uint32(len(ps.shards))].add(p)
}

var (
	clockPacersMu sync.Mutex
	clockPacers   = map[Clock]*pacers{}
)

// pacersFor is the pacers of clock, made once per clock in the process (a
// Clock is compared as a map key: RealClock{} is one clock).
func pacersFor(clock Clock) *pacers {
	clockPacersMu.Lock()
	defer clockPacersMu.Unlock()
	ps := clockPacers[clock]
	if ps == nil {
		ps = &pacers{shards: make([]*pacer, runtime.GOMAXPROCS(0))}
		for i := range ps.shards {
			ps.shards[i] = &pacer{clock: clock}
		}
		clockPacers[clock] = ps
	}
	return ps
}

// add schedules p's next frames; the ticker runs while some playback does.
func (pc *pacer) add(p paced) {
	pc.mu.Lock()
	pc.active = append(pc.active, p)
	start := !pc.running
	pc.running = true
	pc.mu.Unlock()
	if start {
		// The ticker exists before add returns: a test's clock then
		// counts it when it next ticks.
		go pc.run(pc.clock.NewTicker(pcm.FrameDuration))
	}
}

func (pc *pacer) run(t Ticker) {
	defer t.Stop()
	var (
		work []paced
		buf  frameBuf
	)
	for range t.C() {
		pc.mu.Lock()
		work, pc.active, pc.spare = pc.active, pc.spare[:0], nil
		pc.mu.Unlock()

		kept := work[:0]
		for _, p := range work {
			if p.next(&buf) {
				kept = append(kept, p)
			}
		}
		clear(work[len(kept):])

		pc.mu.Lock()
		added := pc.active
		pc.active = append(kept, added...)
		clear(added)
		pc.spare = added[:0]
		if len(pc.active) == 0 {
			pc.running = false
			pc.mu.Unlock()
			return
		}
		pc.mu.Unlock()
	}
}
