package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"vox/runtime"
	"vox/scenarios"
	"vox/sim"
)

type simFlags struct {
	from, to, displayName, customData string
	start                             string
	answerAfter, hangupAfter          time.Duration
	noAnswer, busy                    bool
	fail                              []string
	dtmf                              []string
	messages, transfers               []string
	httpRequests                      []string
	httpFiles                         []string
	allowNet                          bool
	events                            string
	jsonLog                           bool
	playback                          time.Duration
	callerAudio, recordDir            string
	seed                              uint64
	verbose                           bool
	// app and account, with conn, run an account's release from a server
	// instead of files.
	app, account string
	conn         clientFlags
}

func newSimCommand() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim [flags] FILE...|DIR | sim --app APP [--account ACCOUNT] [--server URL] [flags]",
		Short: "Play a whole call through a scenario in virtual time and print its session log",
		Long: `sim runs the files as one scenario (in order, sharing one global scope), or
the scenarios of a project directory's rule that answers --to (a directory
as vox scenario push takes it), in a simulated call: the same runtime as a live call, with a virtual clock and simulated
far ends, so a 60-second call finishes in milliseconds and needs no network.
The calls carry real audio: what the scenario plays (files, tone scripts,
say() through espeak-ng), what each far end says (--caller-audio, digits
pressed as in-band tones for the DTMF detector), bridges and WAV recordings
(--record-dir); see docs/sim.md.

Exit status: 0 when the session ended without a scenario error, 1 when the
scenario failed (the error, with file:line:column and stack, is also printed on
stderr), 2 on bad usage or a missing file.

With --app instead of files, sim asks the server which release ACCOUNT runs
for APP (moving the account there, as an incoming call would) and which rule
answers --to, and plays the call through that rule's scenarios: what vox dev
just pushed, or what a live call of the account would run.`,
		Example: `  vox sim incoming.js --from 79112233444 --to 74951234567
  vox sim incoming.js --answer-after 3s --fail 486:phone67 --dtmf "1@3s,#@5s"
  vox sim incoming.js --http 'https://portal.example/config*=config.json' --hangup-after 60s
  vox sim incoming.js --http-request '5s={"COMMAND":"user","USER_ID":67}'
  vox sim incoming.js --message 'user67@10s={"COMMAND":"hold"}' --events timeline.jsonl --json
  vox sim voicemail.js --caller-audio message.wav --dtmf "1@2s" --record-dir ./records
  vox sim --app demo --account dev --to 74951234567`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSim(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.app, "app", "", "run the release ACCOUNT runs of this application on --server, instead of FILEs")
	fl.StringVar(&f.account, "account", defaultDevAccount, "with --app: the account whose release runs")
	// --server, --token and --data as every client command has them; sim's own
	// --json is the session log's format.
	conn := pflag.NewFlagSet("server", pflag.ContinueOnError)
	f.conn.register(conn)
	conn.VisitAll(func(flag *pflag.Flag) {
		if flag.Name != "json" {
			fl.AddFlag(flag)
		}
	})
	fl.StringVar(&f.from, "from", "79112233444", "the caller's number")
	fl.StringVar(&f.to, "to", "74951234567", "the dialled number")
	fl.StringVar(&f.displayName, "display-name", "", "the caller's display name (default: --from)")
	fl.StringVar(&f.customData, "custom-data", "", "the session's custom data (VoxEngine.customData())")
	fl.StringVar(&f.start, "start", "", "the virtual clock's start, RFC 3339 (default: now)")
	fl.DurationVar(&f.answerAfter, "answer-after", sim.DefaultAnswerAfter, "how long outgoing calls ring before they answer")
	fl.BoolVar(&f.noAnswer, "no-answer", false, "outgoing calls ring and never answer")
	fl.BoolVar(&f.busy, "busy", false, "outgoing calls fail with 486 Busy Here")
	fl.StringArrayVar(&f.fail, "fail", nil, "outgoing calls fail with CODE, or only those whose destination matches: CODE[:PATTERN] (repeatable)")
	fl.DurationVar(&f.hangupAfter, "hangup-after", 0, "the caller hangs up this long after the start (default: when nothing else can happen)")
	fl.StringArrayVar(&f.dtmf, "dtmf", nil, `digits the caller presses: "1@3s,#@5s" (repeatable)`)
	fl.StringArrayVar(&f.messages, "message", nil, `an in-call message: CALL@TIME=TEXT, e.g. 'user67@10s={"COMMAND":"hold"}' (repeatable)`)
	fl.StringArrayVar(&f.transfers, "transfer", nil, `a phone's transfer key: CALL@TIME=TO, e.g. 'phone68@10s=phone69' (repeatable)`)
	fl.StringArrayVar(&f.httpRequests, "http-request", nil, `a request into the session's access URL: TIME=CONTENT (repeatable)`)
	fl.StringArrayVar(&f.httpFiles, "http", nil, "answer Net.httpRequestAsync for URLs matching URL_PATTERN with FILE, status 200 or STATUS: URL_PATTERN=[STATUS:]FILE (repeatable)")
	fl.BoolVar(&f.allowNet, "allow-net", false, "let requests no --http route answers reach the network")
	fl.StringVar(&f.events, "events", "", "a JSON Lines timeline (see docs/sim.md)")
	fl.BoolVar(&f.jsonLog, "json", false, "write the session log as JSON lines")
	fl.DurationVar(&f.playback, "playback", sim.DefaultPlayback, "how long an http(s) URL that no --http route answers plays (as silence)")
	fl.StringVar(&f.callerAudio, "caller-audio", "", "what the caller says once answered: a tone script (\"440@-10;*(0/0/1)\") or a WAV or MP3 file (default: silence)")
	fl.StringVar(&f.recordDir, "record-dir", "", "write recordings (WAV) to this directory and print where each is (default: a temporary directory, removed at exit)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for call and session ids")
	fl.BoolVar(&f.verbose, "verbose", false, "also print the host's diagnostic log on stderr")
	return cmd
}

