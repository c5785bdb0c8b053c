package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingLeg is a far end that remembers what the session asked of it. The real
// far ends (SIP, WebRTC) come with their own issues; this one stands in for them
// where the session itself is under test.
type recordingLeg struct {
	id string

	mu     sync.Mutex
	events EventSink
	calls  []string
}

func (l *recordingLeg) did(what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, what)
	return nil
}

func (l *recordingLeg) done() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func (l *recordingLeg) ID() string { return l.id }
func (l *recordingLeg) Attach(e EventSink) {
	l.mu.Lock()
	l.events = e
	l.mu.Unlock()
}
func (l *recordingLeg) Answer(context.Context, map[string]string) error { return l.did("answer") }
func (l *recordingLeg) StartEarlyMedia(context.Context, map[string]string) error {
	return l.did("early")
}
func (l *recordingLeg) Hangup(_ context.Context, code int, _ map[string]string) error {
	return l.did("hangup " + itoaCode(code))
}
func (l *recordingLeg) Play(_ context.Context, m Media) error    { return l.did("play " + m.URL) }
func (l *recordingLeg) StopPlayback(context.Context) error       { return l.did("stop") }
func (l *recordingLeg) HandleTones(context.Context, bool) error  { return l.did("tones") }
func (l *recordingLeg) Record(context.Context, Recording) error  { return l.did("record") }
func (l *recordingLeg) StopRecording(context.Context) error      { return l.did("stop record") }
func (l *recordingLeg) SendDigits(context.Context, string) error { return l.did("digits") }
func (l *recordingLeg) SendMessage(_ context.Context, t string) error {
	return l.did("message " + t)
}
func (l *recordingLeg) SendMediaTo(_ context.Context, to Leg) error {
	return l.did("media to " + to.ID())
}
func (l *recordingLeg) StopMediaTo(_ context.Context, to Leg) error {
	return l.did("no media to " + to.ID())
}

func (l *recordingLeg) post(name string, params map[string]any) {
	l.mu.Lock()
	sink := l.events
	l.mu.Unlock()
	sink.Post(Event{Name: name, CallID: l.id, Params: params})
}

func itoaCode(c int) string {
	if c == 0 {
		return "0"
	}
	var b []byte
	for ; c > 0; c /= 10 {
		b = append([]byte{byte('0' + c%10)}, b...)
	}
	return string(b)
}

// syncBuffer is a log sink tests can read while the session writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startSession(t *testing.T, ctx context.Context, src string, cfg Config) (*Session, *syncBuffer) {
	t.Helper()
	s, log := newSession(t, ctx, src, cfg)
	s.Run()
	return s, log
}

// startCallSession is startSession with in handed to the session before it
// runs, so that nothing the session does (OnIdle above all) comes before
// the call is attached.
func startCallSession(t *testing.T, ctx context.Context, src string, cfg Config, in Incoming) (*Session, *syncBuffer) {
	t.Helper()
	s, log := newSession(t, ctx, src, cfg)
	s.Incoming(in)
	s.Run()
	return s, log
}

// newSession is a session of src, not yet running, logging to the buffer
// returned.
func newSession(t *testing.T, ctx context.Context, src string, cfg Config) (*Session, *syncBuffer) {
	t.Helper()
	prog, err := Compile("test.js", src)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cfg.Programs = []*Program{prog}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	cfg.Log = NewSessionLog(log, LogText)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, log
}

// waitFor polls until the log contains want; bounded so a broken session fails the
// test instead of hanging it.
func waitFor(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q:\n%s", want, log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitDone(t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end")
	}
}

