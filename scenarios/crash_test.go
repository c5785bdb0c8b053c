package scenarios

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/internal/crashtest"
)

// The crash test of issue 4: a push is one transaction, so killing the process
// with kill -9 at any moment leaves every release whole and the release numbers
// without gaps. The test binary runs itself as the child (TestCrashChild), which
// pushes releases of up to a few hundred KiB in a loop, mixed with rollbacks,
// canaries, pins and account moves; the parent kills it after a random delay,
// reopens the file and checks all of it, 30 times over the same file.
const (
	crashFileEnv = "VOX_CRASH_CHILD_FILE" // set in the child: the bbolt file it writes
	crashSeedEnv = "VOX_CRASH_SEED"       // repeats a run's delays and sources
	crashApp     = "crash"
	crashRounds  = 30
	// maxCrashDelay bounds how long the child pushes before it is killed: long
	// enough for several pushes, short enough that 30 rounds take seconds.
	maxCrashDelay = 60 * time.Millisecond
	// Sources are 1 KiB to maxCrashSource, log-uniformly, so that most pushes are
	// quick and some write hundreds of KiB, where a kill lands mid-write.
	maxCrashSource = 384 << 10
)

func TestPushSurvivesKill9(t *testing.T) {
	rng := crashtest.Rand(t, crashSeedEnv) // the delays and the sources

	path := filepath.Join(t.TempDir(), "vox.db")
	// The parent creates the file and the application, so that every kill lands
	// in the child's writes rather than in bbolt laying out a new file.
	createCrashFile(t, path)

	committed, latest, midWrite := 1, 1, 0
	for round := 1; round <= crashRounds; round++ {
		delay := time.Duration(rng.Int64N(int64(maxCrashDelay)))
		run := runAndKill(t, path, rng.Uint64(), delay)
		committed = max(committed, run.committed)
		if run.inWrite != "" {
			midWrite++
		}
		n := checkCrashFile(t, path)
		switch {
		case n < latest:
			t.Fatalf("round %d: the file holds %d releases, it held %d before", round, n, latest)
		case n < committed:
			t.Fatalf("round %d: the child saw release %d committed, the file ends at %d", round, committed, n)
		}
		latest = n
		t.Logf("round %d: killed after %v, %d writes done, in %q; file holds releases 1..%d", round, delay, run.writes, run.inWrite, n)
	}
	t.Logf("%d of %d kills landed inside a write; %d releases checked", midWrite, crashRounds, latest)
	if latest-1 < crashRounds/3 {
		t.Errorf("the child pushed only %d releases in %d rounds; the kills hardly met a push", latest-1, crashRounds)
	}
}

func createCrashFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(context.Background(), crashPush(rand.New(rand.NewPCG(1, 1)))); err != nil {
		t.Fatal(err)
	}
}

// crashRun is what the child reported before it was killed.
type crashRun struct {
	writes    int    // writes it finished
	committed int    // the highest release number it saw committed
	inWrite   string // the write it had started and not finished, if any
}

// runAndKill starts the child on path, lets it write for delay once its store is
// open, and kills it with SIGKILL (os.Process.Kill).
func runAndKill(t *testing.T, path string, seed uint64, delay time.Duration) crashRun {
	t.Helper()
	child := crashtest.Start(t, crashFileEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	time.Sleep(delay)
	var run crashRun
	for _, line := range child.Kill(t) {
		what, arg, _ := strings.Cut(line, " ")
		switch what {
		case "begin":
			run.inWrite = arg
		case "done":
			run.inWrite = ""
			run.writes++
		case "pushed":
			n, err := strconv.Atoi(arg)
			if err != nil {
				t.Fatalf("child: %q", line)
			}
			run.committed = max(run.committed, n)
		}
	}
	return run
}

// checkCrashFile reopens the file as Vox would and checks everything in it: the
// bbolt structure, the schema, releases numbered 1..n without gaps, each one
// decoding with every file whole and its hash matching, rules naming files that
// exist, the rollout policy and the placements. It returns n.
func checkCrashFile(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	if _, err := Open(db, Options{}); err != nil {
		t.Fatalf("open the store after kill: %v", err)
	}
	crashtest.CheckBolt(t, db)
	latest := 0
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRoot).Bucket(bucketMeta).Get(keySchema); len(v) != 4 || binary.BigEndian.Uint32(v) != SchemaVersion {
			return fmt.Errorf("schema version %x, want %d", v, SchemaVersion)
		}
		app, err := appBucket(tx, crashApp)
		if err != nil {
			return err
		}
		err = app.Bucket(bucketReleases).ForEach(func(k, v []byte) error {
			latest++
			if len(k) != 4 || int(binary.BigEndian.Uint32(k)) != latest {
				return fmt.Errorf("release key %x where release %d should be", k, latest)
			}
			return checkCrashRelease(latest, v)
		})
		if err != nil {
			return err
		}
		var policy Policy
		if err := json.Unmarshal(app.Bucket(bucketMeta).Get(keyPolicy), &policy); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		if policy.Stable < 0 || policy.Stable > latest {
			return fmt.Errorf("policy %+v names a release beyond %d", policy, latest)
		}
		for account, n := range policy.Pins {
			if n < 1 || n > latest {
				return fmt.Errorf("%s is pinned to release %d of %d", account, n, latest)
			}
		}
		return app.Bucket(bucketPlacements).ForEach(func(k, v []byte) error {
			var p Placement
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("placement of %s: %w", k, err)
			}
			if p.Account != string(k) || p.Release < 1 || p.Release > latest {
				return fmt.Errorf("placement of %s: %+v with %d releases", k, p, latest)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("after kill: %v", err)
	}
	return latest
}

func checkCrashRelease(n int, data []byte) error {
	var rel Release
	if err := json.Unmarshal(data, &rel); err != nil {
		return fmt.Errorf("release %d: %w", n, err)
	}
	if rel.Number != n || rel.App != crashApp || len(rel.Files) == 0 || len(rel.Rules) == 0 {
		return fmt.Errorf("release %d reads as %s@%d with %d files and %d rules", n, rel.App, rel.Number, len(rel.Files), len(rel.Rules))
	}
	for _, f := range rel.Files {
		sum := sha256.Sum256([]byte(f.Source))
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return fmt.Errorf("release %d: %s does not match its SHA-256", n, f.Name)
		}
		var seed uint64
		var size int
		if _, err := fmt.Sscanf(f.Source, crashHeader, &seed, &size); err != nil {
			return fmt.Errorf("release %d: %s has no header: %w", n, f.Name, err)
		}
		if f.Source != crashSource(seed, size) {
			return fmt.Errorf("release %d: %s is %d bytes, not the %d it was pushed with", n, f.Name, len(f.Source), size)
		}
	}
	for _, r := range rel.Rules {
		if _, err := compilePattern(r.Pattern); err != nil {
			return fmt.Errorf("release %d rule %q: %w", n, r.Name, err)
		}
		for _, s := range r.Scenarios {
			if _, ok := rel.File(s); !ok {
				return fmt.Errorf("release %d rule %q names missing file %q", n, r.Name, s)
			}
		}
	}
	return nil
}

