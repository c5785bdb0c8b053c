package sip

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vox/media/rtp"
	"vox/runtime"
)

// hangupLauncher stands in for a session: it answers every call and hangs
// up once it is connected, on a goroutine of the call's own as a session
// would, so that a benchmark measures the SIP side of a call alone.
type hangupLauncher struct {
	// play starts the bench scenario's progress tone when the call is
	// connected, so that the call hangs up during a playback.
	play bool
}

func (h hangupLauncher) Launch(_ context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	l := cs.Incoming.Leg
	events := make(chan runtime.Event, 8)
	l.Attach(chanSink(events))
	go func() {
		ctx := context.Background()
		l.Answer(ctx, nil)
		for ev := range events {
			switch ev.Name {
			case runtime.EventConnected:
				if h.play {
					l.Play(ctx, runtime.Media{ToneScript: "425@-19;*(1/4/1)", Loop: true})
				}
				l.Hangup(ctx, 0, nil)
			case runtime.EventDisconnected:
				return
			}
		}
	}()
	return nil, nil
}

type chanSink chan runtime.Event

func (s chanSink) Post(ev runtime.Event) { s <- ev }

// BenchmarkInboundCall is one whole incoming call over loopback UDP, as the
// call-setup benchmark's SIPp makes it: INVITE, 407, ACK, INVITE with
// credentials, 100, 200 with SDP, ACK, then vox's BYE and its 200. The
// session is hangupLauncher; the phones are raw sockets, so that the
// figures are the server's and hardly the phones'.
func BenchmarkInboundCall(b *testing.B) {
	benchmarkCalls(b, hangupLauncher{})
}

// BenchmarkInboundCallPlaying is BenchmarkInboundCall with the call hung up
// while it plays a tone, as the call-setup benchmark's scenario does.
func BenchmarkInboundCallPlaying(b *testing.B) {
	benchmarkCalls(b, hangupLauncher{play: true})
}

