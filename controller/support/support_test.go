package support

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAccessOnlyUnderConsent(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	s, err := Open(db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type step struct {
		name    string
		do      func() error // changes the consent or moves the clock; nil: nothing
		staff   string
		account string
		allowed bool
	}
	steps := []step{
		{"no consent yet", nil, "ann", "acme", false},
		{"granted for a day", func() error { _, err := s.Grant(ctx, "acme", 24*time.Hour, "ticket 42"); return err }, "ann", "acme", true},
		{"the consent is acme's only", nil, "ann", "other", false},
		{"an hour before it ends", func() error { now = now.Add(23 * time.Hour); return nil }, "bob", "acme", true},
		{"expired", func() error { now = now.Add(time.Hour); return nil }, "ann", "acme", false},
		{"granted again", func() error { _, err := s.Grant(ctx, "acme", time.Hour, ""); return err }, "ann", "acme", true},
		{"revoked", func() error { return s.Revoke(ctx, "acme") }, "ann", "acme", false},
	}
	wantAudit := 0
	for _, st := range steps {
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		err := s.Access(ctx, st.staff, st.account, "calls")
		if st.allowed && err != nil || !st.allowed && !errors.Is(err, ErrNoConsent) {
			t.Errorf("%s: Access = %v, allowed %v", st.name, err, st.allowed)
		}
		if st.account == "acme" {
			wantAudit++
		}
	}
	list, next, err := s.Audit(ctx, "acme", 0, 0)
	if err != nil || next != 0 || len(list) != wantAudit {
		t.Fatalf("audit %+v next %d: %v; want %d entries", list, next, err, wantAudit)
	}
	var i int
	for _, st := range steps {
		if st.account != "acme" {
			continue
		}
		if e := list[i]; e.Staff != st.staff || e.Allowed != st.allowed || e.Action != "calls" || e.Seq != uint64(i+1) {
			t.Errorf("audit entry %d: %+v for %q", i, e, st.name)
		}
		i++
	}
	page, next, err := s.Audit(ctx, "acme", 0, 2)
	if err != nil || len(page) != 2 || next != 2 {
		t.Errorf("first page of 2: %+v next %d %v", page, next, err)
	}
	if other, _, _ := s.Audit(ctx, "other", 0, 0); len(other) != 1 || other[0].Allowed {
		t.Errorf("other's audit: %+v", other)
	}
}

func TestGrantRefusesBadConsents(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := Open(db, nil)
	ctx := context.Background()
	for name, d := range map[string]time.Duration{"zero": 0, "negative": -time.Hour, "over the maximum": MaxConsent + time.Hour} {
		if _, err := s.Grant(ctx, "acme", d, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := s.Access(ctx, "not a name", "acme", "calls"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad staff name: %v", err)
	}
	if _, err := s.Consent(ctx, "acme"); !errors.Is(err, ErrNoConsent) {
		t.Errorf("after refusals: %v", err)
	}
}
