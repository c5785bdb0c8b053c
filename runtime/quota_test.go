package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vox/runtime"
)

// hostileDir holds one scenario per attack on a session's quotas.
const hostileDir = "../testdata/hostile"

// hostileCases says, for every file in hostileDir, what the session log must give
// as the reason the scenario was stopped. A file without a case fails the test, so
// a new attack cannot be added without saying how it ends. Where a scenario builds
// megabytes of input for the guarded call, the memory watchdog may stop it first,
// which is as good a stop.
var hostileCases = map[string][]string{
	"infinite_loop.js":        {"CPU limit"},
	"promise_loop.js":         {"CPU limit"},
	"string_doubling.js":      {"memory limit", "CPU limit"},
	"array_push.js":           {"memory limit", "CPU limit"},
	"json_explosion.js":       {"memory limit", "CPU limit"},
	"catastrophic_regexp.js":  {"catastrophic backtracking", "CPU limit", "memory limit"},
	"string_repeat.js":        {"RangeError: String.prototype.repeat would allocate"},
	"pad_end.js":              {"RangeError: String.prototype.padEnd would allocate"},
	"string_concat.js":        {"RangeError: String.prototype.concat would allocate"},
	"replace_expansion.js":    {"RangeError: String.prototype.replace would allocate"},
	"array_fill.js":           {"RangeError: new Array(20000000)"},
	"array_from.js":           {"RangeError: new Array(1000000000)"},
	"array_buffer.js":         {"RangeError: new Uint8Array would allocate"},
	"array_like_index_of.js":  {"RangeError: Array.prototype.indexOf"},
	"join_holes.js":           {"RangeError: Array.prototype.join"},
	"object_keys.js":          {"RangeError: Object.keys would allocate", "memory limit"},
	"json_parse_nesting.js":   {"RangeError: JSON.parse: the text nests", "memory limit"},
	"regexp_nesting.js":       {"RangeError: new RegExp: the pattern nests", "memory limit"},
	"eval_nesting.js":         {"EvalError: eval: code generation from strings is not allowed", "memory limit"},
	"function_constructor.js": {"EvalError: Function: code generation from strings is not allowed"},
	"deep_recursion.js":       {"call stack limit"},
	"timer_flood.js":          {"RangeError: timer limit: a session may have at most 100 active timers"},
}

// ordinaryScenario is a well-behaved call that touches what the guards watch
// (JSON, regexps on both engines, arrays, strings, timers) on every tick, until a
// request into the session tells it to finish.
const ordinaryScenario = `
let ticks = 0;
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  const call = e.call;
  call.answer();
  call.addEventListener(CallEvents.Connected, () => {
    call.say("Hello");
    const tick = setInterval(() => {
      ticks++;
      const data = JSON.parse(JSON.stringify({ n: ticks, list: [3, 1, 2].sort(), skip: 1 }, ["n", "list"]));
      const text = "abc,def,ghi".split(",").map((w) => w.toUpperCase()).join("|").replace(/(\w)\w+/g, "$1-");
      if (data.n !== ticks || data.skip !== undefined || text !== "A-|D-|G-" || !/(\w)\1/.test("xaay")) {
        throw new Error("wrong: " + JSON.stringify(data) + " " + text);
      }
      Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 7 === 0).indexOf(14);
      new Uint8Array(1024).fill(1);
      "x".repeat(1000).padEnd(2000, "y").concat("z").normalize();
    }, 100);
    VoxEngine.addEventListener(AppEvents.HttpRequest, () => {
      clearInterval(tick);
      Logger.write("finishing after " + (ticks > 0 ? "some" : "no") + " ticks");
      call.hangup();
    });
  });
  call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});
`

