package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"vox/internal/sockbuf"
	"vox/overload"
)

// Options configure a Server. The zero value of every field but Directory
// gives the default written next to it.
type Options struct {
	// Directory holds the users that may register. Required.
	Directory Directory
	// Realm of the digest challenges; empty: the host of the address of
	// record the phone registers (To), so that each tenant domain is a realm.
	Realm string
	// Algorithms offered, in this order (default DefaultAlgorithms: MD5,
	// SHA-256).
	Algorithms []Algorithm
	// NonceTTL is how long a nonce may be used (default 5 minutes); later it
	// is answered stale=true and the phone retries with a fresh one.
	NonceTTL time.Duration
	// Expiry of bindings: a REGISTER asking less than MinExpires gets 423
	// (default 60 s), more than MaxExpires gets MaxExpires (default 2 h), and
	// one that says nothing gets DefaultExpires (default 1 h).
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// MaxBindings is the number of contacts kept per user (default 10).
	MaxBindings int
	// A source failing MaxFailures authentications (default 10) within
	// FailureWindow (default 10 minutes) is banned for BanFor (default 15
	// minutes): its packets are dropped unread. MaxSources bounds the memory
	// of failures (default 10,000 sources).
	MaxFailures           int
	FailureWindow, BanFor time.Duration
	MaxSources            int
	// MaxNonces bounds the nonces whose counts are remembered (default
	// 100,000); see nonceCounts.
	MaxNonces int
	// MaxMessageSize (default 16 KiB) and MaxHeaders (default 64) bound what
	// a request may carry; larger ones are refused.
	MaxMessageSize, MaxHeaders int
	// RequestRate is how many requests a second one source (an IPv4
	// address, an IPv6 /64) may send, in bursts of up to RequestBurst
	// (defaults 100 and 200); beyond, its datagrams are dropped and its TCP
	// connections closed. Negative: no limit. Unlimited lists the sources it
	// does not apply to: a trunk carrying many calls from one address, a
	// load test. MaxSources bounds the sources tracked.
	RequestRate  float64
	RequestBurst int
	Unlimited    []netip.Prefix
	// MaxTCPPerSource bounds the TCP and TLS connections one source (an
	// IPv4 address, an IPv6 /64) holds at once (default 256: the phones of an
	// office behind one address; Unlimited sources have no such bound),
	// and MaxTCP those of all sources (default 10,000). A connection past
	// either is closed as soon as it is accepted. TCPIdle closes one that
	// brings nothing, not even a keep-alive, for so long (default
	// MaxExpires and a minute, so that a phone's connection outlives the
	// registration it refreshes over it); one that brings nothing at all
	// goes after at most 30 s.
	MaxTCPPerSource, MaxTCP int
	TCPIdle                 time.Duration
	// TLSClient is what Vox checks a peer's certificate with when it opens
	// a TLS connection itself, to a trunk or a CallSIP URI with
	// transport=tls (default: the system's roots, TLS 1.2 and up).
	TLSClient *tls.Config
	// LookupTimeout bounds a Directory lookup (default 5 s).
	LookupTimeout time.Duration
	// Secret signs nonces (default: random at each start; a restart only
	// makes the phones' nonces stale).
	Secret []byte
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Log gets what the server has to say (default slog.Default()); lines
	// about bad input are rate-limited.
	Log *slog.Logger
}

