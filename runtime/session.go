package runtime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"vox/internal/timerref"
	"vox/jsapi"
)

// SessionInfo names a session and what it belongs to, as Application.Started
// reports it.
type SessionInfo struct {
	SessionID     string
	AccountID     string
	ApplicationID string
	UserID        string
	AccessURL     string // where the portal sends commands into the call (S20)
	LogURL        string
	CustomData    string
}

// Limits are a session's quotas. Voximplant's published limits are the anchor.
type Limits struct {
	CPUPerEvent time.Duration // CPU time one event callback may use
	MaxTimers   int           // active setTimeout/setInterval timers
	MaxHTTP     int           // HTTP requests in flight; more wait their turn
	MaxHTTPWait int           // HTTP requests waiting for a slot; more fail at once
	Memory      int64         // bytes a callback may grow the heap by, and one builtin may allocate
	MaxQueue    int           // events waiting for the scenario; a flood beyond ends the session
}

// DefaultLimits are the quotas a session gets when Config.Limits leaves them zero.
var DefaultLimits = Limits{
	CPUPerEvent: time.Second,
	MaxTimers:   100,
	MaxHTTP:     3,
	MaxHTTPWait: 64,
	Memory:      16 << 20,
	MaxQueue:    10000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.CPUPerEvent > 0 {
		d.CPUPerEvent = l.CPUPerEvent
	}
	if l.MaxTimers > 0 {
		d.MaxTimers = l.MaxTimers
	}
	if l.MaxHTTP > 0 {
		d.MaxHTTP = l.MaxHTTP
	}
	if l.MaxHTTPWait > 0 {
		d.MaxHTTPWait = l.MaxHTTPWait
	}
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	if l.MaxQueue > 0 {
		d.MaxQueue = l.MaxQueue
	}
	return d
}

// Config is everything a session needs. Programs and Clock are required; the rest
// has working defaults.
type Config struct {
	Name string // the application or scenario, for "Loading scenario NAME"
	// Version, when set, is logged after loading as the seed does:
	// "Start INCOMING scenario (version: 9)".
	Version  string
	Programs []*Program // run in order in one JS context, sharing one global scope
	Info     SessionInfo
	Clock    Clock
	Log      *SessionLog // nil writes no session log
	Dialer   Dialer      // nil fails every outgoing call with 404
	HTTP     HTTPClient  // nil fails every Net.httpRequestAsync
	Limits   Limits
	Logger   *slog.Logger
	// NewCallID makes ids for outgoing calls and HTTP requests; by default 32 random
	// bytes in URL-safe base64, like the seed's.
	NewCallID func() string
	// IdleTimeout ends a session this long after its last call ended, if the
	// scenario did not end it itself. Default one minute.
	IdleTimeout time.Duration
	// MaxDuration ends a session that runs this long. Default four hours.
	MaxDuration time.Duration
	// Release names the scenario release the session runs ("demo@3"), for its
	// summary.
	Release string
	// OnEnd, when set, is called once when the session has ended, on the
	// session's goroutine before Done is closed, with what the session knows of
	// its calls: the call record is written from it (S5).
	OnEnd func(SessionSummary)
	// OnIdle is called on a VirtualClock when nothing is queued or scheduled: the
	// simulation may make something happen (hang up the caller) and report true.
	// Returning false ends the session.
	OnIdle func() bool
}

