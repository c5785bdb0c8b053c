package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/bench/scenariogen"
	"vox/runtime"
	"vox/scenarios"
)

// The scenarios part of make bench (issue 4): what a call start costs before its
// session runs, finding the account's effective release and taking its compiled
// program from the cache, with 10,000 accounts and 50 releases, against a plain
// bbolt read of one key from the same file in the same run.
const (
	benchAccounts    = 10000
	benchReleases    = 50
	benchCanary      = 10 // percent on the latest release; the rest on the one before
	benchPins        = 20 // accounts pinned to older releases
	benchRounds      = 20 // alternating rounds, as in startLatency
	benchOpsPerRound = 1000
	benchApp         = "bitrix24"
	benchDestination = "74951234567"
)

func benchScenarios(out io.Writer) error {
	// No fsync while the file is filled; the timed part only reads.
	db, done, err := tempDB("vox-bench-", &bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer done()
	rb, err := newResolveBench(db)
	if err != nil {
		return fmt.Errorf("scenarios benchmark: %w", err)
	}
	fmt.Fprintf(out, "\nscenarios benchmark: %d accounts, %d releases of %s (%d lines each), policy %s, %d pins\n",
		benchAccounts, benchReleases, scenariogen.Name, rb.lines, rb.mode, benchPins)

	var vox, plain []time.Duration
	var voxAllocs, plainAllocs uint64
	for r := -1; r < benchRounds; r++ { // round -1 warms up
		a0 := mallocs()
		p, err := rb.timeOps(rb.plainRead)
		if err != nil {
			return err
		}
		a1 := mallocs()
		v, err := rb.timeOps(rb.resolveAndStart)
		if err != nil {
			return err
		}
		a2 := mallocs()
		if r >= 0 {
			plain, vox = append(plain, p...), append(vox, v...)
			plainAllocs, voxAllocs = plainAllocs+a1-a0, voxAllocs+a2-a1
		}
	}
	// The split by part is a run of its own: the clock readings between the
	// parts would otherwise weigh on the figures above.
	var parts [3][]time.Duration
	if _, err := rb.timeOps(func(account string) error { return rb.start(account, &parts) }); err != nil {
		return err
	}
	resolve, route, acquire := parts[0], parts[1], parts[2]
	ops := uint64(benchRounds * benchOpsPerRound)

	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tvox\tbbolt read\tvox/bbolt")
	ratio := func(name string, v, b time.Duration) {
		fmt.Fprintf(w, "%s\t%s µs\t%s µs\t%.1f×\n", name, num(micros(v)), num(micros(b)), float64(v)/float64(b))
	}
	ratio("resolve-and-start p50", percentile(vox, 0.5), percentile(plain, 0.5))
	ratio("resolve-and-start mean", mean(vox), mean(plain))
	fmt.Fprintf(w, "allocations per op\t%d\t%d\t%.1f×\n", voxAllocs/ops, plainAllocs/ops, float64(voxAllocs)/float64(plainAllocs))
	w.Flush()
	fmt.Fprintf(out, "resolve-and-start p50 by part: release lookup %.2f µs, route %.2f µs, program cache acquire+release %.2f µs\n",
		micros(percentile(resolve, 0.5)), micros(percentile(route, 0.5)), micros(percentile(acquire, 0.5)))
	_, compiled := rb.programs.Stats()
	fmt.Fprintf(out, "(timed per operation over %d random accounts each; %d programs compiled, all before the timing)\n", ops, compiled)
	return nil
}

type resolveBench struct {
	db       *bolt.DB
	store    *scenarios.Store
	programs *runtime.ProgramCache
	rng      *rand.Rand
	lines    int
	mode     string
}

// newResolveBench pushes the releases, sets the policy and has every account
// call once, so that each has its placement and the program cache holds what the
// accounts run, as on a server that has been up for a while.
func newResolveBench(db *bolt.DB) (*resolveBench, error) {
	ctx := context.Background()
	store, err := scenarios.Open(db, scenarios.Options{Compile: func(name, src string) error {
		_, err := runtime.Compile(name, src)
		return err
	}})
	if err != nil {
		return nil, err
	}
	rb := &resolveBench{db: db, store: store, programs: runtime.NewProgramCache(0), rng: rand.New(rand.NewPCG(4, 4))}
	for i := range benchReleases {
		src := scenariogen.Generate(scenariogen.Options{Seed: uint64(i)})
		rb.lines = strings.Count(src, "\n")
		_, err := store.Push(ctx, scenarios.Push{App: benchApp, Author: "bench", Message: fmt.Sprint("release ", i+1),
			Files: []scenarios.File{{Name: scenariogen.Name, Source: src}},
			Rules: []scenarios.Rule{
				{Name: "users", Pattern: `(phone|user)\d+`, Scenarios: []string{scenariogen.Name}},
				{Name: "moscow", Pattern: `7495\d{7}`, Scenarios: []string{scenariogen.Name}},
				{Name: "rest", Pattern: `.*`, Scenarios: []string{scenariogen.Name}},
			}})
		if err != nil {
			return nil, err
		}
	}
	policy, err := store.Canary(ctx, benchApp, benchCanary)
	if err != nil {
		return nil, err
	}
	for i := range benchPins {
		if policy, err = store.Pin(ctx, benchAccount(i*97), benchApp, 1+i%(benchReleases-2)); err != nil {
			return nil, err
		}
	}
	rb.mode = policy.Mode()
	for i := range benchAccounts {
		if _, _, err := store.Resolve(ctx, benchAccount(i), benchApp, scenarios.TriggerIncoming); err != nil {
			return nil, err
		}
	}
	db.NoSync = false
	for i := range benchAccounts {
		if err := rb.start(benchAccount(i), nil); err != nil {
			return nil, err
		}
	}
	return rb, nil
}

func benchAccount(i int) string { return fmt.Sprintf("account-%05d", i) }

// timeOps times benchOpsPerRound operations, each on a random account.
func (rb *resolveBench) timeOps(op func(account string) error) ([]time.Duration, error) {
	ds := make([]time.Duration, benchOpsPerRound)
	for i := range ds {
		account := benchAccount(rb.rng.IntN(benchAccounts))
		t0 := time.Now()
		if err := op(account); err != nil {
			return nil, err
		}
		ds[i] = time.Since(t0)
	}
	return ds, nil
}

// plainRead is the baseline: one read transaction getting one key, the account's
// placement, from the same file.
func (rb *resolveBench) plainRead(account string) error {
	return rb.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("scenarios")).Bucket([]byte("apps")).Bucket([]byte(benchApp)).Bucket([]byte("placements")).Get([]byte(account)) == nil {
			return fmt.Errorf("no placement for %s", account)
		}
		return nil
	})
}

