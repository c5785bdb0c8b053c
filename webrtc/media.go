package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"vox/media/rtp"
	"vox/media/sdp"
)

// ErrClosed is returned by a Media's calls after Close.
var ErrClosed = errors.New("webrtc: media closed")

// Media is the media session of one browser leg: a PeerConnection with one
// audio stream, and the rtp.Endpoint that carries its audio. Its methods are
// safe for concurrent use.
type Media struct {
	eng   *Engine
	pc    *pion.PeerConnection
	track *outTrack
	ep    *rtp.Endpoint // set before Answer or Offer returns
	log   *slog.Logger

	inTrack atomic.Pointer[pion.TrackRemote]
	arrived chan struct{} // closed when the browser's audio track arrives
	rtcp    chan []byte   // RTCP from the sender's and the receiver's streams
	closed  chan struct{}
	failed  chan struct{} // closed when the browser is gone (Failed)
	pumps   sync.WaitGroup

	arriveOnce, closeOnce, failOnce sync.Once

	neg sync.Mutex  // one offer/answer at a time
	far remoteAudio // what the browser's last description said; under neg

	hdr pionrtp.Header // WriteRTP's, under the endpoint's outbound lock
}

func (e *Engine) newMedia() (*Media, error) {
	cert, err := e.certificate()
	if err != nil {
		return nil, err
	}
	pc, err := e.api.NewPeerConnection(pion.Configuration{
		Certificates:  []pion.Certificate{cert},
		BundlePolicy:  pion.BundlePolicyMaxBundle,
		RTCPMuxPolicy: pion.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("peer connection: %w", err)
	}
	m := &Media{
		eng:     e,
		pc:      pc,
		track:   &outTrack{},
		log:     e.log,
		arrived: make(chan struct{}),
		rtcp:    make(chan []byte, 8),
		closed:  make(chan struct{}),
		failed:  make(chan struct{}),
	}
	pc.OnTrack(func(t *pion.TrackRemote, _ *pion.RTPReceiver) {
		if t.Kind() != pion.RTPCodecTypeAudio {
			return
		}
		m.arriveOnce.Do(func() {
			m.inTrack.Store(t)
			close(m.arrived)
		})
	})
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		m.log.Debug("webrtc connection", "state", s.String())
		if s == pion.PeerConnectionStateFailed || (s == pion.PeerConnectionStateClosed && !m.isClosed()) {
			m.failOnce.Do(func() { close(m.failed) })
		}
	})
	return m, nil
}

// start makes the endpoint once the sender exists (its SSRC is the stream's)
// and starts reading RTCP from both sides of the transceiver.
func (m *Media) start(sender *pion.RTPSender, codec rtp.Codec) error {
	var receiver *pion.RTPReceiver
	for _, t := range m.pc.GetTransceivers() {
		if t.Sender() == sender {
			receiver = t.Receiver()
		}
	}
	if receiver == nil {
		return errors.New("the audio sender has no transceiver")
	}
	var ssrc uint32
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	ep, err := rtp.NewEndpoint(rtp.Config{
		Transport:    transport{m},
		SSRC:         ssrc,
		Codec:        codec,
		RTCPInterval: m.eng.cfg.RTCPInterval,
		Logger:       m.log,
	})
	if err != nil {
		return err
	}
	m.ep = ep
	m.pumps.Add(2)
	go m.pumpRTCP(sender.Read)
	go m.pumpRTCP(receiver.Read)
	return nil
}

// answer answers an offer: the first one (the INVITE's), which adds our
// audio track to the browser's audio stream, or a later one (a re-INVITE).
func (m *Media) answer(ctx context.Context, offer []byte, far remoteAudio) ([]byte, error) {
	m.neg.Lock()
	defer m.neg.Unlock()
	if m.isClosed() {
		return nil, ErrClosed
	}
	if err := m.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return nil, fmt.Errorf("browser's offer: %w", err)
	}
	if m.ep == nil {
		sender, err := m.pc.AddTrack(m.track)
		if err != nil {
			return nil, fmt.Errorf("add audio: %w", err)
		}
		if err := m.start(sender, far.codec); err != nil {
			return nil, err
		}
	}
	ans, err := m.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("create answer: %w", err)
	}
	if err := m.setLocal(ctx, ans); err != nil {
		return nil, err
	}
	m.apply(far)
	return []byte(m.pc.LocalDescription().SDP), nil
}

