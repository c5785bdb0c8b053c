package sip

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"
)

// startWebSocket runs the server's WebSocket handler on an HTTP server of
// its own on 127.0.0.1.
func startWebSocket(t *testing.T, ts *testServer, opts WebSocketOptions) string {
	t.Helper()
	h, err := ts.WebSocket(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

// wsPhone is a browser's SIP over WebSocket as the tests drive it: text
// frames, one SIP message each.
type wsPhone struct {
	t      *testing.T
	conn   net.Conn
	name   string
	cseq   uint32
	nc     int
	callID string
}

// dialWS opens a connection with the sip subprotocol and, unless empty,
// an Origin.
func dialWS(ctx context.Context, url, origin string, protocols ...string) (net.Conn, error) {
	if protocols == nil {
		protocols = []string{"sip"}
	}
	d := ws.Dialer{Protocols: protocols, Timeout: 5 * time.Second}
	if origin != "" {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Origin": {origin}})
	}
	conn, _, _, err := d.Dial(ctx, url)
	return conn, err
}

func newWSPhone(t *testing.T, url, name string) *wsPhone {
	t.Helper()
	conn, err := dialWS(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Each connection is a new UA with a Call-ID of its own, as a page's
	// is: a REGISTER reusing another connection's Call-ID and CSeq would be
	// refused (400) while that connection's binding is still being dropped.
	return &wsPhone{t: t, conn: conn, name: name, callID: "ws-" + name + "-" + sipmsg.GenerateTagN(8)}
}

func (p *wsPhone) write(msg string) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientText(p.conn, []byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// read returns the next SIP message from the server, answering its pings.
func (p *wsPhone) read() (sipmsg.Message, error) {
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, err := wsutil.ReadServerText(p.conn)
	if err != nil {
		return nil, err
	}
	return sipmsg.ParseMessage(data)
}

// register sends a REGISTER with the browser's Contact, answers the
// challenge with password, and returns the final response.
func (p *wsPhone) register(password string, expires int) *sipmsg.Response {
	p.t.Helper()
	callID := p.callID
	req := func(auth string) string {
		p.cseq++
		var b strings.Builder
		b.WriteString("REGISTER sip:" + testRealm + " SIP/2.0\r\n")
		b.WriteString("Via: SIP/2.0/WS k3j4h5g6.invalid;branch=z9hG4bK" + sipmsg.GenerateTagN(10) + "\r\n")
		b.WriteString("Max-Forwards: 69\r\n")
		b.WriteString("To: <sip:" + p.name + "@" + testRealm + ">\r\n")
		b.WriteString("From: <sip:" + p.name + "@" + testRealm + ">;tag=" + p.name + "tag\r\n")
		b.WriteString("Call-ID: " + callID + "\r\n")
		b.WriteString("CSeq: " + strconv.Itoa(int(p.cseq)) + " REGISTER\r\n")
		b.WriteString("Contact: <sip:" + p.name + "x@k3j4h5g6.invalid;transport=ws>;+sip.ice;expires=" + strconv.Itoa(expires) + "\r\n")
		if auth != "" {
			b.WriteString("Authorization: " + auth + "\r\n")
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return b.String()
	}
	p.write(req(""))
	res := p.response()
	if res.StatusCode != 401 {
		return res
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		if c, err := digest.ParseChallenge(h.Value()); err == nil && c.Algorithm == "MD5" {
			chal = c
		}
	}
	if chal == nil {
		p.t.Fatalf("no MD5 challenge in\n%s", res)
	}
	p.nc++
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + testRealm, Username: p.name, Password: password, Count: p.nc})
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(req(cred.String()))
	return p.response()
}

// response reads until a final response.
func (p *wsPhone) response() *sipmsg.Response {
	p.t.Helper()
	for {
		msg, err := p.read()
		if err != nil {
			p.t.Fatalf("read: %v", err)
		}
		if res, ok := msg.(*sipmsg.Response); ok && !res.IsProvisional() {
			return res
		}
	}
}

func TestWebSocketUpgradeChecks(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{Origins: []string{"https://portal.example.com"}})
	self := startWebSocket(t, startServer(t, Options{}), WebSocketOptions{})
	selfOrigin := "http" + strings.TrimSuffix(strings.TrimPrefix(self, "ws"), "/ws")
	for _, tc := range []struct {
		name, url, origin string
		protocols         []string
		status            int // 0: the connection opens
	}{
		{name: "allowed origin", url: url, origin: "https://portal.example.com"},
		{name: "no origin: not a page", url: url},
		{name: "another origin", url: url, origin: "https://evil.example.net", status: 403},
		{name: "same host by default", url: self, origin: selfOrigin},
		{name: "another host by default", url: self, origin: "http://evil.example.net", status: 403},
		{name: "no sip subprotocol", url: url, protocols: []string{"chat"}, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := dialWS(context.Background(), tc.url, tc.origin, tc.protocols...)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.Close()
				return
			}
			var status ws.StatusError
			if !errors.As(err, &status) || int(status) != tc.status {
				t.Fatalf("got %v, want HTTP %d", err, tc.status)
			}
		})
	}
	// A plain GET is told to upgrade, in JSON.
	res, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUpgradeRequired || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("plain GET: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
}

func TestWebSocketConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{MaxPerAddress: 2})
	first := newWSPhone(t, url, "alice")
	newWSPhone(t, url, "bob")
	_, err := dialWS(context.Background(), url, "")
	var status ws.StatusError
	if !errors.As(err, &status) || status != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v, want HTTP 429", err)
	}
	// A connection that closes frees its place.
	first.conn.Close()
	waitFor(t, "a free place", func() bool {
		conn, err := dialWS(context.Background(), url, "")
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func TestWebSocketBindingsGoWithTheConnection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{})
	alice := newWSPhone(t, url, "alice")
	wantStatus(t, alice.register("secret", 600), 200)
	// Over UDP too, which stays.
	udp := newPhone(t, ts.addr, "UDP", "alice", "secret")
	wantStatus(t, udp.register(600, "<sip:alice@192.0.2.7:5060>"), 200)
	bs := ts.Registrar().Bindings(testRealm, "alice")
	slices.SortFunc(bs, func(a, b Binding) int { return strings.Compare(a.Transport, b.Transport) })
	if len(bs) != 2 || bs[0].Transport != "UDP" || bs[1].Transport != "WS" || !strings.Contains(bs[1].Contact, ".invalid") {
		t.Fatalf("bindings %+v", bs)
	}
	alice.conn.Close()
	waitFor(t, "the WebSocket binding to go", func() bool { return len(ts.Registrar().Bindings(testRealm, "alice")) == 1 })
	if bs := ts.Registrar().Bindings(testRealm, "alice"); bs[0].Transport != "UDP" {
		t.Fatalf("left %+v", bs)
	}
}

func TestWebSocketMalformedInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{})
	for _, tc := range []struct {
		name   string
		send   func(conn net.Conn) error
		answer int // 0: dropped
		// closes: the server closes the connection, saying why with this
		// status (RFC 6455 section 7.4.1).
		closes ws.StatusCode
	}{
		{"not SIP", func(c net.Conn) error { return wsutil.WriteClientText(c, []byte("hello\r\n\r\n")) }, 0, 0},
		{"a request without its headers", func(c net.Conn) error {
			return wsutil.WriteClientText(c, []byte("REGISTER sip:vox.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid\r\n\r\n"))
		}, 400, 0},
		{"binary", func(c net.Conn) error { return wsutil.WriteClientText(c, []byte("\x00\x01\xff REGISTER\r\n\r\n")) }, 0, 0},
		// RFC 6455 section 5.1: a client masks its frames, and a server
		// closes the connection on one that is not.
		{"an unmasked frame", func(c net.Conn) error { return ws.WriteFrame(c, ws.NewTextFrame([]byte("OPTIONS"))) }, 0, ws.StatusProtocolError},
		// Compressed, without permessage-deflate negotiated.
		{"a reserved bit", func(c net.Conn) error {
			f := ws.NewTextFrame([]byte("OPTIONS"))
			f.Header.Rsv = ws.Rsv(true, false, false)
			return ws.WriteFrame(c, ws.MaskFrameInPlace(f))
		}, 0, ws.StatusProtocolError},
		{"a message over 64 KiB", func(c net.Conn) error {
			return wsutil.WriteClientText(c, bytes.Repeat([]byte("x"), 70000))
		}, 0, ws.StatusMessageTooBig},
		{"a continuation without a start", func(c net.Conn) error {
			return ws.WriteFrame(c, ws.MaskFrameInPlace(ws.NewFrame(ws.OpContinuation, true, []byte("OPTIONS"))))
		}, 0, ws.StatusProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newWSPhone(t, url, "alice")
			wantStatus(t, p.register("secret", 600), 200)
			if err := tc.send(p.conn); err != nil {
				t.Fatal(err)
			}
			if tc.closes != 0 {
				// Frames are read as they come: a client library would
				// answer the close, on a connection already closed.
				p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					h, err := ws.ReadHeader(p.conn)
					if err != nil {
						t.Fatalf("the server closed the connection without a close frame of %d: %v", tc.closes, err)
					}
					payload := make([]byte, h.Length)
					if _, err := io.ReadFull(p.conn, payload); err != nil {
						t.Fatal(err)
					}
					if h.OpCode != ws.OpClose {
						continue
					}
					if code, why := ws.ParseCloseFrameData(payload); code != tc.closes || why == "" {
						t.Fatalf("the server closed with %d %q, want %d and why", code, why, tc.closes)
					}
					return
				}
			}
			if tc.answer != 0 {
				wantStatus(t, p.response(), tc.answer)
			}
			// The connection, with the registration made over it, stays.
			wantStatus(t, p.register("secret", 600), 200)
		})
	}
	// The server goes on.
	p := newWSPhone(t, url, "bob")
	wantStatus(t, p.register("hunter2", 600), 200)
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		if len(line) > 600 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