func (rb *resolveBench) resolveAndStart(account string) error { return rb.start(account, nil) }

// start is what runtime.Launcher does before it creates the session: resolve the
// account's release, route the destination, take the rule's programs from the
// cache; the session would hold them until the call ends, here they go back at
// once. parts, when not nil, gets the time of each step: release lookup, route,
// and program cache acquire plus release.
func (rb *resolveBench) start(account string, parts *[3][]time.Duration) error {
	t0 := time.Now()
	rel, _, err := rb.store.Resolve(context.Background(), account, benchApp, scenarios.TriggerIncoming)
	if err != nil {
		return err
	}
	t1 := time.Now()
	_, files, err := rel.Route(benchDestination)
	if err != nil {
		return err
	}
	t2 := time.Now()
	programs := make([]*runtime.Program, 0, len(files))
	for _, f := range files {
		// As runtime.Launcher does: the release already knows each file's hash.
		p, err := rb.programs.AcquireHashed(f.Name, f.SHA256, f.Source)
		if err != nil {
			return err
		}
		programs = append(programs, p)
	}
	for _, p := range programs {
		rb.programs.Release(p)
	}
	if parts != nil {
		t3 := time.Now()
		parts[0], parts[1], parts[2] = append(parts[0], t1.Sub(t0)), append(parts[1], t2.Sub(t1)), append(parts[2], t3.Sub(t2))
	}
	return nil
}

func mallocs() uint64 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.Mallocs
}

func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
