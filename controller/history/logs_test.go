package history

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogsFindAndSweep(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	write := func(account, call string, age time.Duration) string {
		p := filepath.Join(dir, account, call+".log")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("Loading scenario demo\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fresh := write("acme", "fresh", time.Hour)
	write("acme", "old", 8*24*time.Hour)
	write("other", "older", 30*24*time.Hour)
	l := &Logs{Dir: dir, Retention: 7 * 24 * time.Hour, Now: func() time.Time { return now }}

	cases := []struct {
		name, account, call string
		want                error
	}{
		{"own call", "acme", "fresh", nil},
		{"another tenant's call", "other", "fresh", ErrNotFound},
		{"no such call", "acme", "nope", ErrNotFound},
		{"a path in the id", "acme", "../other/older", ErrNotFound},
		{"a path in the account", "../other", "older", ErrNotFound},
	}
	for _, tc := range cases {
		if _, err := l.Path(tc.account, tc.call); !errors.Is(err, tc.want) {
			t.Errorf("%s: Path = %v, want %v", tc.name, err, tc.want)
		}
	}
	if account, path, err := l.Find("fresh"); err != nil || account != "acme" || path != fresh {
		t.Errorf("Find = %s %s %v", account, path, err)
	}
	if _, _, err := l.Find("../x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Find(../x) = %v", err)
	}
	n, err := l.Sweep()
	if err != nil || n != 2 {
		t.Fatalf("Sweep removed %d, %v; want the 2 older than a week", n, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the fresh log was swept: %v", err)
	}
	for _, gone := range []string{"old", "older"} {
		if _, _, err := l.Find(gone); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after the sweep: %v", gone, err)
		}
	}
	if n, err := (&Logs{Dir: filepath.Join(dir, "missing")}).Sweep(); err != nil || n != 0 {
		t.Errorf("sweep of a missing directory: %d, %v", n, err)
	}
}
