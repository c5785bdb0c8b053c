package webrtc

import (
	"context"
	"errors"
	"runtime"
	"testing"

	pion "github.com/pion/webrtc/v4"

	"vox/media"
	"vox/media/player"
	"vox/media/rtp"
	"vox/media/sdp"
)

// connect sets up a call between a browser and e, the browser calling or
// called, and waits until both sides are connected.
func connect(t testing.TB, e *Engine, b *browser, browserCalls bool) *Media {
	t.Helper()
	var m *Media
	if browserCalls {
		var answer []byte
		var err error
		m, answer, err = e.Answer(testCtx(t), b.call(t))
		if err != nil {
			t.Fatal(err)
		}
		b.setRemote(t, pion.SDPTypeAnswer, answer)
	} else {
		var offer []byte
		var err error
		m, offer, err = e.Offer(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetAnswer(b.answer(t, offer)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { m.Close() })
	b.connected(t)
	return m
}

// TestCall is a browser leg as the runtime uses it, in both directions of
// offer/answer: a tone played on the Channel reaches the browser as G.711, the
// browser's voice is recorded, its RFC 4733 digit is reported.
func TestCall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		browserCalls bool
	}{
		{"browser calls", true},
		{"we call the browser", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t)
			b := newBrowser(t)
			m := connect(t, e, b, tc.browserCalls)
			// The offerer's payload type, both ways (RFC 3264 §6.1).
			wantPT := uint8(rtp.DefaultTelephoneEventPT)
			if tc.browserCalls {
				wantPT = browserEventPT
			}
			if got := m.TelephoneEventPT(); got != wantPT {
				t.Errorf("telephone-event payload type %d, want %d", got, wantPT)
			}
			ch, ev, dir := newChannel(t, m)
			if err := ch.HandleTones(true); err != nil {
				t.Fatal(err)
			}

			// The runtime's player, with a tone script that plays until stopped.
			tone := player.New(player.Options{}).Play(context.Background(), player.Media{ToneScript: "440@-10;1(0/0/1)"}, nil)
			if err := ch.Play(context.Background(), tone); err != nil {
				t.Fatal(err)
			}
			hearsTone(t, "the browser", &b.heard, 440)
			if c := rtp.Codec(b.codec.Load()); c != rtp.PCMU {
				t.Errorf("the browser receives %s, want PCMU (Opus is not negotiated)", c)
			}
			ch.StopPlayback()

			// Digits to the browser go as RFC 4733 events on its payload type.
			if err := ch.SendDigits(context.Background(), "9*"); err != nil {
				t.Fatal(err)
			}
			for _, want := range []byte("9*") {
				if got := next(t, b.digits, "a digit at the browser"); got != want {
					t.Errorf("the browser got digit %q, want %q", got, want)
				}
			}

			b.speaks(t, 1000)
			if s := share(recorded(t, ch, ev, dir, 500e6)[2000:], 1000); s < 0.8 {
				t.Errorf("the recording of the browser's 1000 Hz tone: share %.2f", s)
			}

			b.presses(t, "7#")
			for _, want := range []byte("7#") {
				if got := next(t, ev.tones, "ToneReceived"); got != want {
					t.Errorf("ToneReceived(%q), want %q", got, want)
				}
			}
			st := ch.Stats()
			if st.PacketsSent == 0 || st.PacketsReceived == 0 {
				t.Errorf("stats: sent %d, received %d", st.PacketsSent, st.PacketsReceived)
			}
		})
	}
}

