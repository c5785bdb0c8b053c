package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
	"vox/media/rtp"
	"vox/runtime"
)

// rawUAS is a called phone on a bare UDP socket: the test answers each
// request Vox sends it.
type rawUAS struct {
	conn   *net.UDPConn
	server *net.UDPAddr
}

// dialRawUAS places a CallSIP from a fresh server to a raw UAS.
func dialRawUAS(t *testing.T) (*rawUAS, runtime.Leg, chan runtime.Event) {
	t.Helper()
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerWith(t, Options{}, func(s *Server) {
		if err := s.EnableCalls(CallOptions{Router: testRouter{}, Launcher: hangupLauncher{}, Ports: ports}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.logs)
		}
	})
	u := &rawUAS{conn: porttest.ListenUDP(t), server: net.UDPAddrFromAddrPort(srv.addr)}
	leg, err := srv.Dial(context.Background(), runtime.DialRequest{ID: "out-1", Account: "acme", Kind: runtime.DialSIP,
		To: "sip:bob@" + u.conn.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan runtime.Event, 8)
	leg.Attach(chanSink(events))
	return u, leg, events
}

// waitConnected waits a few seconds at most for the call's Call.Connected,
// and fails the test if the call ends first.
func waitConnected(t *testing.T, events <-chan runtime.Event) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			switch ev.Name {
			case runtime.EventConnected:
				return
			case runtime.EventFailed, runtime.EventDisconnected:
				t.Fatalf("the call ended: %s %v", ev.Name, ev.Params)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the call did not connect")
		}
	}
}

// readSIP is the next SIP message on conn that starts with prefix; others
// (RTP, retransmissions) are skipped.
func readSIP(t *testing.T, conn *net.UDPConn, prefix string) string {
	t.Helper()
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no %s: %v", strings.TrimSpace(prefix), err)
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
}

// respond answers req with status, the extra header lines and body (SDP
// when not empty), in the dialog whose tag is bob1.
func (u *rawUAS) respond(t *testing.T, req, status, extra, body string) {
	t.Helper()
	to := headerOf(req, "To")
	if !strings.Contains(to, ";tag=") {
		to += ";tag=bob1"
	}
	res := "SIP/2.0 " + status + "\r\nVia: " + headerOf(req, "Via") + "\r\nFrom: " + headerOf(req, "From") + "\r\nTo: " +
		to + "\r\nCall-ID: " + headerOf(req, "Call-ID") + "\r\nCSeq: " + headerOf(req, "CSeq") +
		"\r\nContact: <sip:bob@" + u.conn.LocalAddr().String() + ">\r\n" + extra
	if body != "" {
		res += "Content-Type: application/sdp\r\n"
	}
	res += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := u.conn.WriteToUDP([]byte(res), u.server); err != nil {
		t.Fatal(err)
	}
}

// A callee whose Min-SE is above what Vox asked for answers 422 (RFC 4028
// section 6): Vox asks again, in a new transaction with the next CSeq, for
// the callee's interval, and the call connects.
func TestOutgoingCallRetriesAfter422(t *testing.T) {
	u, leg, events := dialRawUAS(t)
	inv := readSIP(t, u.conn, "INVITE ")
	u.respond(t, inv, "422 Session Interval Too Small", "Min-SE: 7200\r\n", "")
	readSIP(t, u.conn, "ACK ")
	again := readSIP(t, u.conn, "INVITE ")
	if se := headerOf(again, "Session-Expires"); se != "7200;refresher=uac" {
		t.Errorf("the second INVITE asks for Session-Expires %q, want 7200;refresher=uac", se)
	}
	first, _ := strconv.Atoi(strings.Fields(headerOf(inv, "CSeq"))[0])
	if cseq := headerOf(again, "CSeq"); cseq != strconv.Itoa(first+1)+" INVITE" {
		t.Errorf("the second INVITE's CSeq %q after %d", cseq, first)
	}
	if headerOf(again, "Via") == headerOf(inv, "Via") {
		t.Errorf("the second INVITE reuses the first's branch: %s", headerOf(again, "Via"))
	}
	u.respond(t, again, "200 OK", "", answerSDP(9, "0", "0 PCMU/8000"))
	readSIP(t, u.conn, "ACK ")
	waitConnected(t, events)
	if err := leg.Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	bye := readSIP(t, u.conn, "BYE ")
	u.respond(t, bye, "200 OK", "", "")
}

