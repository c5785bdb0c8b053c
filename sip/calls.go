package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media"
	"vox/media/player"
	"vox/media/rtp"
	"vox/media/sdp"
	"vox/numbers"
	"vox/runtime"
)

// Router decides where an incoming call goes: the account it belongs to and
// the application that answers it (S8). vox serve sends a SIP user's calls to
// its account's demo application, and a trunk's by the number dialled; the
// controller will route them all.
type Router interface {
	Route(ctx context.Context, call CallInfo) (Route, error)
}

// CallInfo is an incoming call as a Router sees it.
type CallInfo struct {
	Account string // the account of the SIP user or trunk that placed the call
	User    string // that user's name; "" for a trunk's call
	Trunk   string // the trunk's name; "" for a user's call
	Dialled string // the user part of the Request-URI (or To), as sent
}

// Route is a Router's answer.
type Route struct {
	Account string
	App     string
	// Numbers is how the account's people dial: the dialled number is
	// normalised with it before the application's rules see it (S18).
	Numbers numbers.Preference
}

// ErrNoRoute is what a Router returns for a call nobody takes; the caller
// gets 404.
var ErrNoRoute = errors.New("sip: no route for the call")

// Launcher starts the session of an incoming call; *runtime.Launcher is one.
// The Server fills Account, App, Destination, Info and Incoming; Trigger and
// Log are the launcher's to set when it wraps runtime.Launcher. An error
// wrapping ErrNoRoute (no release, no rule) answers the caller 404, any
// other 500.
type Launcher interface {
	Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error)
}

// Admission decides whether a new call may start now; overload.Guard is one.
type Admission interface {
	Admit() bool
}

// CallOptions configure calls on a Server; see EnableCalls. Router, Launcher
// and Ports are required.
type CallOptions struct {
	Router   Router
	Launcher Launcher
	// Ports hands out the RTP ports of the calls; its address is the one the
	// SDP gives.
	Ports *rtp.PortPool
	// Player plays what scenarios play (default: tone scripts and speech
	// only).
	Player *player.Player
	// RecordDir is an account's recordings directory (S17), "" to refuse
	// recording; RecordURL is the URL Call.RecordStarted reports for a
	// recording's token.
	RecordDir func(account string) string
	RecordURL func(account, token string) string
	// UserRealm is the realm an account's SIP users are registered in, for
	// CallUser (default: Options.Realm).
	UserRealm func(account string) string
	// Host is the address put in Contact and From (default: the listener's
	// address); set it when listening on an unspecified address.
	Host string
	// SessionExpires is the session interval Vox asks for and refreshes by
	// (RFC 4028; default 30 minutes); MinSE is the shortest it accepts
	// (default 90 s, the RFC's minimum).
	SessionExpires, MinSE time.Duration
	// RingTimeout ends an outgoing call nobody answers (default 2 minutes)
	// with Call.Failed 408.
	RingTimeout time.Duration
	// TransferSubscription is how long a phone that asked for a transfer
	// (REFER) is told to wait for its outcome (default
	// runtime.TransferWait).
	TransferSubscription time.Duration
	// MediaTimeout ends a connected call whose far end has sent no RTP for
	// this long while it should have (see silence.go); 0: never.
	MediaTimeout time.Duration
	// Trunks are the accounts' trunks (S2), for their calls in and
	// CallPSTN; nil: none.
	Trunks Trunks
	// WebRTC gives browsers' calls their media (S5); nil: an INVITE with
	// WebRTC SDP is refused and browsers' bindings are not called.
	WebRTC WebRTC
	// Admission turns new calls away with 503 while it says no, so that a
	// server past its capacity keeps the calls it has taken whole; nil:
	// every call is taken.
	Admission Admission
}

