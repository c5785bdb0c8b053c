package rtp

import (
	"testing"
	"time"
)

func TestRecvStatsSequence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		first                 uint16
		seqs                  []uint16 // after first
		expected, received    uint64
		lost                  int64
		reordered, duplicates uint64
		extendedMax           uint32
	}{
		{name: "in order", first: 10, seqs: []uint16{11, 12, 13}, expected: 4, received: 4, extendedMax: 13},
		{name: "gap", first: 10, seqs: []uint16{11, 14, 15}, expected: 6, received: 4, lost: 2, extendedMax: 15},
		{name: "wrap", first: 65534, seqs: []uint16{65535, 0, 1}, expected: 4, received: 4, extendedMax: 65536 + 1},
		{name: "start at zero", first: 0, seqs: []uint16{1, 2}, expected: 3, received: 3, extendedMax: 2},
		{name: "reordered", first: 10, seqs: []uint16{12, 11, 13}, expected: 4, received: 4, reordered: 1, extendedMax: 13},
		{name: "duplicate", first: 10, seqs: []uint16{11, 11, 12, 10}, expected: 3, received: 3, duplicates: 2, extendedMax: 12},
		{name: "late and lost", first: 10, seqs: []uint16{13, 11}, expected: 4, received: 3, lost: 1, reordered: 1, extendedMax: 13},
		// A.1: the first packet after the jump is held as bad_seq and not
		// counted; the second confirms the restart.
		{name: "restart after a jump", first: 10, seqs: []uint16{11, 40000, 40001, 40002}, expected: 2 + 2, received: 2 + 2, extendedMax: 40002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s recvStats
			s.start(1, tc.first)
			s.update(tc.first)
			for _, q := range tc.seqs {
				s.update(q)
			}
			var st Stats
			s.fill(&st)
			if st.Expected != tc.expected || st.PacketsReceived != tc.received || st.Lost != tc.lost ||
				st.Reordered != tc.reordered || st.Duplicates != tc.duplicates || s.extendedMax() != tc.extendedMax {
				t.Fatalf("expected %d received %d lost %d reordered %d duplicates %d max %d; want %d %d %d %d %d %d",
					st.Expected, st.PacketsReceived, st.Lost, st.Reordered, st.Duplicates, s.extendedMax(),
					tc.expected, tc.received, tc.lost, tc.reordered, tc.duplicates, tc.extendedMax)
			}
		})
	}
}

func TestRecvStatsFractionLost(t *testing.T) {
	t.Parallel()
	var s recvStats
	s.start(1, 0)
	for q := range uint16(100) {
		if q%4 != 3 { // a quarter lost
			s.update(q)
		}
	}
	s.update(100)
	if f := s.interval(); f != 64 && f != 63 {
		t.Fatalf("fraction lost = %d/256, want about 64", f)
	}
	for q := uint16(101); q < 200; q++ {
		s.update(q)
	}
	if f := s.interval(); f != 0 {
		t.Fatalf("fraction lost in a clean interval = %d/256", f)
	}
	if got := cumulativeLost(-1); got != 0xffffff {
		t.Fatalf("cumulative lost -1 = %#x", got)
	}
	if got := cumulativeLost(1 << 30); got != 0x7fffff {
		t.Fatalf("cumulative lost clamps to %#x", got)
	}
}

// TestJitterFormula checks RFC 3550 A.8 by hand: packets every 160 timestamp
// units, each arriving on time except one 80 units late. The two transit
// differences of 80 then feed J += (|D| - J)/16.
func TestJitterFormula(t *testing.T) {
	t.Parallel()
	var s recvStats
	s.start(1, 0)
	arrive := func(i int, late uint32) {
		s.update(uint16(i))
		s.arrival(uint32(i)*160+1000+late, uint32(i)*160)
	}
	for i := range 10 {
		arrive(i, 0)
	}
	if s.jitter != 0 {
		t.Fatalf("jitter of a perfect stream = %d", s.jitter)
	}
	arrive(10, 80)
	arrive(11, 0)
	// J1 = 80/16 = 5; J2 = 5 + (80 - 5)/16 = 9.6875 units.
	j := float64(s.jitter) / 16
	if j < 9.5 || j > 9.8 {
		t.Fatalf("jitter = %.3f units, want 9.6875", j)
	}
	var st Stats
	s.fill(&st)
	if st.Jitter != tsDuration(9) {
		t.Fatalf("Stats.Jitter = %v, want %v", st.Jitter, tsDuration(9))
	}
}

func TestQuality(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		loss     float64
		jitter   time.Duration
		rtt      time.Duration
		min, max int
	}{
		{name: "clean", min: 92, max: 93},
		{name: "1% loss", loss: 0.01, min: 88, max: 90},
		{name: "5% loss", loss: 0.05, min: 76, max: 78},
		{name: "20% loss", loss: 0.20, min: 50, max: 52},
		{name: "jittery", jitter: 40 * time.Millisecond, min: 90, max: 91},
		{name: "satellite", rtt: 600 * time.Millisecond, min: 70, max: 80},
		// The model saturates: Ie_eff tends to 95 only as loss grows
		// without bound.
		{name: "all lost", loss: 1, min: 16, max: 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if q := Quality(tc.loss, tc.jitter, tc.rtt); q < tc.min || q > tc.max {
				t.Fatalf("Quality = %d, want %d..%d", q, tc.min, tc.max)
			}
		})
	}
}
