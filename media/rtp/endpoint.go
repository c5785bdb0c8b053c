package rtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Errors of an endpoint.
var (
	ErrClosed      = errors.New("rtp: endpoint closed")
	ErrNoPool      = errors.New("rtp: no port pool (nor transport)")
	ErrCodec       = errors.New("rtp: codec not supported")
	ErrSelf        = errors.New("rtp: an endpoint cannot send media to itself")
	ErrWriterBusy  = errors.New("rtp: another writer holds the stream")
	ErrReplaced    = errors.New("rtp: playback replaced")
	ErrStopped     = errors.New("rtp: playback stopped")
	ErrWriterClose = errors.New("rtp: writer closed")
	errPayloadSize = errors.New("rtp: payload too large")
)

// minSequential is RFC 3550 A.1's MIN_SEQUENTIAL: packets in sequence before a
// source is believed, and here before it is latched.
const minSequential = 2

// DefaultRTCPInterval is the RFC 3550 §6.2 minimum interval between reports.
const DefaultRTCPInterval = 5 * time.Second

// Config configures an endpoint. Pool or Transport is required.
type Config struct {
	Pool             *PortPool     // where a UDP endpoint takes its port pair
	Transport        Transport     // instead of a port pair: a secure session (WebRTC)
	SSRC             uint32        // of the outbound stream when signalling chose it; 0: random
	Codec            Codec         // what the endpoint sends; the zero value is PCMU
	TelephoneEventPT uint8         // default DefaultTelephoneEventPT
	Clock            Clock         // default RealClock
	RTCPInterval     time.Duration // default DefaultRTCPInterval
	CNAME            string        // RTCP SDES CNAME; default "vox@" and the local address
	Logger           *slog.Logger  // default discards
}

// Endpoint is the RTP side of one call leg: a port pair, one outbound stream,
// and the stream it receives. Its methods are safe for concurrent use.
//
// The fields are in the order a received packet reads them, the receive
// side's first and the outbound stream's last (see outbound): at a thousand
// calls an endpoint's state is out of the CPU caches when its next packet
// comes, and every cache line a packet touches costs a miss.
type Endpoint struct {
	clock Clock
	pacer *pacers       // send the frames of the endpoint's playbacks
	epoch time.Time     // arrival times are counted from here, in timestamp units
	te    atomic.Uint32 // telephone-event payload type, as negotiated
	// offeredTE is the telephone-event payload type of our own SDP
	// (Config.TelephoneEventPT): a far end that answered our offer with
	// another number may still send events with ours, as RFC 3264 section
	// 6.1 has it, so both are taken as events.
	offeredTE uint8

	onEvent atomic.Pointer[func(*rtp.Packet)]
	sinks   atomic.Pointer[[]*sinkEntry]
	targets atomic.Pointer[[]*Endpoint]

	// Receive side: rmu guards what Stats, SetRemote and RTCP read; the
	// receive goroutine is the only writer.
	rmu   sync.Mutex
	latch latch
	stats recvStats
	rtcp  rtcpState
	heard uint64 // RTP datagrams of any payload type (see Heard)

	pool     *PortPool // nil with a Transport
	port     int
	rtpConn  udpSocket
	rtcpConn udpSocket
	log      *slog.Logger
	cname    string
	interval time.Duration

	tmu sync.Mutex // serialises changes to sinks and targets
	in  inbound    // receive goroutine only

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup

	reportMu       sync.Mutex // serialises a periodic report with Close
	reports        Timer
	reportsStopped bool

	out outbound

	// tx replaces the port pair of a secure leg (nil on UDP). It is last
	// so that the UDP fields keep their places on the cache lines.
	tx Transport
}

// latch is the symmetric RTP state (see the package comment).
type latch struct {
	addr   netip.AddrPort // latched source; invalid until latched
	remote netip.AddrPort // from SDP
	cand   netip.AddrPort // the source on probation
	ssrc   uint32
	seq    uint16
	count  int
}

