package jsapi

import (
	"errors"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func guardedVM(t testing.TB) *goja.Runtime {
	t.Helper()
	vm := goja.New()
	if err := guardAllocations(vm, DefaultMaxAlloc); err != nil {
		t.Fatalf("guard: %v", err)
	}
	return vm
}

// TestGuardsKeepOrdinaryBehaviour runs what scenarios do every day through the
// guarded builtins: each expression must give what an unguarded engine gives.
func TestGuardsKeepOrdinaryBehaviour(t *testing.T) {
	cases := []struct{ name, expr, want string }{
		{"repeat", `"ab".repeat(3)`, "ababab"},
		{"pad", `"7".padStart(3, "0") + "7".padEnd(3, "-")`, "0077--"},
		{"concat converts in order", `"a".concat(1, {toString() { return "b" }}, null)`, "a1bnull"},
		{"split string", `"a,b,,c".split(",", 3).join("|")`, "a|b|"},
		{"split regexp", `"a1b22c".split(/\d+/).join("|")`, "a|b|c"},
		{"replace substitutions", "`2024-05-01`.replace(/(\\d+)-(\\d+)-(\\d+)/, \"$3.$2.$1 [$&] $$\")", "01.05.2024 [2024-05-01] $"},
		{"replace named group", `"ab".replace(/(?<x>a)/, "[$<x>]")`, "[a]b"},
		{"replaceAll function", `"a-b-c".replaceAll("-", (m, i) => i)`, "a1b3c"},
		{"replace global regexp", `"aaa".replace(/a/g, "$'.")`, "aa.a.."},
		{"json allow-list order", `JSON.stringify({b: 1, a: 2, c: {a: 3, b: 4}}, ["a", "c", "a"])`, `{"a":2,"c":{"a":3}}`},
		{"json allow-list inherited", `JSON.stringify(Object.create({a: 1}), ["a"])`, `{"a":1}`},
		{"json plain", `JSON.stringify({a: [1, "x", null, true], d: new Date(0)}, null, 1)`, "{\n \"a\": [\n  1,\n  \"x\",\n  null,\n  true\n ],\n \"d\": \"1970-01-01T00:00:00.000Z\"\n}"},
		{"json toJSON and undefined", `JSON.stringify({toJSON() { return {x: undefined, y: [undefined]} }})`, `{"y":[null]}`},
		{"json replacer function", `JSON.stringify({a: 1, b: 2}, (k, v) => k === "b" ? undefined : v)`, `{"a":1}`},
		{"json boxed", `JSON.stringify([new String("s"), new Number(1)], ["x"])`, `["s",1]`},
		{"json parse", `JSON.parse('{"a":[{"b":"[[[["}]}', (k, v) => v).a[0].b`, "[[[["},
		{"array constructor", `[Array(3).length, Array(1, 2).length, new Array("3")[0], [].constructor === Array, [] instanceof Array].join()`, "3,2,3,true,true"},
		{"array subclass", `class L extends Array { sum() { return this.reduce((a, b) => a + b, 0) } }; L.from([1, 2, 3]).sum() + (new L(2).length)`, "8"},
		{"array methods", `[3, 1, 2].sort().concat([4], 5).map((x) => x * 2).filter((x) => x > 2).slice(1).join("-")`, "6-8-10"},
		{"array species", `[1, 2, 3].map((x) => x).constructor === Array`, "true"},
		{"typed arrays", `new Uint8Array(new ArrayBuffer(8), 2, 4).length + new Int32Array([1, 2]).length + Float64Array.from({length: 2}).length`, "8"},
		{"regexp exec and lastIndex", `const r = /a(\d)/g; r.exec("a1a2"); r.exec("a1a2")[1] + r.lastIndex`, "24"},
		{"regexp backreference", `/^(a+)\1$/.test("aaaa") + "" + "x1y".search(/\d/)`, "true1"},
		{"regexp matchAll", `[..."a1b2".matchAll(/\d/g)].map((m) => m[0] + m.index).join()`, "11,23"},
		{"regexp constructor", `new RegExp("a+", "g").flags + RegExp("(x)").source + (/x/ instanceof RegExp)`, "g(x)true"},
		{"keys", `Object.keys("abc").length + Object.entries([1, 2]).length + Reflect.ownKeys({a: 1}).length`, "6"},
		{"apply", `Math.max.apply(null, [1, 5, 2]) + Reflect.apply(Math.min, null, [3, 4])`, "8"},
		{"names kept", `[String.prototype.repeat.name, Array.prototype.join.name, RegExp.prototype[Symbol.replace].name, Array.name].join()`, "repeat,join,[Symbol.replace],Array"},
		{"lengths kept", `[String.prototype.padStart.length, Array.prototype.splice.length, JSON.stringify.length, Uint8Array.length].join()`, "1,2,3,3"},
		{"typed array family", `[new Uint8Array(1) instanceof Uint8Array, new Uint8Array(1) instanceof Int8Array, new Float64Array(2).map((x) => x).constructor === Float64Array, Int16Array.prototype.constructor === Int16Array, new Uint8Array(4).buffer.constructor === ArrayBuffer, class extends Uint16Array {}.BYTES_PER_ELEMENT].join()`, "true,false,true,true,true,2"},
		{"instanceof", `[[] instanceof Array, /x/ instanceof RegExp, new ArrayBuffer(1) instanceof ArrayBuffer, ({}) instanceof Array, (() => 1) instanceof Function].join()`, "true,true,true,false,true"},
		{"function instances", `(function () {}) instanceof Function && typeof Function.prototype.call`, "function"},
		{"case", `"straße".toUpperCase()`, "STRASSE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := guardedVM(t).RunString(tc.expr)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if got.String() != tc.want {
				t.Errorf("%s = %q, want %q", tc.expr, got.String(), tc.want)
			}
		})
	}
}

