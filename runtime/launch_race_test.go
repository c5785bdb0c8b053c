package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vox/scenarios"
)

// The race test of issue 4 (run it with -race): 200 calls start at once, each
// resolving its account's release through the Launcher, while other goroutines
// push new releases, roll back, change the canary and pin accounts. Every call
// must run a release that existed when it started, run to its end, log its
// version and run that version's code; the program cache compiles each version
// the calls ran once.
func TestLaunchWhileTheRolloutChanges(t *testing.T) {
	const (
		calls    = 200
		accounts = 40
		// maxVersions stays under the cache's idle bound, so that no program is
		// evicted and compiled again, and "once per version" holds exactly.
		maxVersions = 60
	)
	store := openReleases(t)
	cache := NewProgramCache(0)
	l := &Launcher{Releases: store, Programs: cache, Defaults: Config{
		Clock:  RealClock{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	ctx := context.Background()

	// begun is the highest release whose push has begun: no call can run a
	// release above the value it reads once its session is running.
	var begun atomic.Int64
	pushRaceVersion := func(v int) error {
		begun.Store(int64(v))
		_, err := store.Push(ctx, scenarios.Push{App: "crm", Author: "race", Message: fmt.Sprint("v", v),
			Files: []scenarios.File{{Name: "main.js", Source: raceScenario(v)}, {Name: "lib.js", Source: "// not routed"}},
			Rules: []scenarios.Rule{{Name: "all", Pattern: `7\d+`, Scenarios: []string{"main.js"}}}})
		return err
	}
	if err := pushRaceVersion(1); err != nil {
		t.Fatal(err)
	}
	account := func(i int) string { return fmt.Sprint("account-", i%accounts) }

	stop := make(chan struct{})
	var mutators sync.WaitGroup
	// mutate runs change every millisecond or so until the calls are done.
	mutate := func(seed uint64, change func(rng *rand.Rand, latest int) error) {
		mutators.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 0))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(rng.IntN(2000)) * time.Microsecond):
				}
				if err := change(rng, int(begun.Load())); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Pushes go on back to back; the calls set off as they progress (below), so
	// that the calls meet many releases and not only the first.
	pushesOver := make(chan struct{})
	mutators.Go(func() {
		defer close(pushesOver)
		for v := 2; v <= maxVersions; v++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := pushRaceVersion(v); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// The others pick releases below the latest: the one being pushed may not
	// exist yet.
	mutate(2, func(rng *rand.Rand, latest int) error {
		_, err := store.Rollback(ctx, "crm", 1+rng.IntN(max(latest-1, 1)))
		return err
	})
	mutate(3, func(rng *rand.Rand, _ int) error {
		_, err := store.Canary(ctx, "crm", rng.IntN(101))
		return err
	})
	mutate(4, func(rng *rand.Rand, latest int) error {
		_, err := store.Pin(ctx, account(rng.IntN(accounts)), "crm", rng.IntN(max(latest-1, 1)))
		return err
	})

	versionLine := regexp.MustCompile(`Start INCOMING scenario \(version: (\d+)\)`)
	ran := make([]int, calls)
	var callers sync.WaitGroup
	for i := range calls {
		callers.Go(func() {
			// Call i sets off once release 1+i*maxVersions/calls is on its way:
			// the calls overlap each other and the pushes throughout.
		wait:
			for int(begun.Load()) < 1+i*maxVersions/calls {
				select {
				case <-pushesOver:
					break wait
				case <-time.After(100 * time.Microsecond):
				}
			}
			log := &syncBuffer{}
			leg := &recordingLeg{id: fmt.Sprint("call-", i)}
			s, err := l.Launch(ctx, CallStart{
				Account: account(i), App: "crm", Destination: "74951234567",
				Trigger: scenarios.TriggerIncoming, Log: NewSessionLog(log, LogText),
				Incoming: &Incoming{Leg: leg, Destination: "74951234567"},
			})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			existed := int(begun.Load())
			select {
			case <-s.Done():
			case <-time.After(20 * time.Second):
				t.Errorf("call %d did not end:\n%s", i, log.String())
				return
			}
			if err := s.Err(); err != nil {
				t.Errorf("call %d failed: %v\n%s", i, err, log.String())
				return
			}
			m := versionLine.FindStringSubmatch(log.String())
			if m == nil {
				t.Errorf("call %d logged no version:\n%s", i, log.String())
				return
			}
			v, _ := strconv.Atoi(m[1])
			switch {
			case v < 1 || v > existed:
				t.Errorf("call %d ran release %d; releases 1..%d existed", i, v, existed)
			case !regexp.MustCompile(`running v` + m[1] + `\b`).MatchString(log.String()):
				t.Errorf("call %d logged version %d but ran other code:\n%s", i, v, log.String())
			}
			ran[i] = v
		})
	}
	callers.Wait()
	close(stop)
	mutators.Wait()
	if t.Failed() {
		return
	}

	versions := map[int]bool{}
	for _, v := range ran {
		versions[v] = true
	}
	if _, compiled := cache.Stats(); compiled != len(versions) {
		t.Errorf("the calls ran %d versions and the cache compiled %d programs", len(versions), compiled)
	}
	r, err := store.Rollout(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if r.Accounts != accounts {
		t.Errorf("rollout knows %d accounts, want %d", r.Accounts, accounts)
	}
	t.Logf("%d calls ran %d versions of %d pushed; policy at the end: %s", calls, len(versions), r.Latest, r.Mode)
}

// raceScenario answers, says which version it is, and ends the session.
func raceScenario(v int) string {
	return fmt.Sprintf(`
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	Logger.write("running v%d");
	VoxEngine.terminate();
});`, v)
}
