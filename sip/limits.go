package sip

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Limits: what one source may send, and what a request must be before a
// handler sees it. Bad input gets a clear answer where one is possible, and
// what is dropped is counted and logged in short, rate-limited lines.

var errRateLimited = errors.New("source over its request rate")

// rateLimiter is a token bucket per source, where a source is what bans
// count (sourceOf: an IPv4 address or an IPv6 /64). Memory is bounded: at
// most max sources are tracked, the least recently seen is forgotten first
// (it comes back with a full bucket, which costs an attacker nothing it did
// not have: the limit is per source, not a defence against many sources).
type rateLimiter struct {
	rate   float64 // tokens per second
	burst  float64
	exempt []netip.Prefix

	mu      sync.Mutex
	max     int
	sources map[netip.Prefix]*list.Element // of *tokenBucket
	lru     *list.List                     // most recently seen first
}

type tokenBucket struct {
	source netip.Prefix
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, exempt []netip.Prefix, max int) *rateLimiter {
	return &rateLimiter{
		rate: rate, burst: float64(burst), exempt: exempt, max: max,
		sources: make(map[netip.Prefix]*list.Element), lru: list.New(),
	}
}

// allow takes n tokens from addr's bucket at now and says whether it had
// them; a refused request takes nothing, so a source that slows down is
// served again at once.
func (l *rateLimiter) allow(addr netip.Addr, n int, now time.Time) bool {
	if l.rate < 0 || n == 0 {
		return true
	}
	if inPrefixes(addr, l.exempt) {
		return true
	}
	src := sourceOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *tokenBucket
	if e, ok := l.sources[src]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*tokenBucket)
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	} else {
		for len(l.sources) >= l.max {
			last := l.lru.Remove(l.lru.Back()).(*tokenBucket)
			delete(l.sources, last.source)
		}
		b = &tokenBucket{source: src, tokens: l.burst}
		l.sources[src] = l.lru.PushFront(b)
	}
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