// TestGuardsRefuse checks that each guard throws the error a scenario can read,
// before the builtin does the work.
func TestGuardsRefuse(t *testing.T) {
	cases := []struct{ name, expr, want string }{
		{"repeat", `"ab".repeat(1e9)`, "RangeError: String.prototype.repeat would allocate"},
		{"padStart", `"".padStart(2 ** 30)`, "RangeError: String.prototype.padStart would allocate"},
		{"concat", `const m = "x".repeat(1 << 20); m.concat(m, m, m, m, m, m, m, m)`, "RangeError: String.prototype.concat would allocate"},
		{"normalize", `"x".repeat(1 << 20).normalize("NFKD")`, "RangeError: String.prototype.normalize would allocate"},
		{"split", `"x".repeat(1 << 20).split("")`, "RangeError: String.prototype.split would allocate"},
		{"replace large replacement", `"x".repeat(1000).replace(/x/g, "y".repeat(1e5))`, "RangeError: String.prototype.replace would allocate"},
		{"replace function output", `"x".repeat(100).replace(/x/g, () => "y".repeat(1 << 20))`, "RangeError: String.prototype.replace with a replacement function would allocate"},
		{"replaceAll prefix", `"a".repeat(1e5).replaceAll("a", "$\x60")`, "RangeError: String.prototype.replaceAll would allocate"},
		{"Array(n)", `Array(2e7)`, "RangeError: Array(20000000)"},
		{"new Array(n)", `new Array(2e7)`, "RangeError: new Array(20000000)"},
		{"Array via constructor property", `new ([].constructor)(2e7)`, "RangeError: new Array(20000000)"},
		{"Array.from", `Array.from({length: 1e9})`, "RangeError: new Array(1000000000)"},
		{"array-like indexOf", `Array.prototype.indexOf.call({length: 2 ** 53}, 1)`, "RangeError: Array.prototype.indexOf"},
		{"long array fill", `const a = []; a.length = 1e8; a.fill(0)`, "RangeError: Array.prototype.fill"},
		{"concat spreadable", `[].concat({length: 1e9, [Symbol.isConcatSpreadable]: true})`, "RangeError: Array.prototype.concat"},
		{"join separator", `new Array(1e6).join("x".repeat(100))`, "RangeError: Array.prototype.join would allocate"},
		// A method's name is the scenario's to change; the guard it gets is not.
		{"join renamed", `Object.defineProperty(Array.prototype.join, "name", {value: "concat"}); new Array(1e6).join("x".repeat(100))`, "RangeError: Array.prototype.concat would allocate"},
		{"replaceAll renamed", `Object.defineProperty(String.prototype.replaceAll, "name", {value: "replace"}); "a".repeat(1e5).replaceAll("a", "$\x60")`, "would allocate"},
		{"apply", `Math.max.apply(null, {length: 1e9})`, "RangeError: Function.prototype.apply"},
		{"Reflect.construct", `Reflect.construct(Date, {length: 1e9})`, "RangeError: Reflect.construct"},
		{"ArrayBuffer", `new ArrayBuffer(2 ** 30)`, "RangeError: new ArrayBuffer(1073741824) would allocate"},
		{"typed array", `new Float64Array(1e8)`, "RangeError: new Float64Array would allocate"},
		{"typed array element size", `new Float64Array(3e6)`, "RangeError: new Float64Array would allocate about 22 MiB"},
		{"typed array subclass", `new (class extends Int32Array {})(1e8)`, "RangeError: new Int32Array would allocate"},
		{"typed array from array-like", `Uint8Array.from({length: 1e9})`, "RangeError: new Uint8Array would allocate"},
		{"Object.keys", `Object.keys("x".repeat(8e6))`, "RangeError: Object.keys would allocate"},
		{"JSON.parse depth", `JSON.parse("[".repeat(5000) + "]".repeat(5000))`, "RangeError: JSON.parse: the text nests 5000 levels deep"},
		{"RegExp depth", `new RegExp("(".repeat(5000) + ")".repeat(5000))`, "RangeError: new RegExp: the pattern nests 5000 groups deep"},
		{"RegExp compile depth", `/x/.compile("(".repeat(5000) + ")".repeat(5000))`, "RangeError: RegExp.prototype.compile: the pattern nests"},
		{"eval", `eval("1")`, "EvalError: eval: code generation from strings is not allowed"},
		{"Function", `Function("return 1")`, "EvalError: Function: code generation from strings is not allowed"},
		{"new Function", `new Function("return 1")`, "EvalError: Function: code generation"},
		{"Function via constructor", `(() => 1).constructor("return 1")`, "EvalError: Function: code generation"},
		{"AsyncFunction", `(async () => 1).constructor("return 1")`, "EvalError: Function: code generation"},
		{"GeneratorFunction", `(function* () {}).constructor("yield 1")`, "EvalError: Function: code generation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := guardedVM(t).RunString(tc.expr)
			var ex *goja.Exception
			if !errors.As(err, &ex) {
				t.Fatalf("%s: err = %v, want a JS exception", tc.expr, err)
			}
			if !strings.Contains(ex.Value().String(), tc.want) {
				t.Errorf("%s threw %q, want %q", tc.expr, ex.Value().String(), tc.want)
			}
		})
	}
}