// NewEndpoint opens a port pair from cfg.Pool, or takes cfg.Transport, and
// starts receiving. With a Transport, Close closes it, and the endpoint has
// no local address.
func NewEndpoint(cfg Config) (*Endpoint, error) {
	if cfg.Pool == nil && cfg.Transport == nil {
		return nil, ErrNoPool
	}
	if !cfg.Codec.valid() {
		return nil, fmt.Errorf("%w: %s", ErrCodec, cfg.Codec)
	}
	if cfg.TelephoneEventPT == 0 {
		cfg.TelephoneEventPT = DefaultTelephoneEventPT
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = DefaultRTCPInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger
	}
	e := &Endpoint{
		log:      cfg.Logger,
		clock:    cfg.Clock,
		pacer:    pacersFor(cfg.Clock),
		cname:    cfg.CNAME,
		interval: cfg.RTCPInterval,
		epoch:    cfg.Clock.Now(),
		closed:   make(chan struct{}),
	}
	if cfg.Transport != nil {
		e.tx = cfg.Transport
		e.latch.addr = secureSource
		e.rtcp.dst = secureSource
		e.out.dst = secureSource
	} else {
		rtpConn, rtcpConn, port, err := cfg.Pool.open()
		if err != nil {
			return nil, fmt.Errorf("open endpoint: %w", err)
		}
		e.pool, e.port, e.rtpConn, e.rtcpConn = cfg.Pool, port, rtpConn, rtcpConn
	}
	e.out.codec.Store(uint32(cfg.Codec))
	e.te.Store(uint32(cfg.TelephoneEventPT))
	e.offeredTE = cfg.TelephoneEventPT
	e.out.init(e.rtpConn, e.tx, cfg.SSRC, cfg.Clock)
	pair, paired := e.rtpConn.(pairReader)
	switch {
	case e.tx != nil:
		e.wg.Add(2)
		go e.receiveSecure()
		go e.receiveRTCP()
	case paired:
		e.wg.Add(1)
		go e.receivePair(pair)
	default:
		e.wg.Add(2)
		go e.receiveRTP()
		go e.receiveRTCP()
	}
	e.startReports()
	return e, nil
}

var discardLogger = slog.New(slog.DiscardHandler)

// debug logs msg at debug level with the endpoint's port ("secure" on a
// Transport). The attribute is added here rather than once with Logger.With,
// which costs every call leg allocations for messages that are rarely on.
func (e *Endpoint) debug(msg string, args ...any) {
	if !e.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var id any = "secure"
	if e.pool != nil {
		id = e.port
	}
	e.log.Debug(msg, append([]any{"rtp", id}, args...)...)
}

// appendCNAME appends the endpoint's RTCP CNAME: Config.CNAME, or "vox@" and
// the local address (the SSRC on a Transport), made when a report is.
func (e *Endpoint) appendCNAME(b []byte) []byte {
	switch {
	case e.cname != "":
		return append(b, e.cname...)
	case e.pool != nil:
		return e.LocalAddr().AppendTo(append(b, "vox@"...))
	}
	return fmt.Appendf(b, "vox@%08x", e.out.ssrc)
}

// LocalAddr is the address and RTP port to put in SDP; invalid for an
// endpoint on a Transport, whose signalling has its own addresses.
func (e *Endpoint) LocalAddr() netip.AddrPort {
	if e.pool == nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(e.pool.addr, uint16(e.port))
}

// SSRC is the SSRC of the stream the endpoint sends.
func (e *Endpoint) SSRC() uint32 { return e.out.ssrc }

// Codec is the codec the endpoint sends.
func (e *Endpoint) Codec() Codec { return Codec(e.out.codec.Load()) }

// SetCodec changes the codec the endpoint sends (after an SDP answer). It
// receives both G.711 laws whatever it sends (RFC 3264 §5.1: an offerer must
// be ready for any codec it offered).
func (e *Endpoint) SetCodec(c Codec) error {
	if !c.valid() {
		return fmt.Errorf("%w: %s", ErrCodec, c)
	}
	e.out.codec.Store(uint32(c))
	return nil
}

// TelephoneEventPT is the payload type of the RFC 4733 packets sent, and of
// those received along with Config.TelephoneEventPT.
func (e *Endpoint) TelephoneEventPT() uint8 { return uint8(e.te.Load()) }

// SetTelephoneEventPT sets the payload type the SDP negotiated for RFC 4733.
func (e *Endpoint) SetTelephoneEventPT(pt uint8) { e.te.Store(uint32(pt)) }

// SetRemote sets where the SDP says the far end receives RTP; its RTCP is
// expected one port above. Latching starts over. An endpoint on a Transport
// ignores it: the transport knows where its far end is.
func (e *Endpoint) SetRemote(addr netip.AddrPort) {
	if e.tx != nil {
		return
	}
	e.rmu.Lock()
	e.latch = latch{remote: addr}
	e.rtcp.dst = netip.AddrPortFrom(addr.Addr(), addr.Port()+1)
	e.rtcp.latched = netip.AddrPort{}
	e.rmu.Unlock()
	e.out.mu.Lock()
	e.out.dst = addr
	e.out.mu.Unlock()
}