const answerAndWait = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, () => Logger.write("connected " + e.call.id()));
	e.call.addEventListener(CallEvents.MessageReceived, (m) => e.call.sendMessage("echo " + m.text));
});`

// The log is written as the call goes, not at its end, and events from the leg's
// own goroutines reach the scenario in order.
func TestSessionLogsAsTheCallGoes(t *testing.T) {
	s, log := startSession(t, context.Background(), answerAndWait, Config{})
	leg := &recordingLeg{id: "in-1"}
	s.Incoming(Incoming{Leg: leg, CallerID: "79112233444", Destination: "74951234567"})
	waitFor(t, log, "Executing JS command: AcceptCall")
	leg.post(EventConnected, nil)
	waitFor(t, log, "connected in-1")
	for _, text := range []string{"a", "b", "c"} {
		leg.post(EventMessageReceived, map[string]any{"text": text})
	}
	waitFor(t, log, "echo c")
	if got := strings.Join(leg.done(), ","); got != "answer,message echo a,message echo b,message echo c" {
		t.Errorf("leg saw %s", got)
	}
	s.Terminate("test over")
	waitDone(t, s)
	if err := s.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
	if calls := leg.done(); calls[len(calls)-1] != "hangup 0" {
		t.Errorf("the call was not hung up at the end: %v", calls)
	}
	if !strings.HasSuffix(log.String(), "Session terminated\n") {
		t.Errorf("log does not end with Session terminated:\n%s", log.String())
	}
}

// Cancelling the session's context (a server shutting down) ends it cleanly: the
// scenario hears Terminating and the calls are hung up.
func TestSessionEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, log := startSession(t, ctx, answerAndWait+`
VoxEngine.addEventListener(AppEvents.Terminating, () => Logger.write("cleaning up"));`, Config{})
	leg := &recordingLeg{id: "in-1"}
	s.Incoming(Incoming{Leg: leg})
	waitFor(t, log, "AcceptCall")
	cancel()
	waitDone(t, s)
	for _, want := range []string{"cleaning up", "Hanging up call in-1 as the session ends", "Session terminated"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// Without a dialer every outgoing call fails with 404, as an event, after the
// command returned.
func TestSessionWithoutDialerFailsCalls(t *testing.T) {
	s, log := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.Started, () => {
	const c = VoxEngine.callUser("user67", "74951234567");
	Logger.write("state after the command: " + c.state());
	c.addEventListener(CallEvents.Failed, (e) => { Logger.write("failed " + e.code + " " + e.reason); VoxEngine.terminate(); });
});`, Config{})
	waitDone(t, s)
	for _, want := range []string{"state after the command: PROGRESSING", "failed 404 Not Found"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

type refusingDialer struct{}

func (refusingDialer) Dial(context.Context, DialRequest) (Leg, error) {
	return nil, &DialError{Code: 403, Reason: "Forbidden"}
}

func TestSessionReportsDialerRefusal(t *testing.T) {
	s, log := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.Started, () => {
	VoxEngine.callPSTN("74951234567", "1").addEventListener(CallEvents.Failed, (e) => {
		Logger.write("failed " + e.code + " " + e.reason);
		VoxEngine.terminate();
	});
});`, Config{Dialer: refusingDialer{}})
	waitDone(t, s)
	if !strings.Contains(log.String(), "failed 403 Forbidden") {
		t.Errorf("log:\n%s", log.String())
	}
}

// legDialer answers every outgoing call with a recordingLeg of the id the
// scenario knows it by.
type legDialer struct {
	mu   sync.Mutex
	legs map[string]*recordingLeg
}

func (d *legDialer) Dial(_ context.Context, r DialRequest) (Leg, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	leg := &recordingLeg{id: r.ID}
	d.legs[r.ID] = leg
	return leg, nil
}

// Call.sendMediaTo and stopMediaTo reach the leg whose far end is heard,
// naming the one that hears it; sendMediaBetween is both.
func TestSessionMediaOneWayAndBothWays(t *testing.T) {
	d := &legDialer{legs: map[string]*recordingLeg{}}
	s, log := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const out = VoxEngine.callPSTN("74951234567", "1");
	out.addEventListener(CallEvents.Connected, () => {
		e.call.sendMediaTo(out);
		out.stopMediaTo(e.call);
		VoxEngine.sendMediaBetween(out, e.call);
		Logger.write("bridged");
	});
});`, Config{Dialer: d})
	in := &recordingLeg{id: "in-1"}
	s.Incoming(Incoming{Leg: in})
	waitFor(t, log, "CallPSTN")
	d.mu.Lock()
	var out *recordingLeg
	for _, l := range d.legs {
		out = l
	}
	d.mu.Unlock()
	if out == nil {
		t.Fatal("no call was dialled")
	}
	out.post(EventConnected, nil)
	waitFor(t, log, "bridged")
	s.Terminate("test over")
	waitDone(t, s)
	want := map[*recordingLeg][]string{
		in:  {"media to " + out.id, "media to " + out.id},
		out: {"no media to in-1", "media to in-1"},
	}
	for leg, calls := range want {
		var media []string
		for _, c := range leg.done() {
			if strings.Contains(c, "media to") {
				media = append(media, c)
			}
		}
		if strings.Join(media, ",") != strings.Join(calls, ",") {
			t.Errorf("%s was asked %v, want %v", leg.id, media, calls)
		}
	}
	for _, cmd := range []string{"SendMediaTo with params [{id = in-1 ; to = " + out.id, "StopMediaTo with params [{id = " + out.id + " ; to = in-1"} {
		if !strings.Contains(log.String(), cmd) {
			t.Errorf("log lacks %q:\n%s", cmd, log.String())
		}
	}
}