func (o *CallOptions) defaults(s *Server) error {
	if o.Router == nil || o.Launcher == nil || o.Ports == nil {
		return errors.New("sip: CallOptions need a Router, a Launcher and Ports")
	}
	if o.Player == nil {
		o.Player = player.New(player.Options{})
	}
	if o.RecordDir == nil {
		o.RecordDir = func(string) string { return "" }
	}
	if o.UserRealm == nil {
		realm := s.opts.Realm
		o.UserRealm = func(string) string { return realm }
	}
	setDefault(&o.SessionExpires, 30*time.Minute)
	setDefault(&o.MinSE, 90*time.Second)
	setDefault(&o.RingTimeout, 2*time.Minute)
	setDefault(&o.TransferSubscription, runtime.TransferWait)
	if o.SessionExpires < o.MinSE {
		o.SessionExpires = o.MinSE
	}
	return nil
}

// calls are the live calls of a Server: the legs, the dialogs they are found
// by, and what they share. Dialog state is ours; sipgo brings the transport
// and the transactions.
type calls struct {
	srv    *Server
	opts   CallOptions
	client *sipgo.Client
	log    *slog.Logger
	ctx    context.Context // the sessions' and the legs' parent
	stop   context.CancelFunc

	// closing is closed when the server shuts down: nothing waits for
	// the network any more.
	closing chan struct{}

	// joinMu makes attended transfers one at a time (join).
	joinMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	dialogs map[dialogKey]*leg
	legs    map[*leg]struct{}
	// work are the goroutines that send for calls (forks, BYEs, refreshes);
	// shutdown waits for them, and at its deadline abandons what is still
	// waiting for a peer that does not answer (workCtx).
	work       workSet
	workCtx    context.Context
	abandonAll context.CancelFunc
}

// EnableCalls makes the server take and place calls: INVITEs from its users
// start sessions through opts.Launcher, and the Server becomes the
// runtime.Dialer of those sessions. Call it before Listen.
func (s *Server) EnableCalls(opts CallOptions) error {
	if err := opts.defaults(s); err != nil {
		return err
	}
	client, err := sipgo.NewClient(s.ua, sipgo.WithClientLogger(slog.New(s.badLog.Handler()).With("component", "sipgo")))
	if err != nil {
		return fmt.Errorf("sip: client: %w", err)
	}
	c := &calls{
		srv: s, opts: opts, client: client, log: s.log,
		dialogs: make(map[dialogKey]*leg), legs: make(map[*leg]struct{}),
		closing: make(chan struct{}),
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.workCtx, c.abandonAll = context.WithCancel(context.Background())
	s.calls = c
	s.sip.OnInvite(s.handle(c.invite))
	s.sip.OnAck(s.handle(c.inDialog))
	s.sip.OnBye(s.handle(c.inDialog))
	s.sip.OnCancel(s.handle(c.inDialog))
	s.sip.OnInfo(s.handle(c.inDialog))
	s.sip.OnMessage(s.handle(c.inDialog))
	s.sip.OnUpdate(s.handle(c.inDialog))
	s.sip.OnPrack(s.handle(c.inDialog))
	s.sip.OnRefer(s.handle(c.inDialog))
	return nil
}

// Dial places an outgoing call for a session (runtime.Dialer): CallUser,
// CallSIP and CallPSTN.
func (s *Server) Dial(ctx context.Context, req runtime.DialRequest) (runtime.Leg, error) {
	if s.calls == nil {
		return nil, &runtime.DialError{Code: 503, Reason: "Service Unavailable"}
	}
	return s.calls.dial(ctx, req)
}

// track adds a leg to the live calls; false once the server shuts down.
func (c *calls) track(l *leg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.legs[l] = struct{}{}
	return true
}

// forget drops a leg and its dialog d (nil when it has none).
func (c *calls) forget(l *leg, d *dialog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.legs, l)
	if d != nil && c.dialogs[d.key()] == l {
		delete(c.dialogs, d.key())
	}
}

// forgetDialog forgets d, a dialog of l, and not l.
func (c *calls) forgetDialog(l *leg, d *dialog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialogs[d.key()] == l {
		delete(c.dialogs, d.key())
	}
}

