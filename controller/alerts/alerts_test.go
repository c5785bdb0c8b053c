package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/webhook"
)

const unit = 1_000_000 // one unit of currency in millionths

// ledger is a synthetic account history: entries in time order.
type ledger struct {
	mu      sync.Mutex
	entries []entry
}

type entry struct {
	at     time.Time
	amount int64 // negative: a charge
}

func (l *ledger) add(at time.Time, amount int64) {
	l.mu.Lock()
	l.entries = append(l.entries, entry{at, amount})
	l.mu.Unlock()
}

func (l *ledger) Balance(_ context.Context, _ string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b int64
	for _, e := range l.entries {
		b += e.amount
	}
	return b, nil
}

func (l *ledger) Spent(_ context.Context, _ string, since time.Time) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s int64
	for _, e := range l.entries {
		if e.amount < 0 && !e.at.Before(since) {
			s -= e.amount
		}
	}
	return s, nil
}

type sent []webhook.Event

func (s *sent) Enqueue(_ context.Context, ev webhook.Event) (string, error) {
	*s = append(*s, ev)
	return ev.ID, nil
}

func TestLowBalanceWarnsOncePerCrossing(t *testing.T) {
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	type step struct {
		day    int   // days after start
		amount int64 // units: negative a day's calls, positive a top-up
		warn   []string
	}
	cases := []struct {
		name     string
		settings Settings
		steps    []step
	}{
		{"fixed threshold: once when crossed, again after a top-up and a new fall",
			Settings{Threshold: 100 * unit}, []step{
				{0, 500, nil},
				{1, -300, nil},               // 200
				{2, -150, []string{"fixed"}}, // 50: below
				{3, -10, nil},                // 40: still below, no repeat
				{4, 500, nil},                // 540: above again, re-armed
				{5, -500, []string{"fixed"}}, // 40: below again
			}},
		{"adaptive: fewer days left than asked at the last week's pace",
			Settings{Days: 3}, []step{
				{0, 1000, nil},
				{1, -70, nil},                   // 930 left at 10 a day
				{2, -70, nil},                   // 860 at 20 a day
				{3, -700, []string{"adaptive"}}, // 160 at 120 a day: 1.3 days
				{4, 0, nil},                     // still below: no repeat
				{11, 0, nil},                    // the week's spending aged out: re-armed
				{12, -100, nil},                 // 60 at 14.3 a day: 4.2 days
				{13, -20, []string{"adaptive"}}, // 40 at 17.1 a day: 2.3 days
			}},
		{"nothing spent: the adaptive rule stays quiet on a small balance",
			Settings{Days: 30}, []step{{0, 1, nil}, {5, 0, nil}}},
		{"both rules, each crossing on its own",
			Settings{Threshold: 50 * unit, Days: 2}, []step{
				{0, 100, nil},
				{1, -60, []string{"fixed"}},    // 40 < 50; at 8.6 a day it lasts 4.7 days
				{2, -30, []string{"adaptive"}}, // 10 at 12.9 a day: 0.8 days
				{3, 0, nil},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := &ledger{}
			var out sent
			now := start
			m := openMonitor(t, l, &out, func() time.Time { return now })
			// The first top-up comes before the settings, which check at once.
			l.add(now, tc.steps[0].amount*unit)
			if err := m.SetSettings(context.Background(), "acme", tc.settings); err != nil {
				t.Fatal(err)
			}
			warnings := 0
			for i, st := range tc.steps {
				now = start.AddDate(0, 0, st.day)
				if st.amount != 0 && i > 0 {
					l.add(now, st.amount*unit)
				}
				got, err := m.Check(context.Background(), "acme")
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, st.warn) {
					t.Fatalf("step %d (day %d): warned %v, want %v", i, st.day, got, st.warn)
				}
				warnings += len(st.warn)
			}
			if len(out) != warnings {
				t.Fatalf("%d webhooks for %d warnings", len(out), warnings)
			}
			ids := map[string]bool{}
			for _, ev := range out {
				var data struct {
					Rule    string `json:"rule"`
					Balance int64  `json:"balance"`
				}
				if ev.Type != webhook.LowBalance || ev.Account != "acme" || json.Unmarshal(ev.Data, &data) != nil || data.Rule == "" || ids[ev.ID] {
					t.Errorf("webhook %+v", ev)
				}
				ids[ev.ID] = true
			}
		})
	}
}

// The state survives a restart: a balance still below after it is not
// warned about again.
func TestLowBalanceStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vox.db")
	l := &ledger{}
	l.add(time.Now(), 10*unit)
	var out sent
	for range 2 {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Open(db, Options{Ledger: l, Sender: &out})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetSettings(context.Background(), "acme", Settings{Threshold: 20 * unit}); err != nil {
			t.Fatal(err)
		}
		m.CheckAll(context.Background())
		db.Close()
	}
	if len(out) != 1 || out[0].ID != "LowBalance:acme:fixed:1" {
		t.Errorf("warnings %+v, want one", out)
	}
}

func TestSettingsRefused(t *testing.T) {
	m := openMonitor(t, &ledger{}, &sent{}, time.Now)
	for _, s := range []Settings{{Threshold: -1}, {Days: -1}, {Days: 400}} {
		if err := m.SetSettings(context.Background(), "acme", s); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetSettings(%+v): %v", s, err)
		}
	}
	if s, err := m.Settings(context.Background(), "acme"); err != nil || s != (Settings{}) {
		t.Errorf("settings after refusals: %+v, %v", s, err)
	}
}

func openMonitor(t *testing.T, l Ledger, s Sender, now func() time.Time) *Monitor {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := Open(db, Options{Ledger: l, Sender: s, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
