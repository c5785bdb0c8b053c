package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits after the last change of a burst: an
// editor's save is several events (write a temporary file, rename it over the
// old one, change its mode) and a checkout or a build is many more.
const DefaultDebounce = 150 * time.Millisecond

// Watch calls onChange once its watches are in place, and again after every
// burst of changes to the files a push of dir would carry (see ProjectDirs),
// until ctx is done. onChange runs on Watch's goroutine; changes made while it
// runs make the next burst.
//
// Directories are watched rather than files, so an editor that saves by writing
// a temporary file and renaming it over the scenario (the watched file vanishes
// and a new one takes its name) is seen like any other write. Only .js, .ts and
// .json files count: editors' backup, swap and lock files (foo.js~, .foo.js.swp,
// vim's 4913 probe, .#foo.js) do not.
func Watch(ctx context.Context, dir string, debounce time.Duration, onChange func()) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	watched := map[string]bool{}
	// follow adds the directories a push reads now: a voxengine-ci build
	// directory may appear, or an application be added, after Watch starts.
	follow := func() error {
		for _, d := range ProjectDirs(dir) {
			if watched[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				if d == dir {
					return fmt.Errorf("watch %s: %w", dir, err)
				}
				continue
			}
			watched[d] = true
		}
		return nil
	}
	if err := follow(); err != nil {
		return err
	}
	onChange()

	timer := time.NewTimer(debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if relevant(ev, watched) {
				timer.Reset(debounce)
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				// The kernel drops the watch of a removed directory; forget it
				// so that follow watches the directory again if it returns.
				delete(watched, ev.Name)
			}
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow or a read error may have hidden changes: reload.
			timer.Reset(debounce)
		case <-timer.C:
			if err := follow(); err != nil {
				return err
			}
			onChange()
		}
	}
}

// relevant tells whether an event may change what a push carries.
func relevant(ev fsnotify.Event, watched map[string]bool) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	switch filepath.Ext(base) {
	case ".js", ".ts", ".json":
		return true
	}
	if watched[ev.Name] {
		return true
	}
	// A directory appearing may be one a push reads (voxfiles/scenarios/dist).
	info, err := os.Stat(ev.Name)
	return err == nil && info.IsDir()
}
