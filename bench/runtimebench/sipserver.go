package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/media/player"
	"vox/media/rtp"
	"vox/overload"
	"vox/runtime"
	"vox/scenarios"
	"vox/sip"
)

// What the SIP parts of make bench (sip.go, sipregister.go, sipsoak.go) share:
// vox's SIP side running in this process, and SIPp as a child process.
//
// Vox runs in the bench's process (the call-setup rates in a child process of
// the bench per rate, see voxStepProcess) rather than as a child vox serve:
// its CPU is the process's rusage, its memory the Go heap read without
// another process's allocator in the way, and its call count comes from the
// launcher. SIPp, the generator, is a child process either way, so its CPU is
// never counted as vox's; it does share the two cores with vox, as a phone
// farm on the same machine would.

const (
	benchRealm    = "vox"
	benchCaller   = "bench"
	benchPassword = "bench-secret"
	benchSIPApp   = "bench"
	benchNumber   = "100"
)

// benchCallScenario answers, plays a tone script (the Russian ringback tone)
// for %d milliseconds and hangs up; every call gets a fresh session.
const benchCallScenario = `"use strict";
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Connected, () => {
		call.playProgressTone("RU");
		setTimeout(() => call.hangup(), %d);
	});
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.answer();
});
`

// sipVox is vox's SIP side wired as cmd/vox/serve.go wires it: the scenarios
// store in a bbolt file, runtime.Launcher with a program cache, and a
// sip.Server with calls enabled. The SIP users are in memory, and loopback is
// exempt from the per-source request rate (Options.Unlimited), as a load test
// must be.
type sipVox struct {
	dir      string
	db       *bolt.DB
	srv      *sip.Server
	addr     netip.AddrPort
	launcher *countingLauncher
	log      *warnings
	// guard turns calls away as vox serve's does; nil with
	// -sip-overload-latency 0.
	guard *overload.Guard
}

// turnedAway counts the calls vox's overload guard refused.
func (v *sipVox) turnedAway() uint64 {
	if v.guard == nil {
		return 0
	}
	return v.guard.TurnedAway()
}

var sipOverload = flag.Duration("sip-overload-latency", overload.DefaultTarget, "vox's --overload-latency in the SIP benchmarks (vox serve's default; 0: take every call)")

var sipGCPercent = flag.Int("sip-gc-percent", runtime.ServerGCPercent, "vox's GOGC in the SIP benchmarks (vox serve's default)")

// voxTune changes the options of the bench's vox before it starts.
type voxTune func(*sip.Options, *sip.CallOptions)

// startSIPVox starts vox with users (name: password) and the scenario
// holding calls for hold; tune changes its options, if given.
func startSIPVox(users map[string]string, hold time.Duration, tune ...voxTune) (v *sipVox, err error) {
	raiseFileLimit()
	// The collector as vox serve sets it (runtime.TuneServerGC), whatever
	// GOGC the bench runs with.
	debug.SetGCPercent(*sipGCPercent)
	debug.SetMemoryLimit(runtime.ServerMemoryLimit)
	dir, err := os.MkdirTemp("", "vox-bench-sip-")
	if err != nil {
		return nil, err
	}
	v = &sipVox{dir: dir, log: &warnings{}}
	defer func() {
		if err != nil {
			v.close()
		}
	}()
	if v.db, err = bolt.Open(filepath.Join(dir, "vox.db"), 0o600, nil); err != nil {
		return nil, err
	}
	store, err := scenarios.Open(v.db, scenarios.Options{Compile: func(name, src string) error {
		_, err := runtime.Compile(name, src)
		return err
	}})
	if err != nil {
		return nil, err
	}
	_, err = store.Push(context.Background(), scenarios.Push{App: benchSIPApp, Author: "bench",
		Files: []scenarios.File{{Name: "bench.js", Source: fmt.Sprintf(benchCallScenario, hold.Milliseconds())}}})
	if err != nil {
		return nil, fmt.Errorf("push the bench scenario: %w", err)
	}
	// Info lines are formatted as vox serve formats them, then dropped;
	// warnings are counted, and the first few kept for the report.
	logger := slog.New(slog.NewTextHandler(v.log, nil))
	dirUsers := benchDirectory{}
	for name, password := range users {
		dirUsers[name] = sip.NewUser(benchSIPApp, name, benchRealm, password)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	opts := sip.Options{Directory: dirUsers, Realm: benchRealm, Unlimited: loopback, Log: logger}
	var callOpts sip.CallOptions
	for _, t := range tune {
		t(&opts, &callOpts)
	}
	v.srv, err = sip.NewServer(opts)
	if err != nil {
		return nil, err
	}
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{MinPort: 20000, MaxPort: 60000})
	if err != nil {
		return nil, err
	}
	v.launcher = &countingLauncher{launcher: &runtime.Launcher{
		Releases: store, Programs: runtime.NewProgramCache(0),
		Defaults: runtime.Config{Clock: runtime.RealClock{}, Dialer: v.srv, HTTP: &runtime.NetHTTP{}, Logger: logger},
	}}
	callOpts.Router, callOpts.Launcher, callOpts.Ports = benchRouter{}, v.launcher, ports
	callOpts.Player = player.New(player.Options{})
	// vox serve's default: a timer per connected call.
	callOpts.MediaTimeout = time.Minute
	if *sipOverload > 0 {
		if v.guard, err = overload.New(overload.Options{Latency: overload.ServerLatency(v.srv.QueueDelays()), Target: *sipOverload, Log: logger}); err != nil {
			return nil, err
		}
		callOpts.Admission = v.guard
	}
	err = v.srv.EnableCalls(callOpts)
	if err != nil {
		return nil, err
	}
	if v.addr, err = v.srv.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return v, nil
}

