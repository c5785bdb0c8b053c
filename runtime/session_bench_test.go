package runtime_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dop251/goja"

	"vox/bench/scenariogen"
	"vox/runtime"
)

// These benchmarks run the seed-sized generated scenario (S12); `make bench`
// reports the same figures as ratios against bare goja. Profile with
//
//	go test ./runtime -run '^$' -bench Session -cpuprofile cpu.out

// markLog is a session log that signals when the scenario writes a line
// containing mark, and discards the rest.
type markLog struct {
	mark []byte
	hit  chan struct{}
}

func (m *markLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, m.mark) {
		select {
		case m.hit <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func compileScenario(b *testing.B) *runtime.Program {
	b.Helper()
	p, err := runtime.Compile(scenariogen.Name, scenariogen.Generate(scenariogen.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func startSession(b *testing.B, prog *runtime.Program, mark string) (*runtime.Session, chan struct{}) {
	b.Helper()
	m := &markLog{mark: []byte(mark), hit: make(chan struct{}, 1)}
	s, err := runtime.Start(context.Background(), runtime.Config{
		Programs:    []*runtime.Program{prog},
		Clock:       runtime.RealClock{},
		Log:         runtime.NewSessionLog(m, runtime.LogText),
		HTTP:        scenariogen.Portal{},
		Logger:      slog.New(slog.DiscardHandler),
		IdleTimeout: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, m.hit
}

func wait(b *testing.B, s *runtime.Session, hit <-chan struct{}) {
	select {
	case <-hit:
	case <-s.Done():
		b.Fatalf("session ended early: %v", s.Err())
	}
}

// BenchmarkSessionStart is runtime.Start until the scenario has handled
// Application.Started; the bare peer is goja.New and RunProgram of the same
// program with stand-in globals, and the same handler.
func BenchmarkSessionStart(b *testing.B) {
	prog := compileScenario(b)
	b.Run("vox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, hit := startSession(b, prog, scenariogen.StartedMark)
			wait(b, s, hit)
			b.StopTimer()
			s.Terminate("benchmark")
			<-s.Done()
			b.StartTimer()
		}
	})
	b.Run("bare", func(b *testing.B) {
		host := goja.MustCompile("bare-host.js", scenariogen.BareHost, false)
		bare := goja.MustCompile(scenariogen.Name, scenariogen.Generate(scenariogen.Options{}), false)
		b.ReportAllocs()
		for b.Loop() {
			vm := goja.New()
			for _, p := range []*goja.Program{host, bare} {
				if _, err := vm.RunProgram(p); err != nil {
					b.Fatal(err)
				}
			}
			deliverBare(b, vm, map[string]any{"name": runtime.EventStarted, "sessionId": "bench", "accountId": "1"})
		}
	})
}

// BenchmarkSessionDispatch is one Application.HttpRequest from the post to the
// end of the scenario's handler, in a session that stays alive.
func BenchmarkSessionDispatch(b *testing.B) {
	prog := compileScenario(b)
	const content = `{"COMMAND":"wait","REASON":"bench"}`
	b.Run("vox", func(b *testing.B) {
		s, hit := startSession(b, prog, scenariogen.PortalMark)
		defer func() {
			s.Terminate("benchmark")
			<-s.Done()
		}()
		b.ReportAllocs()
		for b.Loop() {
			s.HTTPRequest("POST", "/request/bench", content)
			wait(b, s, hit)
		}
	})
	b.Run("bare", func(b *testing.B) {
		vm := goja.New()
		for _, p := range []*goja.Program{
			goja.MustCompile("bare-host.js", scenariogen.BareHost, false),
			goja.MustCompile(scenariogen.Name, scenariogen.Generate(scenariogen.Options{}), false),
		} {
			if _, err := vm.RunProgram(p); err != nil {
				b.Fatal(err)
			}
		}
		ev := map[string]any{"name": runtime.EventHTTPRequest, "method": "POST", "path": "/request/bench", "content": content}
		b.ReportAllocs()
		for b.Loop() {
			deliverBare(b, vm, ev)
		}
	})
}

func deliverBare(b *testing.B, vm *goja.Runtime, ev map[string]any) {
	dispatch, ok := goja.AssertFunction(vm.Get("__dispatch"))
	if !ok {
		b.Fatal("no __dispatch")
	}
	obj := vm.NewObject()
	for k, v := range ev {
		if err := obj.Set(k, v); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := dispatch(goja.Undefined(), obj); err != nil {
		b.Fatal(err)
	}
}

// benchCallScenario is the call of bench/runtimebench's SIP load test: answer,
// play the Russian progress tone, hang up (here at once) and end the session.
const benchCallScenario = `"use strict";
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Connected, () => {
		call.playProgressTone("RU");
		setTimeout(() => call.hangup(), 0);
	});
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.answer();
});
`

// bareCallHost is the least a plain goja runtime needs to run
// benchCallScenario: the globals it names, listeners kept per call, and
// __dispatch handing an event to them; the commands do nothing.
const bareCallHost = `"use strict";
var AppEvents = { CallAlerting: "Application.CallAlerting" };
var CallEvents = { Connected: "Call.Connected", Disconnected: "Call.Disconnected" };
var __app = {};
function __on(table, name, fn) { (table[name] = table[name] || []).push(fn); }
function __Call(id) { this._id = id; this._on = {}; }
__Call.prototype = {
  addEventListener: function (name, fn) { __on(this._on, name, fn); },
  answer: function () {}, playProgressTone: function () {}, hangup: function () {},
};
var VoxEngine = { addEventListener: function (name, fn) { __on(__app, name, fn); }, terminate: function () {} };
var __call;
function __dispatch(event) {
  var table = __app;
  if (event.name === AppEvents.CallAlerting) {
    __call = event.call = new __Call(event.id);
  } else {
    table = __call._on;
  }
  var list = table[event.name] || [];
  for (var i = 0; i < list.length; i++) {
    list[i](event);
  }
}
`

// BenchmarkSessionCall is one whole call of the SIP load test as the session
// sees it, from New to Done: boot, Started, CallAlerting, the answer, Connected,
// the tone, the timer, the hangup, Disconnected and the session's end. The leg
// answers and hangs up at once, so what is measured is the session's own work.
//
// The bare peer is a fresh goja runtime doing the scenario's own work for
// the same events, with bareCallHost for the VoxEngine layer, a timer that
// is only called, and none of Vox's guards, budgets, log or commands: what
// any server running this scenario in a fresh goja VM per call pays at
// least.
func BenchmarkSessionCall(b *testing.B) {
	b.Run("vox", benchmarkSessionCall)
	b.Run("bare", func(b *testing.B) {
		host := goja.MustCompile("bare-call-host.js", bareCallHost, true)
		prog := goja.MustCompile("call.js", benchCallScenario, true)
		b.ReportAllocs()
		for b.Loop() {
			vm := goja.New()
			var timer goja.Callable
			err := vm.Set("setTimeout", func(fn goja.Callable, _ int64) int64 { timer = fn; return 1 })
			for _, p := range []*goja.Program{host, prog} {
				if err == nil {
					_, err = vm.RunProgram(p)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			deliverBare(b, vm, map[string]any{"name": runtime.EventCallAlerting, "id": "caller"})
			deliverBare(b, vm, map[string]any{"name": "Call.Connected", "id": "caller"})
			if timer == nil {
				b.Fatal("the scenario set no timer")
			}
			if _, err := timer(goja.Undefined()); err != nil {
				b.Fatal(err)
			}
			deliverBare(b, vm, map[string]any{"name": "Call.Disconnected", "id": "caller"})
		}
	})
}

func benchmarkSessionCall(b *testing.B) {
	prog, err := runtime.Compile("call.js", benchCallScenario)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := runtime.New(context.Background(), runtime.Config{
			Programs: []*runtime.Program{prog},
			Clock:    runtime.RealClock{},
			Log:      runtime.NewSessionLog(io.Discard, runtime.LogText),
			Logger:   slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		leg := &quotaLeg{id: "caller"}
		s.Incoming(runtime.Incoming{Leg: leg, CallerID: "bench", Destination: "100"})
		s.Run()
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		if _, ended := leg.hungUp(); !ended {
			b.Fatal("the call was not hung up")
		}
	}
}