// TestGuardCatastrophicRegexp checks that a match regexp2 abandons is reported,
// not passed off as "no match", by whichever method ran it: the String and
// Symbol methods reach the match through exec.
func TestGuardCatastrophicRegexp(t *testing.T) {
	for _, call := range []string{`re.test(s)`, `re.exec(s)`, `s.replace(re, "x")`, `s.match(re)`, `s.search(re)`, `s.split(re)`} {
		t.Run(call, func(t *testing.T) {
			t.Parallel()
			_, err := guardedVM(t).RunString(`const re = /^(a+)+\1?$/, s = "a".repeat(40) + "b"; ` + call)
			var ex *goja.Exception
			if !errors.As(err, &ex) || !strings.Contains(ex.Value().String(), "catastrophic backtracking") {
				t.Fatalf("err = %v, want a RangeError about catastrophic backtracking", err)
			}
		})
	}
}

// TestGuardSlowReplacerIsNotBacktracking: the time a replacer function takes is
// the scenario's, not the pattern's. Timing replace as a whole took a replacer
// that ran most of a second for an abandoned match.
func TestGuardSlowReplacerIsNotBacktracking(t *testing.T) {
	for _, pattern := range []string{`/b/g`, `/(?=b)b/g`} { // Go's regexp, regexp2
		t.Run(pattern, func(t *testing.T) {
			t.Parallel()
			v, err := guardedVM(t).RunString(`"abc".replace(` + pattern + `, () => { const t = Date.now(); while (Date.now() - t < 900); return "x"; })`)
			if err != nil || v.String() != "axc" {
				t.Fatalf("replace = %v, %v; want axc", v, err)
			}
		})
	}
}

