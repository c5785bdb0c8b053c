package rtp

import (
	"bytes"
	"context"
	"testing"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

// quietTicks is how many ticks the stream may be quiet before silence fills it.
const quietTicks = int(fillAfter / pcm.FrameDuration)

// TestFillSilence: a stream filled with silence stays quiet for fillAfter,
// then sends a silent frame on every tick, continuously numbered; a
// playback takes over at once, and silence comes back fillAfter after it
// ends, on the same stream. On hold nothing is sent, and once filling is
// off the pacer stops.
func TestFillSilence(t *testing.T) {
	t.Parallel()
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := newEndpoint(t, Config{Clock: clock, Codec: codec})
			ph := newPhone(t)
			e.SetRemote(ph.addr())
			e.FillSilence(true)
			e.FillSilence(true) // once is enough: one frame a tick, not two

			for range quietTicks - 1 {
				clock.Tick(t)
			}
			if !ph.silent() {
				t.Fatal("silence sent before the stream was quiet for 200 ms")
			}

			silence := make([]byte, pcm.FrameSamples)
			codec.Encode(silence, silentFrame[:])
			var last *rtp.Packet
			want := func(what string, marker bool) {
				t.Helper()
				p, _ := ph.read()
				if p.PayloadType != uint8(codec) || p.Marker != marker {
					t.Fatalf("%s: payload type %d, marker %v; want %d, %v", what, p.PayloadType, p.Marker, codec, marker)
				}
				if isSilence := bytes.Equal(p.Payload, silence); isSilence != (what == "silence") {
					t.Fatalf("%s: the payload is silence: %v", what, isSilence)
				}
				if last != nil && p.SequenceNumber != last.SequenceNumber+1 {
					t.Fatalf("%s: sequence number %d after %d", what, p.SequenceNumber, last.SequenceNumber)
				}
				if last != nil && !marker && p.Timestamp != last.Timestamp+pcm.FrameSamples {
					t.Fatalf("%s: timestamp %d after %d", what, p.Timestamp, last.Timestamp)
				}
				last = p
			}
			clock.Tick(t)
			want("silence", true)
			for range 3 {
				clock.Tick(t)
				want("silence", false)
			}

			pb := e.Play(context.Background(), &frames{n: 3, gen: ramp})
			want("playback", true)
			for range 2 {
				clock.Tick(t)
				want("playback", false)
			}
			clock.Tick(t) // the playback ends
			<-pb.Done()
			for range quietTicks - 2 {
				clock.Tick(t)
			}
			if !ph.silent() {
				t.Fatal("silence sent less than 200 ms after the playback")
			}
			clock.Tick(t)
			want("silence", true)

			e.SetSending(false)
			for range quietTicks + 1 {
				clock.Tick(t)
			}
			if !ph.silent() {
				t.Fatal("silence sent on hold")
			}
			e.SetSending(true)
			clock.Tick(t)
			want("silence", true)

			e.FillSilence(false)
			clock.Tick(t)
			if !ph.silent() {
				t.Fatal("silence sent after filling was turned off")
			}
			if clock.Tick(t) {
				t.Fatal("the pacer still ticks with nothing to send")
			}
		})
	}
}

// A relayed stream that pauses, as a phone's with voice activity detection
// does, is filled in the pause, and the relay takes over again when the
// phone speaks, on the same stream.
func TestFillSilenceInRelayPause(t *testing.T) {
	t.Parallel()
	x := newBridged(t, PCMU, PCMU)
	if err := x.a.SendMediaTo(x.b); err != nil {
		t.Fatal(err)
	}
	x.b.FillSilence(true)
	speech := bytes.Repeat([]byte{0x2a}, pcm.FrameSamples)
	var last *rtp.Packet
	take := func(what string, marker bool) {
		t.Helper()
		p, _ := x.pb.read()
		if p.Marker != marker || (p.Payload[0] == 0x2a) != (what == "speech") {
			t.Fatalf("%s: marker %v, payload %x", what, p.Marker, p.Payload[:4])
		}
		if last != nil && p.SequenceNumber != last.SequenceNumber+1 {
			t.Fatalf("%s: sequence number %d after %d", what, p.SequenceNumber, last.SequenceNumber)
		}
		last = p
	}
	speak := func(n int, first bool) {
		t.Helper()
		for i := range n {
			x.clock.Advance(pcm.FrameDuration)
			x.pa.send(x.a.LocalAddr(), uint8(PCMU), speech)
			take("speech", first && i == 0)
		}
	}
	x.pa.send(x.a.LocalAddr(), uint8(PCMU), speech) // the latch's probation at A
	speak(5, true)
	// The phone pauses: 200 ms of nothing, then silence on every tick.
	for range quietTicks - 1 {
		x.clock.Tick(t)
	}
	if !x.pb.silent() {
		t.Fatal("silence sent less than 200 ms into the pause")
	}
	x.clock.Tick(t)
	take("silence", true)
	x.clock.Tick(t)
	take("silence", false)
	speak(3, true)
}

// Heard counts every RTP packet from the far end, comfort noise (which the
// endpoint does not take) included: a phone silent in comfort noise is
// there.
func TestHeardCountsComfortNoise(t *testing.T) {
	t.Parallel()
	e := newEndpoint(t, Config{})
	ph := newPhone(t)
	e.SetRemote(ph.addr())
	for range 3 {
		ph.send(e.LocalAddr(), 13, []byte{40}) // RFC 3389 comfort noise
	}
	waitFor(t, "three packets heard", func() bool { return e.Heard() == 3 })
	if st := e.Stats(); st.PacketsReceived != 0 {
		t.Fatalf("comfort noise counted as audio: %d packets", st.PacketsReceived)
	}
	for range 2 {
		ph.send(e.LocalAddr(), uint8(PCMU), make([]byte, pcm.FrameSamples))
	}
	waitFor(t, "five packets heard", func() bool { return e.Heard() == 5 })
}