func inPrefixes(addr netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// requestsIn counts what a read holds against the rate, before it is
// parsed: a UDP datagram is one request unless it is a response or a
// keep-alive; a TCP read may hold several messages, each ending its headers
// with an empty line. Responses are not counted: they answer Vox's own
// requests, and a lost 200 would lose a call.
func requestsIn(data []byte, stream bool) int {
	if len(bytes.Trim(data, "\r\n")) == 0 {
		return 0
	}
	if !stream {
		if bytes.HasPrefix(data, []byte("SIP/")) {
			return 0
		}
		return 1
	}
	return bytes.Count(data, []byte("\r\n\r\n"))
}

// admit takes the requests of a read from its source's allowance. Over it, a
// datagram is dropped unread and a TCP connection closed, since a stream
// cannot lose part of a message; one short line says so now and then. A
// datagram whose request line names no SIP version is dropped too: sipgo
// would answer it in that version, with a status line nobody can read.
func (s *Server) admit(p sipmsg.TransportReadProps, addr netip.Addr, data []byte) ([]byte, error) {
	stream := p.Transport != "UDP"
	n := requestsIn(data, stream)
	if !stream && n == 1 && !hasSIPVersion(data) {
		s.badLog.Warn("sip: datagram without a SIP version, dropping", "source", addr.String(), "bytes", len(data))
		return nil, nil
	}
	if s.rate.allow(addr, n, s.opts.Now()) {
		if isWebSocket(p.Transport) && !s.parses(data) {
			// A WebSocket frame holds one message, so the next one is still
			// found after a bad one. sipgo would close the connection, and a
			// browser's registration and calls on it would go too.
			s.badLog.Warn("sip: unreadable message over WebSocket, dropping", "source", addr.String(), "bytes", len(data))
			return nil, nil
		}
		return data, nil
	}
	s.limited.Add(1)
	s.badLog.Warn("sip: source over its request rate, dropping", "source", sourceOf(addr).String(),
		"transport", p.Transport, "rate", s.opts.RequestRate, "dropped", s.limited.Load())
	if stream {
		return nil, errRateLimited
	}
	return nil, nil
}

// parses says whether sipgo can read data as a SIP message. It parses twice
// what it lets through, which only browsers' low traffic pays for.
func (s *Server) parses(data []byte) bool {
	_, err := s.parser.ParseSIP(data)
	return err == nil
}

// hasSIPVersion says whether the first line of a request ends with a
// SIP-Version, SIP/1*DIGIT.1*DIGIT (RFC 3261 section 25.1): the version may
// be one Vox refuses (505), but it can be written back.
func hasSIPVersion(request []byte) bool {
	line, _, _ := bytes.Cut(request, []byte("\r\n"))
	v := line[bytes.LastIndexByte(line, ' ')+1:]
	if len(v) < 7 || !bytes.EqualFold(v[:4], []byte("SIP/")) {
		return false
	}
	major, minor, ok := bytes.Cut(v[4:], []byte("."))
	return ok && digits(major) && digits(minor)
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// interfaceAddrs are the host's addresses, read once: a listener bound to
// all interfaces (0.0.0.0, ::) is reached at any of them.
var interfaceAddrs = sync.OnceValue(func() []netip.Addr {
	var out []netip.Addr
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
})

// sentByUs says whether the sent-by of via is an address the server listens
// on. A host name is not looked up: no DNS on the request path.
func (s *Server) sentByUs(via *sipmsg.ViaHeader) bool {
	ip, err := netip.ParseAddr(strings.Trim(via.Host, "[]"))
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	port := via.Port
	if port <= 0 {
		port = sipmsg.DefaultPort(via.Transport)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bound {
		if int(b.Port()) != port {
			continue
		}
		if b.Addr() == ip || b.Addr().IsUnspecified() && slices.Contains(interfaceAddrs(), ip) {
			return true
		}
	}
	return false
}

// refused checks what every request must be before a handler sees it, and
// answers one that fails (RFC 3261 sections 8.2 and 16.3; RFC 4475 section
// 3.1.2 for what sipgo's parser lets through). ACKs are not answered.
func (s *Server) refused(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	code, reason, why := s.check(req)
	if code == 0 {
		return false
	}
	if code == 400 {
		s.bad(req, tx, code, reason, why)
		return true
	}
	s.badLog.Info("sip: request refused", "method", trimForLog(string(req.Method)), "source", req.Source(), "code", code, "why", why)
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0" // sipgo copies the request's, which may be the one refused
	s.respond(tx, res)
	return true
}

// check returns the answer to a request that may not go on, or code 0.
func (s *Server) check(req *sipmsg.Request) (code int, reason, why string) {
	// RFC 3261 section 8.2.2: sipgo reads any version (RFC 4475 section
	// 3.1.2.16, badvers).
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported", "version " + trimForLog(req.SipVersion)
	}
	if n := len(req.Headers()); n > s.opts.MaxHeaders {
		return 400, "Bad Request", fmt.Sprintf("%d headers, at most %d", n, s.opts.MaxHeaders)
	}
	// The transaction is matched on the CSeq method (RFC 3261 section
	// 17.2.3); sipgo does not compare it with the request line (RFC 4475
	// sections 3.1.2.17 and 3.1.2.18, mismatch01 and mismatch02). sipgo
	// upper-cases the method of the request line, not that of CSeq.
	if cseq := req.CSeq(); cseq != nil && !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return 400, "Bad Request", "CSeq method is not the request's"
	}
	// Headers in a Request-URI are not allowed (RFC 3261 section 19.1.1;
	// RFC 4475 section 3.1.2.11, escruri): a dialled number must not carry
	// a Route to put into the call.
	if len(req.Recipient.Headers) > 0 {
		return 400, "Bad Request", "Request-URI with headers"
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sipmsg.OPTIONS {
		return 483, "Too Many Hops", "Max-Forwards 0"
	}
	// A request that already passed through this server comes back in a
	// loop (RFC 3261 section 16.3 step 4): a trunk pointing back at Vox, or
	// a call to Vox's own address.
	for h := range headersNamed(req, "Via") {
		if via, ok := h.(*sipmsg.ViaHeader); ok && s.sentByUs(via) {
			return 482, "Loop Detected", "Via holds our own address " + via.Host + ":" + strconv.Itoa(via.Port)
		}
	}
	return 0, "", ""
}

// knownMethod says whether m is a method of RFC 3261 or of the extensions
// sipgo knows.
func knownMethod(m sipmsg.RequestMethod) bool {
	switch m {
	case sipmsg.INVITE, sipmsg.ACK, sipmsg.CANCEL, sipmsg.BYE, sipmsg.REGISTER, sipmsg.OPTIONS,
		sipmsg.SUBSCRIBE, sipmsg.NOTIFY, sipmsg.REFER, sipmsg.INFO, sipmsg.MESSAGE,
		sipmsg.PRACK, sipmsg.UPDATE, sipmsg.PUBLISH:
		return true
	}
	return false
}
