package sip

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Whatever bytes arrive in a datagram, the server neither panics nor stays
// silent to a request it could read, and its answer is bounded: the bytes go
// through sipgo's parser and transactions into our handlers, as from the
// network, over an in-memory socket.
func FuzzServe(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "torture", "*", "*.dat"))
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(options("fuzz-seed", "UDP 127.0.0.1:5099")))
	f.Add([]byte("REGISTER sip:vox.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-r;rport\r\n" +
		"From: <sip:alice@vox.test>;tag=r\r\nTo: <sip:alice@vox.test>\r\nCall-ID: r\r\nCSeq: 2 REGISTER\r\n" +
		"Contact: <sip:alice@10.0.0.1:5060>;expires=600, <sip:alice@10.0.0.2>\r\nExpires: 3600\r\nMax-Forwards: 70\r\n" +
		`Authorization: Digest username="alice", realm="vox.test", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ` +
		`uri="sip:vox.test", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="c", qop=auth, nc=00000001` +
		"\r\nContent-Length: 0\r\n\r\n"))

	parser := sipmsg.NewParser()
	dir := newMemDirectory(NewUser("acme", "alice", testRealm, "secret"))
	f.Fuzz(func(t *testing.T, packet []byte) {
		// A server per input: one input's transaction must not answer the
		// next, which the fuzzer makes from it, branch and all.
		conn := newMemPacketConn()
		panics := &panicWatch{}
		srv, err := NewServer(Options{Directory: dir, Realm: testRealm, Log: slog.New(panics)})
		if err != nil {
			t.Fatal(err)
		}
		parser.MaxMessageLength = srv.opts.MaxMessageSize
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.sip.ServeUDP(conn)
		}()
		defer func() {
			conn.Close()
			<-served
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		}()

		conn.deliver(packet)
		if panics.seen.Load() {
			t.Fatalf("a handler panicked on %q", packet)
		}
		msg, err := parser.ParseSIP(packet)
		req, ok := msg.(*sipmsg.Request)
		if err != nil || !ok || req.IsAck() || !hasSIPVersion(packet) {
			return // dropped, or no answer due
		}
		// A request sipgo reads gets an answer: from a handler, or sipgo's
		// 400 when it can make no transaction of it.
		res, ok := conn.answer(5 * time.Second)
		if !ok {
			t.Fatalf("no answer to %q", packet)
		}
		// An answer echoes the sender's Via, From, To, Call-ID and CSeq as
		// they came, readable or not; what is ours is a status line in
		// SIP/2.0 (sipgo's own 400 to a request it can make no transaction
		// of repeats the request's version) and a bounded size.
		if len(res) > len(packet)+2048 {
			t.Fatalf("an answer of %d bytes to %d bytes", len(res), len(packet))
		}
		version := "SIP/2.0"
		if _, err := sipmsg.ServerTxKeyMake(req); err != nil {
			version = req.SipVersion
		}
		if !statusLine.Match(res) || !strings.HasPrefix(string(res), version+" ") {
			t.Fatalf("answered %.80q", res)
		}
		if panics.seen.Load() {
			t.Fatalf("a handler panicked on %q", packet)
		}
	})
}

var statusLine = regexp.MustCompile(`^SIP/[0-9]+\.[0-9]+ ([1-6][0-9][0-9]) [^\r\n]*\r\n`)

// panicWatch is a log handler that notes a recovered handler panic and
// drops every line: the fuzzer sends a lot of bad input.
type panicWatch struct{ seen atomic.Bool }

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		p.seen.Store(true)
	}
	return nil
}
func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicWatch) WithGroup(string) slog.Handler      { return p }

// memPacketConn is a UDP socket in memory: deliver hands a datagram to the
// server's read loop and returns once the loop asks for the next one, that
// is, once the datagram is filtered and parsed; what the server writes is
// kept for answer.
type memPacketConn struct {
	handed bool // a datagram went to the read loop; only the loop touches it
	in     chan []byte
	ready  chan struct{}
	out    chan []byte
	closed chan struct{}
	local  *net.UDPAddr
	remote *net.UDPAddr
}

func newMemPacketConn() *memPacketConn {
	return &memPacketConn{
		in: make(chan []byte), ready: make(chan struct{}), out: make(chan []byte, 1024),
		closed: make(chan struct{}),
		local:  &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060},
		remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099},
	}
}

func (c *memPacketConn) deliver(packet []byte) {
	c.in <- packet
	<-c.ready
}

// answer is the first final answer written, if one comes within wait; the
// server is the input's alone, so it is the input's.
func (c *memPacketConn) answer(wait time.Duration) ([]byte, bool) {
	deadline := time.After(wait)
	for {
		select {
		case res := <-c.out:
			if m := statusLine.FindSubmatch(res); m != nil && m[1][0] == '1' {
				continue
			}
			return res, true
		case <-deadline:
			return nil, false
		}
	}
}