// A callee that sends its 183 reliably (RFC 3262), as carriers bridging to
// the PSTN often do, gets its PRACK in the early dialog: the 183's RSeq
// and the INVITE's CSeq in RAck, the next CSeq; a retransmitted 183 gets
// none. The BYE then counts on from the PRACK's CSeq.
func TestOutgoingCallPracksReliable183(t *testing.T) {
	u, leg, events := dialRawUAS(t)
	inv := readSIP(t, u.conn, "INVITE ")
	if !strings.Contains(headerOf(inv, "Supported"), "100rel") {
		t.Errorf("the INVITE's Supported %q lacks 100rel", headerOf(inv, "Supported"))
	}
	reliable183 := "Require: 100rel\r\nRSeq: 7\r\n"
	early := answerSDP(9, "0", "0 PCMU/8000")
	u.respond(t, inv, "183 Session Progress", reliable183, early)
	prack := readSIP(t, u.conn, "PRACK ")
	invSeq, _ := strconv.Atoi(strings.Fields(headerOf(inv, "CSeq"))[0])
	if got, want := headerOf(prack, "RAck"), "7 "+strconv.Itoa(invSeq)+" INVITE"; got != want {
		t.Errorf("RAck %q, want %q", got, want)
	}
	if got, want := headerOf(prack, "CSeq"), strconv.Itoa(invSeq+1)+" PRACK"; got != want {
		t.Errorf("the PRACK's CSeq %q, want %q", got, want)
	}
	if !strings.Contains(headerOf(prack, "To"), "tag=bob1") {
		t.Errorf("the PRACK is not in the 183's early dialog: To %q", headerOf(prack, "To"))
	}
	if ev := <-events; ev.Name != runtime.EventAudioStarted {
		t.Fatalf("event %s, want %s", ev.Name, runtime.EventAudioStarted)
	}
	u.respond(t, prack, "200 OK", "", "")
	u.respond(t, inv, "183 Session Progress", reliable183, early) // sent again
	u.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 65536)
	if n, err := u.conn.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "PRACK ") {
		t.Fatalf("a retransmitted 183 was PRACKed again:\n%s", buf[:n])
	}
	u.respond(t, inv, "200 OK", "", early)
	readSIP(t, u.conn, "ACK ")
	if ev := <-events; ev.Name != runtime.EventConnected {
		t.Fatalf("event %s, want %s", ev.Name, runtime.EventConnected)
	}
	if err := leg.Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	bye := readSIP(t, u.conn, "BYE ")
	if got, want := headerOf(bye, "CSeq"), strconv.Itoa(invSeq+2)+" BYE"; got != want {
		t.Errorf("the BYE's CSeq %q, want %q after the PRACK's", got, want)
	}
	u.respond(t, bye, "200 OK", "", "")
}

// A proxy on the way forks the INVITE and two callees answer (RFC 3261
// section 13.2.2.4): the first connects the call; the second's 200, with a
// To tag of its own, is acknowledged in its own dialog and hung up, once
// however often it comes; the call goes on with the first.
func TestOutgoingCallHangsUpASecondAnswer(t *testing.T) {
	u, leg, events := dialRawUAS(t)
	inv := readSIP(t, u.conn, "INVITE ")
	u.respond(t, inv, "200 OK", "", answerSDP(9, "0", "0 PCMU/8000"))
	if ack := readSIP(t, u.conn, "ACK "); !strings.Contains(headerOf(ack, "To"), "tag=bob1") {
		t.Fatalf("the first answer's ACK:\n%s", ack)
	}
	second := strings.Replace(inv, "\r\nTo: "+headerOf(inv, "To"), "\r\nTo: "+headerOf(inv, "To")+";tag=bob2", 1)
	u.respond(t, second, "200 OK", "", answerSDP(9, "0", "0 PCMU/8000"))
	var acks, byes int
	for acks < 2 || byes < 1 {
		msg := readSIP(t, u.conn, "")
		if strings.HasPrefix(msg, "SIP/2.0 ") {
			continue
		}
		if to := headerOf(msg, "To"); !strings.Contains(to, "tag=bob2") {
			t.Fatalf("for the second answer, a request in another dialog:\n%s", msg)
		}
		switch {
		case strings.HasPrefix(msg, "ACK "):
			acks++
			if acks == 1 {
				// Its 200 again, as a callee does until its ACK: acknowledged
				// again, not hung up again.
				u.respond(t, second, "200 OK", "", answerSDP(9, "0", "0 PCMU/8000"))
			}
		case strings.HasPrefix(msg, "BYE "):
			byes++
			u.respond(t, msg, "200 OK", "", "")
		default:
			t.Fatalf("for the second answer:\n%s", msg)
		}
	}
	u.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 65536)
	for {
		n, err := u.conn.Read(buf)
		if err != nil {
			break
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, "BYE ") {
			t.Fatalf("a second BYE:\n%s", msg)
		}
	}
	waitConnected(t, events)
	if err := leg.Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	bye := readSIP(t, u.conn, "BYE ")
	if !strings.Contains(headerOf(bye, "To"), "tag=bob1") {
		t.Fatalf("the call's BYE is not the first answer's:\n%s", bye)
	}
	u.respond(t, bye, "200 OK", "", "")
}
