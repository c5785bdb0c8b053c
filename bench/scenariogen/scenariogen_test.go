package scenariogen

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"

	"vox/runtime"
	"vox/sim"
)

func TestGenerateIsDeterministicAndSeedSized(t *testing.T) {
	a, b := Generate(Options{}), Generate(Options{})
	if a != b {
		t.Fatal("two generations with the same options differ")
	}
	if n := strings.Count(a, "\n"); n < DefaultLines || n > DefaultLines+100 {
		t.Fatalf("scenario has %d lines, want about %d", n, DefaultLines)
	}
	if Generate(Options{Seed: 2}) == a {
		t.Fatal("a different seed gave the same scenario")
	}
}

// TestScenarioRunsACall plays a whole call through the generated scenario in
// virtual time: settings, CRM routing, an operator who answers, the caller
// hanging up, the report, and the scenario ending the session itself.
func TestScenarioRunsACall(t *testing.T) {
	src := Generate(Options{})
	if _, err := runtime.Compile(Name, src); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts := sim.Options{
		From:  "8 (926) 555-12-34",
		To:    "74951234567",
		Start: time.Date(2025, 3, 12, 8, 30, 0, 0, time.UTC), // a Wednesday, 11:30 in Moscow
		// The caller hangs up after talking a while; the scenario then reports
		// the call and ends the session.
		HangupAfter: time.Minute,
		HTTP:        &sim.HTTPFiles{Fallback: Portal{}},
		Seed:        1,
	}
	err := sim.Run(context.Background(), opts, []sim.Source{{Name: Name, Code: src}}, &log)
	out := log.String()
	if err != nil {
		t.Fatalf("simulation failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		StartedMark, AlertingMark + " from *******1234 to 74951234567",
		"CRM: CONTACT 4242 belongs to user102", "connected to user102",
		"Executing JS command: SendMediaBetween", "AddCallHistory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "Session terminated") {
		t.Errorf("last line %q, want Session terminated\n%s", last, out)
	}
	if strings.Contains(out, "Nothing more can happen") || strings.Contains(out, "maximum duration") || strings.Contains(out, "Uncaught") {
		t.Errorf("the scenario did not end the call itself:\n%s", out)
	}
}

// TestBareHostRunsTheScenario checks the benchmark's baseline: plain goja with
// BareHost runs the program and its handlers without error.
func TestBareHostRunsTheScenario(t *testing.T) {
	prog := goja.MustCompile(Name, Generate(Options{}), false)
	host := goja.MustCompile("bare-host.js", BareHost, false)
	vm := goja.New()
	for _, p := range []*goja.Program{host, prog} {
		if _, err := vm.RunProgram(p); err != nil {
			t.Fatal(err)
		}
	}
	dispatch, ok := goja.AssertFunction(vm.Get("__dispatch"))
	if !ok {
		t.Fatal("BareHost defines no __dispatch")
	}
	for _, ev := range []map[string]any{
		{"name": "Application.Started", "sessionId": "1", "accountId": "1"},
		{"name": "Application.CallAlerting", "id": "c1", "callerid": "79261234567", "destination": "74951234567"},
		{"name": "Application.HttpRequest", "content": `{"COMMAND":"wait","REASON":"test"}`},
	} {
		obj := vm.NewObject()
		for k, v := range ev {
			if err := obj.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := dispatch(goja.Undefined(), obj); err != nil {
			t.Fatalf("%s: %v", ev["name"], err)
		}
	}
}
