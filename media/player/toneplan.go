package player

import (
	"sync"

	"vox/media"
	"vox/media/pcm"
	"vox/media/rtp"
)

// A tone script's frames are the same in every call that plays it, and a
// cadence that repeats makes them repeat: the Russian ringback is 250 frames
// a cycle, three of them distinct (two of the tone, and silence). So a
// Player synthesizes each script's frames once, with the toneSource every
// call would otherwise run, keeps them encoded in both G.711 laws, and a
// call plays them back by copying: synthesis costs a few microseconds a
// frame, ten times the copy, and a thousand calls at once make it a real
// share of the CPU.
//
// A plan is made only for a cadence whose state at a frame boundary comes
// back within maxPlanFrames (or that ends by then), so its frames are exactly
// those of a toneSource, bit for bit. A tone held on for ever has no such
// state (each burst's phase is computed from its sample count, which only
// grows) and is synthesized as it plays.
const (
	maxPlanFrames = 1500 // 30 s: the presets' cycles are 3 to 6 s
	maxPlanUnique = 256  // distinct frames of a plan, 640 bytes each
	maxPlans      = 32   // scripts a Player keeps; scenarios may play any
)

// tonePlan is a tone script's frames: frames indexes unique, and after the
// last one the script ends (loopAt < 0) or goes on at frames[loopAt].
type tonePlan struct {
	frames []uint16
	unique []toneFrame
	loopAt int
}

// toneFrame is one frame as linear audio and as each law sends it.
type toneFrame struct {
	pcm        pcm.Frame
	ulaw, alaw [pcm.FrameSamples]byte
}

// toneState is where a toneSource is in its cadence: equal states go on to
// equal frames. The repeat count of a section repeated for ever decides
// nothing and is left out.
type toneState struct {
	section, repeat, step int
	pos                   int64
}

func (s *toneSource) state() toneState {
	st := toneState{section: s.section, repeat: s.repeat, step: s.step, pos: s.pos}
	if s.ts.Sections[s.section].Repeat == 0 {
		st.repeat = 0
	}
	return st
}

// planTone makes ts's plan, or returns nil when it has none within the
// bounds. It follows the cadence first, without samples, so a script without
// a plan costs little to turn down.
func planTone(ts *media.ToneScript, loop bool) *tonePlan {
	s := newToneSource(ts, loop)
	seen := map[toneState]int{}
	n, loopAt := 0, -1
	for !s.done {
		if s.on < 0 {
			return nil // held for ever
		}
		st := s.state()
		if i, ok := seen[st]; ok {
			loopAt = i
			break
		}
		if n == maxPlanFrames {
			return nil
		}
		seen[st] = n
		s.next(nil)
		n++
	}

	p := &tonePlan{frames: make([]uint16, n), loopAt: loopAt}
	index := map[pcm.Frame]uint16{}
	s = newToneSource(ts, loop)
	var f pcm.Frame
	for i := range n {
		s.next(&f)
		k, ok := index[f]
		if !ok {
			if len(p.unique) == maxPlanUnique {
				return nil
			}
			k = uint16(len(p.unique))
			index[f] = k
			tf := toneFrame{pcm: f}
			rtp.PCMU.Encode(tf.ulaw[:], f[:])
			rtp.PCMA.Encode(tf.alaw[:], f[:])
			p.unique = append(p.unique, tf)
		}
		p.frames[i] = k
	}
	return p
}

// toneKey names a plan: the script as written, and whether it loops.
type toneKey struct {
	script string
	loop   bool
}

// tone is a parsed script and its plan, nil when it has none.
type tone struct {
	ts   *media.ToneScript
	plan *tonePlan
}

// toneCache holds the Player's parsed scripts and their plans, at most
// maxPlans: when full, a new script evicts an arbitrary one.
type toneCache struct {
	mu sync.Mutex
	m  map[toneKey]*tone
}

// get parses script and plans it, or finds it done already.
func (c *toneCache) get(script string, loop bool) (*tone, error) {
	key := toneKey{script, loop}
	c.mu.Lock()
	t := c.m[key]
	c.mu.Unlock()
	if t != nil {
		return t, nil
	}
	ts, err := media.ParseToneScript(script)
	if err != nil {
		return nil, err
	}
	// Made outside the lock: two calls starting a new script together may
	// both plan it, and one plan is kept.
	t = &tone{ts: ts, plan: planTone(ts, loop)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept := c.m[key]; kept != nil {
		return kept, nil
	}
	if c.m == nil {
		c.m = map[toneKey]*tone{}
	}
	if len(c.m) >= maxPlans {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = t
	return t, nil
}

// planSource plays a tonePlan.
type planSource struct {
	plan *tonePlan
	i    int
}

func (s *planSource) next() *toneFrame {
	if s.i == len(s.plan.frames) {
		if s.plan.loopAt < 0 {
			return nil
		}
		s.i = s.plan.loopAt
	}
	f := &s.plan.unique[s.plan.frames[s.i]]
	s.i++
	return f
}

func (s *planSource) read(f *pcm.Frame) bool {
	tf := s.next()
	if tf == nil {
		return false
	}
	*f = tf.pcm
	return true
}

// readPayload copies the next frame encoded in c; false at the end, where
// read then reports it, or for a codec a plan does not hold.
func (s *planSource) readPayload(dst []byte, c rtp.Codec) bool {
	if c != rtp.PCMU && c != rtp.PCMA {
		return false
	}
	tf := s.next()
	if tf == nil {
		return false
	}
	if c == rtp.PCMU {
		copy(dst, tf.ulaw[:])
	} else {
		copy(dst, tf.alaw[:])
	}
	return true
}
