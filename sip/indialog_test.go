package sip

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/media/rtp"
	"vox/runtime"
)

// eventNames is a session's event sink that keeps the names of what it got.
type eventNames struct {
	mu    sync.Mutex
	names []string
}

func (e *eventNames) Post(ev runtime.Event) {
	e.mu.Lock()
	e.names = append(e.names, ev.Name)
	e.mu.Unlock()
}

func (e *eventNames) got() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.names)
}

// answerWatch is a server transaction that notes, when it is answered, the
// events the leg had queued by then.
type answerWatch struct {
	sipmsg.ServerTransaction
	sink     *eventNames
	code     int
	atAnswer []string
}

func (a *answerWatch) Respond(res *sipmsg.Response) error {
	a.code, a.atAnswer = res.StatusCode, a.sink.got()
	return nil
}

// An INFO's or a MESSAGE's event is queued before the request is answered:
// the peer may send BYE as soon as it has the 200, sipgo takes the BYE on a
// goroutine of its own, and a call's events after its Call.Disconnected are
// dropped by the session.
func TestInCallRequestQueuedBeforeAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      sipmsg.RequestMethod
		contentType string
		body        string
		want        string
	}{
		{"INFO digit", sipmsg.INFO, "application/dtmf-relay", "Signal=5\r\nDuration=160", runtime.EventToneReceived},
		{"INFO text", sipmsg.INFO, "text/plain", `{"COMMAND":"hold"}`, runtime.EventMessageReceived},
		{"MESSAGE", sipmsg.MESSAGE, "text/plain", `{"COMMAND":"hold"}`, runtime.EventMessageReceived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &leg{c: &calls{srv: &Server{}}, id: "call-1", tones: true}
			sink := &eventNames{}
			l.Attach(sink)
			req := sipmsg.NewRequest(tt.method, sipmsg.Uri{Scheme: "sip", User: "100", Host: "127.0.0.1"})
			req.AppendHeader(sipmsg.NewHeader("Content-Type", tt.contentType))
			req.SetBody([]byte(tt.body))
			tx := &answerWatch{sink: sink}
			if tt.method == sipmsg.INFO {
				l.info(req, tx)
			} else {
				l.message(req, tx)
			}
			if tx.code != 200 || !slices.Equal(tx.atAnswer, []string{tt.want}) {
				t.Fatalf("answered %d with %q queued; want 200 with [%s]", tx.code, tx.atAnswer, tt.want)
			}
		})
	}
}

// An INFO that is neither a digit nor text reaches the scenario as
// Call.InfoReceived and is answered 200 (it used to get 415); the
// scenario's sendInfo reaches the phone with its type, body and X- headers.
func TestInfoBothWays(t *testing.T) {
	prog, err := runtime.Compile("info.js", `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.addEventListener(CallEvents.InfoReceived, (i) => {
		Logger.write("info " + i.mimeType + " " + i.body + " " + i.headers["X-Pbx"]);
		call.sendInfo(i.mimeType, "echo " + i.body, {"X-Echo": "1", "Max-Forwards": "1"});
	});
	call.answer();
});`)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	launcher := &scriptLauncher{prog: prog, log: &syncBuffer{}}
	_, addr := startRawCallServerWith(t, CallOptions{Router: testRouter{}, Launcher: launcher, Ports: ports})
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	d, err := p.dial()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	msg := "INFO " + d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=" + d.branch + "info;rport\r\n" +
		"From: " + d.from + "\r\nTo: " + d.to + "\r\nCall-ID: " + d.callID + "\r\nCSeq: 3 INFO\r\nMax-Forwards: 70\r\n" +
		"X-Pbx: 7\r\nContent-Type: application/x-pbx+xml\r\nContent-Length: 7\r\n\r\n<park/>"
	if err := p.send(msg); err != nil {
		t.Fatal(err)
	}
	// The answer to ours and the scenario's INFO, in either order: the
	// event is queued before the answer goes.
	var answered bool
	var info string
	for range 2 {
		msg, err := p.recv()
		switch {
		case err != nil:
			t.Fatalf("after the INFO: %v\n%s", err, launcher.log)
		case strings.HasPrefix(msg, "SIP/2.0 200 ") && strings.HasSuffix(headerOf(msg, "CSeq"), "INFO"):
			answered = true
		case strings.HasPrefix(msg, "INFO "):
			info = msg
		default:
			t.Fatalf("after the INFO:\n%s", msg)
		}
	}
	if !answered || info == "" {
		t.Fatalf("the INFO answered: %v; the scenario's INFO:\n%s", answered, info)
	}
	_, body, _ := strings.Cut(info, "\r\n\r\n")
	if headerOf(info, "Content-Type") != "application/x-pbx+xml" || headerOf(info, "X-Echo") != "1" || headerOf(info, "Max-Forwards") != "70" || body != "echo <park/>" {
		t.Errorf("the scenario's INFO:\n%s", info)
	}
	if err := p.answerBye(info); err != nil {
		t.Fatal(err)
	}
	waitLog(t, launcher.log, "info application/x-pbx+xml <park/> 7")
	if err := p.inDialog(d, "BYE", 4, "", ""); err != nil {
		t.Fatal(err)
	}
	waitLog(t, launcher.log, "Session terminated")
}