func (c *calls) addDialog(k dialogKey, l *leg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, live := c.legs[l]; live {
		c.dialogs[k] = l
	}
}

func (c *calls) dialog(k dialogKey) *leg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialogs[k]
}

// goWork runs f on a goroutine that shutdown waits for.
func (c *calls) goWork(f func()) {
	c.work.start()
	go func() {
		defer c.work.finish()
		f()
	}()
}

// workSet counts the calls' background work. Unlike a sync.WaitGroup it may
// grow while shutdown waits: a request arriving then (a re-INVITE's ACK wait,
// a call's media closing) starts work that shutdown must wait for too, and a
// WaitGroup forbids an Add from zero during a Wait.
type workSet struct {
	mu   sync.Mutex
	n    int
	idle []chan struct{}
}

func (w *workSet) start() {
	w.mu.Lock()
	w.n++
	w.mu.Unlock()
}

func (w *workSet) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n--; w.n == 0 {
		for _, ch := range w.idle {
			close(ch)
		}
		w.idle = nil
	}
}

// idleSignal is closed when no work is running, at once if none is.
func (w *workSet) idleSignal() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	if w.n == 0 {
		close(ch)
	} else {
		w.idle = append(w.idle, ch)
	}
	return ch
}

// shutdown ends every call (503 to those still alerting, BYE to answered
// ones, CANCEL to outgoing ones), waits for what that sends until ctx ends or
// for byePatience at most, and ends the sessions.
func (c *calls) shutdown(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		close(c.closing)
	}
	c.closed = true
	legs := make([]*leg, 0, len(c.legs))
	for l := range c.legs {
		legs = append(legs, l)
	}
	c.mu.Unlock()
	for _, l := range legs {
		l.Hangup(ctx, 503, nil)
	}
	done := c.work.idleSignal()
	var err error
	patience := time.NewTimer(byePatience)
	defer patience.Stop()
	select {
	case <-done:
	case <-ctx.Done():
	case <-patience.C:
	}
	select {
	case <-done:
	default:
		// What is left waits on peers that do not answer (a phone gone
		// before our BYE): give up on them, as their transactions would
		// after Timer F anyway.
		c.abandonAll()
		select {
		case <-done:
			c.log.Info("sip: gave up on requests unanswered at the shutdown")
		case <-time.After(abandonGrace):
			err = errors.New("sip: calls still ending after the shutdown gave up on their requests")
		}
	}
	c.abandonAll()
	c.stop()
	return err
}

// abandonGrace is how long abandoned requests may take to notice.
const abandonGrace = 2 * time.Second

// byePatience is how long a shutdown waits for the answers to its BYEs and
// CANCELs: a peer answers within a round trip, and one that has not after
// three retransmissions (0.5, 1 and 2 s) is gone. Waiting the whole deadline
// for it only held up the stop.
const byePatience = 4 * time.Second

// newMedia opens a leg's RTP endpoint and its channel; events go to l.
func (c *calls) newMedia(l *leg) error {
	ep, ch, err := c.openMedia(l)
	if err == nil {
		l.ep, l.ch = ep, ch
	}
	return err
}

// openMedia is newMedia's endpoint and channel, for the caller to set.
func (c *calls) openMedia(l *leg) (*rtp.Endpoint, *media.Channel, error) {
	ep, err := rtp.NewEndpoint(rtp.Config{Pool: c.opts.Ports})
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.newChannel(l, ep)
	if err != nil {
		ep.Close()
		return nil, nil, err
	}
	return ep, ch, nil
}

// sdesMedia is SRTP keyed in SDP (SDES) before it has a channel: an
// endpoint over an SRTP port pair, and our side of offer/answer carrying our
// key. A fork's own offer to a phone on TLS waits so until it answers
// (chooseMedia).
type sdesMedia struct {
	ep   *rtp.Endpoint
	sdes *rtp.SDES
	sdp  sdp.Session
}

