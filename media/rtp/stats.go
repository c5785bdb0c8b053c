package rtp

import (
	"math"
	"time"
)

// Limits of RFC 3550 A.1.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// Stats is what an endpoint knows about a call's media quality.
//
// The receive side follows RFC 3550 §6.4.1 and appendix A, with one
// difference: a duplicate is counted in Duplicates and not in
// PacketsReceived, so Lost is the real loss and never negative.
type Stats struct {
	// Received stream.
	PacketsReceived uint64        // valid packets, duplicates excluded
	Expected        uint64        // highest extended sequence number - first + 1 (A.3)
	Lost            int64         // cumulative: Expected - PacketsReceived
	FractionLost    float64       // in the last reporting interval (A.3), 0..1
	Jitter          time.Duration // interarrival jitter now (A.8: a running estimate)
	MaxJitter       time.Duration // the highest Jitter seen in the call
	Reordered       uint64        // arrived after a packet with a higher sequence number
	Duplicates      uint64
	Rejected        uint64 // not RTP, unknown payload type, on probation, or from a source not latched

	// Sent stream.
	PacketsSent uint64
	OctetsSent  uint64

	// What the far end reported about our stream in its last RTCP report,
	// and the round trip time computed from it (RFC 3550 §6.4.1, LSR/DLSR).
	RemoteReport   bool
	RemoteLost     int64
	RemoteFraction float64
	RemoteJitter   time.Duration
	RTT            time.Duration

	// Quality is the call's quality figure for the call record (S21
	// CALL_QUALITY); see Quality.
	Quality int
}

// Quality is a 0–100 figure for the call record: the E-model's transmission
// rating factor R (ITU-T G.107) in the simplified form of Cole and Rosenbluth
// (2001), for G.711:
//
//	R  = 93.2 − Id − Ie_eff
//	Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)      (delay impairment)
//	Ie_eff = 95 · Ppl / (Ppl + 25.1)                 (G.113 App. I: G.711 with PLC)
//
// Ppl is the loss in percent; d is the one-way delay in ms, estimated as half
// the RTCP round trip time plus a jitter buffer of twice the jitter plus one
// 20 ms packet. A clean call scores 92–93 (G.711's ceiling), 1% loss about 89,
// 5% about 77, 20% about 51; 70 and below is where users complain. The model
// saturates (a stream lost entirely still scores 17), so a leg that received
// nothing is told by its PacketsReceived, not by this figure.
func Quality(loss float64, jitter, rtt time.Duration) int {
	ppl := 100 * min(max(loss, 0), 1)
	d := float64(rtt/2+2*jitter+20*time.Millisecond) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ie := 95 * ppl / (ppl + 25.1)
	r := 93.2 - id - ie
	return int(math.Round(min(max(r, 0), 100)))
}

// recvStats is the state of RFC 3550 A.1, A.3 and A.8 for the one source an
// endpoint receives, and the totals of the sources before it (a phone that
// restarts its stream changes SSRC).
type recvStats struct {
	// What every packet reads and writes comes first (one cache line).
	started     bool
	haveTransit bool
	maxSeq      uint16
	ssrc        uint32
	cycles      uint32
	received    uint64
	// seen has bit i set when extended sequence number max-i was received:
	// it tells a duplicate from a late packet.
	seen uint64

	// jitter is J·16 in timestamp units, as in A.8.
	jitter    uint32
	maxJitter uint32
	transit   int32

	baseSeq uint32
	badSeq  uint32

	expectedPrior, receivedPrior uint64
	fraction                     uint8

	reordered, duplicates, rejected uint64
	// Totals of earlier sources.
	priorReceived, priorExpected uint64
}

// result of recvStats.update.
type seqResult int

const (
	seqNew       seqResult = iota // in order (possibly after a gap)
	seqLate                       // reordered: older than the highest, not seen before
	seqDuplicate                  // seen before
	seqBad                        // a big jump, waiting for a second packet to confirm it
)

