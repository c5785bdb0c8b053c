package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// The standard scenario under load (issue 9): SIPp carriers call the demo
// number of a vox serve (the real binary, as make run starts it: the
// controller, the access URLs the scenario fetches its settings from and
// posts its portal events to, call records, session logs in files), whose
// standard scenario rings user 100, a SIPp uas registered as that user,
// bridges the two and records the call in stereo. The answer-and-hang-up
// rate of the sip section, measured in the same run, is what it is compared
// with.
var (
	stdHold  = flag.Duration("standard-hold", 2*time.Second, "how long each carrier's call talks after the answer")
	stdFirst = flag.Int("standard-rate", 20, "the first call rate the standard scenario is offered")
	stdStep  = flag.Duration("standard-step", 10*time.Second, "how long each call rate is offered to the standard scenario: long enough to be a rate held, not a burst")
)

const (
	stdNumber   = "74950000100" // rented to the demo tenant at vox serve's first start
	stdCaller   = "74951234567"
	stdUser     = "100"
	stdPassword = "bench-user-100"
	stdAccount  = "demo"
	stdRealm    = "vox"
	// stdSettings are the demo number's settings in the bench: straight to
	// the queue's one user, recorded in stereo.
	stdSettings = `{"queue": {"users": [100], "type": "evenly", "ringSeconds": 10, "rounds": 1},
 "users": {"phoneLogin": "{id}", "webLogin": ""},
 "recording": {"enabled": true, "stereo": true},
 "noAnswer": {"rule": "hangup"}}`
	minStdStepCalls = 100
)

// answerAndHangUp is the sip section's best rate when it ran before in the
// same run (make bench), so that the standard section does not measure it
// again.
var answerAndHangUp *rateStep