// TestQuotaHostileScenariosStopWhileOrdinaryCallsGoOn runs every hostile scenario,
// one after another so that the process CPU time each one costs can be measured,
// while 20 ordinary sessions run on the real clock the whole time. Each hostile
// session must fail with ErrScenario, say why in its log, hang up its caller and
// stop within a generous bound of CPU time; each ordinary one must finish cleanly.
func TestQuotaHostileScenariosStopWhileOrdinaryCallsGoOn(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(hostileDir, "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile scenarios in %s: %v", hostileDir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ordinary := make([]*quotaCall, 20)
	for i := range ordinary {
		ordinary[i] = startQuotaCall(t, ctx, fmt.Sprintf("ordinary%d.js", i), ordinaryScenario)
	}
	for _, c := range ordinary {
		c.waitLog(t, "Executing JS command: Say")
	}

	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, ok := hostileCases[name]
			if !ok {
				t.Fatalf("no case for %s: add what its log must say to hostileCases", name)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			before := processCPU(t)
			c := startQuotaCall(t, ctx, name, string(src))
			err = c.wait(t)
			spent := processCPU(t) - before

			if !errors.Is(err, runtime.ErrScenario) {
				t.Errorf("session error = %v, want one wrapping runtime.ErrScenario", err)
			}
			log := c.log.String()
			if !containsAny(log, want) {
				t.Errorf("session log does not say why (want one of %q):\n%s", want, log)
			}
			if code, ok := c.leg.hungUp(); !ok || code != 500 {
				t.Errorf("caller hung up = %v with code %d, want hung up with 500", ok, code)
			}
			if !strings.HasSuffix(strings.TrimSpace(log), "Session terminated") {
				t.Errorf("session log does not end with Session terminated:\n%s", log)
			}
			// A stop, not a speed: 1 s of the scenario's own CPU plus garbage
			// collection and the ordinary calls, with room for the race detector.
			if spent > 5*time.Second {
				t.Errorf("the process used %s of CPU time during the hostile session; it was not stopped", spent)
			}
			t.Logf("%s: stopped after %s of process CPU time", name, spent.Round(time.Millisecond))
		})
	}

	for _, c := range ordinary {
		c.session.HTTPRequest("POST", "/request", "finish")
	}
	for _, c := range ordinary {
		if err := c.wait(t); err != nil {
			t.Errorf("%s: ordinary session failed: %v\n%s", c.name, err, c.log.String())
			continue
		}
		log := c.log.String()
		for _, want := range []string{"AcceptCall", "Say", "finishing after some ticks", "HangupCall", "Application.Terminated"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s: log lacks %q:\n%s", c.name, want, log)
			}
		}
		if !strings.HasSuffix(strings.TrimSpace(log), "Session terminated") {
			t.Errorf("%s: log does not end with Session terminated:\n%s", c.name, log)
		}
	}
}

