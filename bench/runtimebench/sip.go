package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// The call-setup part of make bench (issue 6): SIPp places calls into vox,
// whose scenario answers, plays a tone script and hangs up, at rising rates,
// to find the highest rate with fewer than 0.1% failed calls; then the same
// SIPp caller against a SIPp uas doing the same SIP work with no scenario
// behind it (testdata/sipp/bench_uas.xml) is the ceiling, measured in the
// same run. Calls come from a phone, whose every INVITE both sides challenge
// and check the digest of, and from a carrier's trunk, known by its address
// and not challenged (bench_trunk_*.xml).
var (
	sipHold = flag.Duration("sip-hold", 500*time.Millisecond, "how long the call-setup scenario plays before it hangs up")
	// Long enough that a rate past capacity shows: vox's SIP socket holds
	// most of a second of requests, and its overload guard acts after a
	// second of late ones, so a 3 s step at 1,500 calls/s looked held (setup
	// 161 ms and growing) where 10 s turned 2.4% away.
	sipStep  = flag.Duration("sip-step", 10*time.Second, "how long each call rate is offered")
	sipFirst = flag.Int("sip-rate", 500, "the first call rate tried; rates double until one fails, then two bisections narrow it")
	sipMax   = flag.Int("sip-max-rate", 16000, "the highest call rate tried")
)

// Goals from the SIP issue.
const (
	goalCallRate     = 2000
	goalCallFailures = 0.001
	// A rate counts as held when SIPp placed the calls at 90% of it or
	// more: a server that answers late makes SIPp, at its limit of open
	// calls, place fewer.
	heldRate      = 0.9
	minStepCalls  = 1000
	sipRecvWait   = "5s" // a call waiting longer for a message fails
	sipBufferSize = "4194304"
)

// rateStep is one rate offered to one side.
type rateStep struct {
	Rate   int
	Stats  sippStats
	CPU    time.Duration // the side under test's during the run
	HeapKB float64       // memory per call: vox's per call placed, the ceiling's per call open
	Heap   uint64        // vox: live heap over the idle server's in the middle of the run
	Note   string        // vox: its warnings, when the rate was not held
	// TurnedAway counts vox's 503s for overload, which are among the
	// failed calls.
	TurnedAway uint64
	// Dropped counts the datagrams the kernel dropped at vox's SIP socket
	// for want of buffer: callers' retransmissions, or failed calls.
	Dropped uint64
}

func (r rateStep) held() bool {
	return r.Stats.failRatio() < goalCallFailures && r.Stats.achieved() >= heldRate*float64(r.Rate)
}

func (r rateStep) cpuPerCall() time.Duration {
	if r.Stats.Created == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Stats.Created)
}

// callerCPUPerCall is the caller's (SIPp's) CPU per call it placed.
func (r rateStep) callerCPUPerCall() time.Duration {
	return r.Stats.CPU / time.Duration(max(1, r.Stats.Created))
}

func (r rateStep) String() string {
	verdict := "held"
	if !r.held() {
		verdict = "not held"
	}
	heap := ""
	if r.Heap > 0 {
		heap = fmt.Sprintf(", heap +%.0f MiB", float64(r.Heap)/(1<<20))
	}
	if r.TurnedAway > 0 {
		heap += fmt.Sprintf(", %d turned away (503)", r.TurnedAway)
	}
	if r.Dropped > 0 {
		heap += fmt.Sprintf(", %d dropped by the kernel at the SIP socket", r.Dropped)
	}
	return fmt.Sprintf("%5d/s: %6d calls, %5d failed, placed at %5.0f/s, setup %5.0f ms, CPU %4.0f µs/call, %5d retransmissions%s: %s",
		r.Rate, r.Stats.Created, r.Stats.Failed, r.Stats.achieved(), ms(r.Stats.Setup), micros(r.cpuPerCall()), r.Stats.Retrans, heap, verdict)
}

// searchRate offers rates from first, doubling while they are held (up to
// -sip-max-rate), then bisects twice between the last held and the first
// not held.
func searchRate(out io.Writer, side string, first int, try func(rate int) (rateStep, error)) (best rateStep, err error) {
	offer := func(rate int) (bool, error) {
		s, err := try(rate)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(out, "  %-8s %s\n", side, s)
		if s.Note != "" {
			fmt.Fprintf(out, "  %-8s %s\n", "", s.Note)
		}
		if s.held() && s.Rate > best.Rate {
			best = s
		}
		return s.held(), nil
	}
	lo, hi := 0, 0
	for rate := min(first, *sipMax); hi == 0; rate = min(2*rate, *sipMax) {
		if rate == lo {
			fmt.Fprintf(out, "  %-8s held -sip-max-rate, %d/s\n", side, *sipMax)
			return best, nil
		}
		held, err := offer(rate)
		if err != nil {
			return best, err
		}
		if held {
			lo = rate
		} else {
			hi = rate
		}
	}
	for range 2 {
		mid := (lo + hi) / 2
		held, err := offer(mid)
		if err != nil {
			return best, err
		}
		if held {
			lo = mid
		} else {
			hi = mid
		}
	}
	return best, nil
}

