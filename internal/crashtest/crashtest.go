// Package crashtest is what the kill -9 tests of Vox's stores (scenario
// releases, call records, the ledger) share: the test binary runs itself as
// a child process that writes to a bbolt file and reports each committed
// write on standard output, and the parent kills it with SIGKILL at a random
// moment and checks the file.
package crashtest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RunChild is the start of a crash test's TestMain: in the child (the
// environment variable env is set) it runs child with the variable's value
// and exits, 0 when child returns nil (it is meant to be killed first), 3
// otherwise. In the parent it returns at once.
func RunChild(env string, child func(value string) error) {
	value := os.Getenv(env)
	if value == "" {
		return
	}
	if err := child(value); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// Rand is the random source of a run's delays: seeded from the environment
// variable env when it is set, so a failed run can be repeated, else from
// the clock. The seed is logged.
func Rand(t testing.TB, env string) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", env, s, err)
		}
	}
	t.Logf("seed %d (%s=%d repeats this run's delays)", seed, env, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// Child is a running child process.
type Child struct {
	// Ready is what the child said after "ready" on its first line (vox
	// serve's URL, for one); "" when it said only "ready".
	Ready  string
	env    []string
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stderr *strings.Builder
}

// Start runs the test binary, running no test, with env ("NAME=value")
// added to its environment, and waits until it writes its first line,
// "ready" or "ready WHAT": it has opened its store. A child that does not
// fails t.
func Start(t testing.TB, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	c := &Child{env: env, cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.lines = bufio.NewScanner(stdout)
	ok := c.lines.Scan()
	if ok {
		line := c.lines.Text()
		c.Ready, ok = strings.CutPrefix(line, "ready ")
		ok = ok || line == "ready"
	}
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child %v did not start: %q\n%s", env, c.lines.Text(), c.stderr.String())
	}
	return c
}

// Kill kills the child with SIGKILL and returns the lines it wrote after
// "ready". The child writes each line unbuffered before going on, so all it
// reported before the kill is there. A child that had ended by itself fails
// t: the kill met nothing.
func (c *Child) Kill(t testing.TB) []string {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for c.lines.Scan() {
		lines = append(lines, c.lines.Text())
	}
	c.cmd.Wait()
	if c.cmd.ProcessState.Exited() {
		t.Fatalf("the child %v ended by itself (%v) before it was killed:\n%s", c.env, c.cmd.ProcessState, c.stderr.String())
	}
	return lines
}

// CheckBolt reports every fault bbolt's consistency check finds in db and
// stops the test if there was one: nothing else in a broken file is worth
// checking.
func CheckBolt(t testing.TB, db *bolt.DB) {
	t.Helper()
	faults := 0
	err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
			faults++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if faults > 0 {
		t.FailNow()
	}
}
