package standard_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"vox/jsapi"
	"vox/runtime"
	"vox/scenarios"
	"vox/scenarios/standard"
)

// The embedded push is what vox serve stores: every file compiles with the
// runtime's compiler, uses nothing the VoxEngine layer lacks, and runs in the
// one rule, which answers every number.
func TestPushIsTheWholeScenario(t *testing.T) {
	p, err := standard.Push()
	if err != nil {
		t.Fatal(err)
	}
	if p.App != standard.App || len(p.Rules) != 1 || p.Rules[0].Pattern != ".*" {
		t.Fatalf("push: app %q, rules %+v", p.App, p.Rules)
	}
	var names []string
	for _, f := range p.Files {
		names = append(names, f.Name)
		if _, err := runtime.Compile(f.Name, f.Source); err != nil {
			t.Errorf("compile: %v", err)
		}
		if warnings := jsapi.Unimplemented(f.Name, f.Source); len(warnings) > 0 {
			t.Errorf("%s uses what Vox lacks: %v", f.Name, warnings)
		}
	}
	rule := slices.Clone(p.Rules[0].Scenarios)
	slices.Sort(rule)
	if !slices.Equal(rule, names) {
		t.Errorf("the rule runs %v, the directory has %v: a file is missing from one", p.Rules[0].Scenarios, names)
	}
	if p.Rules[0].Scenarios[len(rule)-1] != "incoming.js" {
		t.Errorf("incoming.js, which uses every other file, must run last: %v", p.Rules[0].Scenarios)
	}
	// The directory, read as vox scenario push reads it, is the same push.
	fromDir, err := scenarios.LoadProject([]string{"."}, standard.App)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromDir.Files) != len(p.Files) || !slices.Equal(fromDir.Rules[0].Scenarios, p.Rules[0].Scenarios) {
		t.Errorf("vox scenario push would push %+v, the binary %+v", fromDir.Rules, p.Rules)
	}
	for i, f := range fromDir.Files {
		if f != p.Files[i] {
			t.Errorf("file %s differs between the directory and the binary", f.Name)
		}
	}
}

// Every setting the scenario reads (the keys of its defaults) is documented in
// README.md's table, so the schema the portal writes against is the one that
// runs.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	src, err := os.ReadFile("settings.js")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	if _, err := vm.RunScript("settings.js", string(src)); err != nil {
		t.Fatal(err)
	}
	v, err := vm.RunString(`(function keys(o, prefix) {
		return Object.keys(o).flatMap((k) => {
			const v = o[k], path = prefix + k;
			return v !== null && typeof v === "object" && !Array.isArray(v) && k !== "extensions" ? keys(v, path + ".") : [path];
		});
	})(defaultSettings(), "")`)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := vm.ExportTo(v, &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 20 {
		t.Fatalf("only %d settings found: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(readme), "| `"+k+"`") && !strings.Contains(string(readme), ", `"+k+"` |") {
			t.Errorf("README.md's table lacks the setting %s", k)
		}
	}
}

// The settings shipped and documented are ones the scenario takes without a
// single problem: the demo's, and README.md's example.
func TestShippedSettingsHaveNoProblems(t *testing.T) {
	src, err := os.ReadFile("settings.js")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(readme), "```json\n")
	example, _, ok2 := strings.Cut(example, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```json example")
	}
	vm := goja.New()
	if _, err := vm.RunScript("settings.js", string(src)); err != nil {
		t.Fatal(err)
	}
	check, ok := goja.AssertFunction(vm.Get("checkSettings"))
	if !ok {
		t.Fatal("settings.js defines no checkSettings")
	}
	for name, doc := range map[string]string{"demo-settings.json": string(standard.DemoSettings), "README.md's example": example} {
		raw, err := vm.RunString("(" + doc + ")")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := check(goja.Undefined(), raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var problems []string
		if err := vm.ExportTo(res.ToObject(vm).Get("problems"), &problems); err != nil {
			t.Fatal(err)
		}
		if len(problems) > 0 {
			t.Errorf("%s: %v", name, problems)
		}
	}
}