// uacArgs are the caller's arguments for one rate against target.
func uacArgs(target, scenario string, rate, calls int, hold time.Duration) ([]string, error) {
	port, media, err := sippPorts()
	if err != nil {
		return nil, err
	}
	// The limit of open calls leaves room for a second of setup beyond the
	// hold: more than that open means the server is behind.
	limit := max(100, int(float64(rate)*(hold.Seconds()+1)))
	// The caller's SDP names its RTCP port (a=rtcp:[rtcp]): SIPp binds its
	// media port and the one two above, not the RTCP port one above, and
	// every RTCP packet vox sent there (a BYE at each call's end) made the
	// kernel answer with an ICMP error at vox's expense, about 9 µs a call,
	// which a phone with its RTCP port open does not cost.
	return []string{target, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(media), "-key", "rtcp", strconv.Itoa(media + 2),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(calls), "-l", strconv.Itoa(limit),
		"-s", benchNumber, "-au", benchCaller, "-ap", benchPassword, "-key", "caller", benchCaller, "-key", "domain", benchRealm,
		"-recv_timeout", sipRecvWait, "-buff_size", sipBufferSize}, nil
}

func stepCalls(rate int) int { return max(minStepCalls, int(float64(rate)*sipStep.Seconds())) }

// callSource is who places the benchmark's calls: a phone, digest-challenged
// on every call as a registered user's phone is, or a carrier, whose trunk
// is known by its address.
type callSource struct {
	name, caller, uas string
	carrier           bool
}

var callSources = []callSource{
	{name: "phone", caller: "bench_call.xml", uas: "bench_uas.xml"},
	{name: "carrier", caller: "bench_trunk_call.xml", uas: "bench_trunk_uas.xml", carrier: true},
}

// sourceResult is one source's best rates, vox's and the ceiling's, and the
// ceiling at vox's best rate.
type sourceResult struct {
	callSource
	vox, ceiling, same rateStep
	// baseline and baselineSame are the plain sipgo UAS's best rate and its
	// step at vox's best rate (sipbaseline.go), for a carrier's calls.
	baseline, baselineSame rateStep
}