// Session is one call session: one goroutine owns one fresh goja.Runtime, and
// everything from outside reaches it as a job on its queue, delivered in order.
type Session struct {
	cfg     Config
	limits  Limits
	log     *SessionLog
	logger  *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	queue   *jobQueue
	virtual *VirtualClock
	done    chan struct{}
	// floodLogged is set once the queue overflowed and that was logged.
	floodLogged atomic.Bool
	// self is what the session's timers reach it by; its end clears it
	// (see package timerref).
	self *timerref.Ref[Session]

	// Owned by the session goroutine.
	vm       *goja.Runtime
	dispatch goja.Callable
	watch    *watchdog
	legs     map[string]*legState
	legOrder []string
	// allLegs are every leg the session had, in order, for its summary.
	allLegs   []*legState
	startedAt time.Time
	// answers wait for the scenario's answers to access URL requests, by requestId.
	answers     map[string]chan<- HTTPAnswer
	nextRequest int64
	// ended keeps calls that are over for the events that may still follow
	// them: a recording is finished and reported after its call ended.
	ended      map[string]*legState
	timers     map[int64]*jsTimer
	nextTimer  int64
	http       httpState
	closing    bool
	terminated bool
	idle       Timer
	deadline   Timer
	deadlineAt time.Time
	err        error
	customData string
	// rejected are promises rejected with no handler yet. One still unhandled
	// when a callback (and the promise jobs it queued) has finished is an uncaught
	// error, as an exception would be.
	rejected []*goja.Promise
}

// ErrScenario marks a session that ended because its scenario failed: it threw,
// did not compile or broke a quota.
var ErrScenario = errors.New("scenario failed")

// Start creates a session and runs it: see New and Run.
func Start(ctx context.Context, cfg Config) (*Session, error) {
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.Run()
	return s, nil
}

