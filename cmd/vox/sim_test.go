package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/sim")

// simStart pins the virtual clock so that golden logs have fixed timestamps; it is
// the seed log's first second.
const simStart = "2015-07-24T08:50:08Z"

// TestSimGolden runs every case of testdata/sim through the real CLI. A case is
// NAME.args (one argument per line; # starts a comment; or a single line @PATH),
// with NAME.js as the
// scenario when it exists and NAME.events.jsonl as the timeline when it exists;
// its session log, stderr and exit status must equal NAME.golden.log.
func TestSimGolden(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/sim")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob(filepath.Join(dir, "*.args"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	t.Chdir(dir)
	for _, argsFile := range cases {
		name := strings.TrimSuffix(filepath.Base(argsFile), ".args")
		t.Run(name, func(t *testing.T) {
			args := []string{"sim"}
			if _, err := os.Stat(name + ".js"); err == nil {
				args = append(args, name+".js")
			}
			extra, err := readArgs(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			// "@PATH" runs the arguments of another file, in that file's directory:
			// a bundled example is tested exactly as its README runs it.
			if len(extra) == 1 && strings.HasPrefix(extra[0], "@") {
				ref := filepath.Join(dir, extra[0][1:])
				if extra, err = readArgs(ref); err != nil {
					t.Fatal(err)
				}
				t.Chdir(filepath.Dir(ref))
			}
			args = append(args, extra...)
			if _, err := os.Stat(name + ".events.jsonl"); err == nil {
				args = append(args, "--events", name+".events.jsonl")
			}
			if !hasFlag(args, "--start") {
				args = append(args, "--start", simStart)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			got := stdout.String()
			if stderr.Len() > 0 {
				got += "--- stderr ---\n" + stderr.String()
			}
			got += fmt.Sprintf("--- exit %d ---\n", code)

			golden := filepath.Join(dir, name+".golden.log")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/vox -run TestSimGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("vox %s\n%s", strings.Join(args, " "), lineDiff(string(want), got))
			}
		})
	}
}

func readArgs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var args []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		args = append(args, line)
	}
	return args, nil
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// lineDiff shows the first lines where want and got part, with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("first difference at line %d:\nwant: %s\n got: %s", i+1, wl, gl)
		}
	}
	return "outputs differ"
}
