package sip

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Answers a torture request may get.
var (
	// A request outside any dialog that Vox may not take: 405 while the
	// server only registers, otherwise a challenge (401/407), 403 or 404 for
	// a caller or number nobody serves, 481 for one that names a dialog.
	outOfDialog = []int{401, 403, 404, 405, 407, 481}
	// tcpClosed: a message that frames nothing closes its connection.
	tcpClosed = []int{-1}
	// tcpWaits: the connection stays open, unanswered.
	tcpWaits = []int{-2}
)

// Our torture messages, sent to a running server over UDP and TCP. Under
// testdata/torture is one message for each case of RFC 4475 sections 3.1.1
// (valid) and 3.1.2 (invalid), named as the RFC names its case: each one ours,
// with our own hosts, users, tags and bodies, written to exercise what its
// case is about (3.1.1.1: folding and LWS everywhere; 3.1.2.19: a status code
// past 32 bits; and so on). Every message gets the answer its method warrants
// or none; after each, the server still answers an OPTIONS.
//
// What sipgo's parser refuses it drops before anyone can answer: no 400 where
// the RFC asks for one (clerr, ncl, scalar02), but no work either. What it
// reads though the RFC calls it invalid, refused answers (badvers, escruri,
// mismatch01, mismatch02) or the registrar does (regbadct); what it reads
// and does no harm is taken (baddate, baddn).
func TestTorture(t *testing.T) {
	tests := []struct {
		file    string
		section string
		udp     []int // the acceptable final answers; nil: none
		tcp     []int // likewise, or tcpClosed, tcpWaits; nil: not sent over TCP
		why     string
	}{
		// 3.1.1: valid messages.
		{"valid/wsinv", "3.1.1.1 A Short Tortuous INVITE", outOfDialog, outOfDialog,
			"sipgo reads the folded, spaced, mixed-case headers, leading zeros and quoted-pairs, though it keeps the spaces around ; and = " +
				"in parameters (the From tag is \"  b52c0e\") and garbles the second of the two Vias folded into one header, which nobody reads: " +
				"the INVITE gets what any INVITE gets. Phones put no spaces there; param, which reads our parameters, trims them"},
		{"valid/intmeth", "3.1.1.2 Wide Range of Valid Characters", []int{501}, []int{501},
			"an unknown method: 501 (RFC 3261 section 8.2.1)"},
		{"valid/esc01", "3.1.1.3 Valid Use of the % Escaping Mechanism", outOfDialog, outOfDialog,
			"an INVITE with escaped URIs; sipgo keeps the escapes, undecoded"},
		{"valid/escnull", "3.1.1.4 Escaped Nulls in URIs", []int{401}, []int{401},
			"a REGISTER without credentials is challenged; %00 stays escaped, so no NUL reaches a lookup"},
		{"valid/esc02", "3.1.1.5 Use of % When It Is Not an Escape", []int{501}, []int{501},
			"RE%47IST%45R is not REGISTER (a method is not unescaped): an unknown method"},
		{"valid/lwsdisp", "3.1.1.6 Message with No LWS between Display Name and <", []int{200}, []int{200}, "an OPTIONS"},
		{"valid/longreq", "3.1.1.7 Long Values in Header Fields", outOfDialog, outOfDialog,
			"the answer echoes 31 Vias and the long To and From: over 3 KB, sent over UDP as the request came (see init in server.go)"},
		{"valid/dblreq", "3.1.1.8 Extra Trailing Octets in a UDP Datagram", []int{401}, nil,
			"the REGISTER is challenged and the octets after its Content-Length, an INVITE, are ignored (RFC 3261 section 18.3); a UDP matter only"},
		{"valid/semiuri", "3.1.1.9 Semicolon-Separated Parameters in URI User Part", []int{200}, []int{200}, "an OPTIONS"},
		{"valid/transports", "3.1.1.10 Varied and Unknown Transport Types", []int{200}, []int{200}, "an OPTIONS; the Vias below the first are not read"},
		{"valid/mpart01", "3.1.1.11 Multipart MIME Message", outOfDialog, outOfDialog,
			"a MESSAGE outside a dialog with a binary body, which nobody reads"},
		{"valid/unreason", "3.1.1.12 Unusual Reason Phrase", nil, tcpWaits,
			"a response that matches no transaction of ours is dropped (RFC 3261 section 18.1.2)"},
		{"valid/noreason", "3.1.1.13 Empty Reason Phrase", nil, tcpWaits, "likewise"},

		// 3.1.2: invalid messages.
		{"invalid/badinv01", "3.1.2.1 Extraneous Header Field Separators", nil, tcpClosed,
			"sipgo cannot read the Contact, whose commas set off empty values: dropped (the Via's empty parameters alone it would read)"},
		{"invalid/clerr", "3.1.2.2 Content Length Larger Than Message", nil, tcpWaits,
			"over UDP sipgo drops a message whose body is short, where the RFC asks for 400; over TCP the rest of the body may come (as the RFC says)"},
		{"invalid/ncl", "3.1.2.3 Negative Content-Length", nil, tcpClosed, "sipgo cannot read Content-Length: dropped"},
		{"invalid/scalar02", "3.1.2.4 Request Scalar Fields with Overlarge Values", nil, tcpClosed,
			"sipgo refuses a CSeq past 32 bits: dropped, where the RFC asks for 400"},
		{"invalid/scalarlg", "3.1.2.5 Response Scalar Fields with Overlarge Values", nil, tcpClosed, "a response sipgo cannot read: dropped"},
		{"invalid/quotbal", "3.1.2.6 Unterminated Quoted String in Display Name", nil, tcpClosed, "sipgo cannot read the To: dropped"},
		{"invalid/ltgtruri", "3.1.2.7 <> Enclosing Request-URI", nil, tcpClosed, "not a request line: dropped"},
		{"invalid/lwsruri", "3.1.2.8 Malformed SIP Request-URI (embedded LWS)", nil, tcpClosed, "not a request line: dropped"},
		{"invalid/lwsstart", "3.1.2.9 Multiple SP Separating Request-Line Elements", nil, tcpClosed, "not a request line: dropped"},
		{"invalid/trws", "3.1.2.10 SP Characters at End of Request-Line", nil, tcpClosed, "not a request line: dropped"},
		{"invalid/escruri", "3.1.2.11 Escaped Headers in SIP Request-URI", []int{400}, []int{400},
			"sipgo reads the headers into the URI; refused answers 400, so that nothing of them reaches routing"},
		{"invalid/baddate", "3.1.2.12 Invalid Time Zone in Date Header Field", outOfDialog, outOfDialog,
			"Vox ignores Date, which the RFC allows: handled as any INVITE"},
		{"invalid/regbadct", "3.1.2.13 Failure to Enclose name-addr URI in <>", []int{400}, []int{400},
			"sipgo reads ?Route=... as headers of the Contact URI; the registrar refuses a Contact with headers"},
		{"invalid/badaspec", "3.1.2.14 Spaces within addr-spec", nil, tcpClosed, "sipgo cannot read the To: dropped"},
		{"invalid/baddn", "3.1.2.15 Non-token Characters in Display Name", []int{200}, []int{200},
			"sipgo reads `Ortega, Ines` as a display name, which is only ever shown: answered as any OPTIONS, where the RFC asks for 400"},
		{"invalid/badvers", "3.1.2.16 Unknown Protocol Version", []int{505}, []int{505}, "sipgo reads SIP/4.2; refused answers 505 (RFC 3261 section 8.2.2)"},
		{"invalid/mismatch01", "3.1.2.17 Start Line and CSeq Method Mismatch", []int{400}, []int{400},
			"transactions are matched on the CSeq method; refused answers 400"},
		{"invalid/mismatch02", "3.1.2.18 Unknown Method with CSeq Method Mismatch", []int{400}, []int{400},
			"likewise; the RFC allows 400 or 501"},
		{"invalid/bigcode", "3.1.2.19 Overlarge Response Code", nil, tcpClosed, "a response sipgo cannot read: dropped"},
	}

	udp := listenUDP5060(t)
	defer udp.Close()
	var logs strings.Builder
	for i, tt := range tests {
		msg, err := os.ReadFile(filepath.Join("testdata", "torture", tt.file+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		callID := callIDOf(t, msg)
		// A server per message: what one message leaves behind (a
		// transaction, a binding, its source's request count) must not
		// change the answer to the next.
		t.Run("udp/"+filepath.Base(tt.file), func(t *testing.T) {
			srv := startServer(t, Options{})
			defer func() { logs.WriteString(srv.logs.String()) }()
			if _, err := udp.WriteTo(msg, net.UDPAddrFromAddrPort(srv.addr)); err != nil {
				t.Fatal(err)
			}
			probe := fmt.Sprintf("torture-probe-%d", i)
			sendProbe(t, udp, srv.addr, probe)
			answers := readAnswers(t, udp, callID, probe, tt.udp != nil)
			checkAnswers(t, tt.section, tt.why, answers, tt.udp)
		})
		if tt.tcp == nil {
			continue
		}
		t.Run("tcp/"+filepath.Base(tt.file), func(t *testing.T) {
			srv := startServer(t, Options{})
			defer func() { logs.WriteString(srv.logs.String()) }()
			conn, err := net.Dial("tcp", srv.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			code := readTCPAnswer(t, conn, callID)
			if code == -2 {
				// Not answered: the connection still carries a request,
				// unless a body is pending on it.
				if tt.file != "invalid/clerr" {
					sendTCPProbe(t, conn, fmt.Sprintf("torture-tcp-probe-same-%d", i))
				}
			}
			if !containsCode(tt.tcp, code) {
				t.Errorf("RFC 4475 section %s: got %s, want %v\n(%s)", tt.section, describe(code), tt.tcp, tt.why)
			}
			fresh, err := net.Dial("tcp", srv.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			sendTCPProbe(t, fresh, fmt.Sprintf("torture-tcp-probe-%d", i))
		})
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if len(line) > 600 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

// listenUDP5060 opens a UDP socket on port 5060 of a loopback address of its
// own: a request without rport is answered at the port of its Via (RFC 3261
// section 18.2.2), 5060 in all our messages, and the messages are sent as they
// are.
func listenUDP5060(t *testing.T) net.PacketConn {
	t.Helper()
	var last error
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(250), rand.IntN(256), 1+rand.IntN(250))
		conn, err := net.ListenPacket("udp", net.JoinHostPort(ip, "5060"))
		if err == nil {
			return conn
		}
		last = err
	}
	t.Fatalf("no loopback address with port 5060 free: %v", last)
	return nil
}

var callIDLine = regexp.MustCompile(`(?im)^(?:call-id|i)[ \t]*:[ \t]*(\S+)`)

func callIDOf(t *testing.T, msg []byte) string {
	t.Helper()
	m := callIDLine.FindSubmatch(msg)
	if m == nil {
		t.Fatalf("no Call-ID in %.60q", msg)
	}
	return string(m[1])
}

func options(callID, via string) string {
	return "OPTIONS sip:vox.test SIP/2.0\r\nVia: SIP/2.0/" + via + ";branch=z9hG4bK-" + callID + ";rport\r\n" +
		"From: <sip:ping@vox.test>;tag=p\r\nTo: <sip:vox.test>\r\nCall-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

func sendProbe(t *testing.T, conn net.PacketConn, to netip.AddrPort, callID string) {
	t.Helper()
	if _, err := conn.WriteTo([]byte(options(callID, "UDP "+conn.LocalAddr().String())), net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatal(err)
	}
}

// readAnswers reads datagrams until the probe (when not "") is answered 200
// and, when answered, callID has a final answer; it returns the final codes
// for callID. Retransmitted answers to earlier messages are skipped by their
// Call-ID.
func readAnswers(t *testing.T, conn net.PacketConn, callID, probe string, answered bool) []int {
	t.Helper()
	var codes []int
	sawProbe := probe == ""
	buf := make([]byte, 65536)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !sawProbe || answered && len(codes) == 0 {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read: %v (probe answered %v, answers %v)", err, sawProbe, codes)
		}
		res := buf[:n]
		code := statusOf(res)
		var id string
		if m := callIDLine.FindSubmatch(res); m != nil {
			id = string(m[1])
		}
		switch {
		case probe != "" && id == probe:
			if code != 200 {
				t.Fatalf("the probe got %d", code)
			}
			sawProbe = true
		case id == callID && code >= 200:
			codes = append(codes, code)
		}
	}
	return codes
}

func statusOf(res []byte) int {
	line, _, _ := bytes.Cut(res, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0
	}
	code, _ := strconv.Atoi(f[1])
	return code
}

func checkAnswers(t *testing.T, section, why string, got, want []int) {
	t.Helper()
	switch {
	case want == nil && len(got) > 0:
		t.Errorf("RFC 4475 section %s: answered %v, want no answer\n(%s)", section, got, why)
	case want != nil && (len(got) != 1 || !containsCode(want, got[0])):
		t.Errorf("RFC 4475 section %s: answered %v, want one of %v\n(%s)", section, got, want, why)
	}
}

func containsCode(codes []int, code int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

func describe(code int) string {
	switch code {
	case -1:
		return "the connection closed"
	case -2:
		return "no answer, the connection open"
	}
	return strconv.Itoa(code)
}

// readTCPAnswer reads the final answer to callID from conn: its code, -1
// when the server closed the connection, -2 when nothing came for a while.
func readTCPAnswer(t *testing.T, conn net.Conn, callID string) int {
	t.Helper()
	r := bufio.NewReader(conn)
	for {
		// Long enough for an answer; an unanswered message costs this.
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		res, err := readResponse(r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -2
		}
		if err != nil {
			return -1
		}
		if code := statusOf(res); code >= 200 && strings.Contains(string(res), callID) {
			return code
		}
	}
}

// readResponse reads one response from a stream: headers to the empty line,
// then Content-Length bytes.
func readResponse(r *bufio.Reader) ([]byte, error) {
	var msg bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		msg.WriteString(line)
		if line == "\r\n" {
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	msg.Write(body)
	return msg.Bytes(), nil
}

func sendTCPProbe(t *testing.T, conn net.Conn, callID string) {
	t.Helper()
	if _, err := conn.Write([]byte(options(callID, "TCP "+conn.LocalAddr().String()))); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for {
		res, err := readResponse(r)
		if err != nil {
			t.Fatalf("probe %s: %v", callID, err)
		}
		if strings.Contains(string(res), callID) {
			if code := statusOf(res); code != 200 {
				t.Fatalf("probe %s: got %d", callID, code)
			}
			return
		}
	}
}