func runSim(cmd *cobra.Command, f simFlags, args []string) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if ctx == nil {
		ctx = context.Background()
	}
	opts, err := f.options()
	if err != nil {
		return usageError{err}
	}
	sc, err := f.scenario(ctx, cmd, args)
	if err != nil {
		return err
	}
	opts.Dir, opts.Name, opts.Version = sc.dir, sc.name, sc.version
	sources := sc.sources
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if f.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if opts.RecordDir != "" {
		opts.OnRecording = func(url, file string) {
			fmt.Fprintf(stderr, "vox sim: recording %s is %s\n", url, file)
		}
	}
	err = sim.Run(ctx, opts, sources, stdout)
	var syntax *runtime.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		fmt.Fprintln(stderr, err)
		return exitError{exitFailed}
	case errors.Is(err, runtime.ErrScenario):
		fmt.Fprintln(stderr, err)
		return exitError{exitFailed}
	}
	return err
}

// simScenario is what a simulation runs: the files, the directory relative audio
// paths are found in, and for a release from the server its name and version.
type simScenario struct {
	sources       []sim.Source
	dir           string
	name, version string
}

// scenario returns the files given, or those of the rule that answers --to in the
// release the account runs on the server.
func (f simFlags) scenario(ctx context.Context, cmd *cobra.Command, args []string) (simScenario, error) {
	if f.app == "" {
		if len(args) == 0 {
			return simScenario{}, usageError{errors.New("no scenario file given: name the scenario's files, or --app APP to run an account's release from --server")}
		}
		if len(args) == 1 {
			if info, err := os.Stat(args[0]); err == nil && info.IsDir() {
				return f.projectScenario(cmd, args[0])
			}
		}
		sources, err := sim.ReadSources(args)
		if err != nil {
			return simScenario{}, usageError{err}
		}
		return simScenario{sources: sources, dir: filepath.Dir(args[0])}, nil
	}
	if len(args) > 0 {
		return simScenario{}, usageError{fmt.Errorf("--app runs a release from the server: give it or scenario files, not both (%s)", strings.Join(args, " "))}
	}
	c, err := f.conn.client(cmd)
	if err != nil {
		return simScenario{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	res, err := c.Resolve(ctx, f.account, f.app, scenarios.ResolveRequest{Trigger: scenarios.TriggerIncoming, Destination: f.to})
	if err != nil {
		return simScenario{}, reportAPIError(cmd.ErrOrStderr(), c, err)
	}
	if res.Rule == nil {
		return simScenario{}, fmt.Errorf("the server routed %s to no rule of %s@%d", f.to, res.App, res.Release)
	}
	names := make([]string, len(res.Files))
	sources := make([]sim.Source, len(res.Files))
	for i, file := range res.Files {
		names[i] = file.Name
		sources[i] = sim.Source{Name: file.Name, Code: file.Source}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "vox sim: account %s runs %s@%d; rule %q answers %s with %s\n",
		f.account, res.App, res.Release, res.Rule.Name, f.to, strings.Join(names, ", "))
	// The release's files have no directory; relative audio paths are looked
	// up where vox sim runs.
	return simScenario{sources: sources, dir: ".", name: res.App,
		version: fmt.Sprintf("INCOMING scenario (version: %d)", res.Release)}, nil
}

// projectScenario runs the rule of a project directory (what vox scenario push
// takes: a directory with rules.json, or a voxengine-ci project) that answers
// --to, as the pushed release would run it.
func (f simFlags) projectScenario(cmd *cobra.Command, dir string) (simScenario, error) {
	p, err := scenarios.LoadProject([]string{dir}, "")
	if err != nil {
		return simScenario{}, usageError{err}
	}
	release := scenarios.Release{App: p.App, Files: p.Files, Rules: p.Rules}
	rule, files, err := release.Route(f.to)
	if err != nil {
		return simScenario{}, usageError{fmt.Errorf("%s: %w", dir, err)}
	}
	names := make([]string, len(files))
	sources := make([]sim.Source, len(files))
	for i, file := range files {
		names[i] = file.Name
		sources[i] = sim.Source{Name: file.Name, Code: file.Source}
	}
	if len(p.Rules) > 1 {
		fmt.Fprintf(cmd.ErrOrStderr(), "vox sim: rule %q answers %s with %s\n", rule.Name, f.to, strings.Join(names, ", "))
	}
	return simScenario{sources: sources, dir: dir, name: p.App}, nil
}

func (f simFlags) options() (sim.Options, error) {
	opts := sim.Options{
		From: f.from, To: f.to, DisplayName: f.displayName, CustomData: f.customData,
		AnswerAfter: f.answerAfter, HangupAfter: f.hangupAfter,
		DefaultPlayback: f.playback, Seed: f.seed,
		CallerAudio: f.callerAudio, RecordDir: f.recordDir,
	}
	if f.callerAudio != "" {
		if err := sim.ValidateAudio(f.callerAudio); err != nil {
			return opts, fmt.Errorf("--caller-audio: %w", err)
		}
	}
	if f.jsonLog {
		opts.LogFormat = runtime.LogJSON
	}
	if f.start != "" {
		t, err := time.Parse(time.RFC3339, f.start)
		if err != nil {
			return opts, fmt.Errorf("--start: %w", err)
		}
		opts.Start = t
	}
	if f.events != "" {
		file, err := os.Open(f.events)
		if err != nil {
			return opts, err
		}
		defer file.Close()
		steps, err := sim.ReadTimeline(file, f.events)
		if err != nil {
			return opts, err
		}
		opts.Timeline = append(opts.Timeline, steps...)
	}
	// Flags come before the file's dial rules, so the command line wins.
	var dials []sim.Step
	for _, spec := range f.fail {
		st, err := sim.ParseFail(spec)
		if err != nil {
			return opts, err
		}
		dials = append(dials, st)
	}
	if f.busy {
		dials = append(dials, sim.Step{Action: sim.ActionDial, Fail: 486})
	}
	if f.noAnswer {
		dials = append(dials, sim.Step{Action: sim.ActionDial, NoAnswer: true})
	}
	opts.Timeline = append(dials, opts.Timeline...)
	for _, spec := range f.dtmf {
		timed, err := sim.ParseTimed(spec)
		if err != nil {
			return opts, fmt.Errorf("--dtmf %w", err)
		}
		for _, t := range timed {
			at, err := time.ParseDuration(t[1])
			if err != nil {
				return opts, fmt.Errorf("--dtmf %q: %w", spec, err)
			}
			opts.Timeline = append(opts.Timeline, sim.Step{At: sim.Duration(at), Action: sim.ActionDTMF, Call: "caller", Digits: t[0]})
		}
	}
	for _, spec := range f.messages {
		st, text, err := callStep(spec, "--message", "CALL@TIME=TEXT")
		if err != nil {
			return opts, err
		}
		st.Action, st.Text = sim.ActionMessage, text
		opts.Timeline = append(opts.Timeline, st)
	}
	for _, spec := range f.transfers {
		st, to, err := callStep(spec, "--transfer", "CALL@TIME=TO")
		if err != nil {
			return opts, err
		}
		st.Action, st.To = sim.ActionTransfer, to
		opts.Timeline = append(opts.Timeline, st)
	}
	for _, spec := range f.httpRequests {
		at, content, ok := strings.Cut(spec, "=")
		d, err := time.ParseDuration(at)
		if !ok || err != nil {
			return opts, fmt.Errorf("--http-request %q: want TIME=CONTENT", spec)
		}
		opts.Timeline = append(opts.Timeline, sim.Step{At: sim.Duration(d), Action: sim.ActionHTTPRequest, Content: content})
	}
	files := &sim.HTTPFiles{}
	for _, spec := range f.httpFiles {
		r, err := sim.ParseHTTPRoute(spec)
		if err != nil {
			return opts, err
		}
		files.Routes = append(files.Routes, r)
	}
	if f.allowNet {
		files.Fallback = &runtime.NetHTTP{}
	}
	opts.HTTP = files
	for _, st := range opts.Timeline {
		if err := sim.ValidateStep(st); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// callStep reads a flag's CALL@TIME=VALUE: a step of the call at the time,
// and the value.
func callStep(spec, flag, form string) (sim.Step, string, error) {
	call, rest, ok1 := strings.Cut(spec, "@")
	at, value, ok2 := strings.Cut(rest, "=")
	d, err := time.ParseDuration(at)
	if !ok1 || !ok2 || err != nil || value == "" {
		return sim.Step{}, "", fmt.Errorf("%s %q: want %s", flag, spec, form)
	}
	return sim.Step{At: sim.Duration(d), Call: call}, value, nil
}