// TestBacktracks checks that the guard tells the patterns goja gives regexp2
// from those it gives Go's regexp as goja itself does, reading goja's choice
// from the compiled RegExp. Where the guard is unsure it must say regexp2.
func TestBacktracks(t *testing.T) {
	cases := []struct {
		pattern, flags string
		unsure         bool // the guard says regexp2 whatever goja chose
	}{
		{`(\w)\w+`, "g", false},
		{`^(a+)+$`, "", false},
		{`(\w)\1`, "", false},
		{`(?=b)b`, "g", false},
		{`(?<!a)b`, "", false},
		{`(?<year>\d{4})-\k<year>`, "", false},
		{`a{2000}`, "", false},
		{`^.$`, "su", false},
		{`[^]x`, "im", false},
		{`\d+\/\d+`, "", false},
		{`\u0041+`, "", true},
		{`😀+`, "u", true},
	}
	vm := goja.New()
	for _, c := range cases {
		re, err := vm.RunString("/" + c.pattern + "/" + c.flags)
		if err != nil {
			t.Fatalf("/%s/%s: %v", c.pattern, c.flags, err)
		}
		obj := re.ToObject(vm)
		got := backtracks(obj.Get("source").String(), obj.Get("flags").String())
		want := gojaUsesRegexp2(t, obj)
		if got != want && !(c.unsure && got) {
			t.Errorf("/%s/%s: backtracks = %v, goja uses regexp2: %v", c.pattern, c.flags, got, want)
		}
	}
}

// gojaUsesRegexp2 reads which engine goja compiled a RegExp for. It reaches into
// goja's unexported fields, so a goja upgrade that renames them fails this test
// rather than leaving backtracks to drift from goja's choice unnoticed.
func gojaUsesRegexp2(t *testing.T, re *goja.Object) bool {
	t.Helper()
	self := reflect.ValueOf(re).Elem().FieldByName("self")
	if !self.IsValid() || self.IsNil() {
		t.Fatal("goja.Object has no self field")
	}
	pattern := self.Elem().Elem().FieldByName("pattern")
	if !pattern.IsValid() || pattern.IsNil() {
		t.Fatal("goja's regexpObject has no pattern field")
	}
	wrapper := pattern.Elem().FieldByName("regexp2Wrapper")
	if !wrapper.IsValid() {
		t.Fatal("goja's regexpPattern has no regexp2Wrapper field")
	}
	return !wrapper.IsNil()
}

