package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Sentinel errors; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
)

// File is one scenario source of a release.
type File struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// Rule routes a dialled number or user name to scenarios: Pattern must match the
// whole destination; the first matching rule of a release wins, and its scenarios
// run in order in one JS context.
type Rule struct {
	Name      string   `json:"name"`
	Pattern   string   `json:"pattern"`
	Scenarios []string `json:"scenarios"`
}

// Release is an immutable, numbered snapshot of an application.
type Release struct {
	App     string    `json:"app"`
	Number  int       `json:"number"`
	Files   []File    `json:"files"`
	Rules   []Rule    `json:"rules"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Created time.Time `json:"created"`
	// Draft releases (vox dev) reach only the accounts pinned to them; the
	// rollout policy never offers them to anyone else.
	Draft bool `json:"draft,omitempty"`
}

// File returns the release's file with that name.
func (r *Release) File(name string) (File, bool) {
	for _, f := range r.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// Route returns the first rule whose pattern matches the whole destination, and
// that rule's files in order.
func (r *Release) Route(destination string) (Rule, []File, error) {
	for _, rule := range r.Rules {
		re, err := compilePattern(rule.Pattern)
		if err != nil {
			return Rule{}, nil, fmt.Errorf("release %s@%d rule %q: %w", r.App, r.Number, rule.Name, err)
		}
		if !re.MatchString(destination) {
			continue
		}
		files := make([]File, 0, len(rule.Scenarios))
		for _, name := range rule.Scenarios {
			f, ok := r.File(name)
			if !ok {
				return Rule{}, nil, fmt.Errorf("release %s@%d rule %q names missing scenario %q", r.App, r.Number, rule.Name, name)
			}
			files = append(files, f)
		}
		return rule, files, nil
	}
	return Rule{}, nil, fmt.Errorf("release %s@%d: no rule matches %q: %w", r.App, r.Number, destination, ErrNotFound)
}

// patterns keeps compiled rule patterns: Route runs on every call start, and
// compiling a pattern costs more than matching it. Bounded by clearing, which is
// cheap next to how few distinct patterns there are.
var patterns = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

const maxCachedPatterns = 4096

func compilePattern(p string) (*regexp.Regexp, error) {
	patterns.Lock()
	re, ok := patterns.m[p]
	patterns.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		return nil, err
	}
	patterns.Lock()
	if len(patterns.m) >= maxCachedPatterns {
		patterns.m = map[string]*regexp.Regexp{}
	}
	patterns.m[p] = re
	patterns.Unlock()
	return re, nil
}

// Push is what an integrator uploads: the complete set of an application's files
// and rules for its next release.
type Push struct {
	App     string `json:"app"`
	Author  string `json:"author"`
	Message string `json:"message"`
	Files   []File `json:"files"`
	Rules   []Rule `json:"rules"`
	// Canary, when above zero, offers the new release to that percentage of
	// accounts only (vox scenario push --canary 10%).
	Canary int `json:"canary,omitempty"`
	// Draft stores the release without offering it to anyone: vox dev pushes
	// drafts and pins its own account to them.
	Draft bool `json:"draft,omitempty"`
}

// Compiler checks that a scenario file compiles; a syntax error names
// file:line:column. cmd/vox wires the runtime's compiler in, so that a release is
// checked by exactly what will run it.
type Compiler func(name, source string) error

// Warner lists uses of API names the runtime does not implement; they are warned
// about, not refused.
type Warner func(name, source string) []string

// MaxFileSize bounds one scenario file.
const MaxFileSize = 1 << 20

var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidationError is a push refused before anything was stored.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "push refused: " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// validate checks a push and fills in each file's hash. It returns the warnings
// a valid push gets.
func (p *Push) validate(compile Compiler, warn Warner) ([]string, error) {
	var problems, warnings []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !appName.MatchString(p.App) {
		bad("application name %q must be 1-63 lower-case letters, digits, '.', '_' or '-'", p.App)
	}
	if len(p.Files) == 0 {
		bad("no scenario files: a push carries every file of the application")
	}
	seen := map[string]bool{}
	for i := range p.Files {
		f := &p.Files[i]
		switch {
		case f.Name == "" || strings.ContainsAny(f.Name, "/\\") || strings.HasPrefix(f.Name, "."):
			bad("file name %q must be a plain file name", f.Name)
			continue
		case seen[f.Name]:
			bad("file %s is pushed twice", f.Name)
			continue
		case len(f.Source) > MaxFileSize:
			bad("%s is %d bytes; a scenario file may be at most %d (1 MiB)", f.Name, len(f.Source), MaxFileSize)
			continue
		case !utf8.ValidString(f.Source):
			bad("%s is not UTF-8 text", f.Name)
			continue
		}
		seen[f.Name] = true
		sum := sha256.Sum256([]byte(f.Source))
		f.SHA256 = hex.EncodeToString(sum[:])
		if compile != nil {
			if err := compile(f.Name, f.Source); err != nil {
				bad("%s", withOffendingLine(err, f.Source))
				continue
			}
		}
		if warn != nil {
			warnings = append(warnings, warn(f.Name, f.Source)...)
		}
	}
	if p.Canary < 0 || p.Canary > 100 {
		bad("canary share %d%% must be 0 to 100", p.Canary)
	}
	if p.Canary > 0 && p.Draft {
		bad("a draft is offered to nobody, so it cannot be a canary")
	}
	if len(p.Rules) == 0 && len(p.Files) > 0 {
		// One file and no rules: the file answers every destination, which is
		// what a newcomer pushing one scenario expects.
		if len(p.Files) == 1 {
			p.Rules = []Rule{{Name: "default", Pattern: ".*", Scenarios: []string{p.Files[0].Name}}}
		} else {
			bad("no rules: with more than one scenario file, rules must say which runs for which number")
		}
	}
	names := map[string]bool{}
	for _, r := range p.Rules {
		if r.Name == "" {
			bad("a rule has no name")
		} else if names[r.Name] {
			bad("rule %q appears twice", r.Name)
		}
		names[r.Name] = true
		if _, err := compilePattern(r.Pattern); err != nil {
			bad("rule %q: pattern %q is not a valid regular expression: %v", r.Name, r.Pattern, err)
		}
		if len(r.Scenarios) == 0 {
			bad("rule %q names no scenario", r.Name)
		}
		for _, s := range r.Scenarios {
			if !seen[s] {
				bad("rule %q names scenario %q, which is not in the push", r.Name, s)
			}
		}
	}
	sort.Strings(warnings)
	if len(problems) > 0 {
		return warnings, &ValidationError{Problems: problems}
	}
	return warnings, nil
}

// positioned is what a compiler error offers to point at the offending line.
type positioned interface {
	Position() (line, column int)
}

// withOffendingLine appends the source line a syntax error points at, with a caret
// under the column.
func withOffendingLine(err error, source string) string {
	var p positioned
	if !errors.As(err, &p) {
		return err.Error()
	}
	line, col := p.Position()
	lines := strings.Split(source, "\n")
	if line < 1 || line > len(lines) {
		return err.Error()
	}
	text := strings.TrimRight(lines[line-1], "\r")
	caret := ""
	if col >= 1 && col <= len(text)+1 {
		caret = "\n    " + strings.Repeat(" ", col-1) + "^"
	}
	return err.Error() + "\n    " + strings.ReplaceAll(text, "\t", " ") + caret
}