func (o *Options) defaults() error {
	if o.Directory == nil {
		return errors.New("sip: Options.Directory is required")
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	for _, a := range o.Algorithms {
		if !a.known() {
			return fmt.Errorf("sip: unknown digest algorithm %q", a)
		}
	}
	setDefault(&o.NonceTTL, 5*time.Minute)
	setDefault(&o.MinExpires, 60*time.Second)
	setDefault(&o.MaxExpires, 2*time.Hour)
	setDefault(&o.DefaultExpires, time.Hour)
	setDefault(&o.MaxBindings, 10)
	setDefault(&o.MaxFailures, 10)
	setDefault(&o.FailureWindow, 10*time.Minute)
	setDefault(&o.BanFor, 15*time.Minute)
	setDefault(&o.MaxSources, 10_000)
	setDefault(&o.MaxNonces, 100_000)
	setDefault(&o.MaxMessageSize, 16<<10)
	setDefault(&o.MaxHeaders, 64)
	setDefault(&o.RequestRate, 100)
	setDefault(&o.RequestBurst, 200)
	setDefault(&o.LookupTimeout, 5*time.Second)
	setDefault(&o.MaxTCPPerSource, 256)
	setDefault(&o.MaxTCP, 10_000)
	setDefault(&o.TCPIdle, o.MaxExpires+time.Minute)
	if o.TLSClient == nil {
		o.TLSClient = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if len(o.Secret) == 0 {
		o.Secret = make([]byte, 32)
		rand.Read(o.Secret)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is a SIP server on sipgo: UDP and TCP listeners, the registrar, and
// OPTIONS answered for keep-alives. Calls are handled on the same Server.
type Server struct {
	opts   Options
	ua     *sipgo.UserAgent
	sip    *sipgo.Server
	auth   *authenticator
	reg    *Registrar
	log    *slog.Logger
	badLog *slog.Logger // rate-limited, for what anyone on the network can cause
	parser *sipmsg.Parser

	calls *calls     // nil until EnableCalls
	ws    *webSocket // nil until WebSocket

	mu        sync.Mutex
	closing   bool
	listeners []func() error
	bound     []netip.AddrPort // the listeners' addresses, UDP and TCP alike
	tlsBound  []netip.AddrPort // the TLS listeners'
	tcp       tcpCounts        // the connections of the TCP and TLS listeners
	served    sync.WaitGroup
	inflight  sync.WaitGroup
	dropped   atomic.Int64 // packets from banned sources
	rate      *rateLimiter
	limited   atomic.Int64       // requests over their source's rate
	delays    overload.Histogram // how long UDP datagrams waited to be read
}

// sipgo sends nothing over UDP larger than UDPMTUSize less 200 bytes (1,300 by
// default), after RFC 3261 section 18.1.1, which tells a client to send a
// request that large over TCP instead. A response has no such way out: it goes
// back as its request came (section 18.2.2), and a 2xx that echoes a carrier's
// Vias and Record-Routes with its SDP can pass 1,300 bytes; refusing to send it
// loses the call. Phones, most of which take no TCP, get our few requests that
// large over UDP too, as other servers send them: the network fragments them.
func init() {
	sipmsg.UDPMTUSize = maxUDPPayload + 200
}

// maxUDPPayload is the largest UDP datagram over IPv4.
const maxUDPPayload = 65507

// NewServer builds a server; Listen starts it.
func NewServer(opts Options) (*Server, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log}
	limited := newLimitedHandler(opts.Log.Handler(), opts.Now)
	s.badLog = slog.New(limited)
	s.auth = newAuthenticator(&s.opts)
	s.reg = newRegistrar(s)
	s.rate = newRateLimiter(opts.RequestRate, opts.RequestBurst, opts.Unlimited, opts.MaxSources)

	parser := sipmsg.NewParser()
	parser.MaxMessageLength = opts.MaxMessageSize
	s.parser = parser
	// sipgo logs a packet it cannot parse whole and at error level; through
	// badLog it is one short line now and then.
	sipgoLog := slog.New(limited.demoted()).With("component", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("vox"),
		sipgo.WithUserAgentParser(parser),
		// Without it sipgo dereferences a nil config when it dials TLS.
		sipgo.WithUserAgenTLSConfig(opts.TLSClient),
		sipgo.WithUserAgentTransportLayerOptions(
			sipmsg.WithTransportLayerLogger(sipgoLog),
			sipmsg.WithTransportLayerReadFilter(s.filter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(sipgoLog)),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipgoLog))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	s.ua, s.sip = ua, srv
	srv.OnRegister(s.handle(s.reg.register))
	srv.OnOptions(s.handle(s.options))
	srv.OnNoRoute(s.handle(s.noRoute))
	return s, nil
}

// Registrar is the server's registrar, for the call code (Bindings) and the
// Directory's owner (Revoke).
func (s *Server) Registrar() *Registrar { return s.reg }

var errBanned = errors.New("source banned after failed authentications")

// filter runs on every packet read, before it is parsed: a banned source's
// packets are dropped without work, and its TCP connections closed; other
// sources' requests are counted against their rate (admit).
func (s *Server) filter(p sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	addr, ok := addrOf(p.RemoteAddr)
	if !ok {
		return data, nil
	}
	if !s.auth.bans.banned(addr, s.opts.Now()) {
		return s.admit(p, addr, data)
	}
	s.dropped.Add(1)
	if p.Transport != "UDP" {
		return nil, errBanned
	}
	return nil, nil
}

// udpBuffer is the SIP UDP socket's buffer each way: a few thousand
// datagrams, most of a second of a thousand calls a second's SIP. What waits
// in it is measured (QueueDelays), and the overload guard turns calls away
// long before it fills; beyond it the kernel drops requests unseen, and each
// caller retransmits half a second later or gives up.
const udpBuffer = 8 << 20

func (s *Server) growUDP(conn *net.UDPConn) {
	got, err := sockbuf.Grow(conn, udpBuffer)
	if err != nil {
		s.log.Warn("sip: UDP socket buffers", "err", err)
		return
	}
	if why, short := got.Short(udpBuffer); short {
		s.log.Warn("sip: the UDP socket's buffers are small: bursts of SIP will be dropped", "addr", conn.LocalAddr().String(), "got", why)
	}
}

// QueueDelays are how long the UDP datagrams read waited in the socket for
// the server to read them (Linux; elsewhere none are recorded): the queue of
// a server falling behind, for an overload.Guard's Latency.
func (s *Server) QueueDelays() *overload.Histogram { return &s.delays }

// Listen binds addr (host:port; [v6]:port; port 0 picks a free one) on UDP
// and TCP, the same port on both, starts serving and returns the bound
// address.
func (s *Server) Listen(addr string) (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return netip.AddrPort{}, errors.New("sip: server is shut down")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("sip: listen address %q: %w", addr, err)
	}
	var udp net.PacketConn
	var tcp net.Listener
	// With port 0 the TCP port may be taken where the UDP one was free: try
	// a few ports.
	for attempt := 0; ; attempt++ {
		udp, err = net.ListenPacket("udp", addr)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("sip: listen on udp %s: %w", addr, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(bound)))
		if err == nil {
			break
		}
		udp.Close()
		if port != "0" || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return netip.AddrPort{}, fmt.Errorf("sip: listen on tcp %s: %w", addr, err)
		}
	}
	s.growUDP(udp.(*net.UDPConn))
	stream := s.limitTCP(tcp)
	s.listeners = append(s.listeners, udp.Close, stream.Close)
	s.served.Add(2)
	go func() {
		defer s.served.Done()
		s.sip.ServeUDP(timeArrivals(udp, s.delays.Record))
	}()
	go func() {
		defer s.served.Done()
		s.sip.ServeTCP(stream)
	}()
	if err := s.awaitUDP(udp.LocalAddr().String()); err != nil {
		return netip.AddrPort{}, err
	}
	bound := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	s.log.Info("sip: listening", "udp", bound.String(), "tcp", tcp.Addr().String())
	bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	s.bound = append(s.bound, bound)
	return bound, nil
}

