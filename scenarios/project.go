package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// RulesFile is the optional file of a plain scenario directory that routes
// destinations to its scenarios: [{"name", "pattern", "scenarios": [...]}].
const RulesFile = "rules.json"

// The layout of a project kept the way Voximplant's voxengine-ci tool keeps it:
//
//	voxfiles/applications/<app>/application.config.json  {"applicationName": "..."}
//	voxfiles/applications/<app>/rules.config.json        [{"ruleName", "rulePattern", "scenarios"}]
//	voxfiles/scenarios/src/<scenario>.voxengine.js|ts    what the integrator edits
//	voxfiles/scenarios/dist/<scenario>.voxengine.js      what voxengine-ci builds and uploads
//
// voxengine-ci lets the root be renamed (VOX_CI_ROOT_PATH); such a root is
// recognised by its applications and scenarios directories.
const (
	ciRoot         = "voxfiles"
	ciApplications = "applications"
	ciAppConfig    = "application.config.json"
	ciRulesConfig  = "rules.config"
	ciScenarios    = "scenarios"
	ciSources      = "src"
	ciBuilt        = "dist"
	ciScenarioJS   = ".voxengine.js"
	ciScenarioTS   = ".voxengine.ts"
)

// catchAll is the pattern of a rule that answers every destination.
const catchAll = ".*"

// LoadProject turns what an integrator points `vox scenario push` or `vox dev` at
// into a Push: one or more .js files (with at most one rules .json file among
// them), a directory of .js files with an optional rules.json, or a voxengine-ci
// project. app names the application; when it is "", it is the first file's name
// without its extension, the directory's name, or the voxengine-ci
// application's name. Every error names the file it is about.
func LoadProject(paths []string, app string) (Push, error) {
	if len(paths) == 0 {
		return Push{}, errors.New("no scenario file or directory given")
	}
	if len(paths) == 1 {
		info, err := os.Stat(paths[0])
		if err != nil {
			return Push{}, err
		}
		if info.IsDir() {
			if root, ok := voxengineCIRoot(paths[0]); ok {
				return loadVoxengineCI(root, app)
			}
			return loadDir(paths[0], app)
		}
	}
	return loadFiles(paths, app)
}

// loadFiles reads scenario files named one by one.
func loadFiles(paths []string, app string) (Push, error) {
	var p Push
	rulesPath := ""
	seen := map[string]string{}
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			return Push{}, err
		}
		if info.IsDir() {
			return Push{}, fmt.Errorf("%s is a directory: give one directory, or scenario files", path)
		}
		switch ext := filepath.Ext(path); ext {
		case ".js":
			// A release names files by base name only: a/main.js and b/main.js
			// cannot both be in it.
			name := filepath.Base(path)
			if other, ok := seen[name]; ok {
				return Push{}, fmt.Errorf("%s and %s would both be pushed as %s: rename one", other, path, name)
			}
			seen[name] = path
			f, err := readScenario(path, name)
			if err != nil {
				return Push{}, err
			}
			p.Files = append(p.Files, f)
		case ".json":
			if rulesPath != "" {
				return Push{}, fmt.Errorf("%s: only one rules file may be given, and %s is one already", path, rulesPath)
			}
			rulesPath = path
		case ".ts":
			return Push{}, typeScriptError(path)
		default:
			return Push{}, fmt.Errorf("%s: not a JavaScript scenario (.js) or a rules file (.json)", path)
		}
	}
	if len(p.Files) == 0 {
		return Push{}, fmt.Errorf("%s: rules but no scenario file", rulesPath)
	}
	if rulesPath != "" {
		rules, err := readRules(rulesPath, p.Files)
		if err != nil {
			return Push{}, err
		}
		p.Rules = rules
	} else if len(p.Files) > 1 {
		return Push{}, fmt.Errorf("%d scenario files and no rules: add a %s saying which scenarios answer which numbers", len(p.Files), RulesFile)
	} else {
		p.Rules = defaultRules(p.Files[0].Name)
	}
	p.App = app
	if p.App == "" {
		p.App = defaultAppName(strings.TrimSuffix(p.Files[0].Name, ".js"))
	}
	return p, nil
}

