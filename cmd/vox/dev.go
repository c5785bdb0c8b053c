package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"vox/scenarios"
)

// defaultDevAccount is the account vox dev pins its releases to.
const defaultDevAccount = "dev"

type devFlags struct {
	app, account string
	client       clientFlags
}

func newDevCommand() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev [--app APP] [--account ACCOUNT] DIR",
		Short: "Push a scenario directory on every save and make it live for a dev account",
		Long: `dev watches DIR (a directory of .js files with an optional rules.json, or a
voxengine-ci project) and, at the start and after every save, pushes it to the
server as the application's next release and pins ACCOUNT to it, so the next
simulated (vox sim --server URL --app APP --account ACCOUNT) or live call of
that account runs what was just saved. A save that does not compile is reported
with file:line:column and stores nothing: the account keeps the last good
release. Files that did not change are not pushed again. Ctrl-C stops it.

A release pushed by dev is an ordinary release: under the "latest" rollout
policy every account that is not pinned moves to it on its next call, so point
dev at a development server.`,
		Example: `  vox dev ./ivr
  vox dev ./ivr --app crm --account dev --server http://127.0.0.1:8080`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client.client(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, c, cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.app, "app", "", "the application (default: the directory's name, or the voxengine-ci application's)")
	cmd.Flags().StringVar(&f.account, "account", defaultDevAccount, "the account that runs each new release")
	f.client.register(cmd.Flags())
	return cmd
}

// devReload is what one reload printed, for --json: a live release, or the
// reason there is none.
type devReload struct {
	App      string   `json:"app,omitempty"`
	Release  int      `json:"release,omitempty"`
	Account  string   `json:"account"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
	Details  []string `json:"details,omitempty"`
}

// runDev pushes dir now and after every burst of changes until ctx ends. Nothing
// a save contains ends it: every error is printed and the watch goes on.
func runDev(ctx context.Context, c *scenarios.Client, stdout, stderr io.Writer, f devFlags, dir string) error {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return usageError{fmt.Errorf("%s is not a directory: vox dev watches a scenario directory", dir)}
	}
	// A server that is not there, or a token it refuses, at the start is a
	// mistake in the command line; a server that goes away later is reported on
	// each save until it is back.
	start, cancel := context.WithTimeout(ctx, requestTimeout)
	_, err := c.Apps(start)
	cancel()
	if err != nil {
		return reportAPIError(stderr, c, err)
	}
	if !f.client.json {
		fmt.Fprintf(stdout, "vox dev: watching %s; each save goes to %s and runs for account %s (Ctrl-C stops)\n", dir, c.BaseURL(), f.account)
	}
	d := &devLoop{client: c, stdout: stdout, stderr: stderr, flags: f, dir: dir, author: defaultAuthor()}
	return scenarios.Watch(ctx, dir, scenarios.DefaultDebounce, func() { d.reload(ctx) })
}

// devLoop is the state vox dev keeps between saves.
type devLoop struct {
	client         *scenarios.Client
	stdout, stderr io.Writer
	flags          devFlags
	dir, author    string
	// live is the hash of what the last push stored, and release its number,
	// so that a save that changes nothing (a touch, a checkout of the same
	// files) pushes nothing.
	live    string
	release int
	// failed is set while the last reload printed an error: a save that
	// restores the live files then says that they are live again.
	failed bool
}

func (d *devLoop) reload(ctx context.Context) {
	p, err := scenarios.LoadProject([]string{d.dir}, d.flags.app)
	if err != nil {
		d.report(devReload{Account: d.flags.account, Error: err.Error()})
		return
	}
	sum := pushHash(p)
	if sum == d.live {
		if d.failed {
			d.report(devReload{App: p.App, Release: d.release, Account: d.flags.account})
		}
		return
	}
	p.Author, p.Message = d.author, "vox dev"
	// A draft reaches only the dev account pinned to it: saving a file must
	// not roll out to every customer of the application.
	p.Draft = true
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	res, err := d.client.Push(ctx, p)
	if err == nil {
		_, err = d.client.Pin(ctx, d.flags.account, p.App, res.Release.Number)
	}
	var now *scenarios.Resolution
	if err == nil {
		// Moving the account now records the move (trigger "vox dev") and
		// reports the release its next call runs, as the server sees it.
		now, err = d.client.Resolve(ctx, d.flags.account, p.App, scenarios.ResolveRequest{Trigger: scenarios.TriggerDev})
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // vox dev is stopping
		}
		r := devReload{App: p.App, Account: d.flags.account}
		var apiErr *scenarios.APIError
		if errors.As(err, &apiErr) {
			r.Error, r.Details = apiErr.Message, apiErr.Details
		} else {
			r.Error = reportAPIError(io.Discard, d.client, err).Error()
		}
		d.report(r)
		return
	}
	d.live, d.release = sum, now.Release
	d.report(devReload{App: p.App, Release: now.Release, Account: d.flags.account, Warnings: res.Warnings})
}

// report prints one reload: a JSON line with --json; otherwise the live release
// on stdout, or the error with one line per problem on stderr.
func (d *devLoop) report(r devReload) {
	d.failed = r.Error != ""
	if d.flags.client.json {
		json.NewEncoder(d.stdout).Encode(r)
		return
	}
	if r.Error != "" {
		fmt.Fprintln(d.stderr, "vox dev:", r.Error)
		for _, detail := range r.Details {
			fmt.Fprintln(d.stderr, "  "+strings.ReplaceAll(detail, "\n", "\n  "))
		}
		if d.live != "" {
			fmt.Fprintln(d.stderr, "vox dev: the last good release stays live; waiting for the next save")
		}
		return
	}
	fmt.Fprintf(d.stdout, "release %d is live for account %s\n", r.Release, r.Account)
	for _, w := range r.Warnings {
		fmt.Fprintln(d.stdout, "warning:", w)
	}
}

// pushHash identifies a push's content: its application, files and rules.
func pushHash(p scenarios.Push) string {
	data, _ := json.Marshal(struct {
		App   string
		Files []scenarios.File
		Rules []scenarios.Rule
	}{p.App, p.Files, p.Rules})
	sum := sha256.Sum256(data)
	return string(sum[:])
}