func (c *memPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.handed {
		c.handed = false
		select {
		case c.ready <- struct{}{}:
		case <-c.closed:
			return 0, nil, net.ErrClosed
		}
	}
	select {
	case p := <-c.in:
		c.handed = true
		return copy(b, p), c.remote, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *memPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case c.out <- append([]byte(nil), b...):
	default: // nobody reads: a retransmission of an old answer
	}
	return len(b), nil
}

func (c *memPacketConn) Close() error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
		close(c.closed)
	}
	return nil
}

func (c *memPacketConn) LocalAddr() net.Addr              { return c.local }
func (c *memPacketConn) SetDeadline(time.Time) error      { return nil }
func (c *memPacketConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memPacketConn) SetWriteDeadline(time.Time) error { return nil }

// Whatever Contact and Expires a REGISTER carries, the registrar reads
// bindings with expiries a uint32 of seconds can hold, or refuses them with a
// reason; a wildcard comes alone.
func FuzzContacts(f *testing.F) {
	f.Add("<sip:alice@10.0.0.1:5060;transport=udp>;expires=3600", "60")
	f.Add("*", "0")
	f.Add(`"Alice" <sip:alice@[2001:db8::1]>;+sip.instance="<urn:uuid:1>";  expires = 30 , <sip:alice@10.0.0.2>`, "")
	f.Add("sip:alice@10.0.0.1?Route=%3Csip:x%3E", "10")
	f.Add("<tel:+74951234567>", "-1")
	r := &Registrar{opts: &Options{DefaultExpires: time.Hour, MaxBindings: 10}}
	parser := sipmsg.NewParser()
	f.Fuzz(func(t *testing.T, contact, expires string) {
		raw := "REGISTER sip:vox.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-f\r\n" +
			"From: <sip:alice@vox.test>;tag=f\r\nTo: <sip:alice@vox.test>\r\nCall-ID: f\r\nCSeq: 1 REGISTER\r\n" +
			"Contact: " + contact + "\r\n"
		if expires != "" {
			raw += "Expires: " + expires + "\r\n"
		}
		msg, err := parser.ParseSIP([]byte(raw + "Content-Length: 0\r\n\r\n"))
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok {
			t.Fatalf("a request read as %T", msg)
		}
		cs, wildcard, err := r.contacts(req)
		switch {
		case err != nil:
			if cs != nil || wildcard || err.Error() == "" {
				t.Fatalf("refused with %v, %v, %q", cs, wildcard, err)
			}
		case wildcard:
			if len(cs) != 0 || len(req.GetHeaders("Contact")) != 1 {
				t.Fatalf("a wildcard with %d contacts", len(req.GetHeaders("Contact")))
			}
		default:
			if len(cs) > r.opts.MaxBindings {
				t.Fatalf("%d contacts", len(cs))
			}
			for _, c := range cs {
				if c.expires < 0 || c.expires > (1<<32-1)*time.Second || c.key == "" || len(c.uri.Headers) > 0 {
					t.Fatalf("contact %+v from %q", c, contact)
				}
			}
		}
	})
}

// FuzzParseReplaces: whatever a REFER's Refer-To carries as Replaces, it is
// read without a panic, and what is read, escaped again, reads the same.
func FuzzParseReplaces(f *testing.F) {
	f.Add("abc%3Bto-tag%3D1%3Bfrom-tag%3D2")
	f.Add("5e1%40host%3Bfrom-tag%3Dx%3Bto-tag%3Dy%3Bearly-only")
	f.Add("%zz")
	f.Add(";to-tag=;from-tag=")
	escape := strings.NewReplacer("%", "%25", ";", "%3B", "=", "%3D")
	f.Fuzz(func(t *testing.T, escaped string) {
		callID, tags, ok := parseReplaces(escaped)
		if !ok {
			return
		}
		if callID == "" || tags[0] == "" || tags[1] == "" {
			t.Fatalf("%q read as %q %q without a part", escaped, callID, tags)
		}
		if strings.ContainsAny(callID+tags[0]+tags[1], ";") {
			return // a part with ';' in it cannot be written back unambiguously
		}
		again := escape.Replace(callID) + "%3Bto-tag%3D" + escape.Replace(tags[0]) + "%3Bfrom-tag%3D" + escape.Replace(tags[1])
		c2, t2, ok2 := parseReplaces(again)
		if !ok2 || c2 != callID || t2 != tags {
			t.Fatalf("%q read as %q %q, written back as %q, read as %q %q", escaped, callID, tags, again, c2, t2)
		}
	})
}
