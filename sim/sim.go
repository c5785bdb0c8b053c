package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"vox/media/player"
	"vox/runtime"
)

// Options describe one simulated call.
type Options struct {
	From, To    string
	DisplayName string
	CustomData  string
	Start       time.Time // the virtual clock's start; zero means now
	// AnswerAfter is how long outgoing calls ring before they answer, unless a
	// dial rule in Timeline says otherwise.
	AnswerAfter time.Duration
	// HangupAfter makes the caller hang up this long after the session started;
	// zero leaves it on the line until nothing else can happen.
	HangupAfter time.Duration
	Timeline    []Step
	// HTTP answers the scenario's requests from files; see HTTPFiles.
	HTTP *HTTPFiles
	// DefaultPlayback is how long an http(s) URL that no HTTP route answers
	// plays (as silence), unless PlaybackDurations names it.
	DefaultPlayback   time.Duration
	PlaybackDurations map[string]time.Duration
	// Dir is where the scenario's relative audio paths are looked up (the
	// scenario's directory).
	Dir string
	// CallerAudio is what the caller says once the call has media: a tone
	// script, or a WAV or MP3 file (relative to the working directory); ""
	// is silence. A dial rule's Audio says it for outgoing calls.
	CallerAudio string
	// RecordDir is where recordings are written, as WAV files named by the
	// recorder's token; "" writes them to a temporary directory removed when
	// Run returns.
	RecordDir string
	// OnRecording, when set, is told where each recording's file is.
	OnRecording func(url, file string)
	LogFormat   runtime.LogFormat
	// Seed makes call and session ids; the same seed gives the same log.
	Seed   uint64
	Limits runtime.Limits
	// Name and Version, when set, name the scenario in the log as a release from
	// the server would be ("Start INCOMING scenario (version: 9)").
	Name, Version string
	Logger        *slog.Logger
}

// Defaults for Options left zero.
const (
	DefaultAnswerAfter = 2 * time.Second
	DefaultPlayback    = 5 * time.Second
)

// Source is one scenario file.
type Source struct {
	Name string
	Code string
}

// Simulation is one simulated call in progress.
type Simulation struct {
	opts      Options
	clock     *runtime.VirtualClock
	rng       *rand.Rand
	sessionID string
	session   *runtime.Session
	live      []*leg
	records   int
	dials     []dialRule
	out       io.Writer
	log       *runtime.SessionLog

	ctx       context.Context
	player    *player.Player // what scenarios play
	farPlayer *player.Player // what far ends say
	recordDir string
}

type dialRule struct {
	pattern *regexp.Regexp
	step    Step
}

// Run compiles the files as one scenario and plays a call through it, writing the
// session log to out. It returns a *runtime.SyntaxError before anything runs when
// a file does not compile, and an error wrapping runtime.ErrScenario when the
// scenario failed while running.
func Run(ctx context.Context, opts Options, files []Source, out io.Writer) error {
	programs := make([]*runtime.Program, 0, len(files))
	for _, f := range files {
		p, err := runtime.Compile(f.Name, f.Code)
		if err != nil {
			return err
		}
		programs = append(programs, p)
	}
	sim := newSimulation(opts, out)
	return sim.run(ctx, programs)
}