// ourOffer is the crypto line our own SRTP offer answers to: the first
// suite, tag 1, no key of theirs yet (the answer's comes through
// applyMedia).
var ourOffer = sdp.Crypto{Tag: 1, Suite: rtp.SDESSuites[0]}

// openSDES opens SDES media with our key under theirs's tag and suite;
// theirs has the far end's key when it offered.
func (c *calls) openSDES(theirs sdp.Crypto) (*sdesMedia, error) {
	ours := rtp.NewSDESKey()
	tx, err := rtp.OpenSDES(c.opts.Ports, theirs.Suite, ours, theirs.Key)
	if err != nil {
		return nil, err
	}
	ep, err := rtp.NewEndpoint(rtp.Config{Transport: tx})
	if err != nil {
		tx.Close()
		return nil, err
	}
	m := &sdesMedia{ep: ep, sdes: tx, sdp: sdp.NewSession(tx.LocalAddr())}
	m.sdp.Crypto = &sdp.Crypto{Tag: theirs.Tag, Suite: theirs.Suite, Key: ours}
	return m, nil
}

// openSDESMedia is openMedia for SDES (openSDES).
func (c *calls) openSDESMedia(l *leg, theirs sdp.Crypto) (*sdesMedia, *media.Channel, error) {
	m, err := c.openSDES(theirs)
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.newChannel(l, m.ep)
	if err != nil {
		m.ep.Close()
		return nil, nil, err
	}
	return m, ch, nil
}

// newSDESMedia is newMedia for SDES.
func (c *calls) newSDESMedia(l *leg, theirs sdp.Crypto) error {
	m, ch, err := c.openSDESMedia(l, theirs)
	if err != nil {
		return err
	}
	l.ep, l.ch, l.sdes, l.sdp = m.ep, ch, m.sdes, m.sdp
	return nil
}

// plainOffer is the offer of plain RTP for fork f, whose phone refused
// SRTP before any answer: the forks' shared offer when f had one of its
// own, else new plain media for the leg (replaceMedia).
func (l *leg) plainOffer(f *fork) ([]byte, error) {
	l.mu.Lock()
	m := f.srtp
	f.srtp = nil
	offer := l.out.offer
	l.mu.Unlock()
	if m == nil {
		return l.replaceMedia(false)
	}
	l.c.goWork(func() { m.ep.Close() })
	return offer, nil
}