// awaitUDP returns once sipgo serves the UDP socket at addr. It takes the
// socket as its listener on its serving goroutine; a request sent before
// that (a call placed or a trunk registering right after the start) would
// have it bind a socket of its own to the same address, and fail with
// EADDRINUSE.
func (s *Server) awaitUDP(addr string) error {
	tl := s.sip.TransportLayer()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c, err := tl.GetConnection("udp", addr); err == nil {
			c.Ref(-1) // GetConnection counts a user
			return nil
		}
	}
	return fmt.Errorf("sip: UDP listener %s not served after 5 s", addr)
}

// ListenTLS binds addr (host:port; port 0 picks a free one) for SIP over
// TLS (RFC 3261 section 26.3.1, commonly port 5061), serving with conf, and
// returns the bound address. Phones and trunks that connect there are
// answered, and reached for their calls, over their connection; TCP's
// limits apply to it too.
func (s *Server) ListenTLS(addr string, conf *tls.Config) (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return netip.AddrPort{}, errors.New("sip: server is shut down")
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("sip: listen on tls %s: %w", addr, err)
	}
	// Limits count connections before their handshakes, so that a source
	// cannot hold many by starting handshakes it never finishes.
	stream := s.limitTCP(tcp)
	s.listeners = append(s.listeners, stream.Close)
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		s.sip.ServeTLS(tls.NewListener(stream, conf))
	}()
	bound := tcp.Addr().(*net.TCPAddr).AddrPort()
	bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	s.log.Info("sip: listening", "tls", bound.String())
	s.tlsBound = append(s.tlsBound, bound)
	return bound, nil
}