// TestGuardCheckpointsLetInterruptsIn checks that a builtin that runs long in Go
// calling back into the guards (JSON.stringify of a value that doubles at each
// level) stops at an interrupt instead of running to its end.
func TestGuardCheckpointsLetInterruptsIn(t *testing.T) {
	vm := guardedVM(t)
	timer := time.AfterFunc(50*time.Millisecond, func() { vm.Interrupt("stop") })
	defer timer.Stop()
	_, err := vm.RunString(`let v = [1]; for (let i = 0; i < 40; i++) v = [v, v]; JSON.stringify(v).length`)
	var interrupted *goja.InterruptedError
	if !errors.As(err, &interrupted) {
		t.Fatalf("err = %v, want the interrupt", err)
	}
}

// TestScenarioHasNoWayOut checks what an installed VM offers a scenario for
// reaching the host: no file system, no processes, no module loader beyond the
// VoxEngine modules.
func TestScenarioHasNoWayOut(t *testing.T) {
	vm := goja.New()
	if _, err := Install(vm, nopHost{}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, global := range []string{"load", "process", "os", "fs", "Deno", "Bun", "importScripts", "fetch", "XMLHttpRequest", "WebAssembly", "SharedArrayBuffer", "Atomics"} {
		v, err := vm.RunString("typeof " + global)
		if err != nil || v.String() != "undefined" {
			t.Errorf("typeof %s = %v (%v), want undefined", global, v, err)
		}
	}
	for _, expr := range []string{`require("fs")`, `require("child_process")`, `import("fs")`} {
		if _, err := vm.RunString(expr); err == nil {
			t.Errorf("%s succeeded, want an error", expr)
		}
	}
}

type nopHost struct{}

func (nopHost) Command(string, []any) error { return nil }
func (nopHost) NewCallID() string           { return "id" }
func (nopHost) Log(string)                  {}
func (nopHost) Warn(string)                 {}
func (nopHost) SetTimer(goja.Callable, []goja.Value, time.Duration, bool) (int64, error) {
	return 1, nil
}
func (nopHost) ClearTimer(int64) {}

// BenchmarkGuardInstall is what the guards add to every session start: Install
// with them against the same steps without them.
func BenchmarkGuardInstall(b *testing.B) {
	b.Run("unguarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vm := goja.New()
			if err := installTimers(vm, nopHost{}); err != nil {
				b.Fatal(err)
			}
			if _, err := InstallPrelude(vm, hostObject(vm, nopHost{})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("guarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Install(goja.New(), nopHost{}, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRegexpAbandoned: a match is judged abandoned by regexp2 from how long it
// took by the wall clock and how much of this thread's CPU it used, so a sound
// match that waited for a core on a loaded machine is not mistaken for a
// catastrophic one.
func TestRegexpAbandoned(t *testing.T) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	cpu, ok := threadCPU()
	if !ok {
		t.Fatal("the thread's CPU clock cannot be read")
	}
	now := time.Now()
	cases := []struct {
		name      string
		start     regexpStart
		abandoned bool
	}{
		{"quick", regexpStart{wall: now, cpu: cpu, cpuOK: true}, false},
		{"waited for a core", regexpStart{wall: now.Add(-600 * time.Millisecond), cpu: cpu, cpuOK: true}, false},
		{"burned the CPU, cut early", regexpStart{wall: now.Add(-600 * time.Millisecond), cpu: cpu - 550*time.Millisecond, cpuOK: true}, true},
		{"ran to the timeout", regexpStart{wall: now.Add(-RegexpTimeout), cpu: cpu, cpuOK: true}, true},
		{"no CPU clock, half the timeout", regexpStart{wall: now.Add(-600 * time.Millisecond)}, false},
		{"CPU from another thread", regexpStart{wall: now.Add(-600 * time.Millisecond), cpu: cpu - time.Hour, cpuOK: true}, false},
	}
	// No subtests: each runs on its own goroutine, off this locked thread.
	for _, c := range cases {
		if _, got := c.start.abandoned(); got != c.abandoned {
			t.Errorf("%s: abandoned = %v, want %v", c.name, got, c.abandoned)
		}
	}
}