// start begins a new source whose first counted packet will be seq (A.1
// init_seq, before that packet is applied), folding the previous source into
// the totals.
func (s *recvStats) start(ssrc uint32, seq uint16) {
	if s.started {
		s.priorReceived += s.received
		s.priorExpected += s.expected()
	}
	s.started = true
	s.ssrc = ssrc
	s.baseSeq = uint32(seq)
	s.maxSeq = seq - 1
	s.badSeq = seqMod + 1
	s.cycles = 0
	if seq == 0 {
		// update will count a wrap from 65535 to 0; cancel it in advance
		// (unsigned arithmetic wraps back).
		s.cycles -= seqMod
	}
	s.received = 0
	s.seen = 0
	s.expectedPrior, s.receivedPrior = 0, 0
	s.haveTransit = false
}

// update is A.1 update_seq after probation (the endpoint's latch is the
// probation), extended with the seen window for duplicates.
func (s *recvStats) update(seq uint16) seqResult {
	udelta := seq - s.maxSeq
	switch {
	case udelta == 0:
		s.duplicates++
		return seqDuplicate
	case udelta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += seqMod
		}
		s.maxSeq = seq
		if udelta >= 64 {
			s.seen = 1
		} else {
			s.seen = s.seen<<udelta | 1
		}
	case udelta <= seqMod-maxMisorder:
		if uint32(seq) != s.badSeq {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return seqBad
		}
		// Two sequential packets: the sender restarted without telling us.
		s.start(s.ssrc, seq)
		s.maxSeq, s.seen, s.cycles = seq, 1, 0
	default:
		back := uint16(-udelta) // how far behind the highest
		if back < 64 {
			bit := uint64(1) << back
			if s.seen&bit != 0 {
				s.duplicates++
				return seqDuplicate
			}
			s.seen |= bit
		}
		s.reordered++
		s.received++
		return seqLate
	}
	s.received++
	return seqNew
}

// arrival applies A.8: arrival is the arrival time in timestamp units.
func (s *recvStats) arrival(arrival, ts uint32) {
	transit := int32(arrival - ts)
	if s.haveTransit {
		d := transit - s.transit
		if d < 0 {
			d = -d
		}
		s.jitter += uint32(d) - ((s.jitter + 8) >> 4)
		s.maxJitter = max(s.maxJitter, s.jitter)
	}
	s.transit, s.haveTransit = transit, true
}

func (s *recvStats) extendedMax() uint32 { return s.cycles + uint32(s.maxSeq) }

func (s *recvStats) expected() uint64 {
	if !s.started {
		return 0
	}
	return uint64(s.extendedMax() - s.baseSeq + 1)
}

// interval closes a reporting interval (A.3) and returns the fraction lost in
// it, as the 8-bit fixed point number of a report block.
func (s *recvStats) interval() uint8 {
	expected := s.expected()
	expInt := expected - s.expectedPrior
	recInt := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	lostInt := int64(expInt) - int64(recInt)
	s.fraction = 0
	if expInt != 0 && lostInt > 0 {
		s.fraction = uint8((lostInt << 8) / int64(expInt))
	}
	return s.fraction
}

// cumulativeLost is the 24-bit signed field of a report block.
func cumulativeLost(lost int64) uint32 {
	lost = min(max(lost, -0x800000), 0x7fffff)
	return uint32(lost) & 0xffffff
}

func (s *recvStats) fill(st *Stats) {
	st.PacketsReceived = s.priorReceived + s.received
	st.Expected = s.priorExpected + s.expected()
	st.Lost = int64(st.Expected) - int64(st.PacketsReceived)
	st.FractionLost = float64(s.fraction) / 256
	st.Jitter = tsDuration(s.jitter >> 4)
	st.MaxJitter = tsDuration(s.maxJitter >> 4)
	st.Reordered = s.reordered
	st.Duplicates = s.duplicates
	st.Rejected = s.rejected
}

// tsDuration converts timestamp units at 8 kHz to a duration.
func tsDuration(ts uint32) time.Duration {
	return time.Duration(ts) * time.Second / ClockRate
}