// replaceMedia replaces the media of our offer, before any answer, with
// SRTP's when secure, else plain RTP's, and returns the new offer: for a
// phone that refused SRTP, or a PSTN call failing over to a trunk whose
// SRTP setting differs. What the scenario started on the old channel
// meanwhile (a recording, say) goes with it.
func (l *leg) replaceMedia(secure bool) ([]byte, error) {
	c := l.c
	var ep *rtp.Endpoint
	var ch *media.Channel
	var m *sdesMedia
	var err error
	if secure {
		if m, ch, err = c.openSDESMedia(l, ourOffer); err == nil {
			ep = m.ep
		}
	} else {
		ep, ch, err = c.openMedia(l)
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.state == stateEnded {
		l.mu.Unlock()
		ch.Close()
		return nil, errEnded
	}
	old, tones := l.ch, l.tones
	version := l.sdp.Version
	l.ep, l.ch, l.sdes = ep, ch, nil
	l.sdp = sdp.NewSession(ep.LocalAddr())
	if m != nil {
		l.sdes, l.sdp = m.sdes, m.sdp
	}
	l.sdp.Version = version + 1
	offer, err := l.sdp.Offer()
	l.last = offer
	l.mu.Unlock()
	if tones {
		ch.HandleTones(true)
	}
	c.goWork(func() { old.Close() })
	return offer, err
}

// newChannel makes the media channel of a leg over ep, a SIP endpoint or a
// browser's.
func (c *calls) newChannel(l *leg, ep *rtp.Endpoint) (*media.Channel, error) {
	account := l.account
	opts := media.ChannelOptions{RecordDir: c.opts.RecordDir(account), Logger: l.log}
	if c.opts.RecordURL != nil {
		opts.RecordURL = func(token string) string { return c.opts.RecordURL(account, token) }
	}
	return media.NewChannel(ep, opts, legEvents{l})
}

// local is where this server is reached from a peer at peer: the listener
// of its address family, and the host in Contact and From.
func (c *calls) local(peer netip.Addr) (listener netip.AddrPort, host string) {
	return c.localOn(peer, false)
}

// localOn is local among the TLS listeners when tls is set.
func (c *calls) localOn(peer netip.Addr, tls bool) (listener netip.AddrPort, host string) {
	c.srv.mu.Lock()
	bound := c.srv.bound
	if tls && len(c.srv.tlsBound) > 0 {
		bound = c.srv.tlsBound
	}
	for _, b := range bound {
		if b.Addr().Is4() == peer.Unmap().Is4() {
			listener = b
			break
		}
	}
	if !listener.IsValid() && len(bound) > 0 {
		listener = bound[0]
	}
	c.srv.mu.Unlock()
	host = c.opts.Host
	if host == "" {
		host = listener.Addr().String()
	}
	return listener, host
}

// contact is our Contact for a dialog with a peer over transport.
func (c *calls) contact(transport string, peer netip.Addr) *sipmsg.ContactHeader {
	listener, host := c.localOn(peer, strings.EqualFold(transport, "TLS"))
	u := sipmsg.Uri{Scheme: "sip", User: "vox", Host: host, Port: int(listener.Port())}
	if !strings.EqualFold(transport, "UDP") {
		u.UriParams = sipmsg.NewParams()
		u.UriParams.Add("transport", strings.ToLower(transport))
	}
	return &sipmsg.ContactHeader{Address: u}
}

// contactFor is our Contact in a dialog whose Request-URI is uri: a sips:
// one where uri is (RFC 3261 section 8.1.1.8), which implies TLS.
func (c *calls) contactFor(uri sipmsg.Uri, transport string, peer netip.Addr) *sipmsg.ContactHeader {
	h := c.contact(transport, peer)
	if uri.IsEncrypted() {
		h.Address.Scheme = "sips"
		h.Address.UriParams = nil
	}
	return h
}

// forkDialog is the dialog, early or confirmed, that res to f's INVITE
// makes.
func (c *calls) forkDialog(f *fork, res *sipmsg.Response) *dialog {
	return uacDialog(f.inv, res, f.transport, f.peer, c.contactFor(f.inv.Recipient, f.transport, peerAddr(f.peer)))
}

// route sets where a request we send goes: always the peer's address, never
// the host of a Contact (see Binding), and over UDP from our listening
// socket, so that a phone behind NAT gets it through the mapping its own
// requests opened.
func (c *calls) route(req *sipmsg.Request, transport, peer string) {
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(peer)
	if strings.EqualFold(transport, "UDP") {
		addr := peerAddr(peer)
		listener, _ := c.local(addr)
		if listener.IsValid() {
			req.Laddr = sipmsg.Addr{IP: net.IP(listener.Addr().AsSlice()), Port: int(listener.Port())}
		}
	}
}

// peerAddr is the address of host:port, or the zero address for a name.
func peerAddr(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ap.Addr()
}

// newCallID makes a call's id in the seed's form: 16 hex digits, the Unix
// time and a random number (16214d90008034a8.1437727808.225341).
func newCallID() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("%016x.%d.%06d", binary.BigEndian.Uint64(b[:8]), time.Now().Unix(), binary.BigEndian.Uint32(b[8:])%1_000_000)
}

// newTag makes a From/To tag or a Call-ID part.
func newTag() string { return rand.Text()[:16] }