func newSimulation(opts Options, out io.Writer) *Simulation {
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.AnswerAfter <= 0 {
		opts.AnswerAfter = DefaultAnswerAfter
	}
	if opts.DefaultPlayback <= 0 {
		opts.DefaultPlayback = DefaultPlayback
	}
	if opts.HTTP == nil {
		opts.HTTP = &HTTPFiles{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Simulation{
		opts:  opts,
		clock: runtime.NewVirtualClock(opts.Start),
		rng:   rand.New(rand.NewPCG(opts.Seed, 0x566f78)),
		out:   out,
	}
	s.sessionID = fmt.Sprint(10000000 + s.rng.IntN(90000000))
	for _, st := range opts.Timeline {
		if st.Action == ActionDial {
			s.dials = append(s.dials, dialRule{pattern: dialPattern(st.Call), step: st})
		}
	}
	return s
}

func (s *Simulation) run(ctx context.Context, programs []*runtime.Program) error {
	s.ctx = ctx
	closeMedia, err := s.openMedia()
	if err != nil {
		return err
	}
	defer closeMedia()
	caller := &leg{sim: s, id: s.incomingCallID(), dest: "caller", incoming: true, state: stateAlerting}
	caller.voice = s.farAudio(s.opts.CallerAudio)
	s.live = append(s.live, caller)
	s.log = runtime.NewSessionLog(s.out, s.opts.LogFormat)
	names := make([]string, len(programs))
	for i, p := range programs {
		names[i] = strings.TrimSuffix(filepath.Base(p.Name), filepath.Ext(p.Name))
	}
	name := strings.Join(names, ", ")
	if s.opts.Name != "" {
		name = s.opts.Name
	}
	s.session, err = runtime.New(ctx, runtime.Config{
		Name:     name,
		Version:  s.opts.Version,
		Programs: programs,
		Info: runtime.SessionInfo{
			SessionID:     s.sessionID,
			AccountID:     "1",
			ApplicationID: "1",
			UserID:        "1",
			AccessURL:     s.accessURL(),
			LogURL:        "http://127.0.0.1:8080/log/" + s.sessionID,
			CustomData:    s.opts.CustomData,
		},
		Clock:     s.clock,
		Log:       s.log,
		Dialer:    s,
		HTTP:      s.opts.HTTP,
		Limits:    s.opts.Limits,
		Logger:    s.opts.Logger,
		NewCallID: s.newCallID,
		OnIdle:    s.idle,
	})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	display := s.opts.DisplayName
	if display == "" {
		display = s.opts.From
	}
	s.session.Incoming(runtime.Incoming{
		Leg:         caller,
		CallerID:    s.opts.From,
		Destination: s.opts.To,
		DisplayName: display,
		FromURI:     "sip:" + s.opts.From + "@127.0.0.1",
		ToURI:       "sip:" + s.opts.To + "@127.0.0.1",
		Headers:     map[string]string{"VI-Client-Type": "pstn"},
	})
	s.schedule()
	s.session.Run()
	<-s.session.Done()
	// Calls a terminated session left up: their audio stops and their
	// recordings are finished, with no one left to tell.
	for _, l := range s.live {
		l.release()
		if l.recording != nil {
			l.recording.rec.Close()
		}
	}
	return s.session.Err()
}

// schedule puts the timeline's timed steps on the virtual clock.
func (s *Simulation) schedule() {
	steps := append([]Step(nil), s.opts.Timeline...)
	if s.opts.HangupAfter > 0 {
		steps = append(steps, Step{At: Duration(s.opts.HangupAfter), Action: ActionHangup, Call: "caller"})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].At < steps[j].At })
	for _, st := range steps {
		if st.Action == ActionDial {
			continue
		}
		st := st
		s.clock.AfterFunc(time.Duration(st.At), func() { s.apply(st) })
	}
}

// apply carries out a timed step. It runs on the session goroutine.
func (s *Simulation) apply(st Step) {
	if st.Action == ActionHTTPRequest {
		method, path := st.Method, st.Path
		if method == "" {
			method = "POST"
		}
		if path == "" {
			path = s.accessPath()
		}
		s.session.HTTPRequest(method, path, st.Content)
		return
	}
	who := st.Call
	if who == "" {
		who = "caller"
	}
	l := s.find(who)
	if l == nil {
		s.opts.Logger.Warn("timeline step for a call that is not up", "action", st.Action, "call", who, "at", time.Duration(st.At))
		return
	}
	switch st.Action {
	case ActionDTMF:
		if !st.RFC4733 {
			l.press(st.Digits)
			return
		}
		if l.tones {
			for _, d := range st.Digits {
				l.emit(runtime.EventToneReceived, map[string]any{"tone": string(d)})
			}
		}
	case ActionAudio:
		l.say(st.Audio)
	case ActionMessage:
		l.emit(runtime.EventMessageReceived, map[string]any{"text": st.Text})
	case ActionHangup:
		l.end(runtime.EventDisconnected, nil)
	case ActionTransfer:
		l.askTransfer(st.To)
	case ActionInfo:
		l.emit(runtime.EventInfoReceived, map[string]any{"mimeType": st.MIMEType, "body": st.Text, "headers": map[string]string{}})
	case ActionHold, ActionUnhold:
		l.hold(st.Action == ActionHold)
	}
}