// close ends what is still running, as vox serve's shutdown does, and
// removes the data directory.
func (v *sipVox) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v.srv != nil {
		v.srv.Shutdown(ctx)
	}
	if v.launcher != nil {
		v.launcher.wait(ctx)
	}
	if v.db != nil {
		v.db.Close()
	}
	os.RemoveAll(v.dir)
}

func withMinExpires(d time.Duration) voxTune {
	return func(o *sip.Options, _ *sip.CallOptions) { o.MinExpires = d }
}

// fromCarrier makes loopback a carrier's trunk into the bench account, known
// by its address (S2), so its calls are not challenged.
func fromCarrier(_ *sip.Options, co *sip.CallOptions) { co.Trunks = benchTrunks{} }

type benchTrunks struct{}

func (benchTrunks) Inbound(_ context.Context, src netip.Addr) ([]sip.Trunk, error) {
	if !src.IsLoopback() {
		return nil, nil
	}
	return []sip.Trunk{{Name: "carrier", Account: benchSIPApp, Address: "127.0.0.1:5060",
		AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, nil
}

func (benchTrunks) Outbound(context.Context, string) ([]sip.Trunk, error) { return nil, nil }

type benchDirectory map[string]sip.User

func (d benchDirectory) User(_ context.Context, realm, name string) (sip.User, error) {
	u, ok := d[name]
	if !ok || realm != benchRealm {
		return sip.User{}, fmt.Errorf("%s: %w", name, sip.ErrUnknownUser)
	}
	return u, nil
}

// benchRouter sends every call to the bench application.
type benchRouter struct{}

func (benchRouter) Route(context.Context, sip.CallInfo) (sip.Route, error) {
	return sip.Route{Account: benchSIPApp, App: benchSIPApp}, nil
}

// countingLauncher is what cmd/vox's liveLauncher is, with the session log
// formatted and dropped instead of written to a file per call, and counts of
// the sessions started and ended.
type countingLauncher struct {
	launcher       *runtime.Launcher
	started, ended atomic.Int64
	running        sync.WaitGroup
}

func (l *countingLauncher) Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	cs.Trigger = scenarios.TriggerIncoming
	cs.Log = runtime.NewSessionLog(io.Discard, runtime.LogText)
	s, err := l.launcher.Launch(ctx, cs)
	if err != nil {
		if errors.Is(err, scenarios.ErrNotFound) {
			err = fmt.Errorf("%w: %w", sip.ErrNoRoute, err)
		}
		return nil, err
	}
	l.started.Add(1)
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		<-s.Done()
		l.ended.Add(1)
	}()
	return s, nil
}

func (l *countingLauncher) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		l.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// warnings counts the log lines at WARN and above and keeps the first few.
type warnings struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (w *warnings) Write(p []byte) (int, error) {
	line := string(p)
	if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
		w.mu.Lock()
		w.n++
		if len(w.first) < 3 {
			w.first = append(w.first, strings.TrimSpace(line))
		}
		w.mu.Unlock()
	}
	return len(p), nil
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return ""
	}
	return fmt.Sprintf("vox logged %d warnings, the first: %s", w.n, strings.Join(w.first, " | "))
}

// sippStats is what SIPp's statistics file (-trace_stat) says at the end of
// a run, and the process's own resource use.
type sippStats struct {
	Created, OK, Failed int
	Retrans             int
	Elapsed             time.Duration
	CallLength, Setup   time.Duration // means over the run; Setup is SIPp's response time 1
	PeakCalls           int           // most calls open at a dump
	CPU                 time.Duration // SIPp's own
}

// achieved is the rate at which calls were placed: created over the time
// from the first call to the start of the last, which SIPp's clock gives as
// the run's length less a call's mean length.
func (s sippStats) achieved() float64 {
	span := s.Elapsed - s.CallLength
	if span <= 0 || s.Created == 0 {
		return 0
	}
	return float64(s.Created) / span.Seconds()
}

