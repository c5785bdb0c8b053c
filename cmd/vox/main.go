// Command vox is the Vox telephony platform: one binary whose subcommands run the
// server, manage scenarios and simulate calls. This package only wires the others
// together and speaks to the user.
package main

import (
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
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
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
	root.AddCommand(newSimCommand())
	return root
}
