package webrtc

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pionrtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"vox/internal/tonetest"
	"vox/media"
	"vox/media/dtmf"
	"vox/media/pcm"
	"vox/media/rtp"
)

// Tests run real ICE, DTLS and SRTP on loopback in real time; waits are
// bounded generously and nothing asserts how long anything took.

var loopback = netip.MustParseAddr("127.0.0.1")

const (
	waitLimit = 15 * time.Second
	// browserEventPT is Chrome's telephone-event payload type, not ours
	// (101), so the tests see the browser's choice applied.
	browserEventPT = 126
)

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(Config{Addr: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func next[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// browser plays a browser with pion: a full ICE agent on loopback that offers
// Opus first, then G.711 and telephone-event, as Chrome does. What it sends
// goes out as built (rawTrack), so it can send RFC 4733 events; what it
// receives is decoded into heard.
type browser struct {
	pc     *pion.PeerConnection
	track  *rawTrack
	heard  collector
	audio  atomic.Uint64 // audio packets received
	codec  atomic.Uint32 // payload type of the last audio packet received
	digits chan byte     // RFC 4733 digits received

	mu   sync.Mutex // the sending stream
	seq  uint16
	ts   uint32
	hush bool // an event is being sent: no audio
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	var me pion.MediaEngine
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: browserEventPT},
	} {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	pc, err := pion.NewAPI(pion.WithMediaEngine(&me), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{pc: pc, track: &rawTrack{}, digits: make(chan byte, 16)}
	t.Cleanup(func() { pc.Close() })
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		var events dtmf.Receiver
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if p.PayloadType == uint8(b.track.te.Load()) {
				if d, ok := events.Receive(p); ok {
					b.digits <- d
				}
				continue
			}
			if c := rtp.Codec(p.PayloadType); c == rtp.PCMU || c == rtp.PCMA {
				b.codec.Store(uint32(c))
				b.audio.Add(1)
				b.heard.add(c, p.Payload)
			}
		}
	})
	return b
}

// call makes the browser's offer, with its candidates.
func (b *browser) call(t testing.TB) []byte {
	t.Helper()
	if _, err := b.pc.AddTransceiverFromTrack(b.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.setLocal(t, o)
}

// reoffer makes a new offer on the session with the audio's direction set:
// sendonly to hold, sendrecv to resume. pion has no API for a transceiver's
// direction, so the browser sets its usual offer and sends ours the
// direction a browser's hold button writes.
func (b *browser) reoffer(t testing.TB, dir pion.RTPTransceiverDirection) []byte {
	t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	local := pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(b.setLocal(t, o))}
	d, err := local.Unmarshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range d.MediaDescriptions {
		for i, a := range m.Attributes {
			if isDirection(a.Key) {
				m.Attributes[i].Key = dir.String()
			}
		}
	}
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// answer answers our offer.
func (b *browser) answer(t testing.TB, offer []byte) []byte {
	t.Helper()
	b.setRemote(t, pion.SDPTypeOffer, offer)
	if _, err := b.pc.AddTrack(b.track); err != nil {
		t.Fatal(err)
	}
	a, err := b.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.setLocal(t, a)
}

func (b *browser) setLocal(t testing.TB, d pion.SessionDescription) []byte {
	t.Helper()
	gathered := pion.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(d); err != nil {
		t.Fatal(err)
	}
	next(t, gathered, "the browser's candidates")
	return []byte(b.pc.LocalDescription().SDP)
}

func (b *browser) setRemote(t testing.TB, typ pion.SDPType, sdp []byte) {
	t.Helper()
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: typ, SDP: string(sdp)}); err != nil {
		t.Fatal(err)
	}
}

// connected waits for ICE and DTLS.
func (b *browser) connected(t testing.TB) {
	t.Helper()
	waitFor(t, "the browser to connect", func() bool {
		return b.pc.ConnectionState() == pion.PeerConnectionStateConnected
	})
}

// send sends one packet on the browser's stream.
func (b *browser) send(t testing.TB, pt uint8, marker bool, ts uint32, payload []byte) {
	b.seq++
	h := pionrtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: b.seq, Timestamp: ts}
	if err := b.track.write(&h, payload); err != nil {
		t.Error(err)
	}
}

// speaks sends a PCMU tone of hz every 20 ms until the test ends.
func (b *browser) speaks(t testing.TB, hz float64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		src := &sine{hz: hz}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var f pcm.Frame
		payload := make([]byte, pcm.FrameSamples)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			src.ReadFrame(&f)
			rtp.PCMU.Encode(payload, f[:])
			b.mu.Lock()
			if !b.hush {
				b.send(t, uint8(rtp.PCMU), false, b.ts, payload)
			}
			b.ts += pcm.FrameSamples
			b.mu.Unlock()
		}
	}()
}

// presses sends digits as RFC 4733 events, audio held back meanwhile.
func (b *browser) presses(t testing.TB, digits string) {
	t.Helper()
	s, err := dtmf.NewSender(dtmf.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	packets, err := s.Packets(digits)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.hush = true
	base := b.ts
	b.mu.Unlock()
	start := time.Now()
	for _, p := range packets {
		time.Sleep(time.Until(start.Add(p.At)))
		payload := make([]byte, dtmf.PayloadSize)
		p.Event.MarshalTo(payload)
		b.mu.Lock()
		b.send(t, uint8(b.track.te.Load()), p.Marker, base+p.Timestamp, payload)
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.hush = false
	b.mu.Unlock()
}

// rawTrack sends packets as they are built (pion's static tracks would
// rewrite the payload type of events).
type rawTrack struct {
	w    atomic.Pointer[pion.TrackLocalWriter]
	ssrc atomic.Uint32 // the SSRC its description announced
	te   atomic.Uint32 // the negotiated telephone-event payload type
}

func (r *rawTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	w := ctx.WriteStream()
	r.ssrc.Store(uint32(ctx.SSRC()))
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == "audio/telephone-event" {
			r.te.Store(uint32(c.PayloadType))
		}
	}
	r.w.Store(&w)
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == pion.MimeTypePCMU {
			return c, nil
		}
	}
	return ctx.CodecParameters()[0], nil
}