// TestBridge relays a browser leg to a SIP-style leg (a plain rtp.Endpoint
// talking to a phone) both ways: SRTP to RTP as is when the codecs match,
// transcoded between PCMU and PCMA when they differ.
func TestBridge(t *testing.T) {
	t.Parallel()
	for _, codec := range []rtp.Codec{rtp.PCMU, rtp.PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			t.Parallel()
			pool, err := rtp.NewPortPool(rtp.PortPoolConfig{Addr: loopback})
			if err != nil {
				t.Fatal(err)
			}
			sipLeg, err := rtp.NewEndpoint(rtp.Config{Pool: pool, Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			phone, err := rtp.NewEndpoint(rtp.Config{Pool: pool, Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { phone.Close() })
			sipLeg.SetRemote(phone.LocalAddr())
			phone.SetRemote(sipLeg.LocalAddr())
			sipCh, err := media.NewChannel(sipLeg, media.ChannelOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sipCh.Close() })
			var phoneHears collector
			phone.AddSink(&phoneHears)

			b := newBrowser(t)
			m := connect(t, newEngine(t), b, true)
			webCh, _, _ := newChannel(t, m)
			if err := webCh.SendMediaTo(sipCh); err != nil {
				t.Fatal(err)
			}
			if err := sipCh.SendMediaTo(webCh); err != nil {
				t.Fatal(err)
			}

			b.speaks(t, 1000)
			hearsTone(t, "the phone", &phoneHears, 1000)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			phone.Play(ctx, &sine{hz: 600})
			hearsTone(t, "the browser", &b.heard, 600)
			if c := rtp.Codec(b.codec.Load()); c != rtp.PCMU {
				t.Errorf("the browser receives %s, want PCMU", c)
			}
		})
	}
}

// TestHold: a browser's re-offer with sendonly stops what we send, sendrecv
// brings it back, on the same session.
func TestHold(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	b := newBrowser(t)
	m := connect(t, e, b, true)
	ch, _, _ := newChannel(t, m)
	if err := ch.Play(context.Background(), &sine{hz: 440}); err != nil {
		t.Fatal(err)
	}
	hearsTone(t, "the browser", &b.heard, 440)
	b.speaks(t, 1000)

	answer, err := m.Renegotiate(testCtx(t), b.reoffer(t, pion.RTPTransceiverDirectionSendonly))
	if err != nil {
		t.Fatal(err)
	}
	b.setRemote(t, pion.SDPTypeAnswer, answer)
	if m.Direction() != sdp.SendOnly {
		t.Errorf("direction %q after the browser's hold", m.Direction())
	}
	// The browser's own stream goes on during its hold and is the clock:
	// while we receive a second of it, at most what was in flight reaches
	// the browser.
	heard := b.audio.Load()
	got := m.Endpoint().Stats().PacketsReceived
	waitFor(t, "the held browser's audio", func() bool { return m.Endpoint().Stats().PacketsReceived >= got+50 })
	if n := b.audio.Load() - heard; n > 3 {
		t.Errorf("the browser received %d packets while holding", n)
	}

	// A broken re-offer is refused and changes nothing.
	if _, err := m.Renegotiate(testCtx(t), []byte("v=0 junk")); !errors.Is(err, ErrNotWebRTC) {
		t.Errorf("junk re-offer: %v, want ErrNotWebRTC", err)
	}
	if m.Direction() != sdp.SendOnly {
		t.Errorf("direction %q after a refused re-offer", m.Direction())
	}

	answer, err = m.Renegotiate(testCtx(t), b.reoffer(t, pion.RTPTransceiverDirectionSendrecv))
	if err != nil {
		t.Fatal(err)
	}
	b.setRemote(t, pion.SDPTypeAnswer, answer)
	hearsTone(t, "the browser after the hold", &b.heard, 440)
}

// TestCloseLeavesNothing: after a call, closing the media, the Channel and
// the engine leaves no goroutine behind. Not parallel: it counts the
// process's goroutines.
func TestCloseLeavesNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		e, err := NewEngine(Config{Addr: loopback})
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		m := connect(t, e, b, true)
		ch, _, _ := newChannel(t, m)
		if err := ch.Play(context.Background(), &sine{hz: 440}); err != nil {
			t.Fatal(err)
		}
		hearsTone(t, "the browser", &b.heard, 440)
		ch.Close()
		if err := m.Close(); err != nil {
			t.Errorf("close media: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close media twice: %v", err)
		}
		select {
		case <-m.Failed():
			t.Error("our own Close reported as Failed")
		default:
		}
		b.pc.Close()
		e.Close()
		if _, _, err := e.Offer(testCtx(t)); !errors.Is(err, ErrEngineClosed) {
			t.Errorf("offer after the engine closed: %v, want ErrEngineClosed", err)
		}
	}()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// TestBrowserGoes: when the browser closes its side (DTLS close_notify),
// Failed tells signalling, with no BYE needed.
func TestBrowserGoes(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	m := connect(t, newEngine(t), b, true)
	select {
	case <-m.Failed():
		t.Fatal("Failed while connected")
	default:
	}
	b.pc.Close()
	next(t, m.Failed(), "Failed after the browser closed")
}
