package sip

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

func TestMain(m *testing.M) {
	// sipgo's connections log reference counts through its package logger;
	// the tests' phones make a lot of them.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// Malformed requests get 400 (or a more precise answer), or are dropped when
// they cannot be read at all; the server goes on, and says so in short lines.
func TestMalformedRequests(t *testing.T) {
	register := func(edit func([]string) []string) string {
		lines := []string{
			"REGISTER sip:vox.test SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-%[1]d;rport",
			"From: <sip:alice@vox.test>;tag=t%[1]d",
			"To: <sip:alice@vox.test>",
			"Call-ID: bad-%[1]d",
			"CSeq: 1 REGISTER",
			"Contact: <sip:alice@10.0.0.1>",
			"Max-Forwards: 70",
			"Content-Length: 0",
		}
		return strings.Join(edit(lines), "\r\n") + "\r\n\r\n"
	}
	without := func(name string) func([]string) []string {
		return func(ls []string) []string {
			var out []string
			for _, l := range ls {
				if !strings.HasPrefix(l, name+":") {
					out = append(out, l)
				}
			}
			return out
		}
	}
	with := func(extra ...string) func([]string) []string {
		return func(ls []string) []string { return append(ls, extra...) }
	}
	replace := func(name, line string) func([]string) []string {
		return func(ls []string) []string { return append(without(name)(ls), line) }
	}
	many := make([]string, 80)
	for i := range many {
		many[i] = fmt.Sprintf("X-Filler-%d: %d", i, i)
	}
	tests := []struct {
		name   string
		packet string
		code   int // 0: dropped
	}{
		{"not SIP", "hello there\r\n\r\n", 0},
		{"binary", "\x00\x01\x02\xff\xfe REGISTER\r\n\r\n", 0},
		{"no header end", "REGISTER sip:vox.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1", 0},
		{"bad Via", register(replace("Via", "Via: nonsense")), 0},
		{"no CSeq", register(without("CSeq")), 400},
		{"no To", register(without("To")), 400},
		{"no Call-ID", register(without("Call-ID")), 400},
		{"To is a tel URI", register(replace("To", "To: <tel:+74951234567>")), 400},
		{"Expires not a number", register(with("Expires: soon")), 400},
		{"expires param not a number", register(replace("Contact", "Contact: <sip:alice@10.0.0.1>;expires=-5")), 400},
		{"Authorization not digest", register(with("Authorization: Basic YWxpY2U6c2VjcmV0")), 400},
		{"Authorization cut short", register(with(`Authorization: Digest username="alice", realm="vox.test`)), 400},
		{"too many headers", register(with(many...)), 400},
		{"Max-Forwards 0", register(replace("Max-Forwards", "Max-Forwards: 0")), 483},
		{"too large", register(with("X-Big: " + strings.Repeat("a", 17<<10))), 0},
	}
	srv := startServer(t, Options{})
	conn, err := net.Dial("udp", srv.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packet := tt.packet
			if strings.Contains(packet, "%[1]d") {
				packet = fmt.Sprintf(packet, i)
			}
			if _, err := conn.Write([]byte(packet)); err != nil && tt.code != 0 {
				t.Fatal(err)
			}
			// An OPTIONS after it shows the server goes on; UDP on loopback
			// keeps the order, and a dropped packet is dropped as it is read.
			options := fmt.Sprintf("OPTIONS sip:vox.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-o%d;rport\r\n"+
				"From: <sip:ping@vox.test>;tag=o\r\nTo: <sip:vox.test>\r\nCall-ID: ping-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", i, i)
			if _, err := conn.Write([]byte(options)); err != nil {
				t.Fatal(err)
			}
			var got []string
			sawOptions, sawBad := false, tt.code == 0
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 65536)
			for !sawOptions || !sawBad {
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("read: %v; got %q", err, got)
				}
				res := string(buf[:n])
				got = append(got, res)
				switch {
				case strings.Contains(res, "CSeq: 1 OPTIONS") && strings.HasPrefix(res, "SIP/2.0 200"):
					sawOptions = true
				case tt.code != 0 && strings.HasPrefix(res, fmt.Sprintf("SIP/2.0 %d ", tt.code)):
					sawBad = true
				default:
					t.Fatalf("unexpected answer:\n%s", res)
				}
			}
		})
	}
	t.Log(srv.logs.String())
	for _, line := range strings.Split(srv.logs.String(), "\n") {
		if len(line) > 600 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

// Over TCP, bytes that frame no SIP message close the connection; the server
// goes on.
func TestMalformedStream(t *testing.T) {
	srv := startServer(t, Options{})
	for _, junk := range []string{
		"hello there\r\n\r\n",
		"REGISTER sip:vox.test SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
		"REGISTER sip:vox.test SIP/2.0\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", srv.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(junk))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := conn.Read(make([]byte, 1024)); err == nil {
			t.Errorf("%.30q: answered %d bytes", junk, n)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%.30q: the connection stays open", junk)
		}
		conn.Close()
	}
	wantStatus(t, newPhone(t, srv.addr, "TCP", "alice", "secret").register(600, "<sip:alice@10.0.0.1>"), 200)
}