// SetRemoteRTCP sets the far end's RTCP address when the SDP gives one
// (RFC 3605 a=rtcp).
func (e *Endpoint) SetRemoteRTCP(addr netip.AddrPort) {
	if e.tx != nil {
		return
	}
	e.rmu.Lock()
	e.rtcp.dst = addr
	e.rmu.Unlock()
}

// Remote is where the endpoint sends: the latched source, or the SDP address
// until one is latched.
func (e *Endpoint) Remote() netip.AddrPort {
	e.out.mu.Lock()
	defer e.out.mu.Unlock()
	return e.out.dst
}

// OnEvent sets the handler of received telephone-event packets (RFC 4733;
// media/dtmf decodes them), nil to drop them. It runs on the receive
// goroutine: the packet and its payload are valid only during the call.
func (e *Endpoint) OnEvent(h func(p *rtp.Packet)) {
	if h == nil {
		e.onEvent.Store(nil)
		return
	}
	e.onEvent.Store(&h)
}

// SetSending turns the outbound stream on or off, as the SDP direction says:
// off while the far end has put the call on hold (it offered sendonly or
// inactive, so we answered recvonly or inactive). Whatever writes meanwhile is
// dropped; when sending resumes, the stream is rebased (next sequence number,
// the clock's timestamp, the marker bit), as after any change of writer.
func (e *Endpoint) SetSending(on bool) {
	e.out.mu.Lock()
	defer e.out.mu.Unlock()
	if on && e.out.muted {
		e.out.release()
	}
	e.out.muted = !on
}

// Heard counts what has come from the far end so far, whatever it was: RTP
// of any payload type (comfort noise during silence too) and RTCP reports.
// It only grows; a call whose count stands still has lost its far end.
func (e *Endpoint) Heard() uint64 {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	return e.heard + e.rtcp.packets
}

// Stats reports the endpoint's statistics now.
func (e *Endpoint) Stats() Stats {
	var st Stats
	e.rmu.Lock()
	e.stats.fill(&st)
	e.rtcp.fill(&st)
	e.rmu.Unlock()
	e.out.mu.Lock()
	st.PacketsSent, st.OctetsSent = e.out.packets, e.out.octets
	e.out.mu.Unlock()
	loss := 0.0
	if st.Expected > 0 {
		loss = float64(st.Lost) / float64(st.Expected)
	}
	jitter := st.Jitter
	if st.RemoteReport {
		if st.PacketsSent > 0 {
			loss = max(loss, float64(st.RemoteLost)/float64(st.PacketsSent))
		}
		jitter = max(jitter, st.RemoteJitter)
	}
	st.Quality = Quality(loss, jitter, st.RTT)
	return st
}

// Close stops everything the endpoint does, sends RTCP BYE, and returns its
// ports to the pool, always. It is safe to call more than once, and waits for
// the endpoint's goroutines and a playback's ReadFrame in progress, so
// it must not be called from a sink or an event handler.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.stopReports()
		e.endPlayback(ErrClosed)
		e.detach()
		e.sendBye()
		if e.tx != nil {
			if err := e.tx.Close(); err != nil {
				e.debug("close transport", "err", err)
			}
			e.wg.Wait()
			return
		}
		e.rtpConn.Close()
		e.rtcpConn.Close()
		e.wg.Wait()
		e.pool.release(e.port)
	})
	return nil
}

func (e *Endpoint) isClosed() bool {
	select {
	case <-e.closed:
		return true
	default:
		return false
	}
}

// datagramReader is a socket the endpoint reads in a goroutine of its own:
// a *net.UDPConn.
type datagramReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

// receiveRTP is the receive goroutine: it owns the buffer and packet it
// reuses for every datagram.
func (e *Endpoint) receiveRTP() {
	defer e.wg.Done()
	buf := make([]byte, maxPacket)
	var p rtp.Packet
	conn := e.rtpConn.(datagramReader)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if e.isClosed() {
				return
			}
			continue
		}
		e.receive(&p, buf[:n], from)
	}
}

// pairBufs are receivePair's buffers: an endpoint lives as long as a call, and
// its buffers are the largest thing it allocates.
var pairBufs = sync.Pool{New: func() any { return new([2 * maxPacket]byte) }}

