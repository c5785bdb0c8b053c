// Package pcm owns the audio every media part exchanges: 20 ms frames of 16-bit
// linear samples at 8 kHz, the rate of G.711 telephony, and the two small
// interfaces that move them. Players are Sources, recorders are Sinks, and an
// RTP endpoint is both once its codec is applied.
package pcm

import (
	"errors"
	"time"
)

// The one audio format inside Vox.
const (
	SampleRate    = 8000
	FrameSamples  = 160 // 20 ms at 8 kHz
	FrameDuration = 20 * time.Millisecond
)

// Frame is 20 ms of mono audio.
type Frame [FrameSamples]int16

// Source produces audio one frame at a time. ReadFrame fills f and returns
// io.EOF when the audio has ended (f is then not filled).
type Source interface {
	ReadFrame(f *Frame) error
}

// Sink consumes audio one frame at a time.
type Sink interface {
	WriteFrame(f *Frame) error
}

// ErrClosed is returned by a Source or Sink used after Close.
var ErrClosed = errors.New("pcm: closed")

// Silence is a frame of silence.
var Silence Frame
