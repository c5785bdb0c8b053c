package sim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2015, 7, 24, 8, 50, 8, 0, time.UTC)

// runScenario plays a call through code and returns its session log.
func runScenario(t *testing.T, opts Options, code string) string {
	t.Helper()
	if opts.Start.IsZero() {
		opts.Start = testStart
	}
	if opts.Dir == "" {
		opts.Dir = "../testdata/sim"
	}
	var out bytes.Buffer
	if err := Run(context.Background(), opts, []Source{{Name: "test.js", Code: code}}, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	return out.String()
}

// say() renders speech with espeak-ng: the playback lasts as long as what
// espeak-ng speaks, resampled to 8 kHz and rounded up to a 20 ms frame.
func TestSayLastsAsLongAsTheSpeech(t *testing.T) {
	const text = "Press one for sales, two for support"
	log := runScenario(t, Options{}, `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	let start = 0;
	e.call.addEventListener(CallEvents.Connected, () => { start = Date.now(); e.call.say("`+text+`"); });
	e.call.addEventListener(CallEvents.PlaybackFinished, (ev) => {
		Logger.write("said in " + (Date.now() - start) + " ms" + (ev.error ? ": " + ev.error : ""));
		e.call.hangup();
	});
	e.call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});`)
	m := regexp.MustCompile(`said in (\d+) ms(.*)`).FindStringSubmatch(log)
	if m == nil || m[2] != "" {
		t.Fatalf("no clean PlaybackFinished:\n%s", log)
	}
	got, _ := strconv.Atoi(m[1])

	wav, err := exec.Command("espeak-ng", "--stdout", "-v", "en-us", "--", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng (make test installs it): %v", err)
	}
	want := soxLength(t, wav)
	if d := time.Duration(got)*time.Millisecond - want; d < 0 || d > 40*time.Millisecond {
		t.Errorf("say played %d ms; espeak-ng spoke %v", got, want)
	}
}

// soxLength measures audio with sox: espeak-ng streams its WAV with no length
// in the header, so sox counts the samples.
func soxLength(t *testing.T, wav []byte) time.Duration {
	t.Helper()
	s, _ := strconv.ParseFloat(soxStat(t, wav, `Length \(seconds\):\s+([0-9.]+)`), 64)
	return time.Duration(s * float64(time.Second))
}

// soxFrequency is sox stat's rough frequency of mono audio.
func soxFrequency(t *testing.T, wav []byte) float64 {
	t.Helper()
	f, _ := strconv.ParseFloat(soxStat(t, wav, `Rough\s+frequency:\s+(-?\d+)`), 64)
	return f
}

// soxStat runs `sox stat` (make test installs sox) over a WAV file's bytes and
// returns what pattern's group matched.
func soxStat(t *testing.T, wav []byte, pattern string) string {
	t.Helper()
	cmd := exec.Command("sox", "-t", "wav", "-", "-n", "stat")
	cmd.Stdin = bytes.NewReader(wav)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	m := regexp.MustCompile(pattern).FindSubmatch(out)
	if m == nil {
		t.Fatalf("sox stat printed no %s:\n%s", pattern, out)
	}
	return string(m[1])
}

// Without espeak-ng, say() finishes at once with an error that says so.
func TestSayWithoutEspeak(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	log := runScenario(t, Options{}, `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, () => e.call.say("hello"));
	e.call.addEventListener(CallEvents.PlaybackFinished, (ev) => { Logger.write("finished: " + ev.error); e.call.hangup(); });
	e.call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});`)
	if !strings.Contains(log, "08:50:08 finished: say: text to speech needs espeak-ng") {
		t.Errorf("no error for the missing espeak-ng:\n%s", log)
	}
}

// Recordings go to a temporary directory that is gone when Run returns, unless
// RecordDir names one; their URLs are the simulation's own either way.
func TestRecordingDirectory(t *testing.T) {
	const code = `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.record();
	e.call.addEventListener(CallEvents.RecordStopped, (ev) => {
		Logger.write("stopped " + ev.url + " " + ev.duration + " s");
		e.call.hangup();
	});
	setTimeout(() => e.call.stopRecording(), 2000);
	e.call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});`
	for _, keep := range []bool{false, true} {
		var files []string
		opts := Options{OnRecording: func(url, file string) { files = append(files, file) }}
		if keep {
			opts.RecordDir = t.TempDir()
		}
		log := runScenario(t, opts, code)
		if !strings.Contains(log, "stopped https://records.vox.invalid/") || !strings.Contains(log, "/1.wav 2 s") {
			t.Errorf("keep=%v: no RecordStopped of 2 s:\n%s", keep, log)
		}
		if len(files) != 1 {
			t.Fatalf("keep=%v: recordings %v, want one", keep, files)
		}
		_, err := os.Stat(files[0])
		if keep && err != nil {
			t.Errorf("the recording in RecordDir is gone: %v", err)
		}
		if !keep && err == nil {
			t.Errorf("the temporary recording %s is still there", files[0])
		}
	}
}

// A far end can say a WAV file, from the start (CallerAudio) or from a
// timeline step on: the caller's recording holds it, and with the file said the
// caller, silent now, is idle and hangs up (its last frame reaches the call 20
// ms after the file's 1.5 s).
func TestFarEndSaysAFile(t *testing.T) {
	const beep = "../testdata/sim/beep.wav"
	for name, tc := range map[string]struct {
		opts   Options
		hangup string
	}{
		"caller audio": {Options{CallerAudio: beep}, "08:50:09"},
		"audio step":   {Options{Timeline: []Step{{At: Duration(time.Second), Action: ActionAudio, Audio: beep}}}, "08:50:10"},
	} {
		t.Run(name, func(t *testing.T) {
			var file string
			opts := tc.opts
			opts.RecordDir = t.TempDir()
			opts.OnRecording = func(url, f string) { file = f }
			log := runScenario(t, opts, `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.record();
	e.call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});`)
			if !strings.Contains(log, tc.hangup+" Simulation: nothing else is scheduled") {
				t.Errorf("the caller did not hang up once the file was said:\n%s", log)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if f := soxFrequency(t, b); f < 415 || f > 460 {
				t.Errorf("recording at %.0f Hz, want beep.wav's 437", f)
			}
		})
	}
}

// HTTPFiles serves downloads for the audio cache from the routes.
func TestHTTPFilesRoundTrip(t *testing.T) {
	h := &HTTPFiles{Routes: []HTTPRoute{{Pattern: "https://media.example/*", File: "../testdata/sim/beep.wav"}}}
	for url, want := range map[string]int{"https://media.example/a.wav": 200, "https://other.example/a.wav": 404} {
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := h.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", url, resp.StatusCode, want)
		}
		if want == 200 && (resp.Header.Get("Content-Type") != "audio/wav" || len(body) != 24044) {
			t.Errorf("%s: %s, %d bytes", url, resp.Header.Get("Content-Type"), len(body))
		}
	}
}
