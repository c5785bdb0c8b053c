package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadProject(t *testing.T) {
	dir := func(name string) string { return filepath.Join("testdata", "projects", name) }
	file := func(name string) string { return filepath.Join(dir(name)) }
	tests := []struct {
		name      string
		paths     []string
		app       string
		wantApp   string
		wantFiles []string
		wantRules []Rule
		wantErr   string // every listed part must appear in the error
	}{
		{
			name:      "one file: named after it, with the catch-all rule",
			paths:     []string{file("single/Hello.js")},
			wantApp:   "hello",
			wantFiles: []string{"Hello.js"},
			wantRules: []Rule{{Name: "default", Pattern: ".*", Scenarios: []string{"Hello.js"}}},
		},
		{
			name:      "files with a rules file among them",
			paths:     []string{file("withrules/main.js"), file("withrules/ivr.js"), file("withrules/rules.json")},
			app:       "crm",
			wantApp:   "crm",
			wantFiles: []string{"main.js", "ivr.js"},
			wantRules: []Rule{
				{Name: "ivr", Pattern: "7495.*", Scenarios: []string{"ivr.js", "main.js"}},
				{Name: "rest", Pattern: ".*", Scenarios: []string{"main.js"}},
			},
		},
		{
			name:    "two files without rules",
			paths:   []string{file("norules/a.js"), file("norules/b.js")},
			wantErr: "2 scenario files and no rules: add a rules.json",
		},
		{
			name:    "the same name from two directories",
			paths:   []string{file("norules/a.js"), file("badrules/a.js")},
			app:     "x",
			wantErr: "would both be pushed as a.js",
		},
		{
			name:    "a TypeScript file",
			paths:   []string{file("typescript/main.ts")},
			wantErr: "main.ts is TypeScript, which Vox does not compile",
		},
		{
			name:    "neither JavaScript nor rules",
			paths:   []string{file("withrules/notes.txt")},
			wantErr: "notes.txt: not a JavaScript scenario",
		},
		{
			name:    "a missing file",
			paths:   []string{file("single/nothing.js")},
			wantErr: "nothing.js",
		},
		{
			name:      "a directory with one file",
			paths:     []string{dir("single")},
			wantApp:   "single",
			wantFiles: []string{"Hello.js"},
			wantRules: []Rule{{Name: "default", Pattern: ".*", Scenarios: []string{"Hello.js"}}},
		},
		{
			name:      "a directory with rules.json; a rule may omit .js",
			paths:     []string{dir("withrules")},
			wantApp:   "withrules",
			wantFiles: []string{"ivr.js", "main.js"},
			wantRules: []Rule{
				{Name: "ivr", Pattern: "7495.*", Scenarios: []string{"ivr.js", "main.js"}},
				{Name: "rest", Pattern: ".*", Scenarios: []string{"main.js"}},
			},
		},
		{
			name:    "a directory with two files and no rules",
			paths:   []string{dir("norules")},
			wantErr: "norules has 2 scenario files and no rules.json: add one",
		},
		{
			name:    "rules.json with a syntax error names file, line and column",
			paths:   []string{dir("badrules")},
			wantErr: filepath.Join(dir("badrules"), "rules.json") + ":3:26: invalid character '}'",
		},
		{
			name:    "a directory of TypeScript",
			paths:   []string{dir("typescript")},
			wantErr: "main.ts is TypeScript",
		},
		{
			name:      "voxengine-ci: rules mapped, only the scenarios they name",
			paths:     []string{dir("ci")},
			wantApp:   "demo",
			wantFiles: []string{"common.voxengine.js", "incoming.voxengine.js"},
			wantRules: []Rule{
				{Name: "moscow", Pattern: `7495\d+`, Scenarios: []string{"common.voxengine.js", "incoming.voxengine.js"}},
				{Name: "fallback", Pattern: ".*", Scenarios: []string{"incoming.voxengine.js"}},
			},
		},
		{
			name:      "voxengine-ci: the voxfiles directory itself",
			paths:     []string{dir("ci/voxfiles")},
			app:       "demo.acme.voximplant.com",
			wantApp:   "demo.acme.voximplant.com",
			wantFiles: []string{"common.voxengine.js", "incoming.voxengine.js"},
			wantRules: []Rule{
				{Name: "moscow", Pattern: `7495\d+`, Scenarios: []string{"common.voxengine.js", "incoming.voxengine.js"}},
				{Name: "fallback", Pattern: ".*", Scenarios: []string{"incoming.voxengine.js"}},
			},
		},
		{
			name:    "voxengine-ci: two applications and no choice",
			paths:   []string{dir("ci-two")},
			wantErr: "holds 2 applications (sales, support): choose one with --app",
		},
		{
			name:      "voxengine-ci: two applications, one chosen by its short name",
			paths:     []string{dir("ci-two")},
			app:       "sales",
			wantApp:   "sales",
			wantFiles: []string{"sales.voxengine.js"},
			wantRules: []Rule{{Name: "all", Pattern: ".*", Scenarios: []string{"sales.voxengine.js"}}},
		},
		{
			name:      "voxengine-ci: an application without application.config.json",
			paths:     []string{dir("ci-two")},
			app:       "support",
			wantApp:   "support",
			wantFiles: []string{"support.voxengine.js"},
			wantRules: []Rule{{Name: "all", Pattern: ".*", Scenarios: []string{"support.voxengine.js"}}},
		},
		{
			name:    "voxengine-ci: an unknown application",
			paths:   []string{dir("ci-two")},
			app:     "billing",
			wantErr: `no application "billing" (there are: sales, support)`,
		},
		{
			name:    "voxengine-ci: YAML rules",
			paths:   []string{dir("ci-yaml")},
			wantErr: "rules.config.yml: Vox reads rules from",
		},
		{
			name:    "voxengine-ci: a rule names a missing scenario",
			paths:   []string{dir("ci-missing")},
			wantErr: `rules.config.json: rule "all": scenario "gone": ` + filepath.Join(dir("ci-missing"), "voxfiles", "scenarios", "src", "gone.voxengine.js") + " does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadProject(tt.paths, tt.app)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.App != tt.wantApp {
				t.Errorf("app = %q, want %q", p.App, tt.wantApp)
			}
			var names []string
			for _, f := range p.Files {
				names = append(names, f.Name)
				if f.Source == "" {
					t.Errorf("%s has no source", f.Name)
				}
			}
			if !reflect.DeepEqual(names, tt.wantFiles) {
				t.Errorf("files = %q, want %q", names, tt.wantFiles)
			}
			if !reflect.DeepEqual(p.Rules, tt.wantRules) {
				t.Errorf("rules = %+v, want %+v", p.Rules, tt.wantRules)
			}
			// What LoadProject returns is a valid push.
			if _, err := p.validate(nil, nil); err != nil {
				t.Errorf("the loaded project is refused: %v", err)
			}
		})
	}
}