// offer makes the first offer, to call a browser.
func (m *Media) offer(ctx context.Context) ([]byte, error) {
	m.neg.Lock()
	defer m.neg.Unlock()
	tr, err := m.pc.AddTransceiverFromTrack(m.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv})
	if err != nil {
		return nil, fmt.Errorf("add audio: %w", err)
	}
	if err := m.start(tr.Sender(), rtp.PCMU); err != nil {
		return nil, err
	}
	o, err := m.pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := m.setLocal(ctx, o); err != nil {
		return nil, err
	}
	return []byte(m.pc.LocalDescription().SDP), nil
}

// setLocal sets our description and waits for its candidates: the engine's
// one host candidate, at once (ICE-lite gathers nothing else), but the
// description must carry it since there is no trickle over SIP.
func (m *Media) setLocal(ctx context.Context, d pion.SessionDescription) error {
	gathered := pion.GatheringCompletePromise(m.pc)
	if err := m.pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ice candidates: %w", ctx.Err())
	}
}

// apply makes the endpoint follow the browser's description: the codec it
// prefers, its telephone-event payload type, and whether it wants audio.
func (m *Media) apply(far remoteAudio) {
	m.far = far
	if err := m.ep.SetCodec(far.codec); err != nil {
		m.log.Warn("webrtc codec", "err", err) // parseRemote admits only G.711
	}
	if far.eventPT != 0 {
		m.ep.SetTelephoneEventPT(far.eventPT)
	}
	m.ep.SetSending(far.dir.Receives())
}

// SetAnswer takes the browser's answer to Offer.
func (m *Media) SetAnswer(answer []byte) error {
	far, err := parseRemote(answer)
	if err != nil {
		return fmt.Errorf("browser's answer: %w", err)
	}
	m.neg.Lock()
	defer m.neg.Unlock()
	if m.isClosed() {
		return ErrClosed
	}
	if err := m.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return fmt.Errorf("browser's answer: %w", err)
	}
	m.apply(far)
	return nil
}

// Renegotiate answers a later offer from the browser on the same session (a
// re-INVITE): hold (sendonly or inactive) stops the endpoint's sending,
// unhold resumes it; a change of codec or event payload type is applied.
func (m *Media) Renegotiate(ctx context.Context, offer []byte) ([]byte, error) {
	far, err := parseRemote(offer)
	if err != nil {
		return nil, fmt.Errorf("browser's re-offer: %w", err)
	}
	answer, err := m.answer(ctx, offer, far)
	if err != nil {
		return nil, fmt.Errorf("browser's re-offer: %w", err)
	}
	return answer, nil
}

// Endpoint is the leg's RTP endpoint: wrap it in media.NewChannel as a SIP
// leg's. The Channel owns it from then on; closing it closes the session.
func (m *Media) Endpoint() *rtp.Endpoint { return m.ep }

// TelephoneEventPT is the RFC 4733 payload type the browser negotiated, 0
// when it did not (give it to media.Channel.SetTelephoneEvent).
func (m *Media) TelephoneEventPT() uint8 {
	m.neg.Lock()
	defer m.neg.Unlock()
	return m.far.eventPT
}

// Direction is the direction of the browser's audio in its last
// description, from its point of view: sendonly or inactive while it holds
// the call.
func (m *Media) Direction() sdp.Direction {
	m.neg.Lock()
	defer m.neg.Unlock()
	return m.far.dir
}

// Failed is closed when the browser's session ends without signalling: ICE
// consent lost (the tab or the network went away) or DTLS closed by the
// browser. Signalling should then hang up the leg, since no BYE may come.
func (m *Media) Failed() <-chan struct{} { return m.failed }

