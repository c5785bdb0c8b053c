package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/scenarios"
)

// devWait bounds every wait of the vox dev tests; nothing is expected to take
// long, so reaching it means the awaited output never came.
const devWait = 15 * time.Second

// lockedBuffer is an output a command writes from its goroutine while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until out holds want n times.
func waitFor(t *testing.T, out *lockedBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(devWait)
	for strings.Count(out.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %q (×%d); the output is:\n%s", devWait, want, n, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// devURL is the address of an in-process vox serve.
func devURL(srv *server) string { return "http://" + srv.addr.String() }

// runCommand runs a vox command line until ctx ends, and returns what it
// printed and its exit status when it is done.
func runCommand(ctx context.Context, args ...string) (stdout, stderr *lockedBuffer, done <-chan int) {
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- runContext(ctx, args, stdout, stderr) }()
	return stdout, stderr, exit
}

func TestDevReloadsOnSave(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	live := func(want int) {
		t.Helper()
		rel, _, err := srv.store.Resolve(ctx, defaultDevAccount, "hello", scenarios.TriggerIncoming)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Number != want {
			t.Fatalf("account dev runs release %d, want %d", rel.Number, want)
		}
		if !rel.Draft {
			t.Fatalf("vox dev stored release %d as published; it must be a draft only its account runs", rel.Number)
		}
		newest, _, err := srv.store.Releases(ctx, "hello", 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if newest[0].Number != want {
			t.Fatalf("the newest release is %d, want %d", newest[0].Number, want)
		}
	}

	write("hello.js", "VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {\n  e.call.answer();\n});\n")
	devCtx, stop := context.WithCancel(ctx)
	defer stop()
	stdout, stderr, done := runCommand(devCtx, "dev", dir, "--server", devURL(srv), "--token", srv.token)

	waitFor(t, stdout, "release 1 is live for account dev\n", 1)
	live(1)

	// A save that does not compile: file:line:column on stderr, nothing stored.
	write("hello.js", "VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {\n  e.call.answer(;\n});\n")
	waitFor(t, stderr, "the last good release stays live", 1)
	if !strings.Contains(stderr.String(), "hello.js:2:") {
		t.Fatalf("the error does not point at hello.js:2:\n%s", stderr.String())
	}
	live(1)

	// Restoring the live file pushes nothing and says it is live again.
	write("hello.js", "VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {\n  e.call.answer();\n});\n")
	waitFor(t, stdout, "release 1 is live for account dev\n", 2)
	live(1)

	// The fix is the next release.
	write("hello.js", "VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {\n  e.call.answer();\n  e.call.hangup();\n});\n")
	waitFor(t, stdout, "release 2 is live for account dev\n", 1)
	live(2)

	// A project LoadProject refuses is reported the same way, and dev goes on.
	write("other.js", "Logger.write('other');\n")
	waitFor(t, stderr, "no rules.json: add one", 1)
	write("rules.json", `[{"name": "all", "pattern": ".*", "scenarios": ["hello.js", "other.js"]}]`)
	waitFor(t, stdout, "release 3 is live for account dev\n", 1)
	live(3)

	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("vox dev exited %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(devWait):
		t.Fatal("vox dev did not stop when its context ended")
	}
}

func TestDevRefusesBadStarts(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not a directory", []string{"dev", filepath.Join(dir, "nothing"), "--server", devURL(srv), "--token", srv.token}, exitUsage, "is not a directory"},
		{"no server", []string{"dev", dir, "--server", "http://127.0.0.1:1", "--token", "x"}, exitFailed, "cannot reach the vox server"},
		{"a wrong token", []string{"dev", dir, "--server", devURL(srv), "--token", "wrong"}, exitFailed, "vox:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, done := runCommand(context.Background(), tt.args...)
			select {
			case code := <-done:
				if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
					t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.code, tt.want)
				}
			case <-time.After(devWait):
				t.Fatal("vox dev did not exit")
			}
		})
	}
}