// loadDir reads every .js file of a directory and its rules.json.
func loadDir(dir, app string) (Push, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Push{}, err
	}
	var p Push
	var typeScript []string
	hasRules := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		switch {
		case filepath.Ext(name) == ".js":
			f, err := readScenario(filepath.Join(dir, name), name)
			if err != nil {
				return Push{}, err
			}
			p.Files = append(p.Files, f)
		case filepath.Ext(name) == ".ts" && !strings.HasSuffix(name, ".d.ts"):
			typeScript = append(typeScript, name)
		case name == RulesFile:
			hasRules = true
		}
	}
	if len(p.Files) == 0 {
		if len(typeScript) > 0 {
			return Push{}, typeScriptError(filepath.Join(dir, typeScript[0]))
		}
		return Push{}, fmt.Errorf("%s: no .js scenario files", dir)
	}
	if hasRules {
		rules, err := readRules(filepath.Join(dir, RulesFile), p.Files)
		if err != nil {
			return Push{}, err
		}
		p.Rules = rules
	} else if len(p.Files) > 1 {
		return Push{}, fmt.Errorf("%s has %d scenario files and no %s: add one saying which scenarios answer which numbers, e.g. "+
			`[{"name": "all", "pattern": ".*", "scenarios": [%q]}]`, dir, len(p.Files), RulesFile, p.Files[0].Name)
	} else {
		p.Rules = defaultRules(p.Files[0].Name)
	}
	p.App = app
	if p.App == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return Push{}, err
		}
		p.App = defaultAppName(filepath.Base(abs))
	}
	return p, nil
}

// defaultRules route every destination to the one scenario of a push, as
// Push.validate does for a push without rules.
func defaultRules(file string) []Rule {
	return []Rule{{Name: "default", Pattern: catchAll, Scenarios: []string{file}}}
}

func readScenario(path, name string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	return File{Name: name, Source: string(b)}, nil
}

// readRules reads a rules.json file. A rule may name a scenario without its .js
// extension, as voxengine-ci's rules do.
func readRules(path string, files []File) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rules []Rule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, jsonError(path, data, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value; the file holds one array of rules", path)
	}
	for i := range rules {
		r := &rules[i]
		if r.Pattern == "" {
			return nil, fmt.Errorf("%s: rule %q has no pattern (%q matches every destination)", path, r.Name, catchAll)
		}
		for j, s := range r.Scenarios {
			if !hasFile(files, s) && hasFile(files, s+".js") {
				r.Scenarios[j] = s + ".js"
			}
		}
	}
	return rules, nil
}

func hasFile(files []File, name string) bool {
	return slices.ContainsFunc(files, func(f File) bool { return f.Name == name })
}

// jsonError names the file, and the line and column of a syntax or type error.
func jsonError(path string, data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	offset := int64(-1)
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: empty or truncated JSON", path)
	}
	if offset < 0 {
		return fmt.Errorf("%s: %v", path, err)
	}
	line, col := lineColumn(data, int(offset))
	return fmt.Errorf("%s:%d:%d: %v", path, line, col, err)
}

// lineColumn converts a byte offset to a 1-based line and column. encoding/json
// reports the offset just past the byte that failed, so the column points at it.
func lineColumn(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 1), len(data))
	before := data[:offset-1]
	line = bytes.Count(before, []byte("\n")) + 1
	col = offset - 1 - bytes.LastIndexByte(before, '\n')
	return line, col
}

func typeScriptError(path string) error {
	return fmt.Errorf("%s is TypeScript, which Vox does not compile: compile it to JavaScript (tsc) and push the .js file", path)
}

