package dtmf

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// SendOptions say how digits are sent, as RFC 4733 events or in band. The zero
// value gives the usual figures.
type SendOptions struct {
	// Tone is how long each digit sounds; 100 ms when zero. An RFC 4733 event
	// may last up to 65535 clock ticks (8.19 s at 8 kHz).
	Tone time.Duration
	// Gap is the silence between two digits; 70 ms when zero.
	Gap time.Duration
	// Update is the interval between the RFC 4733 packets of one event
	// (§2.5.1.2); 50 ms when zero.
	Update time.Duration
	// Volume is the level of each of the two tones in -dBm0 (the RFC 4733
	// volume field); 10 (that is -10 dBm0) when zero, at most 63.
	Volume uint8
	// ClockRate is the telephone-event clock rate negotiated in SDP; 8000 when
	// zero.
	ClockRate int
}

// Defaults of SendOptions.
const (
	DefaultTone      = 100 * time.Millisecond
	DefaultGap       = 70 * time.Millisecond
	DefaultUpdate    = 50 * time.Millisecond
	DefaultVolume    = 10
	DefaultClockRate = 8000
)

// endRepeats and endInterval: the end of an event is sent three times
// (RFC 4733 §2.5.1.4) so that losing one or two still ends the event with the
// right duration. They go 20 ms apart, one audio packet time, which fits in
// the usual 70 ms gap before the next digit.
const (
	endRepeats  = 3
	endInterval = 20 * time.Millisecond
)

func (o SendOptions) withDefaults() (SendOptions, error) {
	if o.Tone == 0 {
		o.Tone = DefaultTone
	}
	if o.Gap == 0 {
		o.Gap = DefaultGap
	}
	if o.Update == 0 {
		o.Update = DefaultUpdate
	}
	if o.Volume == 0 {
		o.Volume = DefaultVolume
	}
	if o.ClockRate == 0 {
		o.ClockRate = DefaultClockRate
	}
	switch {
	case o.Tone < 0 || o.Gap < 0 || o.Update < 0 || o.ClockRate < 0:
		return o, fmt.Errorf("dtmf: negative send option %+v", o)
	case o.Volume > 63:
		return o, fmt.Errorf("dtmf: volume %d is above 63", o.Volume)
	case o.ticks(o.Tone) > maxSegment:
		return o, fmt.Errorf("dtmf: tone of %v does not fit one RFC 4733 event at %d Hz", o.Tone, o.ClockRate)
	}
	return o, nil
}

// ticks converts a duration to the telephone-event clock.
func (o SendOptions) ticks(d time.Duration) uint32 {
	return uint32(d * time.Duration(o.ClockRate) / time.Second)
}

// Packet is one telephone-event packet for the RTP endpoint to send.
type Packet struct {
	// At is when to send it, from the moment the first digit starts.
	At time.Duration
	// Timestamp is the event's RTP timestamp as an offset in clock ticks from
	// the first digit; the endpoint adds the stream's timestamp at that moment.
	// Every packet of one event has the same timestamp (§2.5.1.2).
	Timestamp uint32
	// Marker is set on the first packet of each event (§2.5.1.1).
	Marker bool
	// Event is the payload; Event.MarshalTo writes it.
	Event Event
}

// Sender schedules RFC 4733 packets for digit strings.
type Sender struct {
	opts SendOptions
}

// NewSender checks the options and returns a Sender using them.
func NewSender(opts SendOptions) (*Sender, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Sender{opts: o}, nil
}

// Packets returns the packets that send digits, in sending order: for each
// digit a start packet (marker set, duration 0), an update every Update while
// the tone lasts, and three end packets with the final duration; the next digit
// starts Gap after the tone ends.
func (s *Sender) Packets(digits string) ([]Packet, error) {
	o := s.opts
	var out []Packet
	var start time.Duration
	for i := range len(digits) {
		code, err := Code(digits[i])
		if err != nil {
			return nil, err
		}
		ts := o.ticks(start)
		ev := Event{Code: code, Volume: o.Volume}
		for at := time.Duration(0); at < o.Tone; at += o.Update {
			ev.Duration = uint16(o.ticks(at))
			out = append(out, Packet{At: start + at, Timestamp: ts, Marker: at == 0, Event: ev})
		}
		ev.End, ev.Duration = true, uint16(o.ticks(o.Tone))
		for k := range endRepeats {
			out = append(out, Packet{At: start + o.Tone + time.Duration(k)*endInterval, Timestamp: ts, Event: ev})
		}
		start += o.Tone + o.Gap
	}
	// With a gap shorter than the end repeats, the next digit's start is due
	// before the last end packets of the previous one.
	slices.SortStableFunc(out, func(a, b Packet) int { return cmp.Compare(a.At, b.At) })
	return out, nil
}