// receivePair is receiveRTP and receiveRTCP in one goroutine, for a port
// pair read as one.
func (e *Endpoint) receivePair(pair pairReader) {
	defer e.wg.Done()
	bufs := pairBufs.Get().(*[2 * maxPacket]byte)
	defer pairBufs.Put(bufs)
	rtpBuf, rtcpBuf := bufs[:maxPacket], bufs[maxPacket:]
	var p rtp.Packet
	for {
		n, from, isRTCP, err := pair.ReadPair(rtpBuf, rtcpBuf)
		switch {
		case err != nil:
			if e.isClosed() {
				return
			}
		case isRTCP:
			e.receiveReport(rtcpBuf[:n], from)
		default:
			e.receive(&p, rtpBuf[:n], from)
		}
	}
}

// receiveSecure is receiveRTP on a Transport.
func (e *Endpoint) receiveSecure() {
	defer e.wg.Done()
	buf := make([]byte, maxPacket)
	var p rtp.Packet
	for {
		n, err := e.tx.ReadRTP(buf)
		if err != nil {
			if e.isClosed() {
				return
			}
			// The transport ended under us (the far end went away):
			// wait for Close rather than spin.
			e.debug("transport read", "err", err)
			<-e.closed
			return
		}
		e.receive(&p, buf[:n], secureSource)
	}
}

// receive handles one datagram: validation, latching, statistics, then
// delivery to the event handler, the sinks and the relay targets.
func (e *Endpoint) receive(p *rtp.Packet, b []byte, from netip.AddrPort) {
	now := e.clock.Now()
	event := false
	if p.Unmarshal(b) != nil || p.Version != 2 {
		e.reject()
		return
	}
	switch pt := p.PayloadType; {
	case pt == uint8(PCMU) || pt == uint8(PCMA):
	case pt == e.TelephoneEventPT() || pt == e.offeredTE:
		event = true
	default:
		// Comfort noise, say: not taken, but the far end is there.
		e.rmu.Lock()
		e.heard++
		e.stats.rejected++
		e.rmu.Unlock()
		return
	}
	e.rmu.Lock()
	e.heard++
	if !e.admit(p, from) {
		e.stats.rejected++
		e.rmu.Unlock()
		return
	}
	res := e.stats.update(p.SequenceNumber)
	if res == seqDuplicate || res == seqBad {
		e.rmu.Unlock()
		return
	}
	if !event {
		e.stats.arrival(uint32(now.Sub(e.epoch)/(time.Second/ClockRate)), p.Timestamp)
	}
	e.rmu.Unlock()

	if event {
		if h := e.onEvent.Load(); h != nil {
			(*h)(p)
		}
	} else if sinks := e.sinks.Load(); sinks != nil {
		e.in.deliver(e, *sinks, p)
	}
	if targets := e.targets.Load(); targets != nil {
		for _, t := range *targets {
			t.relay(e, p, b, event, now)
		}
	}
}

func (e *Endpoint) reject() {
	e.rmu.Lock()
	e.stats.rejected++
	e.rmu.Unlock()
}

// admit applies the latching rule of the package comment; the caller holds
// rmu. A source that passes probation and may latch becomes the latch, and
// the receive statistics start over when its SSRC is new.
func (e *Endpoint) admit(p *rtp.Packet, from netip.AddrPort) bool {
	l := &e.latch
	if from == l.addr && p.SSRC == e.stats.ssrc && e.stats.started {
		return true
	}
	if e.tx != nil {
		// The transport authenticated the source; a new SSRC is a new
		// stream.
		e.stats.start(p.SSRC, p.SequenceNumber)
		return true
	}
	if from == l.cand && p.SSRC == l.ssrc && p.SequenceNumber == l.seq+1 {
		l.count++
	} else {
		l.cand, l.ssrc, l.count = from, p.SSRC, 1
	}
	l.seq = p.SequenceNumber
	if l.count < minSequential {
		return false
	}
	sameStream := e.stats.started && p.SSRC == e.stats.ssrc
	d := p.SequenceNumber - e.stats.maxSeq
	continues := sameStream && d != 0 && d < maxMisorder
	if l.addr.IsValid() && from != l.remote && from != l.addr && !continues {
		return false
	}
	if l.addr != from {
		e.debug("rtp latched", "from", from, "ssrc", p.SSRC)
	}
	l.addr = from
	l.cand, l.count = netip.AddrPort{}, 0
	if !sameStream {
		// A new source: count from this packet, as A.1 does after
		// probation.
		e.stats.start(p.SSRC, p.SequenceNumber)
	}
	e.out.mu.Lock()
	e.out.dst = from
	e.out.mu.Unlock()
	return true
}
