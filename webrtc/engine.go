package webrtc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"vox/internal/sockbuf"
)

// ErrEngineClosed is returned by an Engine's calls after Close.
var ErrEngineClosed = errors.New("webrtc: engine closed")

// certRenewal is how long before its expiry the engine's certificate is
// replaced: a new call never starts on a certificate about to expire.
const certRenewal = 24 * time.Hour

// socketBuffer is the shared UDP socket's buffer each way: about 200 ms of
// a thousand calls' packets.
const socketBuffer = 8 << 20

// Config configures an Engine. Addr is required.
type Config struct {
	Addr   netip.Addr   // the host candidate's address: where browsers send media
	Port   int          // the UDP port every call shares; 0 picks a free one
	Logger *slog.Logger // default discards
	// RTCPInterval is the endpoints' report interval; default
	// rtp.DefaultRTCPInterval.
	RTCPInterval time.Duration
}

// Engine is the WebRTC media of one server: the UDP port all its browser legs
// share, and what their sessions have in common (codecs, certificate).
type Engine struct {
	cfg  Config
	log  *slog.Logger
	conn *net.UDPConn
	mux  ice.UDPMux
	api  *pion.API

	mu     sync.Mutex
	cert   *pion.Certificate
	closed bool
}

// NewEngine opens the engine's UDP port.
func NewEngine(cfg Config) (*Engine, error) {
	if !cfg.Addr.IsValid() || cfg.Addr.IsUnspecified() {
		return nil, fmt.Errorf("webrtc engine: address %q: a host candidate needs a concrete address", cfg.Addr)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("webrtc engine: port %d out of range", cfg.Port)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Addr, uint16(cfg.Port))))
	if err != nil {
		return nil, fmt.Errorf("webrtc engine: %w", err)
	}
	// Every call's packets queue in this one socket: at hundreds of calls
	// the default buffer (about 200 KiB, a few hundred packets) overflows
	// in the ten milliseconds a busy scheduler may leave the mux's reader
	// waiting.
	if got, err := sockbuf.Grow(conn, socketBuffer); err != nil {
		cfg.Logger.Warn("webrtc engine: socket buffers", "err", err)
	} else if why, short := got.Short(socketBuffer); short {
		cfg.Logger.Warn("webrtc engine: the UDP socket's buffers are small: bursts of media will be dropped", "got", why)
	}
	logs := pionLogs{cfg.Logger}
	e := &Engine{cfg: cfg, log: cfg.Logger, conn: conn}
	e.mux = pion.NewICEUDPMux(logs.NewLogger("udpmux"), conn)

	var se pion.SettingEngine
	se.SetLite(true)
	se.SetICEUDPMux(e.mux)
	se.SetIncludeLoopbackCandidate(cfg.Addr.IsLoopback())
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	network := pion.NetworkTypeUDP4
	if cfg.Addr.Is6() && !cfg.Addr.Is4In6() {
		network = pion.NetworkTypeUDP6
	}
	se.SetNetworkTypes([]pion.NetworkType{network})
	se.LoggerFactory = logs

	var me pion.MediaEngine
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/" + eventName, ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-15"}, PayloadType: 101},
	} {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			conn.Close()
			return nil, fmt.Errorf("webrtc engine: register %s: %w", c.MimeType, err)
		}
	}
	// An empty registry, not pion's default interceptors: the endpoint
	// sends the RFC 3550 reports itself (see the package comment), and
	// NACK, transport-cc and per-packet statistics would cost CPU on every
	// packet for nothing G.711 uses.
	e.api = pion.NewAPI(pion.WithSettingEngine(se), pion.WithMediaEngine(&me),
		pion.WithInterceptorRegistry(&interceptor.Registry{}))
	if _, err := e.certificate(); err != nil {
		conn.Close()
		return nil, err
	}
	return e, nil
}

// LocalAddr is the engine's UDP address, the host candidate of every call.
func (e *Engine) LocalAddr() netip.AddrPort {
	return e.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// certificate is the current DTLS certificate, renewed near its expiry.
func (e *Engine) certificate() (pion.Certificate, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return pion.Certificate{}, ErrEngineClosed
	}
	if e.cert != nil && time.Until(e.cert.Expires()) > certRenewal {
		return *e.cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pion.Certificate{}, fmt.Errorf("webrtc certificate key: %w", err)
	}
	cert, err := pion.GenerateCertificate(key)
	if err != nil {
		return pion.Certificate{}, fmt.Errorf("webrtc certificate: %w", err)
	}
	e.cert = cert
	return *cert, nil
}

// Close closes the engine's port; calls still up lose their media. Close
// each Media first.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	if err := e.mux.Close(); err != nil {
		return fmt.Errorf("close webrtc engine: %w", err)
	}
	return nil
}

// Answer takes a browser's offer (an INVITE's SDP) and returns the call's
// media and the answer to send back. ICE and DTLS complete when the browser
// gets the answer; the endpoint receives and sends from then on.
func (e *Engine) Answer(ctx context.Context, offer []byte) (*Media, []byte, error) {
	ra, err := parseRemote(offer)
	if err != nil {
		return nil, nil, fmt.Errorf("answer: %w", err)
	}
	m, err := e.newMedia()
	if err != nil {
		return nil, nil, fmt.Errorf("answer: %w", err)
	}
	answer, err := m.answer(ctx, offer, ra)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("answer: %w", err)
	}
	return m, answer, nil
}

// Offer starts a call to a browser: the media, and the offer to send in the
// INVITE. SetAnswer takes the browser's answer.
func (e *Engine) Offer(ctx context.Context) (*Media, []byte, error) {
	m, err := e.newMedia()
	if err != nil {
		return nil, nil, fmt.Errorf("offer: %w", err)
	}
	offer, err := m.offer(ctx)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("offer: %w", err)
	}
	return m, offer, nil
}
