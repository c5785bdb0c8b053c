package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNesting(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	tests := []struct {
		name string
		src  string
		ok   bool
	}{
		{"ordinary code", "function f(a) { return [a, {b: (1 + 2)}]; }", true},
		{"at the limit", deep("(", ")", MaxNesting), true},
		{"parentheses beyond the limit", deep("(", ")", MaxNesting+1), false},
		{"arrays beyond the limit", "var a = " + deep("[", "]", 20000), false},
		{"objects beyond the limit", "var a = " + strings.Repeat("{a:", 20000) + "1" + strings.Repeat("}", 20000), false},
		{"brackets in strings do not count", "var s = '" + strings.Repeat("(", 20000) + "'; var d = \"" + strings.Repeat("[", 20000) + "\";", true},
		{"brackets in comments do not count", "// " + strings.Repeat("{", 20000) + "\n/* " + strings.Repeat("(", 20000) + " */ var x = 1;", true},
		{"brackets in a regexp literal do not count", "var r = /" + strings.Repeat("\\(", 20000) + "/; var q = a / b / c;", true},
		{"template text does not count, its expressions do", "var t = `" + strings.Repeat("(", 20000) + "${ {a: `${[1]}`} }`;", true},
		{"template expressions beyond the limit", "var t = `${" + deep("(", ")", 20000) + "}`;", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkNesting("deep.js", tt.src)
			if tt.ok != (err == nil) {
				t.Fatalf("checkNesting = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "deep.js:1:") {
				t.Errorf("the error does not point into the file: %v", err)
			}
		})
	}
}

// Half a million nested brackets overflowed goja's parser and killed the process;
// Compile now refuses them with a position.
func TestCompileRefusesDeepNesting(t *testing.T) {
	src := strings.Repeat("(", 1<<19) + "1" + strings.Repeat(")", 1<<19)
	_, err := Compile("deep.js", src)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 1 || se.Column != MaxNesting+1 {
		t.Fatalf("err = %v, want a SyntaxError at 1:%d", err, MaxNesting+1)
	}
}

// Every bundled scenario passes the check: it must not refuse real code.
func TestCheckNestingAcceptsBundledScenarios(t *testing.T) {
	for _, pattern := range []string{"../examples/*/*.js", "../testdata/sim/*.js", "../jsapi/voxengine/*.js", "../testdata/hostile/*.js"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkNesting(f, string(src)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}
