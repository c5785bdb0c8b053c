package history

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Logs are the session logs (S13) that live calls write, one file a call at
// DIR/ACCOUNT/CALL_ID.log; Logs finds them and removes them once they are
// older than the retention.
type Logs struct {
	Dir       string
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
	Logger    *slog.Logger
}

// DefaultRetention is how long session logs are kept unless configured.
const DefaultRetention = 30 * 24 * time.Hour

// Find returns the path of a call's log and the account it belongs to.
func (l *Logs) Find(callID string) (account, path string, err error) {
	if !ValidCallID(callID) {
		return "", "", fmt.Errorf("%w: call id %q", ErrInvalid, callID)
	}
	matches, err := filepath.Glob(filepath.Join(l.Dir, "*", callID+".log"))
	if err != nil {
		return "", "", fmt.Errorf("find the log of %s: %w", callID, err)
	}
	if len(matches) == 0 {
		return "", "", fmt.Errorf("log of call %s: %w", callID, ErrNotFound)
	}
	return filepath.Base(filepath.Dir(matches[0])), matches[0], nil
}

// Path returns the path of the log of one call of the account.
func (l *Logs) Path(account, callID string) (string, error) {
	if !accountPattern.MatchString(account) || !ValidCallID(callID) {
		return "", fmt.Errorf("log of call %s: %w", callID, ErrNotFound)
	}
	path := filepath.Join(l.Dir, account, callID+".log")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("log of call %s: %w", callID, ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("log of call %s: %w", callID, err)
	}
	return path, nil
}

// Sweep removes the logs last written before the retention and reports how
// many it removed.
func (l *Logs) Sweep() (int, error) {
	retention := l.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	cutoff := now().Add(-retention)
	removed := 0
	err := filepath.WalkDir(l.Dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(path) != ".log" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if info.ModTime().Before(cutoff) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep session logs: %w", err)
	}
	return removed, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (l *Logs) RunSweeper(ctx context.Context, every time.Duration) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := l.Sweep()
		if err != nil {
			logger.Warn("session logs", "err", err)
		} else if n > 0 {
			logger.Info("removed expired session logs", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