// TestQuotaTimers checks the timer quota on a virtual clock, where time is exact:
// 100 active timers, a clear RangeError for the 101st, slots freed by clearing,
// and setInterval(f, 0) clamped to 10 ms.
func TestQuotaTimers(t *testing.T) {
	// Top level, not a call event: on a virtual clock a session with nothing
	// scheduled ends before an incoming call could be posted to it.
	const scenario = `
{
  const ids = [];
  for (let i = 0; i < 100; i++) ids.push(setTimeout(() => {}, 60000));
  const refused = () => {
    try {
      setTimeout(() => {}, 1);
      return "accepted";
    } catch (err) {
      return err.name + ": " + err.message;
    }
  };
  Logger.write("timer 101: " + refused());
  clearTimeout(ids.pop());
  clearInterval(ids.pop());
  setTimeout(() => {}, 60000);
  setInterval(() => {}, 60000);
  Logger.write("after clearing two and setting two: " + refused());
  ids.forEach((id) => clearTimeout(id));
  const start = Date.now();
  let ticks = 0;
  const tick = setInterval(() => {
    if (++ticks === 5) {
      clearInterval(tick);
      Logger.write("5 ticks of setInterval(f, 0) took " + (Date.now() - start) + " ms");
      VoxEngine.terminate();
    }
  }, 0);
}
`
	prog, err := runtime.Compile("timers.js", scenario)
	if err != nil {
		t.Fatal(err)
	}
	log := &quotaLog{}
	s, err := runtime.Start(context.Background(), runtime.Config{
		Programs: []*runtime.Program{prog},
		Clock:    runtime.NewVirtualClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Log:      runtime.NewSessionLog(log, runtime.LogText),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &quotaCall{name: "timers.js", session: s, log: log}
	if err := c.wait(t); err != nil {
		t.Fatalf("session failed: %v\n%s", err, log.String())
	}
	for _, want := range []string{
		"timer 101: RangeError: timer limit: a session may have at most 100 active timers",
		"after clearing two and setting two: RangeError: timer limit",
		"5 ticks of setInterval(f, 0) took 50 ms",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestQuotaHTTP checks the HTTP quota against a real server on 127.0.0.1: at most
// MaxHTTP requests in flight, up to MaxHTTPWait more waiting their turn, and the
// rest failing at once with code -8 while the others are still held.
func TestQuotaHTTP(t *testing.T) {
	const inFlight, waiting, sent = 3, 4, 9
	var (
		mu       sync.Mutex
		now, top int
		served   int
	)
	release := make(chan struct{})
	arrived := make(chan struct{}, sent)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now++
		top = max(top, now)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		now--
		served++
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	scenario := fmt.Sprintf(`
let results = 0;
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  for (let i = 0; i < %d; i++) {
    Net.httpRequestAsync(%q + "/" + i).then((r) => {
      Logger.write("result " + i + " code " + r.code);
      if (++results === %d) VoxEngine.terminate();
    });
  }
});
`, sent, srv.URL, sent)
	prog, err := runtime.Compile("http.js", scenario)
	if err != nil {
		t.Fatal(err)
	}
	log := &quotaLog{}
	leg := &quotaLeg{id: "caller"}
	s, err := runtime.Start(context.Background(), runtime.Config{
		Programs: []*runtime.Program{prog},
		Clock:    runtime.RealClock{},
		Log:      runtime.NewSessionLog(log, runtime.LogText),
		HTTP:     &runtime.NetHTTP{},
		Limits:   runtime.Limits{MaxHTTP: inFlight, MaxHTTPWait: waiting},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Incoming(runtime.Incoming{Leg: leg, CallerID: "1", Destination: "2"})
	c := &quotaCall{name: "http.js", session: s, leg: leg, log: log}

	// The requests beyond the queue fail while every other request is still held
	// by the server, and the server holds exactly the first three.
	for i := 0; i < inFlight; i++ {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d requests reached the server", i)
		}
	}
	for i := inFlight + waiting; i < sent; i++ {
		c.waitLog(t, fmt.Sprintf("result %d code -8", i))
	}
	close(release)
	if err := c.wait(t); err != nil {
		t.Fatalf("session failed: %v\n%s", err, log.String())
	}
	for i := 0; i < inFlight+waiting; i++ {
		if want := fmt.Sprintf("result %d code 200", i); !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if top != inFlight || served != inFlight+waiting {
		t.Errorf("server saw at most %d requests at once and %d in all, want %d and %d", top, served, inFlight, inFlight+waiting)
	}
}

// processCPU is the user and system CPU time the test process has used so far.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// quotaCall is one session on the real clock with an incoming call from quotaLeg.
type quotaCall struct {
	name    string
	session *runtime.Session
	leg     *quotaLeg
	log     *quotaLog
}

func startQuotaCall(t *testing.T, ctx context.Context, name, src string) *quotaCall {
	t.Helper()
	prog, err := runtime.Compile(name, src)
	if err != nil {
		t.Fatal(err)
	}
	c := &quotaCall{name: name, leg: &quotaLeg{id: "caller-" + name}, log: &quotaLog{}}
	c.session, err = runtime.Start(ctx, runtime.Config{
		Name:     name,
		Programs: []*runtime.Program{prog},
		Clock:    runtime.RealClock{},
		Log:      runtime.NewSessionLog(c.log, runtime.LogText),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.session.Incoming(runtime.Incoming{Leg: c.leg, CallerID: "79112233444", Destination: "74951234567"})
	return c
}

// wait returns the session's error once it has ended; bounded, so that a session
// that was not stopped fails the test rather than hanging it.
func (c *quotaCall) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.session.Done():
		return c.session.Err()
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: session still running after 60 s:\n%s", c.name, c.log.String())
		return nil
	}
}

func (c *quotaCall) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: log never showed %q:\n%s", c.name, want, c.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quotaLog is a session log kept in memory; the test reads it while the session
// writes.
type quotaLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *quotaLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *quotaLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// quotaLeg is the caller: it answers at once and remembers whether and how the
// session hung it up. These tests are about the session, so no SIP stack is
// needed behind it.
type quotaLeg struct {
	id     string
	events runtime.EventSink

	mu    sync.Mutex
	ended bool
	code  int
}

func (l *quotaLeg) ID() string                      { return l.id }
func (l *quotaLeg) Attach(events runtime.EventSink) { l.events = events }

func (l *quotaLeg) Answer(context.Context, map[string]string) error {
	l.events.Post(runtime.Event{Name: runtime.EventConnected, CallID: l.id})
	return nil
}

func (l *quotaLeg) Hangup(_ context.Context, code int, _ map[string]string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return nil
	}
	l.ended, l.code = true, code
	l.events.Post(runtime.Event{Name: runtime.EventDisconnected, CallID: l.id})
	return nil
}

func (l *quotaLeg) hungUp() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.code, l.ended
}

func (l *quotaLeg) StartEarlyMedia(context.Context, map[string]string) error { return nil }
func (l *quotaLeg) Play(context.Context, runtime.Media) error                { return nil }
func (l *quotaLeg) StopPlayback(context.Context) error                       { return nil }
func (l *quotaLeg) HandleTones(context.Context, bool) error                  { return nil }
func (l *quotaLeg) Record(context.Context, runtime.Recording) error          { return nil }
func (l *quotaLeg) StopRecording(context.Context) error                      { return nil }
func (l *quotaLeg) SendDigits(context.Context, string) error                 { return nil }
func (l *quotaLeg) SendMessage(context.Context, string) error                { return nil }
func (l *quotaLeg) SendMediaTo(context.Context, runtime.Leg) error           { return nil }
func (l *quotaLeg) StopMediaTo(context.Context, runtime.Leg) error           { return nil }
