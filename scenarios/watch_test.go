package scenarios

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// watchDebounce is short so that the tests are quick; the waits below are
// bounds, never expectations of speed.
const (
	watchDebounce = 100 * time.Millisecond
	waitBound     = 10 * time.Second
	// quiet is how long a test waits to see that nothing more happens.
	quiet = 5 * watchDebounce
)

type watching struct {
	t       *testing.T
	changes chan struct{}
	stop    context.CancelFunc
	done    chan error
}

func startWatch(t *testing.T, dir string) *watching {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watching{t: t, changes: make(chan struct{}, 100), stop: cancel, done: make(chan error, 1)}
	go func() { w.done <- Watch(ctx, dir, watchDebounce, func() { w.changes <- struct{}{} }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(waitBound):
			t.Error("Watch did not return after its context was cancelled")
		}
	})
	w.expectChange("the start")
	return w
}

func (w *watching) expectChange(what string) {
	w.t.Helper()
	select {
	case <-w.changes:
	case <-time.After(waitBound):
		w.t.Fatalf("no change reported after %s", what)
	}
}

// expectQuiet checks that no (further) change is reported.
func (w *watching) expectQuiet(what string) {
	w.t.Helper()
	select {
	case <-w.changes:
		w.t.Fatalf("a change was reported after %s", what)
	case <-time.After(quiet):
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchSaves(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.js")
	writeFile(t, main, "// 1")
	w := startWatch(t, dir)

	t.Run("plain write", func(t *testing.T) {
		writeFile(t, main, "// 2")
		w.expectChange("a write")
		w.expectQuiet("one write")
	})

	t.Run("write a temporary file and rename it over the scenario", func(t *testing.T) {
		tmp := filepath.Join(dir, ".main.js.tmp1234")
		writeFile(t, tmp, "// 3")
		if err := os.Rename(tmp, main); err != nil {
			t.Fatal(err)
		}
		w.expectChange("a rename-over save")
		w.expectQuiet("one save")
	})

	t.Run("vim: move the file to a backup, write anew, delete the backup", func(t *testing.T) {
		backup := main + "~"
		if err := os.Rename(main, backup); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "4913"), "")
		os.Remove(filepath.Join(dir, "4913"))
		writeFile(t, main, "// 4")
		if err := os.Remove(backup); err != nil {
			t.Fatal(err)
		}
		w.expectChange("a vim save")
		w.expectQuiet("one save")
	})

	t.Run("a burst of writes is one change", func(t *testing.T) {
		for i := range 30 {
			writeFile(t, main, "// burst "+string(rune('a'+i%26)))
		}
		writeFile(t, filepath.Join(dir, "rules.json"), "[]")
		w.expectChange("a burst")
		w.expectQuiet("the burst")
	})

	t.Run("editor and other files do not count", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, ".main.js.swp"), "swap")
		writeFile(t, filepath.Join(dir, "main.js~"), "backup")
		writeFile(t, filepath.Join(dir, "#main.js#"), "emacs")
		writeFile(t, filepath.Join(dir, "notes.txt"), "notes")
		w.expectQuiet("writing editor files")
	})

	t.Run("a removed scenario counts", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "extra.js"), "// extra")
		w.expectChange("a new file")
		if err := os.Remove(filepath.Join(dir, "extra.js")); err != nil {
			t.Fatal(err)
		}
		w.expectChange("a removal")
	})
}

func TestWatchVoxengineCI(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "voxfiles/applications/demo/rules.config.json"), `[{"ruleName":"all","scenarios":["main"]}]`)
	writeFile(t, filepath.Join(dir, "voxfiles/scenarios/src/main.voxengine.ts"), "// ts")
	w := startWatch(t, dir)

	writeFile(t, filepath.Join(dir, "voxfiles/scenarios/src/main.voxengine.ts"), "// ts 2")
	w.expectChange("a source write")
	writeFile(t, filepath.Join(dir, "voxfiles/applications/demo/rules.config.json"), `[{"ruleName":"all","rulePattern":"7.*","scenarios":["main"]}]`)
	w.expectChange("a rules write")

	// A build directory that appears after the start is followed.
	writeFile(t, filepath.Join(dir, "voxfiles/scenarios/dist/main.voxengine.js"), "// js")
	w.expectChange("a build")
	writeFile(t, filepath.Join(dir, "voxfiles/scenarios/dist/main.voxengine.js"), "// js 2")
	w.expectChange("a rebuild")
	w.expectQuiet("the rebuild")
}

func TestWatchMissingDirectory(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nothing"), watchDebounce, func() { t.Error("onChange called") })
	if err == nil {
		t.Fatal("Watch of a missing directory returned no error")
	}
}