func (s *Simulation) find(dest string) *leg {
	for i := len(s.live) - 1; i >= 0; i-- {
		if s.live[i].dest == dest {
			return s.live[i]
		}
	}
	return nil
}

func (s *Simulation) forget(l *leg) {
	for i, o := range s.live {
		if o == l {
			s.live = append(s.live[:i], s.live[i+1:]...)
			return
		}
	}
}

// idle runs when nothing is queued or scheduled: the callers still on the line give
// up and hang up, as a person would after a long silence.
func (s *Simulation) idle() bool {
	if len(s.live) == 0 {
		return false
	}
	s.log.System(s.clock.Now(), "Simulation: nothing else is scheduled, so the calls still up hang up")
	for _, l := range append([]*leg(nil), s.live...) {
		if l.state == stateConnected || l.incoming {
			l.end(runtime.EventDisconnected, nil)
		} else {
			l.end(runtime.EventFailed, map[string]any{"code": 408, "reason": Reason(408)})
		}
	}
	return true
}

// Dial places a simulated outgoing call (runtime.Dialer).
func (s *Simulation) Dial(ctx context.Context, req runtime.DialRequest) (runtime.Leg, error) {
	l := &leg{sim: s, id: req.ID, dest: req.To, state: stateAlerting}
	s.live = append(s.live, l)
	rule := Step{AnswerAfter: ptr(Duration(s.opts.AnswerAfter))}
	for _, r := range s.dials {
		if r.pattern.MatchString(req.To) {
			rule = r.step
			break
		}
	}
	l.voice = s.farAudio(rule.Audio)
	l.after(0, func() {
		if rule.Fail != 0 {
			reason := rule.Reason
			if reason == "" {
				reason = Reason(rule.Fail)
			}
			l.end(runtime.EventFailed, map[string]any{"code": rule.Fail, "reason": reason})
			return
		}
		l.emit(runtime.EventRinging, nil)
		if rule.NoAnswer {
			return
		}
		wait := s.opts.AnswerAfter
		if rule.AnswerAfter != nil {
			wait = time.Duration(*rule.AnswerAfter)
		}
		l.ring = l.after(wait, func() {
			l.ring = nil
			l.connect()
		})
	})
	return l, nil
}

func ptr[T any](v T) *T { return &v }

// AccessToken is the token of every simulated session's access URL. A live
// session's is 128 random bits; a simulation's is fixed so
// that logs replay exactly and --http routes can name the URL.
const AccessToken = "5eed0000000000000000000000000000"

// accessPath is the session's access URL path, /calls/{sessionID}/{token},
// the form the controller serves: the scenario fetches its settings from
// accessURL/config and reports to accessURL/events.
func (s *Simulation) accessPath() string {
	return "/calls/" + s.sessionID + "/" + AccessToken
}

func (s *Simulation) accessURL() string { return "http://127.0.0.1:8080" + s.accessPath() }

// incomingCallID makes an id shaped like the seed's: 16 hex digits, the start time
// in Unix seconds and a counter.
func (s *Simulation) incomingCallID() string {
	return fmt.Sprintf("%016x.%d.%d", s.rng.Uint64(), s.opts.Start.Unix(), 100000+s.rng.IntN(900000))
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newCallID makes ids shaped like the seed's outgoing call ids (43 URL-safe base64
// characters), from the simulation's seed so that logs replay exactly.
func (s *Simulation) newCallID() string {
	b := make([]byte, 43)
	for i := range b {
		b[i] = idAlphabet[s.rng.IntN(len(idAlphabet))]
	}
	return string(b)
}

// ReadSources reads scenario files; a missing file is an error naming it.
func ReadSources(paths []string) ([]Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no scenario file given")
	}
	var out []Source
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Source{Name: p, Code: string(b)})
	}
	return out, nil
}

// dialPattern compiles a dial rule's call pattern, which must match the whole
// destination; an empty pattern (--busy, --no-answer) matches every call.
func dialPattern(call string) *regexp.Regexp {
	if call == "" {
		call = ".*"
	}
	return regexp.MustCompile("^(?:" + call + ")$")
}