func benchmarkCalls(b *testing.B, launcher hangupLauncher) {
	server := startRawCallServer(b, launcher)
	var phones atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		p, err := newRawPhone(server, int(phones.Add(1)))
		if err != nil {
			b.Error(err)
			return
		}
		defer p.conn.Close()
		for pb.Next() {
			if err := p.call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// The machine is shared: CPU time tells more than wall time.
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startRawCallServer runs a server taking calls into launcher, with the
// log of vox serve, and returns its address.
func startRawCallServer(tb testing.TB, launcher Launcher) *net.UDPAddr {
	tb.Helper()
	_, addr := startRawCallServerFor(tb, launcher)
	return addr
}

// startRawCallServerFor is startRawCallServer, with the server.
func startRawCallServerFor(tb testing.TB, launcher Launcher) (*Server, *net.UDPAddr) {
	tb.Helper()
	return startRawCallServerWith(tb, CallOptions{Launcher: launcher})
}

// startRawCallServerWith is startRawCallServerFor with more call options.
func startRawCallServerWith(tb testing.TB, opts CallOptions) (*Server, *net.UDPAddr) {
	tb.Helper()
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := NewServer(Options{
		Directory: newMemDirectory(NewUser("acme", "alice", testRealm, "secret")),
		Realm:     testRealm, RequestRate: -1,
		// Info lines formatted, as vox serve formats them, and dropped.
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	opts.Router = testRouter{}
	if opts.Ports == nil {
		opts.Ports = ports
	}
	if err := srv.EnableCalls(opts); err != nil {
		tb.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	server, err := net.ResolveUDPAddr("udp", addr.String())
	if err != nil {
		tb.Fatal(err)
	}
	return srv, server
}

// rawPhone is a SIP phone on a bare UDP socket that makes bench_call.xml's
// call and nothing else.
type rawPhone struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	id     string
	local  string
	n      int
	buf    []byte
	ha1    string
	trying int // 100 Trying responses received
	// lateOffer: INVITEs go without SDP, for the offer in the 200.
	lateOffer bool
	// offer, when set, is the INVITEs' SDP in place of a plain G.711 one;
	// extra, header lines ("Name: value\r\n") the INVITEs carry too.
	offer, extra string
}

func newRawPhone(server *net.UDPAddr, id int) (*rawPhone, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &rawPhone{
		conn: conn, server: server, id: strconv.Itoa(id), local: conn.LocalAddr().String(),
		buf: make([]byte, 65536), ha1: HA1(MD5, "alice", testRealm, "secret"),
	}, nil
}

func (p *rawPhone) send(msg string) error {
	_, err := p.conn.WriteToUDP([]byte(msg), p.server)
	return err
}

// recv reads the next message, skipping 100 Trying, and fails after a few
// seconds.
func (p *rawPhone) recv() (string, error) {
	for {
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := p.conn.Read(p.buf)
		if err != nil {
			return "", err
		}
		msg := string(p.buf[:n])
		if !strings.HasPrefix(msg, "SIP/2.0 100 ") {
			return msg, nil
		}
		p.trying++
	}
}

func headerOf(msg, name string) string {
	i := strings.Index(msg, "\r\n"+name+":")
	if i < 0 {
		return ""
	}
	v := msg[i+len(name)+3:]
	v, _, _ = strings.Cut(v, "\r\n")
	return strings.TrimSpace(v)
}

func (p *rawPhone) invite(callID, tag, branch string, cseq int, auth string) string {
	sdp := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 9 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
	if p.offer != "" {
		sdp = p.offer
	}
	var b strings.Builder
	b.WriteString("INVITE sip:100@" + p.server.String() + " SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/UDP " + p.local + ";branch=" + branch + ";rport\r\n")
	b.WriteString("From: <sip:alice@" + testRealm + ">;tag=" + tag + "\r\n")
	b.WriteString("To: <sip:100@" + testRealm + ">\r\n")
	b.WriteString("Call-ID: " + callID + "\r\n")
	b.WriteString("CSeq: " + strconv.Itoa(cseq) + " INVITE\r\n")
	b.WriteString("Contact: <sip:alice@" + p.local + ">\r\nMax-Forwards: 70\r\n")
	b.WriteString(p.extra)
	if auth != "" {
		b.WriteString("Proxy-Authorization: " + auth + "\r\n")
	}
	if p.lateOffer {
		b.WriteString("Content-Length: 0\r\n\r\n")
		return b.String()
	}
	b.WriteString("Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
	return b.String()
}

func (p *rawPhone) ack(uri, callID, from, to, branch string, cseq int) string {
	return "ACK " + uri + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=" + branch + ";rport\r\n" +
		"From: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + strconv.Itoa(cseq) +
		" ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

func (p *rawPhone) call() error {
	d, err := p.dial()
	if err != nil {
		return err
	}
	if err := p.ackAnswer(d); err != nil {
		return err
	}
	return p.takeBye()
}

// rawDialog is what a phone's call needs to acknowledge the answer.
type rawDialog struct {
	callID, from, to, target, branch string
	ok                               string // the 200 that answered the INVITE
}

// dial calls 100: the INVITE, its challenge, the INVITE with credentials;
// it returns when the answer is in.
func (p *rawPhone) dial() (rawDialog, error) {
	p.n++
	n := strconv.Itoa(p.n)
	callID, tag := "bench-"+p.id+"-"+n, "t"+p.id+"x"+n
	d := rawDialog{callID: callID, from: "<sip:alice@" + testRealm + ">;tag=" + tag, branch: "z9hG4bK-" + p.id + "-" + n + "-"}
	if err := p.send(p.invite(callID, tag, d.branch+"1", 1, "")); err != nil {
		return d, err
	}
	res, err := p.recv()
	if err != nil {
		return d, err
	}
	if !strings.HasPrefix(res, "SIP/2.0 407 ") {
		return d, errUnexpected(res)
	}
	if err := p.send(p.ack("sip:100@"+p.server.String(), callID, d.from, headerOf(res, "To"), d.branch+"1", 1)); err != nil {
		return d, err
	}
	chal := headerOf(res, "Proxy-Authenticate")
	_, nonce, _ := strings.Cut(chal, `nonce="`)
	nonce, _, _ = strings.Cut(nonce, `"`)
	uri := "sip:100@" + p.server.String()
	ha2 := md5Hex("INVITE:" + uri)
	resp := md5Hex(p.ha1 + ":" + nonce + ":00000001:c" + n + ":auth:" + ha2)
	auth := `Digest username="alice", realm="` + testRealm + `", nonce="` + nonce + `", uri="` + uri +
		`", response="` + resp + `", algorithm=MD5, qop=auth, nc=00000001, cnonce="c` + n + `"`
	if err := p.send(p.invite(callID, tag, d.branch+"2", 2, auth)); err != nil {
		return d, err
	}
	if res, err = p.recv(); err != nil {
		return d, err
	}
	if !strings.HasPrefix(res, "SIP/2.0 200 ") {
		return d, errUnexpected(res)
	}
	d.ok, d.to = res, headerOf(res, "To")
	d.target = strings.Trim(headerOf(res, "Contact"), "<>")
	return d, nil
}

// ackAnswer acknowledges the 2xx of d.
func (p *rawPhone) ackAnswer(d rawDialog) error {
	return p.send(p.ack(d.target, d.callID, d.from, d.to, d.branch+"3", 2))
}

// takeBye waits for the server's BYE and answers it.
func (p *rawPhone) takeBye() error {
	bye, err := p.recv()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(bye, "BYE ") {
		return errUnexpected(bye)
	}
	return p.answerBye(bye)
}

// answerBye answers the server's BYE with 200.
func (p *rawPhone) answerBye(bye string) error {
	return p.send("SIP/2.0 200 OK\r\nVia: " + headerOf(bye, "Via") + "\r\nFrom: " + headerOf(bye, "From") +
		"\r\nTo: " + headerOf(bye, "To") + "\r\nCall-ID: " + headerOf(bye, "Call-ID") + "\r\nCSeq: " +
		headerOf(bye, "CSeq") + "\r\nContent-Length: 0\r\n\r\n")
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

type errUnexpected string

func (e errUnexpected) Error() string {
	first, _, _ := strings.Cut(string(e), "\r\n")
	return "unexpected message: " + first
}

// inDialog sends a request of method in d, with header lines (each ending
// in CRLF) and a body, text/plain unless headers say otherwise.
func (p *rawPhone) inDialog(d rawDialog, method string, cseq int, headers, body string) error {
	msg := method + " " + d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=" + d.branch + method + strconv.Itoa(cseq) + ";rport\r\n" +
		"From: " + d.from + "\r\nTo: " + d.to + "\r\nCall-ID: " + d.callID + "\r\nCSeq: " + strconv.Itoa(cseq) + " " + method +
		"\r\nMax-Forwards: 70\r\nContact: <sip:alice@" + p.local + ">\r\n" + headers
	if body != "" && !strings.Contains(headers, "Content-Type:") {
		msg += "Content-Type: text/plain\r\n"
	}
	return p.send(msg + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// callScenario connects a call from a raw phone to a server whose calls run
// scenario, and returns the phone, the call's dialog and the session log.
func callScenario(t *testing.T, scenario string) (*rawPhone, rawDialog, *syncBuffer) {
	t.Helper()
	return callScenarioWith(t, scenario, CallOptions{})
}

// callScenarioWith is callScenario on a server with more call options.
func callScenarioWith(t *testing.T, scenario string, opts CallOptions) (*rawPhone, rawDialog, *syncBuffer) {
	t.Helper()
	p, log := scenarioPhone(t, scenario, opts)
	d := p.mustDial(t)
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	return p, d, log
}

// scenarioPhone is a raw phone of a server whose calls run scenario, and
// the session log; the phone has placed no call yet.
func scenarioPhone(t *testing.T, scenario string, opts CallOptions) (*rawPhone, *syncBuffer) {
	t.Helper()
	prog, err := runtime.Compile("test.js", scenario)
	if err != nil {
		t.Fatal(err)
	}
	launcher := &scriptLauncher{prog: prog, log: &syncBuffer{}}
	opts.Launcher = launcher
	_, addr := startRawCallServerWith(t, opts)
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	return p, launcher.log
}
