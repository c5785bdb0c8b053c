package sip

import (
	"slices"
	"sync"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"

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