// TestLoadProjectTypeScriptBuild: a voxengine-ci TypeScript scenario is pushed
// as voxengine-ci built it, and refused when the build is older than the source.
func TestLoadProjectTypeScriptBuild(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string, mtime time.Time) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("voxfiles/applications/app/rules.config.json", `[{"ruleName":"all","scenarios":["queue"]}]`, t0)
	write("voxfiles/scenarios/src/queue.voxengine.ts", `const n: number = 1;`, t0)

	if _, err := LoadProject([]string{root}, ""); err == nil || !strings.Contains(err.Error(), "queue.voxengine.ts is TypeScript, which Vox does not compile, and") {
		t.Fatalf("without a build: err = %v", err)
	}
	write("voxfiles/scenarios/dist/queue.voxengine.js", `const n = 1;`, t0.Add(time.Minute))
	p, err := LoadProject([]string{root}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 1 || p.Files[0].Name != "queue.voxengine.js" || p.Files[0].Source != "const n = 1;" {
		t.Fatalf("files = %+v, want the build as queue.voxengine.js", p.Files)
	}
	write("voxfiles/scenarios/src/queue.voxengine.ts", `const n: number = 2;`, t0.Add(2*time.Minute))
	if _, err := LoadProject([]string{root}, ""); err == nil || !strings.Contains(err.Error(), "is older than") {
		t.Fatalf("with a stale build: err = %v", err)
	}
}

func TestProjectDirs(t *testing.T) {
	root := filepath.Join("testdata", "projects", "ci")
	v := filepath.Join(root, "voxfiles")
	want := []string{root, v, filepath.Join(v, "applications"), filepath.Join(v, "applications", "demo.acme.voximplant.com"),
		filepath.Join(v, "scenarios"), filepath.Join(v, "scenarios", "src")}
	if got := ProjectDirs(root); !reflect.DeepEqual(got, want) {
		t.Errorf("ProjectDirs(%s) = %q, want %q", root, got, want)
	}
	plain := filepath.Join("testdata", "projects", "withrules")
	if got := ProjectDirs(plain); !reflect.DeepEqual(got, []string{plain}) {
		t.Errorf("ProjectDirs(%s) = %q", plain, got)
	}
}

func TestLineColumn(t *testing.T) {
	data := []byte("ab\ncde\nf")
	for _, tt := range []struct{ offset, line, col int }{
		{1, 1, 1}, {2, 1, 2}, {4, 2, 1}, {6, 2, 3}, {8, 3, 1}, {100, 3, 1},
	} {
		if l, c := lineColumn(data, tt.offset); l != tt.line || c != tt.col {
			t.Errorf("lineColumn(%d) = %d:%d, want %d:%d", tt.offset, l, c, tt.line, tt.col)
		}
	}
}
