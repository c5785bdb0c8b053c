package scenarios

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openStore opens a store on a real bbolt file in a temporary directory, with a
// clock the test moves by hand.
func openStore(t *testing.T, opts Options) (*Store, *fakeNow) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := &fakeNow{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	opts.Now = now.now
	s, err := Open(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, now
}

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

func (f *fakeNow) tick() { f.t = f.t.Add(time.Minute) }

func push(t *testing.T, s *Store, app, body string) int {
	t.Helper()
	res, err := s.Push(context.Background(), Push{App: app, Author: "ann", Message: body, Files: []File{{Name: "main.js", Source: "// " + body}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Release.Number
}

func resolve(t *testing.T, s *Store, account, app string) int {
	t.Helper()
	rel, _, err := s.Resolve(context.Background(), account, app, TriggerIncoming)
	if err != nil {
		t.Fatal(err)
	}
	return rel.Number
}

// A step of a rollout story: an action, then which release each account runs on
// its next call.
type step struct {
	do   func(t *testing.T, s *Store)
	want map[string]int
}

func TestRolloutPolicy(t *testing.T) {
	ctx := context.Background()
	pushes := func(n int) func(t *testing.T, s *Store) {
		return func(t *testing.T, s *Store) {
			for i := 0; i < n; i++ {
				push(t, s, "crm", fmt.Sprint("v", i))
			}
		}
	}
	// Accounts on either side of a 50% canary by their stable hash.
	in, out := accountIn(true, 50), accountIn(false, 50)
	tests := []struct {
		name  string
		steps []step
	}{
		{"latest: every account moves to a new release on its next call", []step{
			{pushes(1), map[string]int{in: 1, out: 1}},
			{pushes(1), map[string]int{in: 2, out: 2}},
		}},
		{"rollback N makes an older release current; the next push supersedes it", []step{
			{pushes(3), map[string]int{in: 3, out: 3}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Rollback(ctx, "crm", 1)) }, map[string]int{in: 1, out: 1}},
			{pushes(1), map[string]int{in: 4, out: 4}},
		}},
		{"canary: the share gets the latest, the rest stay on the release before", []step{
			{pushes(2), map[string]int{in: 2, out: 2}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Canary(ctx, "crm", 50)) }, map[string]int{in: 2, out: 1}},
			{pushes(1), map[string]int{in: 3, out: 1}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Canary(ctx, "crm", 100)) }, map[string]int{in: 3, out: 3}},
		}},
		{"push --canary offers only the new release to the share", []step{
			{pushes(1), map[string]int{in: 1, out: 1}},
			{func(t *testing.T, s *Store) {
				if _, err := s.Push(ctx, Push{App: "crm", Files: []File{{Name: "main.js", Source: "// canary"}}, Canary: 50}); err != nil {
					t.Fatal(err)
				}
			}, map[string]int{in: 2, out: 1}},
		}},
		{"a pin holds one account whatever the policy says, until unpinned", []step{
			{pushes(2), map[string]int{in: 2, out: 2}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Pin(ctx, out, "crm", 1)) }, map[string]int{in: 2, out: 1}},
			{pushes(1), map[string]int{in: 3, out: 1}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Rollback(ctx, "crm", 2)) }, map[string]int{in: 2, out: 1}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Pin(ctx, out, "crm", 0)) }, map[string]int{in: 2, out: 2}},
		}},
		{"rolling back to the latest is the latest policy", []step{
			{pushes(2), map[string]int{in: 2}},
			{func(t *testing.T, s *Store) { mustPolicy(t)(s.Rollback(ctx, "crm", 2)) }, map[string]int{in: 2}},
			{pushes(1), map[string]int{in: 3}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, now := openStore(t, Options{})
			for i, st := range tt.steps {
				now.tick()
				st.do(t, s)
				for account, want := range st.want {
					if got := resolve(t, s, account, "crm"); got != want {
						t.Fatalf("step %d: %s runs release %d, want %d", i+1, account, got, want)
					}
				}
			}
		})
	}
}