// New creates a session that does not run yet. What is posted to it before Run
// (the incoming call, say) is delivered right after Application.Started, in
// order; a simulation uses this to have its whole timeline in place before the
// virtual clock can move.
func New(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Clock == nil {
		return nil, errors.New("start session: no clock")
	}
	if len(cfg.Programs) == 0 {
		return nil, errors.New("start session: no scenario")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NewCallID == nil {
		cfg.NewCallID = randomCallID
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 4 * time.Hour
	}
	if cfg.Info.SessionID == "" {
		cfg.Info.SessionID = randomCallID()
	}
	s := &Session{
		cfg:        cfg,
		limits:     cfg.Limits.withDefaults(),
		log:        cfg.Log,
		logger:     cfg.Logger.With("session", cfg.Info.SessionID, "account", cfg.Info.AccountID),
		done:       make(chan struct{}),
		legs:       map[string]*legState{},
		ended:      map[string]*legState{},
		timers:     map[int64]*jsTimer{},
		customData: cfg.Info.CustomData,
	}
	s.self = timerref.New(s)
	s.queue = newJobQueue(s.limits.MaxQueue)
	s.virtual, _ = cfg.Clock.(*VirtualClock)
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.post(s.boot)
	return s, nil
}

// Run starts the session's goroutine: the scenario loads and hears
// Application.Started. The session runs until the scenario terminates it, its
// calls end and it idles out, it fails, or its context is cancelled.
func (s *Session) Run() { go s.run() }

// ID is the session's id.
func (s *Session) ID() string { return s.cfg.Info.SessionID }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err reports why the session failed, after Done: nil when it ended normally, an
// error wrapping ErrScenario when the scenario failed.
func (s *Session) Err() error {
	<-s.done
	return s.err
}

// Incoming hands the session the call that started it; the scenario sees it as
// Application.CallAlerting.
func (s *Session) Incoming(in Incoming) {
	s.post(func() {
		id := in.Leg.ID()
		s.addLeg(&legState{leg: in.Leg, incoming: true, from: in.CallerID, to: in.Destination})
		headers := in.Headers
		if headers == nil {
			headers = map[string]string{}
		}
		s.deliver(map[string]any{
			"name":        EventCallAlerting,
			"id":          id,
			"callerid":    in.CallerID,
			"destination": in.Destination,
			"displayName": in.DisplayName,
			"fromURI":     in.FromURI,
			"toURI":       in.ToURI,
			"headers":     headers,
		})
	})
}

// HTTPRequest delivers a request made to the session's access URL (S20) as
// Application.HttpRequest.
func (s *Session) HTTPRequest(method, path, content string) {
	s.post(func() {
		s.deliver(map[string]any{"name": EventHTTPRequest, "method": method, "path": path, "content": content})
	})
}

// Terminate ends the session from outside, as VoxEngine.terminate would.
func (s *Session) Terminate(reason string) {
	s.post(func() {
		s.logf(KindSystem, "Session terminated from outside: %s", reason)
		s.closing = true
	})
}

func (s *Session) post(job func()) {
	if s.queue.push(job) {
		return
	}
	// One line per session, not one per dropped event: a flood must not flood
	// the server's log as well.
	if s.queue.overflowed() && s.floodLogged.CompareAndSwap(false, true) {
		s.logger.Warn("session queue full; dropping events until the session ends", "limit", s.limits.MaxQueue)
	}
}

func (s *Session) now() time.Time { return s.cfg.Clock.Now() }

func (s *Session) logf(kind, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	switch kind {
	case KindError:
		s.log.Error(s.now(), text)
	case KindWarning:
		s.log.Warning(s.now(), text)
	default:
		s.log.System(s.now(), text)
	}
}

func (s *Session) run() {
	defer close(s.done)
	defer s.queue.close()
	for !s.terminated {
		job, ok := s.next()
		if !ok {
			break
		}
		job()
		if s.queue.overflowed() && !s.terminated {
			s.fail(&QuotaError{Reason: fmt.Sprintf("event queue limit: more than %d events waiting", s.limits.MaxQueue)})
		}
		if s.closing && !s.terminated {
			s.finish(true)
		}
	}
	if !s.terminated {
		s.finish(false)
	}
	if s.cfg.OnEnd != nil {
		s.cfg.OnEnd(s.summary())
	}
	s.release()
}

// release drops the VM and everything that holds JS values once the session has
// ended. A Session stays reachable after its end (a SIP transaction keeps its
// leg, and the leg its event sink, for Timer L's 32 s), and a scenario's VM is
// a few hundred KiB: at hundreds of calls a second that alone was gigabytes.
func (s *Session) release() {
	s.vm, s.dispatch, s.watch = nil, nil, nil
	s.legs, s.ended, s.timers, s.rejected, s.allLegs, s.answers = nil, nil, nil, nil, nil, nil
	s.http.waiting = nil
}

// next returns the next job. On a virtual clock, an empty queue moves time to the
// next scheduled call; when nothing at all is scheduled, OnIdle decides.
// Background calls (VirtualClock.AfterFuncBackground: a simulated leg's media
// ticks) run on the way to the next foreground call but do not count as
// something scheduled: with only those left, the session is idle.
func (s *Session) next() (func(), bool) {
	for {
		if job, ok := s.queue.pop(); ok {
			return job, true
		}
		if s.virtual != nil && s.http.inFlight == 0 {
			// The session's own deadline is always pending; reaching it is not
			// something happening, so the simulation gets its say first. Next
			// reports foreground calls only; Step runs whichever call is
			// earliest, background ones included.
			if at, ok := s.virtual.Next(); ok && at.Before(s.deadlineAt) && s.virtual.Step() {
				continue
			}
			if s.cfg.OnIdle != nil && s.cfg.OnIdle() {
				continue
			}
			return func() {
				s.logf(KindSystem, "Nothing more can happen in this simulation: ending the session")
				s.closing = true
			}, true
		}
		select {
		case <-s.queue.ready:
		case <-s.ctx.Done():
			return func() { s.closing = true }, true
		}
	}
}

// boot prepares the VM, runs the scenario's top level and sends Application.Started.
func (s *Session) boot() {
	s.startedAt = s.now()
	s.deadlineAt = s.now().Add(s.cfg.MaxDuration)
	s.deadline = s.afterFunc(s.cfg.MaxDuration, func(s *Session) {
		s.post(func() {
			s.logf(KindSystem, "Session reached its maximum duration of %s", s.cfg.MaxDuration)
			s.closing = true
		})
	})
	name := s.cfg.Name
	if name == "" {
		name = s.cfg.Programs[0].Name
	}
	s.logf(KindSystem, "Loading scenario %s", name)
	if s.cfg.Version != "" {
		s.logf(KindSystem, "Start %s", s.cfg.Version)
	}
	s.vm = goja.New()
	// The scenario sees no Go field names: params and events are plain objects.
	s.vm.SetFieldNameMapper(goja.UncapFieldNameMapper())
	s.vm.SetMaxCallStackSize(maxCallDepth)
	s.vm.SetTimeSource(s.now)
	s.vm.SetPromiseRejectionTracker(s.trackRejection)
	s.watch = newWatchdog(s.vm, s.limits.CPUPerEvent, s.limits.Memory)
	opts := jsapi.Options{MaxAlloc: s.limits.Memory, NoAsyncOrGenerators: true}
	for _, p := range s.cfg.Programs {
		opts.NoAsyncOrGenerators = opts.NoAsyncOrGenerators && !p.asyncOrGenerators
	}
	// Install runs only the layer's own code, whose work is fixed, so it is not
	// metered as the scenario's callbacks are: the watchdog's readings cost
	// a few microseconds a callback, and a quota broken here would be no
	// scenario's fault.
	var err error
	s.dispatch, err = jsapi.Install(s.vm, (*sessionHost)(s), opts)
	if err != nil {
		s.fail(fmt.Errorf("install the VoxEngine API: %w", err))
		return
	}
	for _, p := range s.cfg.Programs {
		if !s.runJS("loading "+p.Name, func() error {
			_, err := s.vm.RunProgram(p.prog)
			return err
		}) {
			return
		}
	}
	started := map[string]any{
		"name":          EventStarted,
		"accessURL":     s.cfg.Info.AccessURL,
		"accountId":     s.cfg.Info.AccountID,
		"applicationId": s.cfg.Info.ApplicationID,
		"logURL":        s.cfg.Info.LogURL,
		"sessionId":     s.cfg.Info.SessionID,
		"userId":        s.cfg.Info.UserID,
	}
	if s.customData != "" {
		started["customData"] = s.customData
	}
	s.deliver(started)
}

// deliver sends one event to the VoxEngine layer and then to the scenario's own
// onPhoneEvent, if it has one. It returns what each returned (nil when it did
// not run): an answer to Application.HttpRequest may come back that way.
func (s *Session) deliver(params map[string]any) (layer, own goja.Value) {
	if s.terminated || s.err != nil {
		return nil, nil
	}
	s.log.Event(s.now(), params)
	name, _ := params["name"].(string)
	s.runJS("handling "+name, func() error {
		ev := jsapi.ToJS(s.vm, params)
		// With no onPhoneEvent to be handed ev untouched, the VoxEngine layer
		// may give ev itself to its listeners instead of a copy.
		_, shared := goja.AssertFunction(s.vm.Get("onPhoneEvent"))
		var err error
		if layer, err = s.dispatch(goja.Undefined(), ev, s.vm.ToValue(!shared)); err != nil {
			return err
		}
		if fn, ok := goja.AssertFunction(s.vm.Get("onPhoneEvent")); ok {
			if !shared {
				// A listener defined onPhoneEvent just now: it gets a fresh event.
				ev = jsapi.ToJS(s.vm, params)
			}
			if own, err = fn(goja.Undefined(), ev); err != nil {
				return err
			}
		}
		return nil
	})
	return layer, own
}

// runJS runs f under the watchdog and turns an uncaught error into a failed
// session. It reports whether f succeeded.
func (s *Session) runJS(what string, f func() error) bool {
	s.watch.begin()
	err := f()
	quota := s.watch.end()
	if quota != nil {
		// A broken quota is the reason even when the callback got to return (the
		// interrupt came while a builtin ran, and the builtin was its last step)
		// or threw something else on the way out; the VM's interrupt is still
		// pending, so no more of the scenario could run anyway.
		s.fail(fmt.Errorf("%s: %w%s", what, quota, interruptedStack(err)))
		return false
	}
	var overflow *goja.StackOverflowError
	if errors.As(err, &overflow) {
		quota := &QuotaError{Reason: fmt.Sprintf("call stack limit: calls nested more than %d deep", maxCallDepth)}
		s.fail(fmt.Errorf("%s: %w%s", what, quota, stackOf(overflow.Stack())))
		return false
	}
	if err == nil && len(s.rejected) > 0 {
		p := s.rejected[0]
		s.rejected = nil
		err = &RejectionError{Reason: p.Result()}
	}
	if err == nil {
		return true
	}
	s.fail(&ScriptError{What: what, Err: err})
	return false
}

// maxCallDepth bounds the scenario's JS call stack; goja throws an uncatchable
// StackOverflowError beyond it.
const maxCallDepth = 1000

// interruptedStack formats where the watchdog's interrupt stopped the scenario,
// or nothing when err is not an interrupt.
func interruptedStack(err error) string {
	var interrupted *goja.InterruptedError
	if !errors.As(err, &interrupted) {
		return ""
	}
	return stackOf(interrupted.Stack())
}

// stackOf formats the scenario's frames one "at" line each, as ScriptError does,
// the innermost maxQuotaFrames of them: a runaway recursion's thousand identical
// frames say no more than the first few.
func stackOf(frames []goja.StackFrame) string {
	const maxQuotaFrames = 20
	var b strings.Builder
	frames = scenarioFrames(frames)
	for i, f := range frames {
		if i == maxQuotaFrames {
			fmt.Fprintf(&b, "\n    ... %d more", len(frames)-i)
			break
		}
		writeFrame(&b, f)
	}
	return b.String()
}

func writeFrame(b *strings.Builder, f goja.StackFrame) {
	p := f.Position()
	fn := f.FuncName()
	if fn == "" {
		fn = "<anonymous>"
	}
	if p.Line > 0 {
		fmt.Fprintf(b, "\n    at %s (%s:%d:%d)", fn, f.SrcName(), p.Line, p.Column)
	} else {
		fmt.Fprintf(b, "\n    at %s (%s)", fn, f.SrcName())
	}
}

// fail logs why the scenario failed and ends the session without running more of it.
func (s *Session) fail(err error) {
	if s.err != nil {
		return
	}
	s.err = fmt.Errorf("%w: %w", ErrScenario, err)
	var quota *QuotaError
	if errors.As(err, &quota) {
		s.logf(KindError, "Scenario stopped: %s", err)
	} else {
		s.logf(KindError, "%s", err)
	}
	s.logger.Error("scenario failed", "err", err)
	s.closing = true
}

// finish ends the session: the scenario hears Application.Terminating, every call
// still up is hung up, timers and requests stop, and Application.Terminated ends it.
// After a scenario failure no more of the scenario runs.
func (s *Session) finish(runJS bool) {
	runJS = runJS && s.err == nil && s.dispatch != nil
	if runJS {
		s.deliver(map[string]any{"name": EventTerminating})
	}
	s.terminated = true
	code := 0
	if s.err != nil {
		code = 500
	}
	for _, id := range s.legOrder {
		if st, ok := s.legs[id]; ok {
			s.logf(KindSystem, "Hanging up call %s as the session ends", id)
			if err := st.leg.Hangup(s.ctx, code, nil); err != nil {
				s.logger.Warn("hang up at session end", "call", id, "err", err)
			}
		}
	}
	s.legs, s.legOrder = map[string]*legState{}, nil
	for id, t := range s.timers {
		t.timer.Stop()
		delete(s.timers, id)
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.deadline != nil {
		s.deadline.Stop()
	}
	s.self.Clear()
	s.cancel()
	if runJS {
		s.terminated = false
		s.deliver(map[string]any{"name": EventTerminated})
		s.terminated = true
	}
	s.logf(KindSystem, "Session terminated")
	s.logger.Debug("session ended")
}

// afterFunc is the clock's AfterFunc for the session's timers, which must
// not keep an ended session, its JS runtime above all, alive.
func (s *Session) afterFunc(d time.Duration, f func(*Session)) Timer {
	return s.cfg.Clock.AfterFunc(d, s.self.Func(f))
}

func (s *Session) addLeg(st *legState) {
	id := st.leg.ID()
	s.legs[id] = st
	s.legOrder = append(s.legOrder, id)
	st.started = s.now()
	s.allLegs = append(s.allLegs, st)
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	st.leg.Attach(legSink{s: s, id: id})
}

func (s *Session) removeLeg(id string) {
	if st, ok := s.legs[id]; ok {
		s.ended[id] = st
	}
	delete(s.legs, id)
	for i, o := range s.legOrder {
		if o == id {
			s.legOrder = append(s.legOrder[:i], s.legOrder[i+1:]...)
			break
		}
	}
	if len(s.legs) == 0 && !s.terminated {
		s.idle = s.afterFunc(s.cfg.IdleTimeout, func(s *Session) {
			s.post(func() {
				if len(s.legs) == 0 {
					s.logf(KindSystem, "No calls for %s: ending the session", s.cfg.IdleTimeout)
					s.closing = true
				}
			})
		})
	}
}

type legSink struct {
	s  *Session
	id string
}

func (k legSink) Post(ev Event) {
	if ev.CallID == "" {
		ev.CallID = k.id
	}
	k.s.post(func() { k.s.legEvent(ev) })
}

// eventsWithHeaders carry a headers object even when the leg had none, as the
// seed's log shows.
var eventsWithHeaders = map[string]bool{
	EventRinging: true, EventAudioStarted: true, EventConnected: true,
	EventFailed: true, EventDisconnected: true, EventMessageReceived: true,
	EventBlindTransferRequested: true, EventInfoReceived: true,
}

// afterEnd are the events a call may still report once it has ended.
var afterEnd = map[string]bool{EventRecordStopped: true}

func (s *Session) legEvent(ev Event) {
	if s.terminated {
		return
	}
	st, ok := s.legs[ev.CallID]
	if !ok && afterEnd[ev.Name] {
		st, ok = s.ended[ev.CallID]
	}
	if !ok {
		s.logger.Debug("event for a call the session no longer has", "event", ev.Name, "call", ev.CallID)
		return
	}
	params := make(map[string]any, len(ev.Params)+2)
	for k, v := range ev.Params {
		params[k] = v
	}
	params["name"] = ev.Name
	params["id"] = ev.CallID
	if eventsWithHeaders[ev.Name] && params["headers"] == nil {
		params["headers"] = map[string]string{}
	}
	switch ev.Name {
	case EventConnected:
		st.connected = s.now()
	case EventRecordStarted:
		if url, ok := params["url"].(string); ok && url != "" {
			st.recordURLs = append(st.recordURLs, url)
		}
	case EventDisconnected:
		st.ended = s.now()
		if _, ok := params["duration"]; !ok {
			d := 0
			if !st.connected.IsZero() {
				d = int(s.now().Sub(st.connected).Round(time.Second) / time.Second)
			}
			params["duration"] = d
		}
		if _, ok := params["cost"]; !ok {
			params["cost"] = 0.0
		}
		if _, ok := params["direction"]; !ok {
			params["direction"] = direction(st)
		}
		s.removeLeg(ev.CallID)
	case EventFailed:
		if _, ok := params["code"]; !ok {
			params["code"] = 500
		}
		if _, ok := params["reason"]; !ok {
			params["reason"] = "Server Internal Error"
		}
		st.ended = s.now()
		st.code = int(num(params, "code"))
		st.reason = str(params, "reason")
		s.removeLeg(ev.CallID)
	}
	s.deliver(params)
}

// direction names a leg's billing direction in the seed's words.
func direction(st *legState) string {
	switch {
	case st.incoming:
		return "any Incoming VoIP"
	case st.kind == DialPSTN:
		return "pstn outgoing"
	default:
		return "any outgoing voip"
	}
}

// ScriptError is an uncaught exception from a scenario, with its position and
// JS stack.
type ScriptError struct {
	What string // what the session was doing: "handling Call.Connected"
	Err  error
}

func (e *ScriptError) Unwrap() error { return e.Err }

func (e *ScriptError) Error() string {
	var ex *goja.Exception
	if !errors.As(e.Err, &ex) {
		return fmt.Sprintf("JS error while %s: %v", e.What, e.Err)
	}
	var b strings.Builder
	frames := scenarioFrames(ex.Stack())
	pos := ""
	for _, f := range frames {
		if p := f.Position(); p.Line > 0 {
			pos = fmt.Sprintf("%s:%d:%d: ", f.SrcName(), p.Line, p.Column)
			break
		}
	}
	fmt.Fprintf(&b, "%sUncaught %s (while %s)", pos, exceptionMessage(ex), e.What)
	for _, f := range frames {
		writeFrame(&b, f)
	}
	return b.String()
}

func (s *Session) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		s.rejected = append(s.rejected, p)
	case goja.PromiseRejectionHandle:
		for i, r := range s.rejected {
			if r == p {
				s.rejected = append(s.rejected[:i], s.rejected[i+1:]...)
				break
			}
		}
	}
}

