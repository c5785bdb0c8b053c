package rtp

import (
	"fmt"

	"github.com/zaf/g711"

	"vox/media/pcm"
)

// Codec is a G.711 variant, named by its static payload type (RFC 3551 §6).
type Codec uint8

// The codecs an endpoint sends and receives.
const (
	PCMU Codec = 0
	PCMA Codec = 8
)

// DefaultTelephoneEventPT is the payload type of RFC 4733 events when the SDP
// does not say otherwise: the value most phones offer.
const DefaultTelephoneEventPT = 101

// ClockRate is the RTP clock of G.711 and of telephone-event with it.
const ClockRate = pcm.SampleRate

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("PT%d", uint8(c))
}

// valid reports whether c is a codec an endpoint can carry.
func (c Codec) valid() bool { return c == PCMU || c == PCMA }

// Tables built once from github.com/zaf/g711. The library is small and
// correct (it follows the ITU-T reference), and its per-sample functions do not
// allocate; a 64 KiB encode table per law turns encoding into one load per
// sample, which is what the 20 ms pacing loop and the bench want.
var (
	ulawDecode, alawDecode [256]int16
	ulawEncode, alawEncode [65536]uint8
	ulawToAlaw, alawToUlaw [256]uint8
)

func init() {
	for i := range 256 {
		ulawDecode[i] = g711.DecodeUlawFrame(uint8(i))
		alawDecode[i] = g711.DecodeAlawFrame(uint8(i))
		ulawToAlaw[i] = g711.Ulaw2AlawFrame(uint8(i))
		alawToUlaw[i] = g711.Alaw2UlawFrame(uint8(i))
	}
	for i := range 65536 {
		ulawEncode[i] = g711.EncodeUlawFrame(int16(uint16(i)))
		alawEncode[i] = g711.EncodeAlawFrame(int16(uint16(i)))
	}
}

// Encode writes len(samples) G.711 bytes of codec c into dst, which must be
// at least as long.
func (c Codec) Encode(dst []byte, samples []int16) {
	table := &ulawEncode
	if c == PCMA {
		table = &alawEncode
	}
	dst = dst[:len(samples)]
	for i, s := range samples {
		dst[i] = table[uint16(s)]
	}
}

// Decode writes len(src) linear samples of the G.711 bytes src into dst,
// which must be at least as long.
func (c Codec) Decode(dst []int16, src []byte) {
	table := &ulawDecode
	if c == PCMA {
		table = &alawDecode
	}
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = table[b]
	}
}

// Transcode converts G.711 bytes of codec from into codec to, byte for byte
// (the G.711 Appendix tables), without passing through linear audio. dst must
// be at least len(src) long; from == to copies.
func Transcode(dst []byte, to, from Codec, src []byte) {
	switch {
	case from == to:
		copy(dst, src)
	case from == PCMU:
		dst = dst[:len(src)]
		for i, b := range src {
			dst[i] = ulawToAlaw[b]
		}
	default:
		dst = dst[:len(src)]
		for i, b := range src {
			dst[i] = alawToUlaw[b]
		}
	}
}
