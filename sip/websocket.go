package sip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// SIP over WebSocket (RFC 7118) for browsers, on the HTTP listener: the
// handler checks the upgrade request (origin, protocol, connections per
// address), takes the connection from net/http, and hands it to sipgo's WS
// transport, so that its requests meet the same registrar, digest
// authentication, bans, limits and dialogs as UDP and TCP.
//
// sipgo accepts WebSocket connections only from a net.Listener, and does the
// handshake itself (TransportWS.Serve); it has no way to adopt a connection
// upgraded elsewhere. So the handler feeds a listener of its own (wsListener)
// with the hijacked connection, and that connection replays to sipgo the
// upgrade request the handler checked (wsConn): sipgo answers it with 101 and
// reads SIP from then on.

// WebSocketOptions configure SIP over WebSocket; the zero value is the
// default written next to each field.
type WebSocketOptions struct {
	// Origins are the pages allowed to connect, as browsers send Origin
	// ("https://portal.example.com"). Empty: only pages of the HTTP
	// listener's own host (the request's Host), which is where /phone is
	// served. A client that sends no Origin is not a browser page, and
	// cross-site use, which the check is against, cannot happen from it.
	Origins []string
	// MaxPerAddress is how many WebSocket connections one source (an IPv4
	// address, an IPv6 /64) may hold at once (default 16: an office
	// behind one address).
	MaxPerAddress int
	// PingInterval is how often a ping goes to each browser (default 30 s);
	// a connection that brings nothing, not even the pong, for three
	// intervals is closed, and its bindings go with it.
	PingInterval time.Duration
}

// webSocket is the server's WebSocket side: the listener sipgo serves and
// the connections of each source.
type webSocket struct {
	srv      *Server
	opts     WebSocketOptions
	listener *wsListener

	mu    sync.Mutex
	conns map[netip.Prefix]int
}

// WebSocket starts SIP over WebSocket and returns its HTTP handler, which
// vox serve mounts at /ws. Call it once, after NewServer.
func (s *Server) WebSocket(opts WebSocketOptions) (http.Handler, error) {
	setDefault(&opts.MaxPerAddress, 16)
	setDefault(&opts.PingInterval, 30*time.Second)
	opts.Origins = slices.Clone(opts.Origins)
	for i, o := range opts.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("sip: WebSocket origin %q is not scheme://host[:port]", o)
		}
		opts.Origins[i] = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errors.New("sip: server is shut down")
	}
	if s.ws != nil {
		return nil, errors.New("sip: WebSocket is started already")
	}
	w := &webSocket{srv: s, opts: opts, listener: newWSListener(), conns: make(map[netip.Prefix]int)}
	s.ws = w
	s.listeners = append(s.listeners, w.listener.Close)
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		s.sip.ServeWS(w.listener)
	}()
	return w, nil
}

// ServeHTTP checks an upgrade to SIP over WebSocket and hands the connection
// to sipgo. What is refused gets an HTTP error in JSON.
func (w *webSocket) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if code, errCode, msg := w.check(r); code != 0 {
		w.srv.badLog.Warn("sip: WebSocket refused", "remote", r.RemoteAddr, "code", code, "why", msg)
		if code == http.StatusUpgradeRequired {
			rw.Header().Set("Upgrade", "websocket")
			rw.Header().Set("Sec-WebSocket-Version", "13")
		}
		httpError(rw, code, errCode, msg)
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		httpError(rw, http.StatusBadRequest, "bad_request", "no remote address")
		return
	}
	src := sourceOf(remote.Addr())
	if !w.take(src) {
		w.srv.badLog.Warn("sip: WebSocket refused", "source", src.String(), "why", "too many connections")
		httpError(rw, http.StatusTooManyRequests, "too_many_connections",
			fmt.Sprintf("at most %d WebSocket connections from one address", w.opts.MaxPerAddress))
		return
	}
	conn, buffered, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		w.release(src)
		httpError(rw, http.StatusInternalServerError, "internal", "the connection cannot be taken over: "+err.Error())
		return
	}
	// What the client sent after its request; a browser waits for the 101,
	// so this is empty in practice.
	rest, _ := buffered.Reader.Peek(buffered.Reader.Buffered())
	c := &wsConn{
		Conn:   conn,
		idle:   3 * w.opts.PingInterval,
		closed: make(chan struct{}),
	}
	c.in = io.MultiReader(bytes.NewReader(replay(r)), &clientFrames{c: c, src: io.MultiReader(bytes.NewReader(bytes.Clone(rest)), conn)})
	c.onClose = func() {
		w.release(src)
		w.srv.connectionClosed("WS", remote)
	}
	if !w.listener.push(c) {
		c.Close()
		return
	}
	go c.keepAlive(w.opts.PingInterval)
}