// A session whose scenario throws at its top level fails before any call and says
// where.
func TestSessionTopLevelError(t *testing.T) {
	s, log := startSession(t, context.Background(), "var x = 1;\nundefinedFunction();\n", Config{})
	waitDone(t, s)
	err := s.Err()
	if !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "test.js:2:1") {
		t.Errorf("Err() = %v", err)
	}
	if !strings.Contains(log.String(), "ReferenceError: undefinedFunction is not defined (while loading test.js)") {
		t.Errorf("log:\n%s", log.String())
	}
}

// A session that gets no call ends after its idle timeout.
func TestSessionIdlesOut(t *testing.T) {
	s, log := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.hangup());`, Config{IdleTimeout: 20 * time.Millisecond})
	leg := &recordingLeg{id: "in-1"}
	s.Incoming(Incoming{Leg: leg})
	waitFor(t, log, "HangupCall")
	leg.post(EventDisconnected, nil)
	waitDone(t, s)
	if !strings.Contains(log.String(), "No calls for 20ms: ending the session") {
		t.Errorf("log:\n%s", log.String())
	}
}

// A flood of events beyond the queue's limit ends the session instead of growing
// without bound.
func TestSessionQueueLimit(t *testing.T) {
	block := make(chan struct{})
	s, log := startSession(t, context.Background(), answerAndWait, Config{Limits: Limits{MaxQueue: 10}})
	leg := &recordingLeg{id: "in-1"}
	s.Incoming(Incoming{Leg: leg})
	waitFor(t, log, "AcceptCall")
	// Hold the session goroutine so the flood piles up in its queue.
	s.post(func() { <-block })
	for range 50 {
		leg.post(EventMessageReceived, map[string]any{"text": "flood"})
	}
	close(block)
	waitDone(t, s)
	if err := s.Err(); !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "event queue limit") {
		t.Errorf("Err() = %v", err)
	}
}

// Listeners may be handed the event object itself when the scenario has no
// onPhoneEvent; onPhoneEvent, even one a listener defines, sees the event as it came.
func TestSessionOnPhoneEventSeesTheEventUntouched(t *testing.T) {
	s, log := startSession(t, context.Background(), `