const crashHeader = "// crash test source seed=%d size=%d\n"

// crashSource is size bytes of comment lines that follow from seed, so that the
// parent can tell a whole file from a torn one without keeping what was pushed.
func crashSource(seed uint64, size int) string {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, 0, size+80)
	b = fmt.Appendf(b, crashHeader, seed, size)
	for len(b) < size {
		b = append(b, "// "...)
		for range 4 {
			b = hex.AppendEncode(b, binary.BigEndian.AppendUint64(nil, rng.Uint64()))
		}
		b = append(b, '\n')
	}
	return string(b[:size])
}

// crashPush is a push of one to three files, routed by two rules.
func crashPush(rng *rand.Rand) Push {
	p := Push{App: crashApp, Author: "crash", Message: "crash test"}
	for i := range 1 + rng.IntN(3) {
		size := int(1024 * math.Pow(maxCrashSource/1024, rng.Float64()))
		p.Files = append(p.Files, File{Name: fmt.Sprintf("f%d.js", i), Source: crashSource(rng.Uint64(), size)})
	}
	last := p.Files[len(p.Files)-1].Name
	p.Rules = []Rule{
		{Name: "moscow", Pattern: `7495\d{7}`, Scenarios: []string{p.Files[0].Name, last}},
		{Name: "rest", Pattern: `.*`, Scenarios: []string{last}},
	}
	if rng.IntN(8) == 0 {
		p.Canary = 1 + rng.IntN(99)
	}
	return p
}

// TestMain turns the test binary into the child TestPushSurvivesKill9 kills when
// the parent says so in the environment: it writes to the store until it is
// killed, and reports each write on stdout before and after.
func TestMain(m *testing.M) {
	crashtest.RunChild(crashFileEnv, crashChild)
	os.Exit(m.Run())
}

func crashChild(path string) error {
	seed, err := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	s, err := Open(db, Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	last, err := s.Release(ctx, crashApp, 0)
	if err != nil {
		return err
	}
	latest := last.Number
	say := func(format string, args ...any) {
		// Unbuffered, so the parent reads every line written before the kill.
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	say("ready")
	for {
		var what string
		var write func() error
		account := fmt.Sprint("account-", rng.IntN(50))
		switch op := rng.IntN(10); {
		case op < 7:
			what = "push"
			// Made before the write begins: the kills should meet the store.
			p := crashPush(rng)
			write = func() error {
				res, err := s.Push(ctx, p)
				if err == nil {
					latest = res.Release.Number
					say("pushed %d", latest)
				}
				return err
			}
		case op == 7:
			what = "rollback"
			write = func() error { _, err := s.Rollback(ctx, crashApp, 1+rng.IntN(latest)); return err }
		case op == 8:
			what = "pin"
			write = func() error { _, err := s.Pin(ctx, account, crashApp, rng.IntN(latest+1)); return err }
		default:
			what = "resolve"
			write = func() error { _, _, err := s.Resolve(ctx, account, crashApp, TriggerIncoming); return err }
		}
		say("begin %s", what)
		if err := write(); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%s: %w", what, err)
		}
		say("done")
	}
}