func TestWebSocketKeepAlive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{PingInterval: 50 * time.Millisecond})

	// A browser that answers the pings stays: a ping comes, and after it
	// the REGISTER is answered on the same connection.
	live := newWSPhone(t, url, "alice")
	live.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(live.conn)
	if err != nil || h.OpCode != ws.OpPing || h.Length != 0 {
		t.Fatalf("first frame %+v, %v; want an empty ping", h, err)
	}
	if err := wsutil.WriteClientMessage(live.conn, ws.OpPong, nil); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, live.register("secret", 600), 200)

	// One that registers and then answers nothing is closed, and its
	// binding goes.
	silent := newWSPhone(t, url, "bob")
	wantStatus(t, silent.register("hunter2", 600), 200)
	silent.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := silent.conn.Read(make([]byte, 64)); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server did not close a connection that answered no ping")
			}
			break
		}
	}
	waitFor(t, "bob's binding to go", func() bool { return len(ts.Registrar().Bindings(testRealm, "bob")) == 0 })
}

func TestFrameLen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		frame []byte
		want  int
	}{
		{"empty", nil, 0},
		{"half a header", []byte{0x81}, 0},
		{"short payload", []byte{0x81, 5}, 7},
		{"ping", pingFrame, 2},
		{"16-bit length, header incomplete", []byte{0x81, 126, 1}, 0},
		{"16-bit length", []byte{0x81, 126, 1, 0}, 4 + 256},
		{"64-bit length", []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10 + 65536},
		{"masked", []byte{0x81, 0x85, 1, 2, 3, 4}, 2 + 4 + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := frameLen(tc.frame); got != tc.want {
				t.Errorf("frameLen(% x) = %d, want %d", tc.frame, got, tc.want)
			}
		})
	}
}

// A browser's own ping, with a payload (Firefox pings its WebSocket
// connections when the network changes), is answered with a pong carrying
// it, and what follows is read as it was sent: sipgo's reader skips a
// control frame's header without its payload and would read the payload as
// the next frame.
func TestWebSocketBrowserPing(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{})
	p := newWSPhone(t, url, "alice")
	payload := []byte("are you there?")
	if err := wsutil.WriteClientMessage(p.conn, ws.OpPing, payload); err != nil {
		t.Fatal(err)
	}
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(p.conn)
	if err != nil || h.OpCode != ws.OpPong || h.Length != int64(len(payload)) || h.Masked {
		t.Fatalf("the answer to a ping: %+v, %v; want an unmasked pong of %d bytes", h, err, len(payload))
	}
	got := make([]byte, h.Length)
	if _, err := io.ReadFull(p.conn, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("the pong says %q, %v; want %q", got, err, payload)
	}
	// A pong nobody asked for is ignored too.
	if err := wsutil.WriteClientMessage(p.conn, ws.OpPong, []byte("unsolicited")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, p.register("secret", 600), 200)
}