// check says why an upgrade request is refused: HTTP code, error code and
// message; code 0 when it is fine.
func (w *webSocket) check(r *http.Request) (int, string, string) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "method_not_allowed", "SIP over WebSocket starts with GET"
	case !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket"):
		return http.StatusUpgradeRequired, "upgrade_required", "this is SIP over WebSocket: connect with a WebSocket client and the sip subprotocol"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "upgrade_required", "WebSocket version 13 only"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, "bad_request", "no Sec-WebSocket-Key"
	case !headerHas(r.Header, "Sec-WebSocket-Protocol", "sip"):
		// RFC 7118 section 4.1: the client offers "sip".
		return http.StatusBadRequest, "bad_request", `the sip subprotocol (RFC 7118) is not offered`
	}
	if origin := r.Header.Get("Origin"); origin != "" && !w.allowed(origin, r.Host) {
		return http.StatusForbidden, "origin_refused", "pages of " + trimForLog(origin) + " may not connect"
	}
	return 0, "", ""
}

// allowed says whether a page of origin may connect to host.
func (w *webSocket) allowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(w.opts.Origins) == 0 {
		return strings.EqualFold(u.Host, host)
	}
	return slices.Contains(w.opts.Origins, strings.ToLower(u.Scheme+"://"+u.Host))
}

// headerHas says whether a comma-separated header lists token, case-blind.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// take counts a connection of src; false when it has its maximum.
func (w *webSocket) take(src netip.Prefix) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns[src] >= w.opts.MaxPerAddress {
		return false
	}
	w.conns[src]++
	return true
}

func (w *webSocket) release(src netip.Prefix) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns[src]--; w.conns[src] <= 0 {
		delete(w.conns, src)
	}
}

// replay is the upgrade request as sipgo's handshake reads it: only what the
// handshake needs, and "sip" alone as the protocol, which sipgo answers.
func replay(r *http.Request) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", r.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n", r.Header.Get("Sec-WebSocket-Key"))
	return b.Bytes()
}

// httpError writes the JSON error every HTTP error of Vox is.
func httpError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

// connectionClosed forgets what lived on a connection that closed: a
// browser's bindings cannot be reached any more, and its calls are over.
func (s *Server) connectionClosed(transport string, remote netip.AddrPort) {
	s.reg.dropConnection(transport, remote)
	if s.calls != nil {
		s.calls.connectionClosed(transport, remote.String())
	}
}

// wsListener is the net.Listener sipgo's WS transport serves: the handler
// pushes the connections it took over.
type wsListener struct {
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newWSListener() *wsListener {
	return &wsListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to sipgo; false once the listener is closed.
func (l *wsListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *wsListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is what sipgo records as the WS listening port, which only a
// Record-Route would carry; Vox adds none.
func (l *wsListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// wsConn is a connection taken over from net/http, as sipgo's WS transport
// sees it: reads start with the replayed upgrade request, then the client's
// frames without its control frames (clientFrames); every read pushes the
// idle deadline on; writes go out a whole frame at a time, so that our
// control frames (pings, pongs) never land inside one of sipgo's frames
// (sipgo writes a frame's header and payload with two writes).
type wsConn struct {
	net.Conn
	in   io.Reader
	idle time.Duration

	writeMu   sync.Mutex
	upgraded  bool   // sipgo's 101 went: what follows are frames
	pending   []byte // the part of a frame written so far
	queued    []byte // control frames to send once pending is whole
	closeOnce sync.Once
	closed    chan struct{}
	onClose   func()
}

// clientFrames are the client's frames after its upgrade request, as
// sipgo reads them: each SIP message as one text frame, its pings answered
// here with their pong and left out, as pongs are. sipgo's reader skips a
// control frame's header but not its payload, so a ping with a payload
// (Firefox pings with one when the network changes) made it read the
// payload as the next frame's header and close the connection; and it
// drops binary frames and continuation frames, which RFC 7118 allows a
// client to carry SIP in.
type clientFrames struct {
	c    *wsConn
	src  io.Reader
	out  []byte // the next message as sipgo reads it, not yet passed on
	msg  []byte // the fragments of a message gathered so far
	frag bool   // a fragmented message is being gathered
}

// maxWSMessage bounds a message the client sends, whole or in fragments:
// sipgo's own bound on a frame.
const maxWSMessage = 65535

var (
	errWSTooLarge  = errors.New("websocket: a message of more than 64 KiB")
	errWSFragments = errors.New("websocket: fragments out of order")
)

func (f *clientFrames) Read(b []byte) (int, error) {
	for len(f.out) == 0 {
		if err := f.next(); err != nil {
			f.refuse(err)
			return 0, err
		}
	}
	n := copy(b, f.out)
	f.out = f.out[n:]
	return n, nil
}

// next reads one frame: a ping is answered, a fragment gathered, and a
// message that is whole, or a close, made what sipgo reads next.
func (f *clientFrames) next() error {
	h, err := ws.ReadHeader(f.src)
	if err != nil {
		return err
	}
	switch {
	case !h.Masked:
		// A client masks its frames (RFC 6455 section 5.1).
		return ws.ErrProtocolMaskRequired
	case h.Rsv != 0:
		// No extension is negotiated (permessage-deflate would set one).
		return ws.ErrProtocolNonZeroRsv
	case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
		return ws.ErrProtocolControlPayloadOverflow
	}
	if h.Length > maxWSMessage-int64(len(f.msg)) {
		return errWSTooLarge
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(f.src, payload); err != nil {
		return err
	}
	ws.Cipher(payload, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		pong, err := ws.CompileFrame(ws.NewPongFrame(payload))
		if err != nil {
			return err
		}
		// A pong that cannot be written leaves the connection to fail
		// its next read or write.
		f.c.control(pong, f.c.idle)
		return nil
	case ws.OpPong:
		return nil
	case ws.OpClose:
		f.out = sipgoFrame(ws.OpClose, payload)
		return nil
	case ws.OpText, ws.OpBinary:
		if f.frag {
			return errWSFragments
		}
	case ws.OpContinuation:
		if !f.frag {
			return errWSFragments
		}
	default:
		return ws.ErrProtocolOpCodeReserved
	}
	f.msg = append(f.msg, payload...)
	if f.frag = !h.Fin; f.frag {
		return nil
	}
	f.out, f.msg = sipgoFrame(ws.OpText, f.msg), nil
	return nil
}

// refuse tells the client why its connection closes, when it broke the
// protocol (RFC 6455 section 7.4.1: 1002, or 1009 for a message too large):
// sipgo closes it on the error without a word.
func (f *clientFrames) refuse(err error) {
	code := ws.StatusProtocolError
	switch {
	case errors.Is(err, errWSTooLarge):
		code = ws.StatusMessageTooBig
	case errors.Is(err, errWSFragments), errors.As(err, new(ws.ProtocolError)):
	default:
		return // the connection failed, or the client closed it
	}
	frame, cerr := ws.CompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, err.Error())))
	if cerr == nil {
		f.c.control(frame, time.Second)
	}
}

// sipgoFrame is a frame as sipgo reads a client's: masked, with a mask that
// leaves the payload as it is.
func sipgoFrame(op ws.OpCode, payload []byte) []byte {
	var b bytes.Buffer
	ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(payload))})
	b.Write(payload)
	return b.Bytes()
}