func benchStandard(out io.Writer) error {
	if err := sippInstalled(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "vox-bench-standard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "vox")
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/vox").CombinedOutput(); err != nil {
		return fmt.Errorf("build vox: %v\n%s", err, b)
	}
	carrier, err := sippScenario("carrier_call.xml")
	if err != nil {
		return err
	}
	register, err := sippScenario("register_only.xml")
	if err != nil {
		return err
	}
	uas, err := sippScenario("uas_answer.xml")
	if err != nil {
		return err
	}
	caller, err := sippScenario("bench_call.xml")
	if err != nil {
		return err
	}
	hold := *stdHold
	fmt.Fprintf(out, "\nstandard scenario benchmark: SIPp carriers → vox serve (a child process; its trunk, the demo number, the standard\n")
	fmt.Fprintf(out, "scenario: settings over HTTP, StartCall/HangupCall/AddCallHistory, CallUser) → a SIPp uas registered as user %s;\n", stdUser)
	fmt.Fprintf(out, "stereo recording, %s of talk, the carrier hangs up; %s per rate, a fresh vox and uas for each. The sip section's answer-and-hang-up\n", hold, *stdStep)
	fmt.Fprintf(out, "rate (SIPp → vox, tone script %s) is from the same run.\n", *sipHold)

	var sip rateStep
	if answerAndHangUp != nil {
		sip = *answerAndHangUp
		fmt.Fprintf(out, "  sip      %d/s, from the sip section above\n", sip.Rate)
	} else if sip, err = searchRate(out, "sip", *sipFirst, func(rate int) (rateStep, error) {
		return voxStepProcess(stepRequest{Work: work, Caller: caller, Rate: rate, Calls: stepCalls(rate), Hold: *sipHold})
	}); err != nil {
		return err
	}
	std, err := searchRate(out, "standard", *stdFirst, func(rate int) (rateStep, error) {
		calls := max(minStdStepCalls, int(float64(rate)*stdStep.Seconds()))
		return standardStep(work, bin, stdScenarios{carrier, register, uas}, rate, calls, hold)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tstandard\tanswer and hang up (sip)\tstandard/sip")
	ratio := "—"
	if sip.Rate > 0 {
		ratio = fmt.Sprintf("%.3f×", float64(std.Rate)/float64(sip.Rate))
	}
	fmt.Fprintf(w, "completed calls per second, < 0.1%% failed\t%d /s\t%d /s\t%s\n", std.Rate, sip.Rate, ratio)
	fmt.Fprintf(w, "concurrent calls held at that rate\t%d\t—\t—\n", std.Stats.PeakCalls)
	fmt.Fprintf(w, "memory per call at that rate\t%s KiB\t%s KiB\t—\n", num(std.HeapKB), num(sip.HeapKB))
	fmt.Fprintf(w, "CPU per call at that rate\t%s µs\t%s µs\t—\n", num(micros(std.cpuPerCall())), num(micros(sip.cpuPerCall())))
	w.Flush()
	fmt.Fprintf(out, "(standard: vox serve's peak RSS over its idle RSS per concurrent call at SIPp's peak, and its process CPU, SIPp's excluded;\n")
	fmt.Fprintf(out, " each standard call is two SIP calls, a JS session, four HTTP requests to vox itself, a recording and a session log file,\n")
	fmt.Fprintf(out, " three bbolt commits (the live-call mark, the record, the unmark) and three webhooks queued. sip: as in the sip section.)\n")
	return nil
}

type stdScenarios struct{ carrier, register, uas string }

var stdStarted = regexp.MustCompile(`msg="vox serve started" http=http://(\S+) sip=(\S+)`)

// standardStep starts a fresh vox serve and user, offers rate for calls
// calls and reads vox's CPU and memory from /proc.
func standardStep(work, bin string, sc stdScenarios, rate, calls int, hold time.Duration) (rateStep, error) {
	data, err := os.MkdirTemp(work, "data-")
	if err != nil {
		return rateStep{}, err
	}
	defer os.RemoveAll(data)
	trunks := `{"trunks": [{"name": "carrier", "account": "demo", "address": "127.0.0.1:5060", "allow_from": ["127.0.0.1"]}]}`
	if err := os.WriteFile(filepath.Join(data, "trunks.json"), []byte(trunks), 0o600); err != nil {
		return rateStep{}, err
	}
	settings := filepath.Join(data, "settings.json")
	if err := os.WriteFile(settings, []byte(stdSettings), 0o600); err != nil {
		return rateStep{}, err
	}
	vox, err := startVoxServe(bin, data)
	if err != nil {
		return rateStep{}, err
	}
	defer vox.stop()
	admin := []string{"--server", "http://" + vox.http, "--data", data}
	for _, args := range [][]string{
		{"sipuser", "create", stdAccount, stdUser, "--password", stdPassword},
		{"number", "config", stdNumber, "--set", settings},
	} {
		if b, err := exec.Command(bin, append(args, admin...)...).CombinedOutput(); err != nil {
			return rateStep{}, fmt.Errorf("vox %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	port, err := freeUDPPorts(1)
	if err != nil {
		return rateStep{}, err
	}
	reg := sippCommand(context.Background(), work, vox.sip, "-sf", sc.register, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-s", stdUser, "-au", stdUser, "-ap", stdPassword, "-key", "domain", stdRealm, "-nostdin", "-timeout", "10s", "-timeout_error")
	if b, err := reg.CombinedOutput(); err != nil {
		return rateStep{}, fmt.Errorf("register user %s: %v\n%s", stdUser, err, b)
	}
	userMedia, err := freeUDPPorts(4)
	if err != nil {
		return rateStep{}, err
	}
	user := sippCommand(context.Background(), work, "-sf", sc.uas, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(userMedia),
		"-s", stdUser, "-recv_timeout", sipRecvWait, "-buff_size", sipBufferSize, "-nostdin")
	if err := user.Start(); err != nil {
		return rateStep{}, fmt.Errorf("start the user's SIPp uas: %w", err)
	}
	defer func() {
		user.Process.Kill()
		user.Wait()
	}()
	time.Sleep(300 * time.Millisecond) // SIPp says nothing once it listens

	callerPort, callerMedia, err := sippPorts()
	if err != nil {
		return rateStep{}, err
	}
	limit := max(100, int(float64(rate)*(hold.Seconds()+2)))
	args := []string{vox.sip, "-sf", sc.carrier, "-i", "127.0.0.1", "-p", strconv.Itoa(callerPort), "-mp", strconv.Itoa(callerMedia),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(calls), "-l", strconv.Itoa(limit), "-d", strconv.FormatInt(hold.Milliseconds(), 10),
		"-s", stdNumber, "-key", "caller", stdCaller, "-key", "domain", stdRealm, "-key", "rtp_port", strconv.Itoa(callerMedia),
		"-recv_timeout", sipRecvWait, "-buff_size", sipBufferSize}
	pid := vox.cmd.Process.Pid
	rss0, cpu0 := procStatusKB(pid, "VmRSS"), procCPU(pid)
	st, err := runSIPp(context.Background(), work, args...)
	if err != nil {
		return rateStep{}, err
	}
	s := rateStep{Rate: rate, Stats: st, CPU: procCPU(pid) - cpu0}
	if hwm := procStatusKB(pid, "VmHWM"); st.PeakCalls > 0 && hwm > rss0 {
		s.HeapKB = float64(hwm-rss0) / float64(st.PeakCalls)
	}
	if !s.held() {
		s.Note = vox.warnings()
	}
	return s, nil
}

// voxServe is vox serve in a child process.
type voxServe struct {
	cmd       *exec.Cmd
	http, sip string
	done      chan struct{}
	mu        sync.Mutex
	warned    []string
	nwarned   int
}

func startVoxServe(bin, data string) (*voxServe, error) {
	cmd := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vox serve: %w", err)
	}
	v := &voxServe{cmd: cmd, done: make(chan struct{})}
	started := make(chan []string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 64<<10), 1<<20)
		for lines.Scan() {
			line := lines.Text()
			if m := stdStarted.FindStringSubmatch(line); m != nil {
				started <- m[1:]
			}
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				v.mu.Lock()
				v.nwarned++
				if len(v.warned) < 3 {
					v.warned = append(v.warned, line)
				}
				v.mu.Unlock()
			}
		}
		cmd.Wait()
		close(v.done)
	}()
	select {
	case m := <-started:
		v.http, v.sip = m[0], m[1]
		return v, nil
	case <-v.done:
		return nil, fmt.Errorf("vox serve exited at start: %v", cmd.ProcessState)
	case <-time.After(30 * time.Second):
		v.stop()
		return nil, fmt.Errorf("vox serve did not start in 30 s")
	}
}

func (v *voxServe) warnings() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nwarned == 0 {
		return ""
	}
	return fmt.Sprintf("vox logged %d warnings, the first: %s", v.nwarned, strings.Join(v.warned, " | "))
}

// stop ends vox serve as Ctrl-C does, and kills it if it takes too long.
func (v *voxServe) stop() {
	v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-v.done:
	case <-time.After(20 * time.Second):
		v.cmd.Process.Kill()
		<-v.done
	}
}
