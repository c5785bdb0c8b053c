package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vox/scenarios"
)

// TestSimFromServer: vox sim --app plays the call through the files of the rule
// that answers --to in the account's release, and prints exactly what vox sim
// prints for those files given by hand.
func TestSimFromServer(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	files := map[string]string{
		"lib.js": "const greeting = 'hello from ' + 'lib';\n",
		"ivr.js": `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  Logger.write(greeting);
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => e.call.startPlayback("menu.mp3"));
  e.call.addEventListener(CallEvents.PlaybackFinished, () => e.call.hangup());
});
`,
		"main.js": `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  Logger.write("main answers " + e.destination);
  e.call.reject(486);
});
`,
	}
	dir := t.TempDir()
	var push []scenarios.File
	for _, name := range []string{"lib.js", "ivr.js", "main.js"} {
		push = append(push, scenarios.File{Name: name, Source: files[name]})
		if err := os.WriteFile(filepath.Join(dir, name), []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := srv.store.Push(context.Background(), scenarios.Push{App: "crm", Files: push, Rules: []scenarios.Rule{
		{Name: "moscow", Pattern: `7495\d+`, Scenarios: []string{"lib.js", "ivr.js"}},
		{Name: "rest", Pattern: ".*", Scenarios: []string{"main.js"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	tests := []struct {
		name, to string
		files    []string
		header   string
	}{
		{"the first rule", "74951234567", []string{"lib.js", "ivr.js"}, `vox sim: account acme runs crm@1; rule "moscow" answers 74951234567 with lib.js, ivr.js` + "\n"},
		{"the catch-all rule", "78120000000", []string{"main.js"}, `vox sim: account acme runs crm@1; rule "rest" answers 78120000000 with main.js` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			common := []string{"--to", tt.to, "--start", simStart}
			var wantOut, wantErr bytes.Buffer
			wantCode := run(append(append([]string{"sim"}, tt.files...), common...), &wantOut, &wantErr)

			var out, errOut bytes.Buffer
			code := run(append([]string{"sim", "--app", "crm", "--account", "acme", "--server", devURL(srv), "--token", srv.token}, common...), &out, &errOut)
			if code != wantCode {
				t.Errorf("exit %d, want %d as with the files; stderr:\n%s", code, wantCode, errOut.String())
			}
			// The release is named as the server knows it; after that, the call
			// runs exactly as the files do locally.
			header := "2015-07-24 08:50:08 Loading scenario crm\n2015-07-24 08:50:08 Start INCOMING scenario (version: 1)\n"
			_, wantRest, _ := strings.Cut(wantOut.String(), "\n")
			if out.String() != header+wantRest {
				t.Errorf("the session log differs from the files' own:\n%s", lineDiff(header+wantRest, out.String()))
			}
			if errOut.String() != tt.header+wantErr.String() {
				t.Errorf("stderr = %q, want %q", errOut.String(), tt.header+wantErr.String())
			}
			if !strings.Contains(out.String(), "Session terminated") {
				t.Errorf("the call did not run:\n%s", out.String())
			}
		})
	}

	// The simulated call moved the account as an incoming call would (S11).
	ro, err := srv.store.Rollout(context.Background(), "crm")
	if err != nil {
		t.Fatal(err)
	}
	if ro.Accounts != 1 || len(ro.Releases) != 1 || ro.Releases[0].Release != 1 {
		t.Errorf("rollout = %+v, want account acme on release 1", ro)
	}

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--app", "nope"}, exitFailed, `application "nope": not found`},
			{[]string{"--app", "crm", "ivr.js"}, exitUsage, "give it or scenario files, not both"},
			{[]string{}, exitUsage, "no scenario file given"},
		} {
			var out, errOut bytes.Buffer
			args := append([]string{"sim", "--server", devURL(srv), "--token", srv.token}, tt.args...)
			if code := run(args, &out, &errOut); code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("vox %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), code, errOut.String(), tt.code, tt.want)
			}
		}
	})
}
