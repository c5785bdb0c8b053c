package dtmf

import "github.com/pion/rtp"

// recentEvents is how many past events a Receiver remembers to recognise their
// late or repeated packets. A digit lasts at least ~100 ms; eight events cover
// far more than any reordering window an RTP path has.
const recentEvents = 8

// maxSegment is the longest duration one telephone-event packet can report;
// a longer event goes on in a new segment whose timestamp is the previous one
// plus this (RFC 4733 §2.5.1.3).
const maxSegment = 0xFFFF

// Receiver turns a stream of RFC 4733 telephone-event packets into digits, one
// per event. An event is identified by its RTP timestamp (RFC 4733 §2.5.1.2:
// every packet of an event carries the timestamp of its start), so a digit is
// reported by the first packet of its event that arrives, whichever it is:
// the start (marker), an update, or one of the three end packets. Later
// packets of the same event (updates, redundant ends, retransmitted starts) do
// not report it again, so loss of any part of an event costs nothing as long
// as one of its packets arrives, and reordering inside an event changes
// nothing. An event whose only surviving packets arrive after the next event's
// first one is still reported, after it; a packet older than every event
// remembered is ignored once some have been forgotten, since it may belong to
// one of them.
//
// A Receiver is fed by one goroutine (the RTP endpoint's); it is not safe for
// concurrent use. Its zero value is ready to use.
type Receiver struct {
	started bool
	ssrc    uint32
	recent  [recentEvents]seenEvent
	next    int // where the next event goes in recent
	count   int // how many of recent are in use
}

type seenEvent struct {
	ts   uint32
	code uint8
}

// Receive takes one telephone-event packet and returns the digit it starts, if
// it is the first packet seen of a new DTMF event. Malformed payloads and
// events other than the 16 DTMF digits are ignored.
func (r *Receiver) Receive(p *rtp.Packet) (digit byte, ok bool) {
	var ev Event
	if ev.Unmarshal(p.Payload) != nil {
		return 0, false
	}
	d, isDigit := Digit(ev.Code)
	if !isDigit {
		return 0, false
	}
	ts := p.Timestamp
	if r.started && p.SSRC == r.ssrc {
		if _, known := r.find(ts); known || r.older(ts) {
			return 0, false
		}
		if code, known := r.find(ts - maxSegment); known && code == ev.Code {
			r.remember(ts, ev.Code) // a long event's next segment, not a new press
			return 0, false
		}
	} else {
		// A new stream (RFC 3550 §8: a new SSRC is a new source) has its own
		// timestamps; nothing seen before applies to it.
		*r = Receiver{started: true, ssrc: p.SSRC}
	}
	r.remember(ts, ev.Code)
	return d, true
}

// find returns the code of the remembered event at ts.
func (r *Receiver) find(ts uint32) (code uint8, ok bool) {
	for _, e := range r.recent[:r.count] {
		if e.ts == ts {
			return e.code, true
		}
	}
	return 0, false
}

// older tells whether ts comes before every remembered event (serial
// arithmetic: timestamps wrap) once some have been forgotten: it may be one of
// them. Until then every event of the stream is remembered.
func (r *Receiver) older(ts uint32) bool {
	if r.count < recentEvents {
		return false
	}
	for _, e := range r.recent {
		if int32(ts-e.ts) >= 0 {
			return false
		}
	}
	return true
}

func (r *Receiver) remember(ts uint32, code uint8) {
	r.recent[r.next] = seenEvent{ts, code}
	r.next = (r.next + 1) % recentEvents
	if r.count < recentEvents {
		r.count++
	}
}
