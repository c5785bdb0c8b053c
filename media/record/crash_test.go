package record

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/media/pcm"
)

const crashDirEnv = "VOX_RECORD_CRASH_DIR"

// TestRecordingSurvivesKill9 records in a child process, in real time, and
// kills it with SIGKILL mid-recording: the file must play (sox reads it) and
// hold all but at most the last second of what the child had recorded.
func TestRecordingSurvivesKill9(t *testing.T) {
	requireTool(t, "sox")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var path string
	var recorded time.Duration
	deadline := time.After(60 * time.Second)
	for recorded < 3500*time.Millisecond {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the child ended before it was killed")
			}
			if p, found := strings.CutPrefix(line, "path "); found {
				path = p
			} else if d, found := strings.CutPrefix(line, "recorded "); found {
				if recorded, err = time.ParseDuration(d); err != nil {
					t.Fatal(err)
				}
			}
		case <-deadline:
			t.Fatalf("the child recorded only %v in a minute", recorded)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for range lines {
	}
	if path == "" {
		t.Fatal("the child did not say where it records")
	}

	if out, err := exec.Command("sox", "--i", path).CombinedOutput(); err != nil {
		t.Fatalf("sox --i after kill: %v: %s", err, out)
	}
	st := soxStat(t, path)
	n, err := strconv.Atoi(soxInfo(t, path, "-s"))
	if err != nil {
		t.Fatal(err)
	}
	got := time.Duration(n) * time.Second / pcm.SampleRate
	// The child may record a little more between its last report and the
	// kill; it can have lost at most the last second before the report.
	if got < recorded-time.Second || got > recorded+time.Second {
		t.Fatalf("file holds %v after the kill; the child had recorded %v", got, recorded)
	}
	if f := st["Rough frequency"]; math.Abs(f-1000) > 50 {
		t.Errorf("rough frequency %v, want about 1000 Hz", f)
	}
	t.Logf("recorded %v, file holds %v", recorded, got)
}

// TestMain turns the test binary into the child TestRecordingSurvivesKill9 kills
// when the parent says so in the environment.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
	}
	os.Exit(m.Run())
}

// crashChild records a 1 kHz tone in real time until it is killed, reporting as
// it goes.
func crashChild(dir string) {
	r, err := Start(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	// Unbuffered, so the parent reads every line written before the kill.
	fmt.Fprintf(os.Stdout, "path %s\n", r.Path())
	tick := time.NewTicker(pcm.FrameDuration)
	for k := 0; ; k++ {
		<-tick.C
		if err := r.Caller().WriteFrame(sine(1000, 10000, k)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		if err := r.Callee().WriteFrame(&pcm.Silence); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		if k%10 == 9 {
			fmt.Fprintf(os.Stdout, "recorded %v\n", r.Duration())
		}
	}
}
