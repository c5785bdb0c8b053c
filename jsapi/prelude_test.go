package jsapi

import (
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// BenchmarkInstallPrelude is what the VoxEngine layer costs every session before
// its scenario runs; `make bench` shows it inside the session start figure.
func BenchmarkInstallPrelude(b *testing.B) {
	if _, err := Prelude(); err != nil {
		b.Fatal(err)
	}
	host := &fakeHost{}
	b.ReportAllocs()
	for b.Loop() {
		vm := goja.New()
		if _, err := InstallPrelude(vm, host.object(vm)); err != nil {
			b.Fatal(err)
		}
	}
}

// HasAsyncOrGenerator must see every form that makes an async or a generator
// function: a session that it misses would run without the guard on their
// constructors.
func TestHasAsyncOrGenerator(t *testing.T) {
	cases := map[string]bool{
		`async function f() {}`:                   true,
		`const f = async function () {};`:         true,
		`const f = async () => 1;`:                true,
		`const f = async x => x;`:                 true,
		`function* g() {}`:                        true,
		`const g = function* () {};`:              true,
		`async function* g() {}`:                  true,
		`class C { async m() {} }`:                true,
		`class C { *g() {} }`:                     true,
		`class C { static async m() {} }`:         true,
		`const o = { async m() {} };`:             true,
		`const o = { *g() {} };`:                  true,
		`f(() => { return () => async () => 1 })`: true,
		`function f() { return 2 * 3; }`:          false,
		`const f = () => 1; class C { m() {} }`:   false,
		`const s = "async function () {}";`:       false,
		`const async = 1; async + 1;`:             false,
	}
	for src, want := range cases {
		prog, err := parser.ParseFile(nil, "test.js", src, 0)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := HasAsyncOrGenerator(prog); got != want {
			t.Errorf("HasAsyncOrGenerator(%s) = %v, want %v", src, got, want)
		}
	}
}

// Without async and generator functions in the VM, code from strings is
// refused all the same, and the layer itself defines none, or the option would
// be ignored.
func TestInstallWithoutAsyncOrGenerators(t *testing.T) {
	p, err := preludeProgram()
	if err != nil {
		t.Fatal(err)
	}
	if p.asyncOrGenerators {
		t.Error("the VoxEngine layer defines an async or a generator function")
	}
	for _, expr := range []string{`eval("1")`, `Function("return 1")`, `(() => 1).constructor("return 1")`, `new Function.prototype.constructor("return 1")`} {
		vm := goja.New()
		if _, err := Install(vm, nopHost{}, Options{NoAsyncOrGenerators: true}); err != nil {
			t.Fatal(err)
		}
		_, err := vm.RunString(expr)
		if err == nil || !strings.Contains(err.Error(), "code generation from strings is not allowed") {
			t.Errorf("%s: err = %v, want code generation refused", expr, err)
		}
	}
}