// defaultAppName makes an application name from a file or directory name.
func defaultAppName(name string) string {
	return strings.ToLower(name)
}

// voxengineCIRoot tells whether dir is a voxengine-ci project (it holds
// voxfiles/) or its root directory itself, and returns the root.
func voxengineCIRoot(dir string) (string, bool) {
	isDir := func(p string) bool {
		info, err := os.Stat(p)
		return err == nil && info.IsDir()
	}
	if root := filepath.Join(dir, ciRoot); isDir(filepath.Join(root, ciApplications)) {
		return root, true
	}
	if isDir(filepath.Join(dir, ciApplications)) && isDir(filepath.Join(dir, ciScenarios, ciSources)) {
		return dir, true
	}
	return "", false
}

// ciApplication is one application directory of a voxengine-ci project.
type ciApplication struct {
	dir  string // voxfiles/applications/<dir name>
	name string // applicationName, "app.account.voximplant.com"
}

// short is the application's name without the Voximplant account's domain.
func (a ciApplication) short() string {
	if strings.HasSuffix(a.name, ".voximplant.com") {
		if i := strings.IndexByte(a.name, '.'); i > 0 {
			return a.name[:i]
		}
	}
	return a.name
}

// loadVoxengineCI reads one application of a voxengine-ci project: its rules,
// and the scenarios they name.
func loadVoxengineCI(root, app string) (Push, error) {
	chosen, err := chooseCIApplication(root, app)
	if err != nil {
		return Push{}, err
	}
	rules, err := readCIRules(chosen.dir)
	if err != nil {
		return Push{}, err
	}
	p := Push{App: app}
	if p.App == "" {
		p.App = defaultAppName(chosen.short())
	}
	// Like voxengine-ci, push the scenarios the rules name and no others: the
	// source directory is shared by every application of the account.
	for _, r := range rules {
		for i, s := range r.Scenarios {
			name := s + ciScenarioJS
			r.Scenarios[i] = name
			if hasFile(p.Files, name) {
				continue
			}
			f, err := readCIScenario(root, s)
			if err != nil {
				return Push{}, fmt.Errorf("%s: rule %q: %w", filepath.Join(chosen.dir, ciRulesConfig+".json"), r.Name, err)
			}
			p.Files = append(p.Files, f)
		}
	}
	p.Rules = rules
	return p, nil
}

func chooseCIApplication(root, app string) (ciApplication, error) {
	appsDir := filepath.Join(root, ciApplications)
	entries, err := os.ReadDir(appsDir)
	if err != nil {
		return ciApplication{}, err
	}
	var all []ciApplication
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		a := ciApplication{dir: filepath.Join(appsDir, e.Name()), name: e.Name()}
		configPath := filepath.Join(a.dir, ciAppConfig)
		if data, err := os.ReadFile(configPath); err == nil {
			var config struct {
				ApplicationName string `json:"applicationName"`
			}
			if err := json.Unmarshal(data, &config); err != nil {
				return ciApplication{}, jsonError(configPath, data, err)
			}
			if config.ApplicationName != "" {
				a.name = config.ApplicationName
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ciApplication{}, err
		}
		all = append(all, a)
	}
	var names []string
	for _, a := range all {
		names = append(names, a.short())
		if app != "" && (app == a.short() || app == a.name || app == filepath.Base(a.dir)) {
			return a, nil
		}
	}
	switch {
	case len(all) == 0:
		return ciApplication{}, fmt.Errorf("%s: no application directories", appsDir)
	case app != "":
		return ciApplication{}, fmt.Errorf("%s: no application %q (there are: %s)", appsDir, app, strings.Join(names, ", "))
	case len(all) > 1:
		return ciApplication{}, fmt.Errorf("%s holds %d applications (%s): choose one with --app", appsDir, len(all), strings.Join(names, ", "))
	}
	return all[0], nil
}