// Read reads what the peer sent; nothing for idle (not even a pong) closes
// the connection, as sipgo closes it on a read error.
func (c *wsConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.in.Read(b)
}

// SetDeadline and SetReadDeadline are sipgo's: only the write side is
// taken, reads keep the idle deadline.
func (c *wsConn) SetDeadline(t time.Time) error     { return c.Conn.SetWriteDeadline(t) }
func (c *wsConn) SetReadDeadline(t time.Time) error { return nil }

// Write takes the 101 of the handshake as it comes, then frames: they are
// gathered until whole and written at once.
func (c *wsConn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if !c.upgraded {
		c.pending = append(c.pending, b...)
		end := bytes.Index(c.pending, []byte("\r\n\r\n"))
		if end < 0 {
			return len(b), nil
		}
		c.upgraded = true
		head := c.pending[:end+4]
		c.pending = slices.Clone(c.pending[end+4:])
		if _, err := c.Conn.Write(head); err != nil {
			return 0, err
		}
	} else {
		c.pending = append(c.pending, b...)
	}
	for {
		n := frameLen(c.pending)
		if n == 0 || n > len(c.pending) {
			return len(b), nil
		}
		if _, err := c.Conn.Write(c.pending[:n]); err != nil {
			return 0, err
		}
		c.pending = c.pending[n:]
		if len(c.pending) == 0 && len(c.queued) > 0 {
			queued := c.queued
			c.queued = nil
			if _, err := c.Conn.Write(queued); err != nil {
				return 0, err
			}
		}
	}
}

// control sends a control frame between sipgo's frames: now, or once the
// frame sipgo is halfway through writing is whole.
func (c *wsConn) control(frame []byte, timeout time.Duration) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	switch {
	case !c.upgraded:
		return nil
	case len(c.pending) > 0:
		c.queued = append(c.queued, frame...)
		return nil
	}
	c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.Conn.Write(frame)
	c.Conn.SetWriteDeadline(time.Time{})
	return err
}

// frameLen is the length of the WebSocket frame at the start of b, header
// and payload (RFC 6455 section 5.2); 0 while its header is not all there.
func frameLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	head, size := 2, int(b[1]&0x7f)
	switch size {
	case 126:
		if len(b) < 4 {
			return 0
		}
		head, size = 4, int(b[2])<<8|int(b[3])
	case 127:
		if len(b) < 10 {
			return 0
		}
		head, size = 10, 0
		for _, x := range b[2:10] {
			size = size<<8 | int(x)
		}
	}
	if b[1]&0x80 != 0 {
		head += 4 // a client's mask; ours are not masked
	}
	return head + size
}

// pingFrame is a ping without payload: the browser's pong is as short.
var pingFrame = []byte{0x89, 0x00}

// keepAlive pings the browser every interval until the connection closes
// (RFC 6455 section 5.5.2); Read closes it when nothing comes back.
func (c *wsConn) keepAlive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		if err := c.control(pingFrame, interval); err != nil {
			c.Close()
			return
		}
	}
}

// Close closes the connection once and forgets what lived on it; sipgo
// closes it again when its read ends.
func (c *wsConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
		c.onClose()
	})
	return err
}
