package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// simRecord runs a golden case of testdata/sim (its scenario, arguments and
// timeline) with --record-dir in a temporary directory and returns the
// recording files it printed, in order.
func simRecord(t *testing.T, name string) []string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	extra, err := readArgs(name + ".args")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"sim", name + ".js"}, extra...)
	if _, err := os.Stat(name + ".events.jsonl"); err == nil {
		args = append(args, "--events", name+".events.jsonl")
	}
	args = append(args, "--start", simStart, "--record-dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("vox %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	var files []string
	for _, m := range regexp.MustCompile(`(?m)^vox sim: recording \S+ is (\S+)$`).FindAllStringSubmatch(stderr.String(), -1) {
		files = append(files, m[1])
	}
	if len(files) == 0 {
		t.Fatalf("vox %s printed no recording:\n%s", strings.Join(args, " "), stderr.String())
	}
	return files
}

// soxOutput runs sox (make test installs it) and returns what it printed.
func soxOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("sox", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// soxInfo reads a WAV file's channels and length with `sox --i`.
func soxInfo(t *testing.T, file string) (channels int, seconds float64) {
	t.Helper()
	channels, err := strconv.Atoi(strings.TrimSpace(soxOutput(t, "--i", "-c", file)))
	if err != nil {
		t.Fatalf("sox --i -c %s: %v", file, err)
	}
	seconds, err = strconv.ParseFloat(strings.TrimSpace(soxOutput(t, "--i", "-D", file)), 64)
	if err != nil {
		t.Fatalf("sox --i -D %s: %v", file, err)
	}
	return channels, seconds
}

// soxFrequency is sox stat's rough frequency of one channel.
func soxFrequency(t *testing.T, file string, channel int) float64 {
	t.Helper()
	out := soxOutput(t, file, "-n", "remix", strconv.Itoa(channel), "stat")
	m := regexp.MustCompile(`Rough\s+frequency:\s+(-?\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sox stat of %s channel %d printed no frequency:\n%s", file, channel, out)
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return f
}

func near(got, want, tolerance float64) bool {
	return math.Abs(got-want) <= tolerance*want
}

// The scenario plays a 1 kHz tone script to the caller for 3 s and records in
// stereo while the caller says 440 Hz: the caller on the left, what the caller
// hears on the right, 3 s long.
func TestSimRecordsStereo(t *testing.T) {
	files := simRecord(t, "media_record_stereo")
	channels, seconds := soxInfo(t, files[0])
	if channels != 2 || math.Abs(seconds-3) > 0.02 {
		t.Errorf("recording: %d channels, %.3f s; want 2 channels, 3 s", channels, seconds)
	}
	if f := soxFrequency(t, files[0], 1); !near(f, 440, 0.05) {
		t.Errorf("left channel (the caller) at %.0f Hz, want 440", f)
	}
	if f := soxFrequency(t, files[0], 2); !near(f, 1000, 0.05) {
		t.Errorf("right channel (the tone script) at %.0f Hz, want 1000", f)
	}
}

// A bridge carries real audio: user67 says 1 kHz, the caller is silent, and the
// caller's mono recording of the bridged call holds 2 s of 1 kHz.
func TestSimBridgeCarriesAudio(t *testing.T) {
	files := simRecord(t, "media_bridge")
	channels, seconds := soxInfo(t, files[0])
	if channels != 1 || math.Abs(seconds-2) > 0.04 {
		t.Errorf("recording: %d channels, %.3f s; want mono, 2 s", channels, seconds)
	}
	if f := soxFrequency(t, files[0], 1); !near(f, 1000, 0.05) {
		t.Errorf("bridged audio at %.0f Hz, want 1000", f)
	}
}

// A supervisor listens in (sendMediaTo): user69 hears the caller's 600 Hz
// while the caller still hears user67's 1 kHz, not user69's 800 Hz; after
// stopMediaTo user69 hears nothing.
func TestSimListenIn(t *testing.T) {
	files := simRecord(t, "media_listen_in")
	if len(files) != 3 {
		t.Fatalf("%d recordings, want 3: %v", len(files), files)
	}
	for _, c := range []struct {
		what    string
		file    string
		channel int
		hz      float64
	}{
		{"user69 says", files[0], 1, 800},
		{"user69 hears", files[0], 2, 600},
		{"the caller says", files[1], 1, 600},
		{"the caller hears", files[1], 2, 1000},
		{"user69 says, after stopMediaTo", files[2], 1, 800},
	} {
		if f := soxFrequency(t, c.file, c.channel); !near(f, c.hz, 0.05) {
			t.Errorf("%s %.0f Hz, want %.0f", c.what, f, c.hz)
		}
	}
	if rms := soxRMS(t, files[2], 2); rms > 0.001 {
		t.Errorf("user69 hears RMS %.3f after stopMediaTo, want silence", rms)
	}
}

// soxRMS is sox stat's RMS amplitude of one channel.
func soxRMS(t *testing.T, file string, channel int) float64 {
	t.Helper()
	return soxStat(t, soxOutput(t, file, "-n", "remix", strconv.Itoa(channel), "stat"), "RMS     amplitude")
}
