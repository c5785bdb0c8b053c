// Package dtmf owns telephone digits: RFC 4733 telephone-event payloads in both
// directions (a Receiver that turns packets into digits, a Sender that schedules
// packets for a digit string) and in-band DTMF tones in 8 kHz audio (a Detector
// for phones that do not send RFC 4733, a Generator for codecs without
// telephone-event).
package dtmf

import (
	"errors"
	"fmt"
)

// PayloadSize is the size of a telephone-event payload (RFC 4733 §2.3).
const PayloadSize = 4

// Errors of the package.
var (
	ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")
	ErrInvalidDigit = errors.New("dtmf: not a DTMF digit (0-9 * # A-D)")
)

// digits maps RFC 4733 event codes 0-15 (§3.2) to their characters.
const digits = "0123456789*#ABCD"

// Digit returns the character of DTMF event code (0-15); ok is false for
// other events (flash, modem and fax tones).
func Digit(code uint8) (digit byte, ok bool) {
	if int(code) >= len(digits) {
		return 0, false
	}
	return digits[code], true
}

// Code returns the RFC 4733 event code of a digit; a-d are taken as A-D.
func Code(digit byte) (uint8, error) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', nil
	case digit == '*':
		return 10, nil
	case digit == '#':
		return 11, nil
	case digit >= 'A' && digit <= 'D':
		return 12 + digit - 'A', nil
	case digit >= 'a' && digit <= 'd':
		return 12 + digit - 'a', nil
	}
	return 0, fmt.Errorf("%w: %q", ErrInvalidDigit, digit)
}

// Event is one telephone-event payload (RFC 4733 §2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Event struct {
	Code     uint8  // event code; 0-15 are the DTMF digits
	End      bool   // the E bit: this is (a retransmission of) the event's last packet
	Volume   uint8  // power of the tone in -dBm0, 0-63
	Duration uint16 // duration so far, in RTP timestamp units from the event's timestamp
}

// MarshalTo writes the payload into b, which must hold PayloadSize bytes.
func (e Event) MarshalTo(b []byte) (int, error) {
	if len(b) < PayloadSize {
		return 0, ErrShortPayload
	}
	b[0] = e.Code
	b[1] = e.Volume & 0x3f
	if e.End {
		b[1] |= 0x80
	}
	b[2] = byte(e.Duration >> 8)
	b[3] = byte(e.Duration)
	return PayloadSize, nil
}

// Unmarshal reads a payload. Bytes after the first four (RFC 4733 §2.5.1.5
// allows several events in one packet only with redundancy, RFC 2198, which a
// plain telephone-event payload type does not use) are ignored; the R bit is
// ignored as §2.3 asks.
func (e *Event) Unmarshal(b []byte) error {
	if len(b) < PayloadSize {
		return ErrShortPayload
	}
	e.Code = b[0]
	e.End = b[1]&0x80 != 0
	e.Volume = b[1] & 0x3f
	e.Duration = uint16(b[2])<<8 | uint16(b[3])
	return nil
}
