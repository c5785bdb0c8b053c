// Command runtimebench is `make bench`: it measures the call runtime on this
// machine against bare goja measured in the same run, running the generated
// seed-sized scenario (S12), and prints one table of ratios and goals; then the
// scenarios store's resolve-and-start against a plain bbolt read (scenarios.go),
// media, browser (WebRTC) calls bridged to RTP (webrtc.go), recording, the
// controller's signed API and ledger (controller.go), and SIP call setup and
// registration with SIPp (sip.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/dop251/goja"

	"vox/bench/scenariogen"
	"vox/runtime"
)

// Goals from the benchmark's issue.
const (
	goalStartRatio  = 1.5
	goalHeapKiB     = 400
	goalDispatchP99 = 100 * time.Microsecond
)

func main() {
	sessions := flag.Int("sessions", 1000, "sessions kept alive for the heap and dispatch figures")
	events := flag.Int("events", 20000, "events dispatched for the latency figures")
	window := flag.Duration("window", 5*time.Second, "how long each throughput run lasts")
	only := flag.String("only", "", "run one section only: media, webrtc, controller, history, sip (calls and registration), register, standard (the standard scenario, with the sip section's call rate)")
	soak := flag.Int("sip-soak", 0, "run only this many calls through vox at -sip-soak-rate, printing heap and goroutines as they go")
	flag.Parse()
	section := map[string]func(io.Writer) error{"media": benchMedia, "webrtc": benchWebRTC, "controller": benchController, "history": benchHistory, "sip": benchSIP, "register": registerBench, "standard": benchStandard}[*only]
	if *soak > 0 {
		section = func(out io.Writer) error { return soakSIP(out, *soak) }
	}
	if section == nil && *only != "" {
		fmt.Fprintf(os.Stderr, "runtimebench: unknown section %q\n", *only)
		os.Exit(2)
	}
	if section != nil {
		if err := section(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "runtimebench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdout, *sessions, *events, *window); err != nil {
		fmt.Fprintln(os.Stderr, "runtimebench:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, sessions, events int, window time.Duration) error {
	src := scenariogen.Generate(scenariogen.Options{})
	b, err := newBench(src)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "runtime benchmark: %s (%d lines), %s, GOMAXPROCS=%d, %s/%s\n",
		scenariogen.Name, strings.Count(src, "\n"), goruntime.Version(), goruntime.GOMAXPROCS(0), goruntime.GOOS, goruntime.GOARCH)

	var rows []row
	start, err := b.startLatency()
	if err != nil {
		return err
	}
	rows = append(rows, start)

	bareHeap, bareLat, err := b.bareAlive(sessions, events)
	if err != nil {
		return err
	}
	voxHeap, live, err := b.voxHeap(sessions)
	if err != nil {
		return err
	}
	voxLat, voxWake, err := b.voxDispatch(live, events)
	b.stopAll(live)
	if err != nil {
		return err
	}
	rows = append(rows,
		row{name: fmt.Sprintf("live heap per idle session (%d alive)", sessions), unit: "KiB", vox: voxHeap, bare: bareHeap,
			goal: fmt.Sprintf("≤ %d KiB", goalHeapKiB), met: voxHeap <= goalHeapKiB},
		row{name: fmt.Sprintf("event dispatch p50 (%d alive)", sessions), unit: "µs", vox: micros(voxLat.p50), bare: micros(bareLat.p50), goal: "—"},
		row{name: fmt.Sprintf("event dispatch p99 (%d alive)", sessions), unit: "µs", vox: micros(voxLat.p99), bare: micros(bareLat.p99),
			goal: fmt.Sprintf("≤ %d µs", goalDispatchP99/time.Microsecond), met: voxLat.p99 <= goalDispatchP99},
	)

	rate, gcs, err := b.throughput(window)
	if err != nil {
		return err
	}
	rows = append(rows, rate)
	printTable(out, rows)
	fmt.Fprintf(out, "\nGC cycles during the sessions-per-second runs: vox %d, bare %d (in %s each)\n", gcs[0], gcs[1], window)
	fmt.Fprintf(out, "stacks: %.1f KiB per idle session (goroutine stack, not in the heap figure)\n", b.stackKiB)
	fmt.Fprintf(out, "dispatch: vox p99.9 %.1f µs, max %.1f µs (bare max %.1f µs); of which waiting for the session goroutine p50 %.1f µs, p99 %.1f µs\n",
		micros(voxLat.p999), micros(voxLat.max), micros(bareLat.max), micros(voxWake.p50), micros(voxWake.p99))
	if err := benchScenarios(out); err != nil {
		return err
	}
	if err := benchMedia(out); err != nil {
		return err
	}
	if err := benchWebRTC(out); err != nil {
		return err
	}
	if err := benchRecording(out); err != nil {
		return err
	}
	if err := benchController(out); err != nil {
		return err
	}
	if err := benchHistory(out); err != nil {
		return err
	}
	if err := sippInstalled(); err != nil {
		fmt.Fprintf(out, "\ncall setup and registration benchmarks: skipped, %v\n", err)
		return nil
	}
	if err := benchSIP(out); err != nil {
		return err
	}
	return benchStandard(out)
}

type row struct {
	name, unit string
	vox, bare  float64
	goal       string
	met        bool
}

func printTable(out io.Writer, rows []row) {
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tvox\tbare goja\tvox/bare\tgoal\tmet")
	for _, r := range rows {
		met := "—"
		if r.goal != "—" {
			met = "not met"
			if r.met {
				met = "met"
			}
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s %s\t%.2f×\t%s\t%s\n", r.name, num(r.vox), r.unit, num(r.bare), r.unit, r.vox/r.bare, r.goal, met)
	}
	w.Flush()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// bench holds the scenario compiled once for both sides, as the ProgramCache would.
type bench struct {
	vox      *runtime.Program
	bare     *goja.Program
	host     *goja.Program
	logger   *slog.Logger
	stackKiB float64
}

func newBench(src string) (*bench, error) {
	vox, err := runtime.Compile(scenariogen.Name, src)
	if err != nil {
		return nil, err
	}
	bare, err := goja.Compile(scenariogen.Name, src, false)
	if err != nil {
		return nil, err
	}
	host, err := goja.Compile("bare-host.js", scenariogen.BareHost, false)
	if err != nil {
		return nil, err
	}
	return &bench{vox: vox, bare: bare, host: host, logger: slog.New(slog.DiscardHandler)}, nil
}

// The events both sides handle, with the fields the runtime sends.
var (
	startedEvent = map[string]any{"name": runtime.EventStarted, "sessionId": "bench", "accountId": "1",
		"applicationId": "1", "userId": "1", "accessURL": "http://127.0.0.1/request/bench", "logURL": "http://127.0.0.1/log/bench"}
	alertingEvent = map[string]any{"name": runtime.EventCallAlerting, "id": "caller", "callerid": "79261234567",
		"destination": "74951234567", "displayName": "79261234567", "fromURI": "sip:79261234567@127.0.0.1",
		"toURI": "sip:74951234567@127.0.0.1"}
	portalContent = `{"COMMAND":"wait","REASON":"bench"}`
	portalEvent   = map[string]any{"name": runtime.EventHTTPRequest, "method": "POST", "path": "/request/bench", "content": portalContent}
)

// bareVM is the baseline: a fresh goja runtime running the same precompiled
// program, with BareHost standing in for the VoxEngine globals.
type bareVM struct {
	vm       *goja.Runtime
	dispatch goja.Callable
}

func (b *bench) newBare() (*bareVM, error) {
	vm := goja.New()
	for _, p := range []*goja.Program{b.host, b.bare} {
		if _, err := vm.RunProgram(p); err != nil {
			return nil, err
		}
	}
	dispatch, ok := goja.AssertFunction(vm.Get("__dispatch"))
	if !ok {
		return nil, fmt.Errorf("bare host has no __dispatch")
	}
	v := &bareVM{vm: vm, dispatch: dispatch}
	return v, v.deliver(startedEvent)
}

// deliver builds the event object, as the runtime does for every event, and
// hands it to the listeners.
func (v *bareVM) deliver(ev map[string]any) error {
	obj := v.vm.NewObject()
	for k, e := range ev {
		if err := obj.Set(k, e); err != nil {
			return err
		}
	}
	_, err := v.dispatch(goja.Undefined(), obj)
	return err
}

// marks is a session log that discards its lines and reports, with the time, the
// scenario lines the benchmark waits for. It runs on the session goroutine, so
// the time is when the handler wrote the line.
type marks struct {
	started, alerting, portal chan time.Time
	// delivered is when the runtime logged Application.HttpRequest, just before
	// it entered JS: it splits dispatch latency into the wait for the session
	// goroutine and the time in the handlers.
	delivered chan time.Time
}

func newMarks() *marks {
	return &marks{started: make(chan time.Time, 1), alerting: make(chan time.Time, 1),
		portal: make(chan time.Time, 1), delivered: make(chan time.Time, 1)}
}

func (m *marks) Write(p []byte) (int, error) {
	var ch chan time.Time
	switch line := string(p); {
	case strings.Contains(line, scenariogen.PortalMark):
		ch = m.portal
	case strings.Contains(line, "name = "+runtime.EventHTTPRequest):
		ch = m.delivered
	case strings.Contains(line, scenariogen.StartedMark):
		ch = m.started
	case strings.Contains(line, scenariogen.AlertingMark):
		ch = m.alerting
	default:
		return len(p), nil
	}
	select {
	case ch <- time.Now():
	default:
	}
	return len(p), nil
}

// liveSession is a session started on the real clock with no call: nothing arms
// its idle timer, so it stays until it is terminated or MaxDuration passes.
type liveSession struct {
	s *runtime.Session
	m *marks
}

func (b *bench) startVox(ctx context.Context) (*liveSession, error) {
	m := newMarks()
	s, err := runtime.Start(ctx, runtime.Config{
		Name:        "bench",
		Programs:    []*runtime.Program{b.vox},
		Info:        runtime.SessionInfo{AccountID: "1", ApplicationID: "1", UserID: "1"},
		Clock:       runtime.RealClock{},
		Log:         runtime.NewSessionLog(m, runtime.LogText),
		HTTP:        scenariogen.Portal{},
		Logger:      b.logger,
		IdleTimeout: time.Hour,
		MaxDuration: time.Hour,
	})
	if err != nil {
		return nil, err
	}
	return &liveSession{s: s, m: m}, nil
}

// waitStarted waits for the Started handler's line, or for the session to fail.
func (l *liveSession) waitStarted() error {
	select {
	case <-l.m.started:
		return nil
	case <-l.s.Done():
		return fmt.Errorf("session ended before Application.Started was handled: %v", l.s.Err())
	}
}

func (b *bench) stopAll(live []*liveSession) {
	for _, l := range live {
		l.s.Terminate("benchmark done")
	}
	for _, l := range live {
		<-l.s.Done()
	}
}

// startLatency times runtime.Start until the scenario has handled
// Application.Started against the bare runtime running the same program and
// handler. Rounds alternate so that both sides see the same machine state; the
// median round is reported.
func (b *bench) startLatency() (row, error) {
	const rounds, batch = 15, 20
	ctx := context.Background()
	bareOnce := func() error { _, err := b.newBare(); return err }
	voxOnce := func(timed *time.Duration) error {
		t0 := time.Now()
		l, err := b.startVox(ctx)
		if err != nil {
			return err
		}
		if err := l.waitStarted(); err != nil {
			return err
		}
		*timed += time.Since(t0)
		l.s.Terminate("benchmark")
		<-l.s.Done()
		return nil
	}
	var bare, vox []time.Duration
	for r := -1; r < rounds; r++ { // round -1 warms up
		t0 := time.Now()
		for range batch {
			if err := bareOnce(); err != nil {
				return row{}, fmt.Errorf("bare start: %w", err)
			}
		}
		bareRound := time.Since(t0) / batch
		var voxRound time.Duration
		for range batch {
			if err := voxOnce(&voxRound); err != nil {
				return row{}, fmt.Errorf("vox start: %w", err)
			}
		}
		if r >= 0 {
			bare = append(bare, bareRound)
			vox = append(vox, voxRound/batch)
		}
	}
	v, bb := median(vox), median(bare)
	ratio := float64(v) / float64(bb)
	return row{name: "start + Application.Started", unit: "ms", vox: ms(v), bare: ms(bb),
		goal: fmt.Sprintf("≤ %.1f×", goalStartRatio), met: ratio <= goalStartRatio}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// heapInUse is the live heap after a full collection, and the goroutine stacks.
func heapInUse() (heap, stacks uint64) {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// bareAlive keeps n bare runtimes alive for the heap and dispatch figures; they
// are garbage once it returns, before the sessions are measured.
func (b *bench) bareAlive(n, events int) (float64, latencies, error) {
	before, _ := heapInUse()
	vms := make([]*bareVM, n)
	for i := range vms {
		v, err := b.newBare()
		if err != nil {
			return 0, latencies{}, err
		}
		vms[i] = v
	}
	after, _ := heapInUse()
	lat, err := b.bareDispatch(vms, events)
	return kibPer(after, before, n), lat, err
}

func (b *bench) voxHeap(n int) (float64, []*liveSession, error) {
	// One session first, so that what every session shares (the compiled VoxEngine
	// layer, sync.Once tables) is not counted against the n.
	warm, err := b.startVox(context.Background())
	if err != nil {
		return 0, nil, err
	}
	if err := warm.waitStarted(); err != nil {
		return 0, nil, err
	}
	before, stacksBefore := heapInUse()
	live := []*liveSession{warm}
	for range n {
		l, err := b.startVox(context.Background())
		if err != nil {
			b.stopAll(live)
			return 0, nil, err
		}
		live = append(live, l)
		if err := l.waitStarted(); err != nil {
			b.stopAll(live)
			return 0, nil, err
		}
	}
	after, stacksAfter := heapInUse()
	b.stackKiB = kibPer(stacksAfter, stacksBefore, n)
	return kibPer(after, before, n), live[1:], nil
}

func kibPer(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n) / 1024
}

type latencies struct{ p50, p99, p999, max time.Duration }

func summarize(ds []time.Duration) latencies {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return latencies{p50: at(0.50), p99: at(0.99), p999: at(0.999), max: ds[len(ds)-1]}
}

// bareDispatch times a direct call of the HttpRequest handler, event object
// included, round robin over the live bare runtimes.
func (b *bench) bareDispatch(vms []*bareVM, n int) (latencies, error) {
	for _, v := range vms { // warm every runtime's inline caches, as voxDispatch does
		if err := v.deliver(portalEvent); err != nil {
			return latencies{}, err
		}
	}
	ds := make([]time.Duration, 0, n)
	for i := range n {
		v := vms[i%len(vms)]
		t0 := time.Now()
		if err := v.deliver(portalEvent); err != nil {
			return latencies{}, err
		}
		ds = append(ds, time.Since(t0))
	}
	return summarize(ds), nil
}

// voxDispatch posts Application.HttpRequest to one live session after another
// and times it from the post to the handler's last line.
// The second result is the part of each latency spent before the runtime
// started on the event: queueing and waking the session goroutine.
func (b *bench) voxDispatch(live []*liveSession, n int) (total, wake latencies, err error) {
	one := func(l *liveSession) (time.Duration, time.Duration, error) {
		t0 := time.Now()
		l.s.HTTPRequest("POST", "/request/"+l.s.ID(), portalContent)
		select {
		case at := <-l.m.portal:
			return at.Sub(t0), (<-l.m.delivered).Sub(t0), nil
		case <-l.s.Done():
			return 0, 0, fmt.Errorf("session ended while handling an event: %v", l.s.Err())
		}
	}
	for _, l := range live {
		if _, _, err := one(l); err != nil {
			return latencies{}, latencies{}, err
		}
	}
	ds := make([]time.Duration, 0, n)
	ws := make([]time.Duration, 0, n)
	for i := range n {
		d, w, err := one(live[i%len(live)])
		if err != nil {
			return latencies{}, latencies{}, err
		}
		ds, ws = append(ds, d), append(ws, w)
	}
	return summarize(ds), summarize(ws), nil
}

// throughput runs whole short sessions (start, Started, an incoming call's
// CallAlerting, termination) on every core for the window, against bare
// runtimes doing Started and CallAlerting.
// It also reports how many GC cycles each side's run took, vox first: with
// few sessions alive the heap is small, and the collector runs often.
func (b *bench) throughput(window time.Duration) (row, [2]uint32, error) {
	var gcs [2]uint32
	procs := goruntime.GOMAXPROCS(0)
	gc0 := numGC()
	bare, err := rate(procs, window, func() error {
		v, err := b.newBare()
		if err != nil {
			return err
		}
		return v.deliver(alertingEvent)
	})
	if err != nil {
		return row{}, gcs, fmt.Errorf("bare sessions: %w", err)
	}
	gc1 := numGC()
	// Two workers per core: a worker waits while its session runs, and the
	// session's HTTP request runs on a goroutine of its own.
	vox, err := rate(2*procs, window, b.voxCall)
	if err != nil {
		return row{}, gcs, fmt.Errorf("vox sessions: %w", err)
	}
	gcs = [2]uint32{numGC() - gc1, gc1 - gc0}
	return row{name: fmt.Sprintf("sessions per second (%d cores)", procs), unit: "/s", vox: vox, bare: bare, goal: "—"}, gcs, nil
}

func numGC() uint32 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.NumGC
}

func (b *bench) voxCall() error {
	l, err := b.startVox(context.Background())
	if err != nil {
		return err
	}
	l.s.Incoming(runtime.Incoming{Leg: &quietLeg{id: "caller"}, CallerID: "79261234567", Destination: "74951234567",
		DisplayName: "79261234567", FromURI: "sip:79261234567@127.0.0.1", ToURI: "sip:74951234567@127.0.0.1"})
	select {
	case <-l.m.alerting:
	case <-l.s.Done():
		return fmt.Errorf("session ended before CallAlerting was handled: %v", l.s.Err())
	}
	l.s.Terminate("benchmark")
	<-l.s.Done()
	return l.s.Err()
}

// rate runs f on workers goroutines for the window and reports completions per second.
func rate(workers int, window time.Duration, f func() error) (float64, error) {
	var done atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	deadline := time.Now().Add(window)
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := f(); err != nil {
					once.Do(func() { first = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(t0).Seconds(), first
}

// quietLeg is an incoming call whose far end does nothing: every command
// succeeds and no event comes back.
type quietLeg struct{ id string }

func (l *quietLeg) ID() string                                               { return l.id }
func (l *quietLeg) Attach(runtime.EventSink)                                 {}
func (l *quietLeg) Answer(context.Context, map[string]string) error          { return nil }
func (l *quietLeg) StartEarlyMedia(context.Context, map[string]string) error { return nil }
func (l *quietLeg) Hangup(context.Context, int, map[string]string) error     { return nil }
func (l *quietLeg) Play(context.Context, runtime.Media) error                { return nil }
func (l *quietLeg) StopPlayback(context.Context) error                       { return nil }
func (l *quietLeg) HandleTones(context.Context, bool) error                  { return nil }
func (l *quietLeg) Record(context.Context, runtime.Recording) error          { return nil }
func (l *quietLeg) StopRecording(context.Context) error                      { return nil }
func (l *quietLeg) SendDigits(context.Context, string) error                 { return nil }
func (l *quietLeg) SendMessage(context.Context, string) error                { return nil }
func (l *quietLeg) SendMediaTo(context.Context, runtime.Leg) error           { return nil }
func (l *quietLeg) StopMediaTo(context.Context, runtime.Leg) error           { return nil }

func init() {
	// A fixed GC target, so that the figures do not depend on GOGC in the
	// environment of whoever runs make bench.
	debug.SetGCPercent(100)
}
