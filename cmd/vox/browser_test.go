package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vox/web/phone"
)

// The softphone page in a real browser: headless Chromium (Debian's
// chromium, which make test installs) driven by chromedp, its microphone a
// fake device playing a tone file made with sox.

// phoneArtifacts is where screenshots of the page are kept, one per state
// a test reaches (gitignored).
const phoneArtifacts = "../../artifacts/phone"

// pageTone is what the page's fake microphone says, Hz; far from baresip's
// 600 Hz and the ringback's 425.
const pageTone = 1000.0

// browser is one headless Chromium with one tab.
type browser struct {
	t     *testing.T
	ctx   context.Context
	close func() // ends Chromium, as a user closing it would
}

// startBrowser runs Chromium with a fresh profile; its microphone plays
// tone, a WAV file.
func startBrowser(t *testing.T, tone string) *browser {
	t.Helper()
	bin := browserBinary(t, "chromium", "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", tone),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(480, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	closeAll := func() {
		cancel()
		cancelAlloc()
	}
	t.Cleanup(closeAll)
	// The first action starts the browser, which lives as long as the
	// context of that action: ctx itself, not one with a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, close: closeAll}
}

// browserBinary is the path of the browser command name, from the Debian
// package pkg, for a test of the page, which this test binary must embed.
func browserBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	if !phone.Built() {
		t.Fatal("the page's script is not built into this test binary: run make phone (make test does)")
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (make test installs Debian's %s): %v", name, pkg, err)
	}
	return bin
}

// run runs actions within a bounded time.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// get runs an action that returns a value, within a bounded time.
func get[T any](b *browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// phoneState is what window.voxPhone.state() says.
type phoneState struct {
	State     string         `json:"state"`
	Status    string         `json:"status"`
	LastError string         `json:"lastError"`
	Held      bool           `json:"held"`
	Muted     bool           `json:"muted"`
	Meters    int            `json:"metersSent"`
	LastMeter map[string]any `json:"lastMeter"`
}

func (b *browser) state() phoneState {
	b.t.Helper()
	return get(b, "read the page's state", chromedp.Evaluate[phoneState](`window.voxPhone.state()`))
}

func (b *browser) waitState(want, shot string) phoneState {
	b.t.Helper()
	return waitPageState(b.t, b, want, shot)
}

// page is the softphone page in a browser, Chromium or Firefox.
type page interface {
	state() phoneState
	screenshot(name string)
}

// waitPageState waits until p is in state want ("registered", "in-call",
// ...), then keeps a screenshot of it named shot.
func waitPageState(t *testing.T, p page, want, shot string) phoneState {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := p.state()
		if st.State == want {
			p.screenshot(shot)
			return st
		}
		if time.Now().After(deadline) {
			p.screenshot(shot + "-timeout")
			t.Fatalf("the page is %q (%q), not %q", st.State, st.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// screenshot keeps the page as it is now under artifacts/phone.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := get(b, "screenshot", chromedp.FullScreenshot(100))
	if err := os.MkdirAll(phoneArtifacts, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(phoneArtifacts, unsafeName.ReplaceAllString(b.t.Name(), "_")+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	b.t.Logf("screenshot: %s", abs)
}

// signIn opens the page of s and signs in as user.
func (b *browser) signIn(s *callServer, user, password string) {
	b.t.Helper()
	b.run("open /phone", chromedp.Navigate(fmt.Sprintf("http://%s/phone", s.addr)), chromedp.WaitVisible(chromedp.ID("signin")))
	b.run("sign in as "+user,
		chromedp.SetValue(chromedp.ID("login"), user),
		chromedp.SetValue(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin-button")),
	)
}

// click clicks the element with id.
func (b *browser) click(id string) {
	b.t.Helper()
	b.run("click #"+id, chromedp.Click(chromedp.ID(id)))
}

// pageToneWAV makes the fake microphone's tone: 60 seconds at 48 kHz.
func pageToneWAV(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "page-tone.wav")
	out, err := exec.Command("sox", "-n", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", path,
		"synth", "60", "sine", strconv.FormatFloat(pageTone, 'f', -1, 64), "vol", "0.5").CombinedOutput()
	if err != nil {
		t.Fatalf("sox (make test installs it): %v\n%s", err, out)
	}
	return path
}

func TestPhonePageSignsIn(t *testing.T) {
	t.Parallel()
	s := startCallServer(t)
	b := startBrowser(t, pageToneWAV(t, t.TempDir()))

	b.run("open /phone", chromedp.Navigate(fmt.Sprintf("http://%s/phone", s.addr)), chromedp.WaitVisible(chromedp.ID("signin")))
	b.screenshot("signed-out")

	b.signIn(s, "phone67", "not the password")
	st := b.waitState("failed", "wrong-password")
	if st.LastError != "Wrong login or password" {
		t.Fatalf("wrong password: %+v", st)
	}
	if n := len(s.sip.Registrar().Bindings(sipRealm, "phone67")); n != 0 {
		t.Fatalf("%d bindings after a wrong password", n)
	}

	b.signIn(s, "phone67", testPasswords["phone67"])
	b.waitState("registered", "registered")
	bs := s.sip.Registrar().Bindings(sipRealm, "phone67")
	if len(bs) != 1 || bs[0].Transport != "WS" || bs[0].UserAgent != "Vox phone (JsSIP)" {
		t.Fatalf("bindings %+v, want the page's over WS", bs)
	}

	b.click("signout")
	b.waitState("signed-out", "signed-out-again")
	s.waitUnregistered(t, "phone67")

	// The quality meter's figures from what getStats says.
	for _, tc := range []struct {
		name           string
		stats          string
		percent, grade int
	}{
		{"perfect", `{packetsReceived: 1000, packetsLost: 0, jitter: 0.002, roundTripTime: 0.02}`, 100, 5},
		{"no figures yet", `{}`, 100, 5},
		{"1% lost", `{packetsReceived: 990, packetsLost: 10, jitter: 0.005, roundTripTime: 0.04}`, 99, 4},
		{"5% lost", `{packetsReceived: 950, packetsLost: 50, jitter: 0.01, roundTripTime: 0.05}`, 95, 3},
		{"8% lost", `{packetsReceived: 920, packetsLost: 80, jitter: 0.01, roundTripTime: 0.05}`, 92, 2},
		{"a third lost, slow", `{packetsReceived: 600, packetsLost: 400, jitter: 0.08, roundTripTime: 0.6}`, 60, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(b, "quality", chromedp.Evaluate[map[string]int](`window.voxPhone.quality(`+tc.stats+`)`))
			if got["PERCENT"] != tc.percent || got["GRADE"] != tc.grade {
				t.Errorf("quality(%s) = %v, want PERCENT %d GRADE %d", tc.stats, got, tc.percent, tc.grade)
			}
		})
	}
}

// waitUnregistered waits until user has no binding.
func (s *callServer) waitUnregistered(t *testing.T, user string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.sip.Registrar().Bindings(sipRealm, user)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still registered: %+v", user, s.sip.Registrar().Bindings(sipRealm, user))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
