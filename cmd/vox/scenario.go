package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"vox/scenarios"
)

// requestTimeout bounds one command's conversation with the server.
const requestTimeout = time.Minute

// clientFlags are the flags of every command that talks to vox serve.
type clientFlags struct {
	server, token, data string
	json                bool
}

func (f *clientFlags) register(fl *pflag.FlagSet) {
	server := os.Getenv("VOX_SERVER")
	if server == "" {
		server = "http://" + defaultHTTP
	}
	fl.StringVar(&f.server, "server", server, "the vox server's URL ($VOX_SERVER)")
	fl.StringVar(&f.token, "token", "", "the admin token (default: the one in --data DIR, else $VOX_TOKEN, else the one in ./vox-data)")
	fl.StringVar(&f.data, "data", defaultDataDir, "the server's data directory, to read its admin token from")
	fl.BoolVar(&f.json, "json", false, "print JSON")
}

// client connects to the server with the first token found: --token, the token
// file of an explicit --data, $VOX_TOKEN, then the token file of the default
// data directory, where vox serve run in the same directory keeps it. Without an
// explicit --data, a missing token file is not an error: the server will say
// what is missing.
func (f *clientFlags) client(cmd *cobra.Command) (*scenarios.Client, error) {
	token, err := f.adminToken(cmd)
	if err != nil {
		return nil, err
	}
	return scenarios.NewClient(f.server, token, nil), nil
}

// adminToken is the first token found, as client says.
func (f *clientFlags) adminToken(cmd *cobra.Command) (string, error) {
	token := f.token
	explicitData := cmd.Flags().Changed("data")
	if token == "" && !explicitData {
		token = os.Getenv("VOX_TOKEN")
	}
	if token == "" {
		t, err := readToken(f.data)
		switch {
		case err == nil:
			token = t
		case errors.Is(err, fs.ErrNotExist) && !explicitData:
		case errors.Is(err, fs.ErrNotExist):
			return "", usageError{fmt.Errorf("no admin token in %s: is it the data directory of vox serve?", f.data)}
		default:
			return "", err
		}
	}
	return token, nil
}

// output prints v as JSON with --json, or calls human.
func (f *clientFlags) output(w io.Writer, v any, human func()) error {
	if !f.json {
		human()
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// requestContext is the command's context bounded by requestTimeout: the
// time one command's requests to the server may take.
func requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// clientCommand builds a command that talks to the server: its RunE gets a
// client with a deadline, and the server's errors are reported as one line, or
// one line per problem of a refused push.
func clientCommand(cmd *cobra.Command, f *clientFlags, run func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := f.client(cmd)
		if err != nil {
			return err
		}
		ctx, cancel := requestContext(cmd)
		defer cancel()
		return reportAPIError(cmd.ErrOrStderr(), c, run(ctx, c, cmd.OutOrStdout(), args))
	}
	return cmd
}

func reportAPIError(stderr io.Writer, c *scenarios.Client, err error) error {
	var (
		apiErr *scenarios.APIError
		urlErr *url.Error
	)
	switch {
	case errors.As(err, &apiErr):
		fmt.Fprintln(stderr, "vox:", apiErr.Message)
		for _, d := range apiErr.Details {
			fmt.Fprintln(stderr, "  "+strings.ReplaceAll(d, "\n", "\n  "))
		}
		return exitError{exitFailed}
	case errors.As(err, &urlErr):
		return fmt.Errorf("cannot reach the vox server at %s (is vox serve running? --server, $VOX_SERVER): %v", c.BaseURL(), urlErr.Err)
	}
	return err
}

func newScenarioCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Push, inspect and roll out versioned call scenarios",
		Long: `Every push stores an application's scenarios and rules as a new numbered release.
Accounts move to the release the rollout policy gives them lazily, on their next
call (S11): latest by default, a canary share, a pin per account, or a rollback.`,
	}
	f.register(cmd.PersistentFlags())
	cmd.AddCommand(
		newPushCommand(&f), newListCommand(&f), newShowCommand(&f), newDiffCommand(&f),
		newRollbackCommand(&f), newPinCommand(&f), newUnpinCommand(&f), newCanaryCommand(&f),
		newRolloutCommand(&f),
	)
	return cmd
}