// A control frame due while sipgo has written half a frame goes after that
// frame, not inside it.
func TestWebSocketControlBetweenFrames(t *testing.T) {
	t.Parallel()
	ours, theirs := net.Pipe()
	defer theirs.Close()
	c := &wsConn{Conn: ours, upgraded: true, closed: make(chan struct{})}
	frame := []byte{0x81, 5, 'h', 'e', 'l', 'l', 'o'}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(frame)+len(pingFrame))
		_, err := io.ReadFull(theirs, b)
		if err != nil {
			b = nil
		}
		got <- b
	}()
	if _, err := c.Write(frame[:3]); err != nil {
		t.Fatal(err)
	}
	if err := c.control(pingFrame, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame[3:]); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(frame), pingFrame...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read % x, want % x", b, want)
	}
}

// RFC 7118 carries a SIP message in one WebSocket message, text or binary,
// which a client may send in fragments: each is answered as a whole, with a
// ping between fragments answered too.
func TestWebSocketBinaryAndFragmentedMessages(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Options{})
	url := startWebSocket(t, ts, WebSocketOptions{})
	p := newWSPhone(t, url, "alice")
	register := func(cseq int) []byte {
		return []byte("REGISTER sip:" + testRealm + " SIP/2.0\r\n" +
			"Via: SIP/2.0/WS k3j4h5g6.invalid;branch=z9hG4bK" + sipmsg.GenerateTagN(10) + "\r\n" +
			"Max-Forwards: 69\r\nTo: <sip:alice@" + testRealm + ">\r\nFrom: <sip:alice@" + testRealm + ">;tag=a1\r\n" +
			"Call-ID: " + p.callID + "\r\nCSeq: " + strconv.Itoa(cseq) + " REGISTER\r\n" +
			"Contact: <sip:ax@k3j4h5g6.invalid;transport=ws>\r\nContent-Length: 0\r\n\r\n")
	}
	send := func(frames ...ws.Frame) {
		t.Helper()
		p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for _, fr := range frames {
			if err := ws.WriteFrame(p.conn, ws.MaskFrameInPlace(fr)); err != nil {
				t.Fatal(err)
			}
		}
	}
	challenged := func(what string, cseq int) {
		t.Helper()
		res := p.response()
		if res.StatusCode != 401 || res.CSeq().SeqNo != uint32(cseq) {
			t.Fatalf("%s: %d for CSeq %d, want the challenge of CSeq %d", what, res.StatusCode, res.CSeq().SeqNo, cseq)
		}
	}

	send(ws.NewBinaryFrame(register(1)))
	challenged("a REGISTER in a binary frame", 1)

	msg := register(2)
	send(ws.NewFrame(ws.OpText, false, msg[:40]),
		ws.NewPingFrame([]byte("between")),
		ws.NewFrame(ws.OpContinuation, false, msg[40:100]),
		ws.NewFrame(ws.OpContinuation, true, msg[100:]))
	challenged("a REGISTER in three fragments", 2)
}

// Whatever a client sends, sipgo reads whole frames from clientFrames: each
// masked, final, text or close, and no larger than a message may be.
func FuzzClientFrames(f *testing.F) {
	frame := func(fr ws.Frame) []byte {
		b, err := ws.CompileFrame(ws.MaskFrameInPlace(fr))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(frame(ws.NewTextFrame([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n"))))
	f.Add(append(frame(ws.NewFrame(ws.OpBinary, false, []byte("OPT"))), frame(ws.NewFrame(ws.OpContinuation, true, []byte("IONS")))...))
	f.Add(append(frame(ws.NewPingFrame([]byte("PING"))), frame(ws.NewCloseFrame(nil))...))
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Not upgraded: the pongs go nowhere.
		cf := &clientFrames{c: &wsConn{}, src: bytes.NewReader(data)}
		out, _ := io.ReadAll(cf)
		r := bytes.NewReader(out)
		for r.Len() > 0 {
			h, err := ws.ReadHeader(r)
			if err != nil {
				t.Fatalf("sipgo would read a broken header: %v", err)
			}
			if !h.Fin || !h.Masked || h.Rsv != 0 || (h.OpCode != ws.OpText && h.OpCode != ws.OpClose) || h.Length > maxWSMessage {
				t.Fatalf("sipgo would read %+v", h)
			}
			if h.Length > int64(r.Len()) {
				t.Fatalf("a frame of %d bytes with %d left", h.Length, r.Len())
			}
			r.Seek(h.Length, io.SeekCurrent)
		}
	})
}