func benchSIP(out io.Writer) error {
	if err := sippInstalled(); err != nil {
		return err
	}
	hold := *sipHold
	work, err := os.MkdirTemp("", "vox-bench-sipp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(out, "\ncall setup benchmark: SIPp uac → vox (a fresh JS session per call: answer, tone script %s, hang up)\n", hold)
	fmt.Fprintf(out, "vs SIPp uac → SIPp uas (the same SIP messages, no scenario, no RTP) as the ceiling; calls from a phone (a digest\n")
	fmt.Fprintf(out, "challenge per call, checked at both sides) and from a carrier's trunk (known by its address); a fresh vox process and\n")
	fmt.Fprintf(out, "a fresh uas for each rate; UDP on loopback, %s per rate, GOMAXPROCS=%d; SIPp shares the %d cores with the side under test\n",
		*sipStep, goruntime.GOMAXPROCS(0), goruntime.NumCPU())

	var results []sourceResult
	for _, src := range callSources {
		r, err := benchSource(out, work, src, hold)
		if err != nil {
			return err
		}
		results = append(results, r)
		if !src.carrier {
			answerAndHangUp = &r.vox
		}
	}

	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "calls from\tname\tvox\tSIPp uas\tsipgo UAS\tvox/ceiling\tgoal\tmet")
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	setup := func(d time.Duration) string {
		if d < time.Millisecond {
			return "< 1 ms" // SIPp counts in milliseconds
		}
		return num(ms(d)) + " ms"
	}
	// baseline shows a figure of the sipgo UAS's step s where it ran, "—"
	// elsewhere.
	baseline := func(s rateStep, f func(rateStep) string) string {
		if s.Rate == 0 {
			return "—"
		}
		return f(s)
	}
	for _, r := range results {
		vox, ceiling, same := r.vox, r.ceiling, r.same
		met := "not met"
		if vox.Rate >= goalCallRate {
			met = "met"
		}
		fmt.Fprintf(w, "%s\tcalls per second, < 0.1%% failed\t%d /s\t%d /s\t%s\t%s\t≥ %d /s\t%s\n", r.name, vox.Rate, ceiling.Rate,
			baseline(r.baseline, func(s rateStep) string { return fmt.Sprintf("%d /s", s.Rate) }),
			ratio(float64(vox.Rate), float64(ceiling.Rate)), goalCallRate, met)
		fmt.Fprintf(w, "\tfailed calls at that rate\t%d of %d\t%d of %d\t%s\t—\t< 0.1%%\t—\n", vox.Stats.Failed, vox.Stats.Created, ceiling.Stats.Failed, ceiling.Stats.Created,
			baseline(r.baseline, func(s rateStep) string { return fmt.Sprintf("%d of %d", s.Stats.Failed, s.Stats.Created) }))
		if same.Rate == 0 {
			continue
		}
		at := fmt.Sprintf(" at %d/s", vox.Rate)
		fmt.Fprintf(w, "\tCPU per call%s\t%s µs\t%s µs\t%s\t%s\t—\t—\n", at, num(micros(vox.cpuPerCall())), num(micros(same.cpuPerCall())),
			baseline(r.baselineSame, func(s rateStep) string { return num(micros(s.cpuPerCall())) + " µs" }),
			ratio(float64(vox.cpuPerCall()), float64(same.cpuPerCall())))
		fmt.Fprintf(w, "\tmemory per call%s (see below)\t%s KiB\t%s KiB\t—\t—\t—\t—\n", at, num(vox.HeapKB), num(same.HeapKB))
		fmt.Fprintf(w, "\tsetup, INVITE to 200, mean%s\t%s\t%s\t%s\t%s\t—\t—\n", at, setup(vox.Stats.Setup), setup(same.Stats.Setup),
			baseline(r.baselineSame, func(s rateStep) string { return setup(s.Stats.Setup) }),
			ratio(float64(vox.Stats.Setup), float64(same.Stats.Setup)))
		fmt.Fprintf(w, "\tthe caller's (SIPp's) CPU per call\t%.0f µs\t%.0f µs\t%s\t—\t—\t—\n",
			micros(vox.callerCPUPerCall()), micros(same.callerCPUPerCall()),
			baseline(r.baselineSame, func(s rateStep) string { return fmt.Sprintf("%.0f µs", micros(s.callerCPUPerCall())) }))
	}
	w.Flush()
	for _, r := range results {
		if r.baselineSame.Rate > 0 {
			printGoalBudget(out, r)
		}
	}
	fmt.Fprintf(out, "(CPU: vox's is its process's, the ceiling's the uas's, the sipgo UAS's its process's: a plain sipgo UAS\n")
	fmt.Fprintf(out, " doing the carrier call's SIP and sending its %s of RTP in Go, with no scenario (sipbaseline.go).\n", hold)
	fmt.Fprintf(out, " memory: vox's is the live Go heap over the idle server's in the middle of the run, per call placed until then: all of them are\n")
	fmt.Fprintf(out, " still held, as sipgo keeps an answered INVITE's transaction, and what it refers to, for 64×T1 = 32 s after the call. The\n")
	fmt.Fprintf(out, " ceiling's is the uas's peak RSS over its idle RSS per call open at the caller at its peak: SIPp frees a call when it ends.\n")
	fmt.Fprintf(out, " A rate is held when under 0.1%% of its calls failed and SIPp placed them at %.0f%% of it or more.)\n", heldRate*100)
	return registerBench(out)
}

// printGoalBudget says what the goal's rate leaves a server for r's calls
// on this machine beside SIPp's caller, how much of it a plain sipgo UAS
// takes, and how much vox takes over that: its scenario's JS session,
// and its own SIP and media code.
func printGoalBudget(out io.Writer, r sourceResult) {
	cores := time.Duration(goruntime.NumCPU()) * time.Second
	caller := r.vox.callerCPUPerCall()
	budget := cores/goalCallRate - caller
	baseline := r.baselineSame.cpuPerCall()
	fmt.Fprintf(out, "at %d calls/s from a %s, %d cores leave a server %.0f µs of CPU per call beside SIPp's caller (%.0f µs a call); the\n",
		goalCallRate, r.name, goruntime.NumCPU(), micros(budget), micros(caller))
	fmt.Fprintf(out, "plain sipgo UAS with the same SIP and RTP takes %.0f µs of them, which leaves %.0f µs for the scenario's session and the rest\n",
		micros(baseline), micros(budget-baseline))
	fmt.Fprintf(out, "of vox; vox takes %.0f µs over that UAS now.\n", micros(r.vox.cpuPerCall()-baseline))
}