func newPushCommand(f *clientFlags) *cobra.Command {
	var app, message, canary, author string
	var draft bool
	cmd := &cobra.Command{
		Use:   "push [--app APP] [-m MSG] [--canary P%|--draft] FILE|DIR...",
		Short: "Store scenarios and their rules as the application's next release",
		Long: `push stores .js files (with at most one rules .json among them), a directory of
.js files with an optional rules.json, or a project laid out as Voximplant's
voxengine-ci keeps it (voxfiles/applications/APP/*.config.json, scenarios under
voxfiles/scenarios/src/) as the next release of the application. The whole push
is refused, and nothing stored, when any file does not compile or a rule is
wrong; every problem is listed with file:line:column.`,
		Example: `  vox scenario push --app crm -m "night mode" incoming.js
  vox scenario push crm/ --canary 10%`,
		Args: cobra.MinimumNArgs(1),
	}
	cmd.Flags().StringVar(&app, "app", "", "the application (default: the first file's name, the directory's, or the voxengine-ci application's)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "what changed")
	cmd.Flags().StringVar(&canary, "canary", "", "offer the release to this share of accounts only: 10% or 10")
	cmd.Flags().StringVar(&author, "author", defaultAuthor(), "who pushes ($VOX_AUTHOR, else the user name)")
	cmd.Flags().BoolVar(&draft, "draft", false, "store the release for accounts pinned to it only (vox scenario pin)")
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		p, err := scenarios.LoadProject(args, app)
		if err != nil {
			return usageError{err}
		}
		if canary != "" {
			if p.Canary, err = parsePercent(canary); err != nil {
				return usageError{fmt.Errorf("--canary: %w", err)}
			}
		}
		p.Author, p.Message, p.Draft = author, message, draft
		res, err := c.Push(ctx, p)
		if err != nil {
			return err
		}
		return f.output(out, res, func() {
			rel := res.Release
			fmt.Fprintf(out, "%s@%d pushed: %s, %s\n", rel.App, rel.Number, plural(len(rel.Files), "file"), plural(len(rel.Rules), "rule"))
			if p.Canary > 0 && p.Canary < 100 {
				fmt.Fprintf(out, "canary: %d%% of accounts move to it on their next call\n", p.Canary)
			}
			if rel.Draft {
				fmt.Fprintf(out, "draft: only accounts pinned to it run it (vox scenario pin ACCOUNT %s %d)\n", rel.App, rel.Number)
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(out, "warning:", w)
			}
		})
	})
}

func defaultAuthor() string {
	if a := os.Getenv("VOX_AUTHOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func newListCommand(f *clientFlags) *cobra.Command {
	var before, limit int
	cmd := &cobra.Command{
		Use:   "list [APP]",
		Short: "List the applications, or an application's releases newest first",
		Args:  cobra.MaximumNArgs(1),
	}
	cmd.Flags().IntVar(&before, "before", 0, "list releases older than this one (the next page)")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many releases")
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		if len(args) == 0 {
			apps, err := c.Apps(ctx)
			if err != nil {
				return err
			}
			return f.output(out, apps, func() {
				t := table(out, "APP", "RELEASES", "POLICY")
				for _, a := range apps {
					t.row(a.Name, a.Releases, a.Policy.Mode())
				}
				t.flush()
			})
		}
		list, next, err := c.Releases(ctx, args[0], before, limit)
		if err != nil {
			return err
		}
		return f.output(out, scenarios.ReleaseList{Releases: list, Next: next}, func() {
			t := table(out, "RELEASE", "CREATED", "AUTHOR", "FILES", "MESSAGE")
			for _, r := range list {
				t.row(r.Number, formatTime(r.Created), r.Author, r.Files, r.Message)
			}
			t.flush()
			if next > 0 {
				fmt.Fprintf(out, "older: vox scenario list %s --before %d\n", args[0], next)
			}
		})
	})
}

func newShowCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show APP[@N]",
		Short: "Print a release's rules and sources (the latest without @N)",
		Args:  cobra.ExactArgs(1),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		app, n, err := parseAppRelease(args[0])
		if err != nil {
			return usageError{err}
		}
		rel, err := c.Release(ctx, app, n)
		if err != nil {
			return err
		}
		return f.output(out, rel, func() {
			fmt.Fprintf(out, "%s@%d  %s  by %s  %s\n", rel.App, rel.Number, formatTime(rel.Created), rel.Author, strconv.Quote(rel.Message))
			fmt.Fprintln(out, "rules:")
			for _, r := range rel.Rules {
				fmt.Fprintf(out, "  %s\n", formatRule(r))
			}
			for _, file := range rel.Files {
				source := file.Source
				if source != "" && !strings.HasSuffix(source, "\n") {
					source += "\n"
				}
				fmt.Fprintf(out, "\n==> %s  sha256 %s  %s <==\n%s", file.Name, file.SHA256[:12], plural(strings.Count(source, "\n"), "line"), source)
			}
		})
	})
}

func formatRule(r scenarios.Rule) string {
	return fmt.Sprintf("%s: %s -> %s", r.Name, r.Pattern, strings.Join(r.Scenarios, ", "))
}

// fileDiff is one file's change between two releases.
type fileDiff struct {
	Name   string `json:"name"`
	Change string `json:"change"` // added, removed, changed
	Diff   string `json:"diff"`
}

// rulesName labels the rules in a diff, where they read as one more file; no
// scenario file can have that name.
const rulesName = "(rules)"

func newDiffCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff APP N M",
		Short: "Show what changed from release N to release M as a unified diff per file",
		Args:  cobra.ExactArgs(3),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		app := args[0]
		n, err := parseReleaseNumber(args[1])
		if err != nil {
			return usageError{err}
		}
		m, err := parseReleaseNumber(args[2])
		if err != nil {
			return usageError{err}
		}
		from, err := c.Release(ctx, app, n)
		if err != nil {
			return err
		}
		to, err := c.Release(ctx, app, m)
		if err != nil {
			return err
		}
		diffs := diffReleases(from, to)
		return f.output(out, map[string]any{"app": app, "from": from.Number, "to": to.Number, "files": diffs}, func() {
			if len(diffs) == 0 {
				fmt.Fprintf(out, "%s@%d and %s@%d have the same files and rules\n", app, from.Number, app, to.Number)
			}
			for _, d := range diffs {
				io.WriteString(out, d.Diff)
			}
		})
	})
}

// diffReleases compares two releases file by file in the order they list their
// files, with the rules last.
func diffReleases(from, to *scenarios.Release) []fileDiff {
	label := func(r *scenarios.Release, name string) string { return fmt.Sprintf("%s@%d/%s", r.App, r.Number, name) }
	var diffs []fileDiff
	add := func(name, change, old, new string) {
		oldLabel, newLabel := label(from, name), label(to, name)
		switch change {
		case "added":
			oldLabel = "/dev/null"
		case "removed":
			newLabel = "/dev/null"
		}
		if d := udiff.Unified(oldLabel, newLabel, old, new); d != "" {
			diffs = append(diffs, fileDiff{Name: name, Change: change, Diff: d})
		}
	}
	for _, a := range from.Files {
		if b, ok := to.File(a.Name); ok {
			if a.SHA256 != b.SHA256 {
				add(a.Name, "changed", a.Source, b.Source)
			}
		} else {
			add(a.Name, "removed", a.Source, "")
		}
	}
	for _, b := range to.Files {
		if _, ok := from.File(b.Name); !ok {
			add(b.Name, "added", "", b.Source)
		}
	}
	add(rulesName, "changed", rulesText(from.Rules), rulesText(to.Rules))
	return diffs
}

func rulesText(rules []scenarios.Rule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(formatRule(r) + "\n")
	}
	return b.String()
}

func newRollbackCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback APP N",
		Short: "Make release N current for every account not pinned (they move on their next call)",
		Args:  cobra.ExactArgs(2),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		n, err := parseFixedRelease(args[1])
		if err != nil {
			return err
		}
		p, err := c.Rollback(ctx, args[0], n)
		return f.printPolicy(out, args[0], p, err)
	})
}

func newPinCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin ACCOUNT APP N",
		Short: "Hold one account on release N whatever the policy says",
		Args:  cobra.ExactArgs(3),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		n, err := parseFixedRelease(args[2])
		if err != nil {
			return err
		}
		p, err := c.Pin(ctx, args[0], args[1], n)
		return f.printPolicy(out, args[1], p, err)
	})
}

func newUnpinCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unpin ACCOUNT APP",
		Short: "Let a pinned account follow the policy again",
		Args:  cobra.ExactArgs(2),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		p, err := c.Pin(ctx, args[0], args[1], 0)
		return f.printPolicy(out, args[1], p, err)
	})
}

func newCanaryCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "canary APP PERCENT",
		Short: "Offer the latest release to PERCENT of accounts (10% or 10; 100 ends the canary, 0 holds everyone back)",
		Args:  cobra.ExactArgs(2),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		percent, err := parsePercent(args[1])
		if err != nil {
			return usageError{err}
		}
		p, err := c.Canary(ctx, args[0], percent)
		return f.printPolicy(out, args[0], p, err)
	})
}

func (f *clientFlags) printPolicy(out io.Writer, app string, p scenarios.Policy, err error) error {
	if err != nil {
		return err
	}
	return f.output(out, scenarios.PolicyState{App: app, Mode: p.Mode(), Policy: p}, func() {
		fmt.Fprintf(out, "%s: %s; accounts move on their next call\n", app, p.Mode())
		printPins(out, p)
	})
}

func printPins(out io.Writer, p scenarios.Policy) {
	if len(p.Pins) == 0 {
		return
	}
	accounts := make([]string, 0, len(p.Pins))
	for a := range p.Pins {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	pins := make([]string, len(accounts))
	for i, a := range accounts {
		pins[i] = fmt.Sprintf("%s on %d", a, p.Pins[a])
	}
	fmt.Fprintf(out, "pinned: %s\n", strings.Join(pins, ", "))
}

func newRolloutCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout APP",
		Short: "Show how many accounts run each release, and which have not called since the latest",
		Args:  cobra.ExactArgs(1),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		r, err := c.Rollout(ctx, args[0])
		if err != nil {
			return err
		}
		return f.output(out, r, func() {
			fmt.Fprintf(out, "%s: latest release %d, policy %s\n", r.App, r.Latest, r.Mode)
			printPins(out, r.Policy)
			if r.Accounts == 0 {
				fmt.Fprintln(out, "no account has called yet")
				return
			}
			t := table(out, "RELEASE", "ACCOUNTS")
			for _, rc := range r.Releases {
				t.row(rc.Release, rc.Accounts)
			}
			t.flush()
			if r.Untouched > 0 {
				more := ""
				if r.Untouched > len(r.UntouchedSample) {
					more = ", …"
				}
				fmt.Fprintf(out, "%d of %s not seen since release %d: %s%s\n", r.Untouched, plural(r.Accounts, "account"), r.Latest, strings.Join(r.UntouchedSample, ", "), more)
			}
		})
	})
}

// parseAppRelease reads APP, APP@N or APP@latest; N is 0 for the latest.
func parseAppRelease(s string) (string, int, error) {
	app, which, ok := strings.Cut(s, "@")
	if !ok {
		return app, 0, nil
	}
	n, err := parseReleaseNumber(which)
	return app, n, err
}

// parseReleaseNumber reads a release number, or "latest" as 0.
func parseReleaseNumber(s string) (int, error) {
	if s == "latest" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("release %q: want a number from 1, or latest", s)
	}
	return n, nil
}

// parseFixedRelease reads a release number where "latest" is refused: a
// rollback or a pin holds one release, and latest moves with the next push.
func parseFixedRelease(s string) (int, error) {
	n, err := parseReleaseNumber(s)
	if err != nil || n == 0 {
		return 0, usageError{fmt.Errorf("release %q: want a release number", s)}
	}
	return n, nil
}

// parsePercent reads "10%" or "10".
func parsePercent(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("share %q: want a percentage from 0 to 100, like 10%%", s)
	}
	return n, nil
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// textTable prints aligned columns.
type textTable struct{ w *tabwriter.Writer }

func table(out io.Writer, header ...string) textTable {
	t := textTable{tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.w, strings.Join(header, "\t"))
	return t
}

func (t textTable) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.w, strings.Join(s, "\t"))
}

func (t textTable) flush() { t.w.Flush() }