// Close ends the session: the endpoint (RTCP BYE first), the
// PeerConnection, and the goroutines reading it. It is safe to call more than
// once, and after the Channel closed the endpoint.
func (m *Media) Close() error {
	var err error
	if m.ep != nil {
		err = m.ep.Close() // closes the transport, so shutdown
	}
	if serr := m.shutdown(); err == nil {
		err = serr
	}
	m.pumps.Wait()
	return err
}

// shutdown closes the PeerConnection, once.
func (m *Media) shutdown() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		if cerr := m.pc.Close(); cerr != nil {
			err = fmt.Errorf("close peer connection: %w", cerr)
		}
	})
	return err
}

func (m *Media) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

// pumpRTCP hands the RTCP one side of the transceiver reads to the
// endpoint's RTCP goroutine (transport.ReadRTCP). pion routes RTCP by SSRC:
// the browser's reports on our stream reach the sender, its sender reports
// the receiver.
func (m *Media) pumpRTCP(read func([]byte) (int, interceptor.Attributes, error)) {
	defer m.pumps.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := read(buf)
		if err != nil {
			return
		}
		select {
		case m.rtcp <- append([]byte(nil), buf[:n]...):
		case <-m.closed:
			return
		}
	}
}

// transport is the Media as the endpoint's rtp.Transport.
type transport struct{ m *Media }

func (t transport) ReadRTP(b []byte) (int, error) {
	in := t.m.inTrack.Load()
	if in == nil {
		select {
		case <-t.m.arrived:
			in = t.m.inTrack.Load()
		case <-t.m.closed:
			return 0, ErrClosed
		}
	}
	n, _, err := in.Read(b)
	return n, err
}

func (t transport) ReadRTCP(b []byte) (int, error) {
	select {
	case pkt := <-t.m.rtcp:
		return copy(b, pkt), nil
	case <-t.m.closed:
		return 0, ErrClosed
	}
}

// WriteRTP hands the packet to the sender's SRTP stream; before pion binds
// the track (DTLS not done yet) there is nowhere to send and the packet is
// dropped, as a UDP endpoint drops what it has no address for.
func (t transport) WriteRTP(pkt []byte) error {
	w := t.m.track.writer.Load()
	if w == nil {
		return nil
	}
	n, err := t.m.hdr.Unmarshal(pkt)
	if err != nil {
		return fmt.Errorf("srtp write: %w", err)
	}
	if _, err := (*w).WriteRTP(&t.m.hdr, pkt[n:]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("srtp write: %w", err)
	}
	return nil
}

func (t transport) WriteRTCP(pkt []byte) error {
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		return fmt.Errorf("srtcp write: %w", err)
	}
	if err := t.m.pc.WriteRTCP(pkts); err != nil {
		return fmt.Errorf("srtcp write: %w", err)
	}
	return nil
}

func (t transport) Close() error { return t.m.shutdown() }

// outTrack is our audio track. pion's static tracks rewrite every packet's
// payload type to the bound codec's, which would turn RFC 4733 events into
// audio; this one sends the endpoint's packets as they are.
type outTrack struct {
	writer atomic.Pointer[pion.TrackLocalWriter]
}

// Bind is called by pion once DTLS is up; the codec it returns only sets the
// sender's defaults, since each packet carries its own payload type.
func (t *outTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == pion.MimeTypePCMU || c.MimeType == pion.MimeTypePCMA {
			w := ctx.WriteStream()
			t.writer.Store(&w)
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, ErrNoCodec
}

func (t *outTrack) Unbind(pion.TrackLocalContext) error {
	t.writer.Store(nil)
	return nil
}

func (t *outTrack) ID() string              { return "audio" }
func (t *outTrack) RID() string             { return "" }
func (t *outTrack) StreamID() string        { return "vox" }
func (t *outTrack) Kind() pion.RTPCodecType { return pion.RTPCodecTypeAudio }