// readCIRules reads rules.config.json, mapping voxengine-ci's ruleName,
// rulePattern and scenarios to a Rule. voxengine-ci also reads YAML and TOML
// rules; Vox reads JSON only and says so rather than ignoring the file.
func readCIRules(appDir string) ([]Rule, error) {
	path := filepath.Join(appDir, ciRulesConfig+".json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		for _, ext := range []string{".yml", ".yaml", ".toml"} {
			if other := filepath.Join(appDir, ciRulesConfig+ext); fileExists(other) {
				return nil, fmt.Errorf("%s: Vox reads rules from %s only; convert the file to JSON", other, path)
			}
		}
		return nil, fmt.Errorf("%s: no rules; voxengine-ci keeps an application's rules there", path)
	}
	if err != nil {
		return nil, err
	}
	var ciRules []struct {
		RuleName    string   `json:"ruleName"`
		RulePattern string   `json:"rulePattern"`
		Scenarios   []string `json:"scenarios"`
	}
	if err := json.Unmarshal(data, &ciRules); err != nil {
		return nil, jsonError(path, data, err)
	}
	if len(ciRules) == 0 {
		return nil, fmt.Errorf("%s: no rules", path)
	}
	rules := make([]Rule, 0, len(ciRules))
	for _, r := range ciRules {
		pattern := r.RulePattern
		if pattern == "" {
			pattern = catchAll
		}
		rules = append(rules, Rule{Name: r.RuleName, Pattern: pattern, Scenarios: slices.Clone(r.Scenarios)})
	}
	return rules, nil
}

// readCIScenario reads scenario name from the sources, or, for TypeScript, from
// what voxengine-ci built of it, as long as the build is not older than the
// source. The file is pushed as <name>.voxengine.js, the name the integrator
// sees in the sources.
func readCIScenario(root, name string) (File, error) {
	src := filepath.Join(root, ciScenarios, ciSources, name+ciScenarioJS)
	if fileExists(src) {
		return readScenario(src, name+ciScenarioJS)
	}
	ts := filepath.Join(root, ciScenarios, ciSources, name+ciScenarioTS)
	tsInfo, err := os.Stat(ts)
	if err != nil {
		return File{}, fmt.Errorf("scenario %q: %s does not exist", name, src)
	}
	built := filepath.Join(root, ciScenarios, ciBuilt, name+ciScenarioJS)
	builtInfo, err := os.Stat(built)
	if err != nil {
		return File{}, fmt.Errorf("%s is TypeScript, which Vox does not compile, and %s does not exist: build it with `npx voxengine-ci upload --application-name APP --dry-run`", ts, built)
	}
	if builtInfo.ModTime().Before(tsInfo.ModTime()) {
		return File{}, fmt.Errorf("%s is older than %s: rebuild it with `npx voxengine-ci upload --application-name APP --dry-run`", built, ts)
	}
	return readScenario(built, name+ciScenarioJS)
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// ProjectDirs lists the directories LoadProject reads for dir, so that a
// watcher sees every file a push would carry: dir itself and, for a
// voxengine-ci project, its root, application, source and build directories.
func ProjectDirs(dir string) []string {
	dirs := []string{dir}
	root, ok := voxengineCIRoot(dir)
	if !ok {
		return dirs
	}
	if root != dir {
		dirs = append(dirs, root)
	}
	apps := filepath.Join(root, ciApplications)
	scenarios := filepath.Join(root, ciScenarios)
	dirs = append(dirs, apps, scenarios, filepath.Join(scenarios, ciSources))
	if entries, err := os.ReadDir(apps); err == nil {
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				dirs = append(dirs, filepath.Join(apps, e.Name()))
			}
		}
	}
	if built := filepath.Join(scenarios, ciBuilt); fileOrDirExists(built) {
		dirs = append(dirs, built)
	}
	sort.Strings(dirs[1:])
	return dirs
}

func fileOrDirExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