// TLSAddrs are the addresses ListenTLS bound.
func (s *Server) TLSAddrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tlsBound)
}

// Shutdown ends the calls (see EnableCalls), stops reading, lets the
// requests being handled finish until ctx ends, and closes the transports.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.calls != nil {
		// Calls end first, while the transports can still carry their BYEs;
		// then the browsers' media they shared.
		err = s.calls.shutdown(ctx)
		if rtc := s.calls.opts.WebRTC; rtc != nil {
			if cerr := rtc.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("sip: close WebRTC: %w", cerr))
			}
		}
	}
	s.mu.Lock()
	s.closing = true
	for _, closeListener := range s.listeners {
		err = errors.Join(err, ignoreClosed(closeListener()))
	}
	s.listeners = nil
	s.mu.Unlock()
	s.served.Wait()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The calls may have used up the deadline giving up on a peer that
		// is gone; the handlers, told to stop as the calls ended, get the
		// time abandoned requests get to notice (calls.shutdown), rather
		// than a select between them and a deadline already passed.
		select {
		case <-done:
		case <-time.After(abandonGrace):
			err = errors.Join(err, fmt.Errorf("sip: requests still running at the deadline: %w", ctx.Err()))
		}
	}
	return errors.Join(err, ignoreClosed(s.ua.Close()))
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// handle wraps a handler with what every request gets: no work once the
// server shuts down, the checks of refused (limits, version, loops), and a
// recovered panic answered 500 rather than the process ending.
func (s *Server) handle(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return
		}
		s.inflight.Add(1)
		s.mu.Unlock()
		defer s.inflight.Done()
		defer func() {
			if p := recover(); p != nil {
				s.badLog.Error("sip: handler panicked", "method", string(req.Method), "panic", fmt.Sprint(p))
				if tx != nil && !req.IsAck() {
					s.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		if req.IsAck() || tx == nil {
			h(req, tx)
			return
		}
		if s.refused(req, tx) {
			return
		}
		h(req, tx)
	}
}

// allow is the value of Allow: the methods with a handler.
func (s *Server) allow() string {
	ms := s.sip.RegisteredMethods()
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// options answers OPTIONS, which phones send as keep-alives and to learn
// what the server supports (RFC 3261 section 11.2).
func (s *Server) options(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sipmsg.NewHeader("Allow", s.allow()))
	res.AppendHeader(sipmsg.NewHeader("Accept", "application/sdp"))
	if s.calls != nil {
		// The extensions its calls take, which a PBX probing with OPTIONS
		// decides on (RFC 3261 section 11.2).
		res.AppendHeader(sipmsg.NewHeader("Supported", "timer, 100rel"))
	}
	s.respond(tx, res)
}

// noRoute answers a method nobody handles with 405 and Allow, one nobody
// knows with 501 (RFC 3261 section 8.2.1); ACK gets no answer.
func (s *Server) noRoute(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if req.IsAck() || tx == nil {
		return
	}
	res := sipmsg.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
	if !knownMethod(req.Method) {
		res = sipmsg.NewResponseFromRequest(req, 501, "Not Implemented", nil)
	}
	res.AppendHeader(sipmsg.NewHeader("Allow", s.allow()))
	s.respond(tx, res)
}

// bad answers a request Vox cannot use, with a short rate-limited log line.
func (s *Server) bad(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason, why string) {
	s.badLog.Warn("sip: bad request", "method", trimForLog(string(req.Method)), "source", req.Source(), "code", code, "why", why)
	s.respond(tx, sipmsg.NewResponseFromRequest(req, code, reason, nil))
}

func (s *Server) respond(tx sipmsg.ServerTransaction, res *sipmsg.Response) {
	if err := tx.Respond(res); err != nil {
		s.badLog.Warn("sip: respond failed", "code", res.StatusCode, "err", err)
	}
}