func (s sippStats) failRatio() float64 {
	if s.Created == 0 {
		return 1
	}
	return float64(s.Failed) / float64(s.Created)
}

// sippScenario is the path of a scenario in testdata/sipp; make bench runs
// from the module's root.
func sippScenario(name string) (string, error) {
	path, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w (run the bench from the module's root, as make bench does)", err)
	}
	return path, nil
}

// runSIPp runs SIPp in dir until it exits and reads its statistics. SIPp
// exits 1 when some calls failed, which the statistics count; other
// statuses are errors.
func runSIPp(ctx context.Context, dir string, args ...string) (sippStats, error) {
	stat := filepath.Join(dir, fmt.Sprintf("stat-%d.csv", time.Now().UnixNano()))
	args = append(args, "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1")
	cmd := sippCommand(ctx, dir, args...)
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return sippStats{}, fmt.Errorf("sipp %s: %w", strings.Join(args, " "), err)
	}
	st, perr := readSIPpStats(stat)
	if perr != nil {
		return sippStats{}, fmt.Errorf("sipp statistics: %w", perr)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		st.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return st, nil
}

// sippCommand is SIPp in dir, killed with the bench if the bench dies
// first: an interrupted make bench leaves no SIPp behind.
func sippCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sipp", args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func readSIPpStats(path string) (sippStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return sippStats{}, err
	}
	defer f.Close()
	var header, last []string
	peak := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ";")
		if header == nil {
			header = fields
			continue
		}
		if len(fields) < len(header)/2 {
			continue
		}
		last = fields
		if i := indexOf(header, "CurrentCall"); i >= 0 && i < len(fields) {
			n, _ := strconv.Atoi(fields[i])
			peak = max(peak, n)
		}
	}
	if err := sc.Err(); err != nil {
		return sippStats{}, err
	}
	if last == nil {
		return sippStats{}, fmt.Errorf("%s has no statistics", path)
	}
	col := func(name string) string {
		if i := indexOf(header, name); i >= 0 && i < len(last) {
			return last[i]
		}
		return ""
	}
	count := func(name string) int { n, _ := strconv.Atoi(col(name)); return n }
	st := sippStats{
		Created: count("OutgoingCall(C)") + count("IncomingCall(C)"),
		OK:      count("SuccessfulCall(C)"), Failed: count("FailedCall(C)"),
		Retrans:    count("Retransmissions(C)"),
		CallLength: sippDuration(col("CallLength(C)")), Setup: sippDuration(col("ResponseTime1(C)")),
		PeakCalls: peak,
	}
	start, end := sippTime(col("StartTime")), sippTime(col("CurrentTime"))
	st.Elapsed = end.Sub(start)
	return st, nil
}

func indexOf(fields []string, name string) int {
	for i, f := range fields {
		if f == name {
			return i
		}
	}
	return -1
}

// sippTime reads SIPp's "date<TAB>time<TAB>epoch.micros".
func sippTime(s string) time.Time {
	epoch := s[strings.LastIndexByte(s, '\t')+1:]
	sec, err := strconv.ParseFloat(epoch, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(sec*1e9))
}

// sippDuration reads SIPp's "HH:MM:SS:micros".
func sippDuration(s string) time.Duration {
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return 0
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second, time.Microsecond} {
		n, _ := strconv.Atoi(parts[i])
		d += time.Duration(n) * unit
	}
	return d
}

// sippPorts are a SIPp instance's free ports on 127.0.0.1: its SIP port and
// the first of its four media ports (-p and -mp).
func sippPorts() (sipPort, mediaPort int, err error) {
	if sipPort, err = freeUDPPorts(1); err != nil {
		return 0, 0, err
	}
	mediaPort, err = freeUDPPorts(4)
	return sipPort, mediaPort, err
}

// freeUDPPorts returns a port on 127.0.0.1 free now with the n-1 above it
// (SIPp's media port is followed by its RTCP and video ports).
func freeUDPPorts(n int) (int, error) {
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if port%2 != 0 || port+n > 65535 {
			continue
		}
		free := true
		for p := port + 1; p < port+n && free; p++ {
			c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if free = err == nil; free {
				c.Close()
			}
		}
		if free {
			return port, nil
		}
	}
	return 0, errors.New("no free UDP ports in a row on 127.0.0.1")
}

// sippInstalled says why the SIP benchmarks cannot run, or nil.
func sippInstalled() error {
	if _, err := exec.LookPath("sipp"); err != nil {
		return errors.New("sipp is not installed (make deps installs Debian's sip-tester)")
	}
	return nil
}

// liveHeap is the heap the last collection marked live, read without
// forcing one (runtime/metrics /gc/heap/live:bytes).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