// benchSource searches the best rate of vox and of the ceiling for the calls
// of src.
func benchSource(out io.Writer, work string, src callSource, hold time.Duration) (r sourceResult, err error) {
	r.callSource = src
	caller, err := sippScenario(src.caller)
	if err != nil {
		return r, err
	}
	uas, err := sippScenario(src.uas)
	if err != nil {
		return r, err
	}
	fmt.Fprintf(out, "calls from a %s:\n", src.name)
	r.vox, err = searchRate(out, "vox", *sipFirst, func(rate int) (rateStep, error) {
		return voxStepProcess(stepRequest{Work: work, Caller: caller, Rate: rate, Calls: stepCalls(rate), Hold: hold, Carrier: src.carrier})
	})
	if err != nil {
		return r, err
	}
	// The ceiling is higher: its search starts where vox's ended, so that
	// the two are also compared at vox's rate. Each rate gets a fresh uas.
	r.ceiling, err = searchRate(out, "ceiling", max(*sipFirst, r.vox.Rate), func(rate int) (rateStep, error) {
		s, err := ceilingStep(work, uas, caller, rate, stepCalls(rate), hold)
		if rate == r.vox.Rate {
			r.same = s
		}
		return s, err
	})
	if err != nil || !src.carrier {
		return r, err
	}
	r.baseline, err = searchRate(out, "sipgo", max(*sipFirst, r.vox.Rate), func(rate int) (rateStep, error) {
		s, err := baselineStepProcess(stepRequest{Work: work, Caller: caller, Rate: rate, Calls: stepCalls(rate), Hold: hold, Carrier: true})
		if rate == r.vox.Rate {
			r.baselineSame = s
		}
		return s, err
	})
	return r, err
}

// Each rate is offered to a fresh vox in a child process (this binary
// again): what one rate leaves behind (calls still ending, the state SIP
// keeps for half a minute after a call, the garbage of both) would weigh on
// the next. In the child, vox runs in-process (sipserver.go) and measures
// itself.
const sipStepEnv = "VOX_BENCH_SIP_STEP"

type stepRequest struct {
	Work, Caller string
	Rate, Calls  int
	Hold         time.Duration
	Carrier      bool // the calls come from a trunk (fromCarrier)
	// vox's settings from the parent's flags, which the child does not
	// parse: -sip-gc-percent, -sip-overload-latency.
	GCPercent int
	Overload  time.Duration
}

func init() { childStep(sipStepEnv, voxStepChild) }

