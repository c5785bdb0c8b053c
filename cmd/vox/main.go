// Command vox is the Vox telephony platform: one binary whose subcommands run the
// server, manage scenarios and simulate calls. This package only wires the others
// together and speaks to the user.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit statuses of every vox command.
const (
	exitOK     = 0
	exitFailed = 1 // the operation ran and failed
	exitUsage  = 2 // bad flags, arguments or missing files
)

// usageError marks errors that are the user's invocation, not the operation.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a status for an error already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one vox command line and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context whose end stops long-running commands (vox
// dev, vox serve) as a signal would.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "vox:", err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "vox:", err)
		return exitFailed
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "vox",
		Short:         "Vox: programmable telephony with JavaScript call scenarios",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// cobra reports unknown flags and bad arguments through this hook; they are
	// usage errors (exit 2), whatever the subcommand.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newSimCommand(), newServeCommand(), newScenarioCommand(), newRuleCommand(), newTokenCommand(), newDevCommand(), newCallsCommand(), newLogsCommand(),
		newAccountCommand(), newSIPUserCommand(), newNumberCommand(), newTariffCommand())
	argsAreUsage(root)
	return root
}

// argsAreUsage makes a wrong number of positional arguments a usage error (exit
// 2) in every command, as the flag hook does for flags, with the usage line; and
// so is an unknown subcommand of a command group, which cobra would answer with
// the group's help and exit 0.
func argsAreUsage(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{fmt.Errorf("%w (usage: %s)", err, cmd.UseLine())}
			}
			return nil
		}
	}
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())}
			}
			return cmd.Help()
		}
	}
	for _, sub := range cmd.Commands() {
		argsAreUsage(sub)
	}
}