func (r *rawTrack) Unbind(pion.TrackLocalContext) error { r.w.Store(nil); return nil }
func (r *rawTrack) ID() string                          { return "mic" }
func (r *rawTrack) RID() string                         { return "" }
func (r *rawTrack) StreamID() string                    { return "browser" }
func (r *rawTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

func (r *rawTrack) write(h *pionrtp.Header, payload []byte) error {
	w := r.w.Load()
	if w == nil {
		return nil // not connected yet
	}
	h.SSRC = r.ssrc.Load()
	_, err := (*w).WriteRTP(h, payload)
	return err
}

// sine is an endless tone; as a media.Audio it ends when stopped.
type sine struct {
	hz      float64
	n       int
	stopped atomic.Bool
}

func (s *sine) ReadFrame(f *pcm.Frame) error {
	if s.stopped.Load() {
		return pcm.ErrClosed
	}
	for i := range f {
		f[i] = int16(8000 * math.Sin(2*math.Pi*s.hz*float64(s.n)/pcm.SampleRate))
		s.n++
	}
	return nil
}

func (s *sine) Stop() { s.stopped.Store(true) }

// collector keeps every sample heard; it is a pcm.Sink too.
type collector struct {
	mu      sync.Mutex
	samples []int16
}

func (c *collector) add(codec rtp.Codec, payload []byte) {
	x := make([]int16, len(payload))
	codec.Decode(x, payload)
	c.mu.Lock()
	c.samples = append(c.samples, x...)
	c.mu.Unlock()
}

func (c *collector) WriteFrame(f *pcm.Frame) error {
	c.mu.Lock()
	c.samples = append(c.samples, f[:]...)
	c.mu.Unlock()
	return nil
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.samples)
}

// fresh waits for n frames heard from now on, and returns them without the
// first five (what was in flight).
func (c *collector) fresh(t testing.TB, n int) []int16 {
	t.Helper()
	from := c.len() + 5*pcm.FrameSamples
	waitFor(t, "audio", func() bool { return c.len() >= from+n*pcm.FrameSamples })
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.samples[from:from+n*pcm.FrameSamples]...)
}

// checkTone fails unless x carries a tone of hz: in most of its 20 ms frames
// that are not silent the tone is nearly all the energy, and sound is in a
// quarter of the frames at least.
func checkTone(t testing.TB, what string, x []int16, hz float64) {
	t.Helper()
	toned, voiced := tonetest.Windows(x, hz, pcm.FrameSamples, 0.8)
	if frames := len(x) / pcm.FrameSamples; voiced < frames/4 || float64(toned) < 0.9*float64(voiced) {
		t.Fatalf("%s: %v Hz in %d of %d frames with sound (%d frames)", what, hz, toned, voiced, frames)
	}
}

func hearsTone(t testing.TB, who string, c *collector, hz float64) {
	t.Helper()
	checkTone(t, who+" hears the tone", c.fresh(t, 15), hz)
}

// events records what a Channel reports.
type events struct {
	tones   chan byte
	started chan string
	stopped chan time.Duration
}

func newEvents() *events {
	return &events{tones: make(chan byte, 16), started: make(chan string, 2), stopped: make(chan time.Duration, 2)}
}

func (e *events) PlaybackFinished(error)                            {}
func (e *events) ToneReceived(d byte)                               { e.tones <- d }
func (e *events) RecordStarted(url string)                          { e.started <- url }
func (e *events) RecordStopped(_ string, d time.Duration, _ string) { e.stopped <- d }

// newChannel wraps a browser leg's endpoint as signalling does.
func newChannel(t testing.TB, m *Media) (*media.Channel, *events, string) {
	t.Helper()
	dir := t.TempDir()
	ev := newEvents()
	ch, err := media.NewChannel(m.Endpoint(), media.ChannelOptions{RecordDir: dir}, ev)
	if err != nil {
		t.Fatal(err)
	}
	ch.SetTelephoneEvent(m.TelephoneEventPT())
	t.Cleanup(func() { ch.Close() })
	return ch, ev, dir
}

// recorded records the call in stereo until d of it is in the file, and
// returns the caller side: what ch receives.
func recorded(t testing.TB, ch *media.Channel, ev *events, dir string, d time.Duration) []int16 {
	t.Helper()
	if err := ch.Record(true); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, path.Base(next(t, ev.started, "RecordStarted"))+".wav")
	want := int64(44 + 4*int(d/(time.Second/pcm.SampleRate)))
	waitFor(t, "the recording", func() bool {
		st, err := os.Stat(file)
		return err == nil && st.Size() >= want
	})
	if err := ch.StopRecording(); err != nil {
		t.Fatal(err)
	}
	next(t, ev.stopped, "RecordStopped")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < int(want) || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: %d bytes, not the WAV file of %v", file, len(b), d)
	}
	x := make([]int16, (len(b)-44)/4)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(b[44+4*i:]))
	}
	return x
}