VoxEngine.addEventListener(AppEvents.Started, (e) => {
	e.sessionId = "changed by a listener";
	globalThis.onPhoneEvent = (ev) => Logger.write(ev.name + " reached onPhoneEvent with " + (ev.sessionId || ev.path));
});
VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => { e.path = "changed by a listener"; });`,
		Config{Info: SessionInfo{SessionID: "s-1"}})
	waitFor(t, log, "Application.Started reached onPhoneEvent with s-1")
	s.HTTPRequest("POST", "/request/1", "")
	waitFor(t, log, "Application.HttpRequest reached onPhoneEvent with /request/1")
	s.Terminate("test over")
	waitDone(t, s)
}

// A session builds the guard on the async and generator function constructors
// only when its programs define such functions, the only way to reach them; a
// scenario that does, by any of the forms, still cannot compile code with them.
func TestSessionRefusesAsyncAndGeneratorConstructors(t *testing.T) {
	for name, src := range map[string]string{
		"async function":   `async function f() {}; f.constructor("return 1");`,
		"async arrow":      `(async () => 1).constructor("return 1");`,
		"generator":        `(function* () {}).constructor("yield 1");`,
		"generator method": `Object.getPrototypeOf(({ *g() {} }).g).constructor("yield 1");`,
		"second program":   `Object.getPrototypeOf(later).constructor("return 1");`,
	} {
		t.Run(name, func(t *testing.T) {
			prog, err := Compile("test.js", src)
			if err != nil {
				t.Fatal(err)
			}
			programs := []*Program{prog}
			if name == "second program" {
				// Loaded first, the async function is defined by a later file.
				other, err := Compile("later.js", `var later = async () => {};`)
				if err != nil {
					t.Fatal(err)
				}
				programs = []*Program{other, prog}
			}
			if prog.asyncOrGenerators == (name == "second program") {
				t.Errorf("asyncOrGenerators = %v", prog.asyncOrGenerators)
			}
			log := &syncBuffer{}
			s, err := Start(context.Background(), Config{Programs: programs, Clock: RealClock{},
				Log: NewSessionLog(log, LogText), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, s)
			if !errors.Is(s.Err(), ErrScenario) || !strings.Contains(log.String(), "EvalError: Function: code generation from strings is not allowed") {
				t.Errorf("Err() = %v, log:\n%s", s.Err(), log.String())
			}
		})
	}
}

// transferLeg is a recordingLeg whose far end may ask for a transfer.
type transferLeg struct{ recordingLeg }

func (l *transferLeg) HandleBlindTransfer(_ context.Context, on bool) error {
	return l.did(fmt.Sprint("transfers ", on))
}

func (l *transferLeg) NotifyBlindTransfer(_ context.Context, code int, reason string) error {
	return l.did(fmt.Sprint("transfer ", code, " ", reason))
}

// A phone's transfer request reaches the scenario, whose answer reaches the
// leg; a call that cannot be transferred gets a warning, not an exception.
func TestBlindTransfer(t *testing.T) {
	const scenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.handleBlindTransfer(true);
	e.call.addEventListener(CallEvents.BlindTransferRequested, (r) => {
		Logger.write("transfer to " + r.transferTo + " via " + r.headers["Refer-To"]);
		if (r.transferTo === "busy") {
			r.call.notifyBlindTransferFailed(486, "Busy Here");
			r.call.notifyBlindTransferFailed(100, "Trying");
		} else {
			r.call.notifyBlindTransferSuccess();
		}
	});
});`
	t.Run("transferable", func(t *testing.T) {
		s, log := startSession(t, context.Background(), scenario, Config{})
		leg := &transferLeg{recordingLeg{id: "in-1"}}
		s.Incoming(Incoming{Leg: leg})
		waitFor(t, log, "HandleBlindTransfer")
		leg.post(EventConnected, nil)
		leg.post(EventBlindTransferRequested, map[string]any{"transferTo": "phone69", "headers": map[string]string{"Refer-To": "sip:phone69@vox"}})
		waitFor(t, log, "transfer to phone69 via sip:phone69@vox")
		leg.post(EventBlindTransferRequested, map[string]any{"transferTo": "busy", "headers": map[string]string{"Refer-To": "sip:busy@vox"}})
		waitFor(t, log, "a transfer ends with a final SIP status")
		s.Terminate("test over")
		waitDone(t, s)
		want := "answer,transfers true,transfer 200 OK,transfer 486 Busy Here,hangup 0"
		if got := strings.Join(leg.done(), ","); got != want {
			t.Errorf("leg saw %s, want %s", got, want)
		}
	})
	t.Run("not transferable", func(t *testing.T) {
		s, log := startSession(t, context.Background(), scenario, Config{})
		leg := &recordingLeg{id: "in-1"}
		s.Incoming(Incoming{Leg: leg})
		waitFor(t, log, "call in-1: this call cannot be transferred")
		s.Terminate("test over")
		waitDone(t, s)
		if err := s.Err(); err != nil {
			t.Errorf("Err() = %v", err)
		}
	})
}

// infoLeg is a recordingLeg that carries SIP INFO.
type infoLeg struct{ recordingLeg }

func (l *infoLeg) SendInfo(_ context.Context, mimeType, body string, headers map[string]string) error {
	return l.did(fmt.Sprint("info ", mimeType, " ", body, " ", headers["X-A"]))
}

// Call.sendInfo reaches a leg that carries INFO, checked first: a MIME type
// that is not type/subtype, or a body over a datagram, is a warning and
// sends nothing, as is a leg that carries no INFO.
func TestSendInfo(t *testing.T) {
	const scenario = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.sendInfo("application/x-a+json; charset=utf-8", "{}", {"X-A": "1"});
	e.call.sendInfo("not a type", "x");
	e.call.sendInfo("text/plain\r\nX-Evil: 1", "x");
	e.call.sendInfo("application/x-big", "x".repeat(1301));
	Logger.write("sent");
});`
	s, log := startSession(t, context.Background(), scenario, Config{})
	leg := &infoLeg{recordingLeg{id: "in-1"}}
	s.Incoming(Incoming{Leg: leg})
	waitFor(t, log, "sent")
	s.Terminate("test over")
	waitDone(t, s)
	want := "answer,info application/x-a+json; charset=utf-8 {} 1,hangup 0"
	if got := strings.Join(leg.done(), ","); got != want {
		t.Errorf("leg saw %s, want %s", got, want)
	}
	for _, w := range []string{`MIME type "not a type" is not type/subtype`, "is not type/subtype", "a body of 1301 bytes is over 1300"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	s, log = startSession(t, context.Background(), scenario, Config{})
	s.Incoming(Incoming{Leg: &recordingLeg{id: "in-1"}})
	waitFor(t, log, "this call carries no SIP INFO")
	s.Terminate("test over")
	waitDone(t, s)
}