// childStep is a child process's side of stepInChild: when env is set, it
// runs step on the request env holds, prints what step measured as JSON and
// exits.
func childStep[R any](env string, step func(R) (rateStep, error)) {
	spec := os.Getenv(env)
	if spec == "" {
		return
	}
	var req R
	err := json.Unmarshal([]byte(spec), &req)
	var s rateStep
	if err == nil {
		s, err = step(req)
	}
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(s)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", env, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// stepInChild runs one step in a child process, this binary again with env
// set to req as JSON, and returns what the child measured; its CPU is then
// its process's alone.
func stepInChild(env string, req any) (rateStep, error) {
	self, err := os.Executable()
	if err != nil {
		return rateStep{}, err
	}
	spec, err := json.Marshal(req)
	if err != nil {
		return rateStep{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), env+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return rateStep{}, err
	}
	var s rateStep
	return s, json.Unmarshal(out, &s)
}

func voxStepChild(req stepRequest) (rateStep, error) {
	var tune []voxTune
	if req.Carrier {
		tune = append(tune, fromCarrier)
	}
	*sipGCPercent, *sipOverload = req.GCPercent, req.Overload
	v, err := startSIPVox(map[string]string{benchCaller: benchPassword}, req.Hold, tune...)
	if err != nil {
		return rateStep{}, fmt.Errorf("start vox: %w", err)
	}
	defer v.close()
	// One call first: what every call shares (the compiled program, the
	// VoxEngine layer, sipgo's pools) is not counted.
	if _, err := voxStep(v, req.Work, req.Caller, 1, 1, req.Hold); err != nil {
		return rateStep{}, err
	}
	s, err := voxStep(v, req.Work, req.Caller, req.Rate, req.Calls, req.Hold)
	if err == nil && !s.held() {
		s.Note = v.log.String()
	}
	return s, err
}

func voxStepProcess(req stepRequest) (rateStep, error) {
	req.GCPercent, req.Overload = *sipGCPercent, *sipOverload
	s, err := stepInChild(sipStepEnv, req)
	if err != nil {
		return s, fmt.Errorf("vox at %d calls/s: %w", req.Rate, err)
	}
	return s, nil
}

// voxStep offers rate to vox for calls calls and measures its CPU and, in the
// middle of the run, its live heap per call placed so far.
func voxStep(v *sipVox, work, caller string, rate, calls int, hold time.Duration) (rateStep, error) {
	args, err := uacArgs(v.addr.String(), caller, rate, calls, hold)
	if err != nil {
		return rateStep{}, err
	}
	base, _ := heapInUse()
	started0 := v.launcher.started.Load()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type growth struct {
		heap  uint64
		calls int64
	}
	mid := make(chan growth, 1)
	go func() {
		// In the middle of placing the calls, when as many are in
		// progress as there will be.
		at := time.Duration(float64(calls)/float64(rate)*0.6*float64(time.Second)) + hold/2
		select {
		case <-ctx.Done():
			mid <- growth{}
			return
		case <-time.After(at):
		}
		// What the last collection found live: a forced one would cost
		// vox CPU the run counts.
		heap := liveHeap()
		mid <- growth{heap: heap - min(heap, base), calls: v.launcher.started.Load() - started0}
	}()
	cpu0, away0, drops0 := processCPU(), v.turnedAway(), udpDrops(v.addr.Port())
	st, err := runSIPp(ctx, work, args...)
	cpu := processCPU() - cpu0
	cancel()
	if err != nil {
		return rateStep{}, err
	}
	s := rateStep{Rate: rate, Stats: st, CPU: cpu, TurnedAway: v.turnedAway() - away0, Dropped: udpDrops(v.addr.Port()) - drops0}
	if g := <-mid; g.calls > 0 {
		s.Heap, s.HeapKB = g.heap, float64(g.heap)/1024/float64(g.calls)
	}
	return s, nil
}

// ceilingStep offers rate to a fresh SIPp uas, standing where vox stood, and
// reads its CPU and memory from /proc.
func ceilingStep(work, scenario, caller string, rate, calls int, hold time.Duration) (rateStep, error) {
	port, media, err := sippPorts()
	if err != nil {
		return rateStep{}, err
	}
	uas := sippCommand(context.Background(), work, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(media),
		"-d", strconv.FormatInt(hold.Milliseconds(), 10), "-key", "user", benchCaller, "-key", "password", benchPassword,
		"-recv_timeout", sipRecvWait, "-buff_size", sipBufferSize, "-nostdin")
	if err := uas.Start(); err != nil {
		return rateStep{}, fmt.Errorf("start the SIPp uas: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- uas.Wait() }()
	defer func() {
		uas.Process.Kill()
		<-exited
	}()
	// SIPp says nothing once it listens; give it the time to read its
	// scenario and bind.
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-exited:
		exited <- err
		return rateStep{}, fmt.Errorf("the SIPp uas exited at start: %v", err)
	default:
	}
	pid := uas.Process.Pid
	rss0, cpu0 := procStatusKB(pid, "VmRSS"), procCPU(pid)
	args, err := uacArgs("127.0.0.1:"+strconv.Itoa(port), caller, rate, calls, hold)
	if err != nil {
		return rateStep{}, err
	}
	st, err := runSIPp(context.Background(), work, args...)
	if err != nil {
		return rateStep{}, err
	}
	s := rateStep{Rate: rate, Stats: st, CPU: procCPU(pid) - cpu0}
	if hwm := procStatusKB(pid, "VmHWM"); st.PeakCalls > 0 && hwm > rss0 {
		s.HeapKB = float64(hwm-rss0) / float64(st.PeakCalls)
	}
	return s, nil
}

// procCPU is the user and system CPU of process pid so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// udpDrops is how many datagrams the kernel dropped at the UDP sockets bound
// to port on IPv4 (the last column of /proc/net/udp); 0 where it cannot
// tell.
func udpDrops(port uint16) uint64 {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0
	}
	suffix := fmt.Sprintf(":%04X", port)
	var drops uint64
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[1], suffix) {
			continue
		}
		n, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
		drops += n
	}
	return drops
}

// procStatusKB reads a "Name: N kB" line of /proc/PID/status.
func procStatusKB(pid int, name string) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