// A phone holding the call (a re-INVITE with a=sendonly or a=inactive) and
// taking it back is Call.OnHold and Call.OffHold, once each way.
func TestHoldEvents(t *testing.T) {
	c := connectSilentCall(t)
	c.reinviteAfter(t, "sendonly")
	c.launcher.event(t, runtime.EventOnHold)
	c.reinviteAfter(t, "inactive") // still on hold: no event
	c.reinviteAfter(t, "sendrecv")
	c.launcher.event(t, runtime.EventOffHold)
	c.reinviteAfter(t, "recvonly") // the phone only listens: not a hold
	c.reinviteAfter(t, "sendrecv")
	c.cseq++
	if err := c.p.inDialog(c.d, "BYE", c.cseq, "", ""); err != nil {
		t.Fatal(err)
	}
	if ev := c.launcher.next(t); ev.Name != runtime.EventDisconnected {
		t.Errorf("after taking the call back: %s, want only %s", ev.Name, runtime.EventDisconnected)
	}
}

// reinviteAfter is reinvite once the server has the previous one's ACK: a
// re-INVITE crossing it gets 491 (RFC 3261 section 14.2), and is sent again.
func (c *silentCall) reinviteAfter(t *testing.T, direction string) {
	t.Helper()
	for range 100 {
		c.cseq++
		n := strconv.Itoa(c.cseq)
		offer := strings.Replace(answerSDP(udpPort(c.rtp), "0", "0 PCMU/8000"), "a=sendrecv", "a="+direction, 1)
		branch := c.d.branch + "re" + n
		req := "INVITE " + c.d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.p.local + ";branch=" + branch + ";rport\r\n" +
			"From: " + c.d.from + "\r\nTo: " + c.d.to + "\r\nCall-ID: " + c.d.callID + "\r\nCSeq: " + n + " INVITE\r\n" +
			"Contact: <sip:alice@" + c.p.local + ">\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n" +
			"Content-Length: " + strconv.Itoa(len(offer)) + "\r\n\r\n" + offer
		if err := c.p.send(req); err != nil {
			t.Fatal(err)
		}
		res, err := c.p.recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.p.send(c.p.ack(c.d.target, c.d.callID, c.d.from, c.d.to, branch+"ack", c.cseq)); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(res, "SIP/2.0 200 "):
			return
		case !strings.HasPrefix(res, "SIP/2.0 491 "):
			t.Fatalf("re-INVITE %s: got\n%s", direction, res)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("re-INVITE %s: 491 for two seconds", direction)
}
