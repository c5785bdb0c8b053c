package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkResolve is the store's part of a call start (issue 4): the effective
// release of one of 10,000 accounts with 50 releases, a 10% canary and 20 pins,
// next to a plain bbolt read of one key from the same file. make bench prints
// the whole resolve-and-start (with the program cache) as a ratio to that read;
// this one is for profiles and allocation counts.
func BenchmarkResolve(b *testing.B) {
	const accounts, releases = 10000, 50
	ctx := context.Background()
	// No fsync while the file is filled: the timed part only reads.
	db, err := bolt.Open(filepath.Join(b.TempDir(), "vox.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := Open(db, Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());\n", 50)
	for i := range releases {
		_, err := s.Push(ctx, Push{App: "crm", Author: "bench", Message: fmt.Sprint("release ", i+1),
			Files: []File{{Name: "main.js", Source: fmt.Sprintf("// release %d\n%s", i+1, body)}},
			Rules: []Rule{
				{Name: "users", Pattern: `(phone|user)\d+`, Scenarios: []string{"main.js"}},
				{Name: "moscow", Pattern: `7495\d{7}`, Scenarios: []string{"main.js"}},
				{Name: "rest", Pattern: `.*`, Scenarios: []string{"main.js"}},
			}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Canary(ctx, "crm", 10); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = fmt.Sprintf("account-%05d", i)
	}
	for i := range 20 {
		if _, err := s.Pin(ctx, ids[i*97], "crm", 1+i); err != nil {
			b.Fatal(err)
		}
	}
	for _, id := range ids {
		if _, _, err := s.Resolve(ctx, id, "crm", TriggerIncoming); err != nil {
			b.Fatal(err)
		}
	}
	// Accounts in a scattered order that repeats: every call finds its
	// placement, as on a server that has been up for a while.
	account := func(i int) string { return ids[i*7919%accounts] }

	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, err := s.Resolve(ctx, account(i), "crm", TriggerIncoming); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			err := db.View(func(tx *bolt.Tx) error {
				if apps(tx).Bucket([]byte("crm")).Bucket(bucketPlacements).Get([]byte(account(i))) == nil {
					return ErrNotFound
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
