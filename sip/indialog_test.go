package sip

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/internal/porttest"
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
	p, d, log := callScenario(t, `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.addEventListener(CallEvents.InfoReceived, (i) => {
		Logger.write("info " + i.mimeType + " " + i.body + " " + i.headers["X-Pbx"]);
		call.sendInfo(i.mimeType, "echo " + i.body, {"X-Echo": "1", "Max-Forwards": "1"});
	});
	call.answer();
});`)
	if err := p.inDialog(d, "INFO", 3, "X-Pbx: 7\r\nContent-Type: application/x-pbx+xml\r\n", "<park/>"); err != nil {
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
			t.Fatalf("after the INFO: %v\n%s", err, log)
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
	waitLog(t, log, "info application/x-pbx+xml <park/> 7")
	if err := p.inDialog(d, "BYE", 4, "", ""); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "Session terminated")
}

// A phone holding the call (a re-INVITE with a=sendonly or a=inactive) and
// taking it back is Call.OnHold and Call.OffHold, once each way.
func TestHoldEvents(t *testing.T) {
	c := connectSilentCall(t)
	c.reinvite(t, "sendonly")
	c.launcher.event(t, runtime.EventOnHold)
	c.reinvite(t, "inactive") // still on hold: no event
	c.reinvite(t, "sendrecv")
	c.launcher.event(t, runtime.EventOffHold)
	c.reinvite(t, "recvonly") // the phone only listens: not a hold
	c.reinvite(t, "sendrecv")
	c.cseq++
	if err := c.p.inDialog(c.d, "BYE", c.cseq, "", ""); err != nil {
		t.Fatal(err)
	}
	if ev := c.launcher.next(t); ev.Name != runtime.EventDisconnected {
		t.Errorf("after taking the call back: %s, want only %s", ev.Name, runtime.EventDisconnected)
	}
}

// A phone that holds right after it answered sends its ACK and its
// re-INVITE back to back, and Vox may take the re-INVITE first: it waits
// for the ACK rather than answer 491, which some phones (Linphone) take as
// the hold failing.
func TestReinviteBeforeTheAck(t *testing.T) {
	launcher := newLateLauncher()
	_, addr := startRawCallServerWith(t, CallOptions{Launcher: launcher})
	p, err := newRawPhone(addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close() })
	rtp := porttest.ListenUDP(t)
	d := p.mustDial(t)
	offer := strings.Replace(answerSDP(udpPort(rtp), "0", "0 PCMU/8000"), "a=sendrecv", "a=sendonly", 1)
	branch := d.branch + "hold"
	hold := "INVITE " + d.target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.local + ";branch=" + branch + ";rport\r\n" +
		"From: " + d.from + "\r\nTo: " + d.to + "\r\nCall-ID: " + d.callID + "\r\nCSeq: 3 INVITE\r\n" +
		"Contact: <sip:alice@" + p.local + ">\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(offer)) + "\r\n\r\n" + offer
	if err := p.send(hold); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	if res, err := p.recv(); err != nil || !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Fatalf("the hold that came before the ACK: %v\n%s", err, res)
	}
	if err := p.send(p.ack(d.target, d.callID, d.from, d.to, branch+"ack", 3)); err != nil {
		t.Fatal(err)
	}
	launcher.event(t, runtime.EventConnected)
	launcher.event(t, runtime.EventOnHold)
	if err := p.inDialog(d, "BYE", 4, "", ""); err != nil {
		t.Fatal(err)
	}
	launcher.event(t, runtime.EventDisconnected)
}