// RejectionError is a promise rejected with no handler: an async function that
// threw and nobody awaited.
type RejectionError struct {
	Reason goja.Value
}

// stackFrame matches one frame of a JS error's stack: "at name (file:line:col(pc))".
var stackFrame = regexp.MustCompile(`at (\S+) \(([^()]+):(\d+):(\d+)(?:\(\d+\))?\)`)

func (e *RejectionError) Error() string {
	msg, stack := "undefined", ""
	if e.Reason != nil {
		msg = e.Reason.String()
		if obj, ok := e.Reason.(*goja.Object); ok {
			if st := obj.Get("stack"); st != nil && !goja.IsUndefined(st) {
				stack = st.String()
			}
		}
	}
	var b strings.Builder
	frames := stackFrame.FindAllStringSubmatch(stack, -1)
	if len(frames) > 0 {
		fmt.Fprintf(&b, "%s:%s:%s: ", frames[0][2], frames[0][3], frames[0][4])
	}
	fmt.Fprintf(&b, "Uncaught (in promise) %s", msg)
	for _, f := range frames {
		fmt.Fprintf(&b, "\n    at %s (%s:%s:%s)", f[1], f[2], f[3], f[4])
	}
	return b.String()
}

// scenarioFrames drops the frames of the VoxEngine layer and of Go functions: the
// integrator debugs their own code. When nothing is left (a bug in the layer
// itself), everything is kept.
func scenarioFrames(frames []goja.StackFrame) []goja.StackFrame {
	var own []goja.StackFrame
	for _, f := range frames {
		if name := f.SrcName(); name != jsapi.PreludeName && name != jsapi.GuardsName && name != "<native>" {
			own = append(own, f)
		}
	}
	if len(own) == 0 {
		return frames
	}
	return own
}

func exceptionMessage(ex *goja.Exception) string {
	if obj, ok := ex.Value().(*goja.Object); ok {
		name, msg := obj.Get("name"), obj.Get("message")
		if name != nil && msg != nil && !goja.IsUndefined(name) {
			return name.String() + ": " + msg.String()
		}
	}
	if v := ex.Value(); v != nil {
		return v.String()
	}
	return ex.Error()
}

func randomCallID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