func mustPolicy(t *testing.T) func(Policy, error) {
	return func(_ Policy, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// accountIn finds an account id inside (or outside) a canary of percent.
func accountIn(inside bool, percent int) string {
	for i := 0; ; i++ {
		id := fmt.Sprint("account-", i)
		if (CanaryBucket(id) < percent) == inside {
			return id
		}
	}
}

// The move is lazy: an account stays on its release until it calls, and the
// move is recorded with when and why.
func TestResolveIsLazyAndRecorded(t *testing.T) {
	ctx := context.Background()
	s, now := openStore(t, Options{})
	push(t, s, "crm", "one")
	resolve(t, s, "a", "crm")
	resolve(t, s, "b", "crm")
	now.tick()
	push(t, s, "crm", "two")

	r, err := s.Rollout(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if r.Accounts != 2 || r.Untouched != 2 || len(r.Releases) != 1 || r.Releases[0] != (ReleaseCount{Release: 1, Accounts: 2}) {
		t.Fatalf("before any call: %+v", r)
	}

	now.tick()
	rel, placement, err := s.Resolve(ctx, "a", "crm", TriggerBalance)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Number != 2 || placement.Previous != 1 || placement.Trigger != TriggerBalance || !placement.At.Equal(now.t) {
		t.Errorf("placement after the move: %+v", placement)
	}
	// A second call does not move (or rewrite) anything.
	_, again, _ := s.Resolve(ctx, "a", "crm", TriggerOutgoing)
	if again.Trigger != TriggerBalance || !again.At.Equal(now.t) {
		t.Errorf("a call that did not move rewrote the placement: %+v", again)
	}
	r, _ = s.Rollout(ctx, "crm")
	if r.Untouched != 1 || r.UntouchedSample[0] != "b" || len(r.Releases) != 2 {
		t.Errorf("after a's call: %+v", r)
	}
}

func TestPushValidation(t *testing.T) {
	compile := func(name, src string) error {
		if strings.Contains(src, "@@") {
			return &posError{line: 2, col: 5}
		}
		return nil
	}
	warn := func(name, src string) []string {
		if strings.Contains(src, "VoxEngine.createConference") {
			return []string{name + ": VoxEngine.createConference is not implemented in Vox"}
		}
		return nil
	}
	s, _ := openStore(t, Options{Compile: compile, Warn: warn})
	ok := File{Name: "main.js", Source: "var a;"}
	tests := []struct {
		name string
		push Push
		want string
	}{
		{"empty push", Push{App: "crm"}, "no scenario files"},
		{"bad app name", Push{App: "Bad App", Files: []File{ok}}, "application name"},
		{"syntax error with the line", Push{App: "crm", Files: []File{{Name: "a.js", Source: "var x;\nvar @@ = 1;"}}}, "a.js:2:5: oops\n    var @@ = 1;\n        ^"},
		{"not UTF-8", Push{App: "crm", Files: []File{{Name: "a.js", Source: "\xff\xfe"}}}, "a.js is not UTF-8 text"},
		{"too big", Push{App: "crm", Files: []File{{Name: "a.js", Source: strings.Repeat("x", MaxFileSize+1)}}}, "a scenario file may be at most 1048576"},
		{"path as file name", Push{App: "crm", Files: []File{{Name: "../a.js", Source: "1"}}}, "must be a plain file name"},
		{"duplicate file", Push{App: "crm", Files: []File{ok, ok}}, "pushed twice"},
		{"bad regex", Push{App: "crm", Files: []File{ok}, Rules: []Rule{{Name: "r", Pattern: "7(495", Scenarios: []string{"main.js"}}}}, "is not a valid regular expression"},
		{"missing scenario", Push{App: "crm", Files: []File{ok}, Rules: []Rule{{Name: "r", Pattern: ".*", Scenarios: []string{"gone.js"}}}}, `names scenario "gone.js", which is not in the push`},
		{"two files, no rules", Push{App: "crm", Files: []File{ok, {Name: "b.js", Source: "1"}}}, "rules must say which runs"},
		{"bad canary", Push{App: "crm", Files: []File{ok}, Canary: 150}, "canary share 150%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Push(context.Background(), tt.push)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	if apps, _ := s.Apps(context.Background()); len(apps) != 0 {
		t.Errorf("refused pushes stored something: %+v", apps)
	}
	res, err := s.Push(context.Background(), Push{App: "crm", Files: []File{{Name: "main.js", Source: "VoxEngine.createConference()"}}})
	if err != nil || len(res.Warnings) != 1 || res.Release.Rules[0].Pattern != ".*" {
		t.Errorf("a valid push with a warning: %+v, %v", res, err)
	}
}

type posError struct{ line, col int }

func (e *posError) Error() string             { return fmt.Sprintf("a.js:%d:%d: oops", e.line, e.col) }
func (e *posError) Position() (line, col int) { return e.line, e.col }

func TestRoute(t *testing.T) {
	rel := &Release{App: "crm", Number: 3,
		Files: []File{{Name: "lib.js"}, {Name: "in.js"}, {Name: "out.js"}},
		Rules: []Rule{
			{Name: "moscow", Pattern: `7495\d{7}`, Scenarios: []string{"lib.js", "in.js"}},
			{Name: "users", Pattern: `(phone|user)\d+`, Scenarios: []string{"out.js"}},
			{Name: "rest", Pattern: `.*`, Scenarios: []string{"in.js"}},
		}}
	tests := map[string]string{
		"74951234567":  "moscow:lib.js,in.js",
		"749512345678": "rest:in.js", // full match only
		"phone67":      "users:out.js",
		"x74951234567": "rest:in.js",
	}
	for dest, want := range tests {
		rule, files, err := rel.Route(dest)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		if got := rule.Name + ":" + strings.Join(names, ","); got != want {
			t.Errorf("Route(%s) = %s, want %s", dest, got, want)
		}
	}
	rel.Rules = rel.Rules[:1]
	if _, _, err := rel.Route("phone67"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no matching rule: %v", err)
	}
}

func TestReleasesArePagedNewestFirst(t *testing.T) {
	s, _ := openStore(t, Options{})
	for i := 0; i < 5; i++ {
		push(t, s, "crm", fmt.Sprint(i))
	}
	page, next, err := s.Releases(context.Background(), "crm", 0, 2)
	if err != nil || len(page) != 2 || page[0].Number != 5 || page[1].Number != 4 || next != 4 {
		t.Fatalf("first page %+v next %d err %v", page, next, err)
	}
	page, next, _ = s.Releases(context.Background(), "crm", next, 2)
	if len(page) != 2 || page[0].Number != 3 || next != 2 {
		t.Fatalf("second page %+v next %d", page, next)
	}
	page, next, _ = s.Releases(context.Background(), "crm", next, 2)
	if len(page) != 1 || page[0].Number != 1 || next != 0 {
		t.Fatalf("last page %+v next %d", page, next)
	}
	if _, _, err := s.Releases(context.Background(), "nope", 0, 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vox.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(db, Options{}); err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketMeta).Put(keySchema, u32(SchemaVersion+1))
	})
	if _, err := Open(db, Options{}); err == nil || !strings.Contains(err.Error(), "this Vox reads up to") {
		t.Errorf("a newer schema was accepted: %v", err)
	}
}

// vox dev pushes drafts: they reach the pinned dev account and nobody else.
func TestDraftsReachOnlyPinnedAccounts(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Options{})
	push(t, s, "crm", "one")
	res, err := s.Push(ctx, Push{App: "crm", Files: []File{{Name: "main.js", Source: "// draft"}}, Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	draft := res.Release.Number
	mustPolicy(t)(s.Pin(ctx, "dev", "crm", draft))
	if got := resolve(t, s, "customer", "crm"); got != 1 {
		t.Errorf("a customer got release %d, want the published 1", got)
	}
	if got := resolve(t, s, "dev", "crm"); got != draft {
		t.Errorf("dev got release %d, want the draft %d", got, draft)
	}
	if _, err := s.Rollback(ctx, "crm", draft); !errors.Is(err, ErrInvalid) {
		t.Errorf("rollback to a draft: %v", err)
	}
	if r, _ := s.Rollout(ctx, "crm"); r.Latest != 1 {
		t.Errorf("rollout's latest is %d, want the published 1", r.Latest)
	}
	push(t, s, "crm", "three")
	if got := resolve(t, s, "customer", "crm"); got != 3 {
		t.Errorf("customer after a published push: %d", got)
	}
	if _, err := s.Push(ctx, Push{App: "crm", Files: []File{{Name: "main.js", Source: "1"}}, Draft: true, Canary: 10}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a draft canary was accepted: %v", err)
	}
	// An application with only drafts has nothing to offer an unpinned account.
	if _, err := s.Push(ctx, Push{App: "lab", Files: []File{{Name: "main.js", Source: "1"}}, Draft: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Resolve(ctx, "customer", "lab", TriggerIncoming); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve with only drafts: %v", err)
	}
}
