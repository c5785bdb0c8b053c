package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"vox/scenarios"
)

func openReleases(t *testing.T) *scenarios.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := scenarios.Open(db, scenarios.Options{Compile: func(name, src string) error {
		_, err := Compile(name, src)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// versionScenario answers and reports its version when the caller sends a message.
func versionScenario(v int) string {
	return fmt.Sprintf(`
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.MessageReceived, () => Logger.write("running v%d"));
});`, v)
}

func pushVersion(t *testing.T, store *scenarios.Store, v int) {
	t.Helper()
	_, err := store.Push(context.Background(), scenarios.Push{App: "crm", Files: []scenarios.File{
		{Name: "main.js", Source: versionScenario(v)},
		{Name: "other.js", Source: "// unused by the rule"},
	}, Rules: []scenarios.Rule{{Name: "all", Pattern: "7.*", Scenarios: []string{"main.js"}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// A running call keeps the program it started with when a newer release arrives;
// the next call runs the new one; each version is compiled once and released when
// its calls end.
func TestLauncherKeepsTheRunningCallsRelease(t *testing.T) {
	store := openReleases(t)
	cache := NewProgramCache(0)
	l := &Launcher{Releases: store, Programs: cache, Defaults: Config{
		Clock:  RealClock{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	pushVersion(t, store, 1)

	start := func(id string) (*Session, *recordingLeg, *syncBuffer) {
		log := &syncBuffer{}
		leg := &recordingLeg{id: id}
		s, err := l.Launch(context.Background(), CallStart{
			Account: "acme", App: "crm", Destination: "74951234567",
			Trigger: scenarios.TriggerIncoming, Log: NewSessionLog(log, LogText),
			Incoming: &Incoming{Leg: leg, Destination: "74951234567"},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, log, "AcceptCall")
		return s, leg, log
	}
	first, firstLeg, firstLog := start("call-1")
	pushVersion(t, store, 2)
	second, secondLeg, secondLog := start("call-2")

	firstLeg.post(EventMessageReceived, map[string]any{"text": "which?"})
	secondLeg.post(EventMessageReceived, map[string]any{"text": "which?"})
	waitFor(t, firstLog, "running v1")
	waitFor(t, secondLog, "running v2")
	for log, want := range map[*syncBuffer]string{firstLog: "Start INCOMING scenario (version: 1)", secondLog: "Start INCOMING scenario (version: 2)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if _, compiled := cache.Stats(); compiled != 2 {
		t.Errorf("compiled %d programs, want one per version", compiled)
	}

	// A third call on version 2 shares the cached program.
	third, _, _ := start("call-3")
	if _, compiled := cache.Stats(); compiled != 2 {
		t.Errorf("the third call recompiled: %d compilations", compiled)
	}
	for _, s := range []*Session{first, second, third} {
		s.Terminate("test over")
		waitDone(t, s)
	}
	// Released programs stay cached (idle) for the next call.
	if cached, _ := cache.Stats(); cached != 2 {
		t.Errorf("cached = %d after the calls ended, want 2 idle programs", cached)
	}
}

func TestLauncherErrors(t *testing.T) {
	store := openReleases(t)
	l := &Launcher{Releases: store, Programs: NewProgramCache(0), Defaults: Config{Clock: RealClock{}}}
	ctx := context.Background()
	if _, err := l.Launch(ctx, CallStart{Account: "a", App: "nope", Destination: "7"}); err == nil || !strings.Contains(err.Error(), `application "nope"`) {
		t.Errorf("unknown app: %v", err)
	}
	pushVersion(t, store, 1)
	if _, err := l.Launch(ctx, CallStart{Account: "a", App: "crm", Destination: "phone67"}); err == nil || !strings.Contains(err.Error(), `no rule matches "phone67"`) {
		t.Errorf("unrouted destination: %v", err)
	}
}
