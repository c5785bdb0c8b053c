package sip

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SIPp, a peer nobody here wrote, registers with digest and un-registers,
// over UDP and over TCP.
func TestSIPpRegisters(t *testing.T) {
	srv := startServer(t, Options{})
	for _, transport := range []string{"u1", "t1"} {
		t.Run(transport, func(t *testing.T) {
			out, err := RunSIPp(t, srv.addr.String(), "register.xml", "-t", transport,
				"-s", "alice", "-au", "alice", "-ap", "secret", "-key", "domain", testRealm)
			if err != nil {
				t.Fatalf("sipp: %v\n%s\nserver log:\n%s", err, out, srv.logs)
			}
			if bs := srv.Registrar().Bindings(testRealm, "alice"); len(bs) != 0 {
				t.Fatalf("still bound after SIPp un-registered: %+v", bs)
			}
		})
	}
}

// RunSIPp runs one call of testdata/sipp/scenario against server with args,
// bounded in time, and returns SIPp's output; err is nil when SIPp exits 0.
func RunSIPp(t *testing.T, server, scenario string, args ...string) (string, error) {
	t.Helper()
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (make test installs Debian's sip-tester): %v", err)
	}
	path, err := filepath.Abs(filepath.Join("..", "testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit+10*time.Second)
	defer cancel()
	args = append([]string{server, "-sf", path, "-m", "1", "-i", "127.0.0.1", "-nostdin",
		"-timeout", strconv.Itoa(int(limit.Seconds())) + "s", "-timeout_error", "-trace_err"}, args...)
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = t.TempDir() // SIPp writes its error trace into its working directory
	out, err := cmd.CombinedOutput()
	return string(out), err
}
