package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// peerProcess is a real peer a test runs (a softphone), in a process group
// of its own; what it prints is kept, and shown if the test fails.
type peerProcess struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// startPeer starts cmd, set up but for its output, and ends it with the
// test.
func startPeer(t *testing.T, name string, cmd *exec.Cmd) *peerProcess {
	t.Helper()
	p := &peerProcess{name: name, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s:\n%s", name, p.out)
		}
	})
	return p
}

// kill ends the process group: SIGTERM, then SIGKILL if it has not exited
// in 3 seconds.
func (p *peerProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
