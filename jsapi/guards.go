package jsapi

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// goja has no memory limit of its own, and Runtime.Interrupt only stops JS: a Go
// builtin that is already running finishes first, however long it takes and
// however much it allocates. So every builtin whose work is set by its arguments
// rather than by memory the scenario already holds ("x".repeat(1e9),
// indexOf on {length: 2**53}, JSON.stringify of a value that doubles at each
// level) is guarded here: the guard estimates the work from the arguments and
// throws a RangeError before calling the original, or makes the builtin call back
// into JS often enough for the watchdog's interrupt to land. Builtins that
// recurse on the Go stack (the JS parser behind eval, JSON.parse, the regexp
// parsers) are guarded too: a Go stack overflow ends the whole process, not just
// the call.

// RegexpTimeout bounds one regular-expression match run by dlclark/regexp2, the
// backtracking engine goja falls back to for patterns Go's linear-time regexp
// cannot express (backreferences, lookaround). Interrupt cannot stop a match, so
// without it /^(a+)+\1?$/ on forty a's and a b runs for minutes.
const RegexpTimeout = time.Second

func init() {
	// The timeout is a package variable of regexp2 because goja compiles patterns
	// itself and offers no way to pass options. Setting it process-wide is right
	// here: goja is regexp2's only importer in Vox, so every regexp2 pattern in the
	// process is a scenario's, and Voximplant's budget for any one scenario
	// callback is one second of CPU. The clock is wall time, which is never less
	// than the thread's CPU time, so no match can use more than that budget. It is
	// set in init, before any program can be compiled, because regexp2 copies it
	// into each pattern when the pattern is compiled.
	regexp2.DefaultMatchTimeout = RegexpTimeout
}

// Cost model: what goja stores at least, in bytes, for
const (
	bytesPerChar    = 2  // a string character (UTF-16 in the worst case)
	bytesPerSlot    = 16 // an array element or argument (a goja.Value interface)
	bytesPerPiece   = 48 // a short string in an array (slot, string header, data)
	maxNormalize    = 18 // characters one code point may become under NFKD (U+FDFA)
	maxCaseChange   = 3  // characters one may become under toUpperCase ("ŉ" -> "ʼN")
	maxNesting      = 1000
	checkpointEvery = 32
)

// guard holds one session's limits for the wrappers of its VM.
type guard struct {
	vm       *goja.Runtime
	limit    int64 // bytes one builtin call may allocate
	maxElems int64 // array length or argument count within limit
	noop     goja.Callable
	ticks    int
	// originals holds, for the original behind each proxy, what its trap needs.
	originals map[*goja.Object]original
	// hasInstance is the Symbol.hasInstance of every constructor behind a proxy;
	// one function serves them all because it reads the prototype from this.
	hasInstance goja.Value
}

// The wrappers are native proxies of the originals rather than new functions:
// a proxy is a fraction of the size of a native function (whose own property
// table holds name and length), it keeps the original's name and length without
// copying them, and one trap serves every method. Each session pays for the
// guards when it starts, so what is built here is built once per call.
//
// What cannot be saved is goja building the originals: builtins are made on
// first touch from templates, and replacing a global or a prototype property,
// even with a lazy accessor, builds what it replaces. So guarding Uint8Array
// lazily, on the scenario's first use, would still build Uint8Array at start.

func guardAllocations(vm *goja.Runtime, limit int64) error {
	return guardBuiltins(vm, limit, true)
}

// guardBuiltins is guardAllocations; asyncOrGenerators false leaves out the
// async and generator function constructors, for a VM whose code defines no
// async or generator function (Options.NoAsyncOrGenerators).
func guardBuiltins(vm *goja.Runtime, limit int64, asyncOrGenerators bool) error {
	g := &guard{vm: vm, limit: limit, maxElems: limit / bytesPerSlot, originals: make(map[*goja.Object]original, guarded)}
	prog := noopProgram()
	if asyncOrGenerators {
		prog = guardsProgram()
	}
	v, err := vm.RunProgram(prog)
	if err != nil {
		return fmt.Errorf("guard builtins: %w", err)
	}
	js := v.ToObject(vm)
	g.noop, _ = goja.AssertFunction(js.Get("0"))
	g.hasInstance = vm.ToValue(g.instanceOf)
	trap := &goja.ProxyTrapConfig{Apply: g.callMethod}
	var obj *goja.Object
	for i := range methodGuards {
		mg := &methodGuards[i]
		switch {
		case i > 0 && mg.path == methodGuards[i-1].path:
		case mg.path == "String.prototype":
			// Reached through a string rather than through String, which goja
			// would build for it and a scenario may never use.
			obj = vm.ToValue("").ToObject(vm).Prototype()
		default:
			obj = g.path(mg.path)
		}
		for _, name := range mg.names {
			if err := g.wrapMethod(obj, mg, name, trap); err != nil {
				return err
			}
		}
	}
	for i := range constructorGuards {
		cg := &constructorGuards[i]
		trap := &goja.ProxyTrapConfig{
			Apply: func(target *goja.Object, this goja.Value, args []goja.Value) goja.Value {
				cg.check(g, site{fn: target}, args)
				return g.original(target).call(goja.FunctionCall{This: this, Arguments: args})
			},
			Construct: func(target *goja.Object, args []goja.Value, newTarget *goja.Object) *goja.Object {
				cg.check(g, site{fn: target, new: true}, args)
				o, err := g.original(target).construct(newTarget, args...)
				if err != nil {
					panic(err)
				}
				return o
			},
		}
		for j, name := range cg.names {
			target, err := g.wrapConstructor(name, trap)
			if err != nil {
				return err
			}
			if cg.family && j > 0 {
				continue
			}
			if cg.family {
				// One Symbol.hasInstance on %TypedArray%, which every typed-array
				// constructor inherits, serves them all.
				target = target.Prototype()
			}
			if err := g.keepInstanceof(target); err != nil {
				return fmt.Errorf("guard %s: %w", name, err)
			}
		}
	}
	if !asyncOrGenerators {
		return g.refuseCodeFromStrings()
	}
	return g.refuseCodeFromStrings(js.Get("1"), js.Get("2"))
}

// GuardsName is the file name of the guards' own JS, which a scenario's stack
// need not show.
const GuardsName = "guards.js"

// guardsProgram evaluates to what the guards need from JS: a function that does
// nothing, and the prototypes of async and generator functions, which have no
// global name.
var guardsProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile(GuardsName, `[function () {}, Object.getPrototypeOf(async function () {}), Object.getPrototypeOf(function* () {})]`, true)
})

// noopProgram is guardsProgram without the prototypes. Making an async or a
// generator function builds, besides its prototype, the constructor, the
// generator and iterator prototypes and their methods: a tenth of what the
// guards cost a session.
var noopProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile(GuardsName, `[function () {}]`, true)
})

// checkpoint lets a pending watchdog interrupt stop a builtin that calls back into
// a guard for every element (the matches of a global regexp, the values of a
// JSON.stringify). Without it such a builtin runs to its end in Go. Calling the
// noop function from Go runs one VM instruction, where goja notices an interrupt.
func (g *guard) checkpoint() {
	g.ticks++
	if g.ticks%checkpointEvery != 0 {
		return
	}
	if _, err := g.noop(goja.Undefined()); err != nil {
		panic(err)
	}
}

// site names a guarded builtin in error messages: "String.prototype.repeat",
// "new Array(20000000)". It is put together only when a guard throws.
type site struct {
	path string       // the holder of a method, "String.prototype"
	fn   *goja.Object // the original builtin, whose name completes the text
	new  bool         // a constructor called with new
	arg  goja.Value   // shown in parentheses when set
	note string       // said after the name
}

func (s site) String() string {
	name := s.fn.Get("name").String()
	switch {
	case s.path != "":
		name = s.path + "." + name
	case s.new:
		name = "new " + name
	}
	if s.arg != nil {
		name += "(" + s.arg.String() + ")"
	}
	return name + s.note
}

// A methodGuard wraps methods of one built-in object. check sees the call before
// the original does; it throws to refuse, and may return other arguments (the
// same values converted, or a callback wrapped) for the original to get. A check
// never tells methods apart by name, which a scenario may redefine: methods that
// need different checks are in different entries.
type methodGuard struct {
	path  string
	names []string
	check func(g *guard, what site, call goja.FunctionCall) []goja.Value
	// timed marks the RegExp methods that run a match, which may be abandoned
	// at RegexpTimeout.
	timed bool
}

// methodGuards is every guarded method, by object.
var methodGuards = []methodGuard{
	{path: "String.prototype", names: []string{"repeat"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.need(what, strLen(c.This)*argInt(c.Arguments, 0)*bytesPerChar)
		return c.Arguments
	}},
	{path: "String.prototype", names: []string{"padStart", "padEnd"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.need(what, argInt(c.Arguments, 0)*bytesPerChar)
		return c.Arguments
	}},
	{path: "String.prototype", names: []string{"concat"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		// The arguments are converted here, once and in order as concat would, so
		// that their sizes are known; the original then gets strings.
		args := make([]goja.Value, len(c.Arguments))
		size := strLen(c.This)
		for i, a := range c.Arguments {
			args[i] = a.ToString()
			size += strLen(args[i])
		}
		g.need(what, size*bytesPerChar)
		return args
	}},
	{path: "String.prototype", names: []string{"normalize"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.need(what, strLen(c.This)*maxNormalize*bytesPerChar)
		return c.Arguments
	}},
	{path: "String.prototype", names: []string{"toUpperCase", "toLowerCase", "toLocaleUpperCase", "toLocaleLowerCase"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.need(what, strLen(c.This)*maxCaseChange*bytesPerChar)
		return c.Arguments
	}},
	{path: "String.prototype", names: []string{"split"}, check: (*guard).checkSplit},
	{path: "String.prototype", names: []string{"replace"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		return g.checkReplace(what, c, false)
	}},
	{path: "String.prototype", names: []string{"replaceAll"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		return g.checkReplace(what, c, true)
	}},
	{path: "Array.prototype", names: []string{
		"copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast",
		"findLastIndex", "flat", "flatMap", "forEach", "includes", "indexOf",
		"lastIndexOf", "map", "reduce", "reduceRight", "reverse", "shift", "slice", "some",
		"sort", "splice", "toReversed", "toSorted", "toSpliced", "unshift", "with",
	}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.needElems(what, lengthOf(g.vm, c.This))
		return c.Arguments
	}},
	{path: "Array.prototype", names: []string{"concat"}, check: (*guard).checkArrayConcat},
	{path: "Array.prototype", names: []string{"join", "toLocaleString"}, check: (*guard).checkArrayJoin},
	{path: "Function.prototype", names: []string{"apply"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.needElems(what, lengthOf(g.vm, c.Argument(1)))
		return c.Arguments
	}},
	{path: "Reflect", names: []string{"apply"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.needElems(what, lengthOf(g.vm, c.Argument(2)))
		return c.Arguments
	}},
	{path: "Reflect", names: []string{"construct"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.needElems(what, lengthOf(g.vm, c.Argument(1)))
		return c.Arguments
	}},
	{path: "Object", names: []string{"keys", "values", "entries", "getOwnPropertyNames", "getOwnPropertyDescriptors"}, check: (*guard).checkKeys},
	{path: "Reflect", names: []string{"ownKeys"}, check: (*guard).checkKeys},
	{path: "JSON", names: []string{"parse"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		// goja's JSON parser recurses once per nesting level on the Go stack.
		text := c.Argument(0).ToString()
		if depth := nesting(text.String(), "[{", "]}", true); depth > maxNesting {
			panic(throwRange(g.vm, fmt.Sprintf("%s: the text nests %d levels deep; at most %d are allowed", what, depth, maxNesting)))
		}
		return append([]goja.Value{text}, c.Arguments[min(1, len(c.Arguments)):]...)
	}},
	{path: "JSON", names: []string{"stringify"}, check: (*guard).checkStringify},
	// Only exec and test run matches: with exec wrapped, goja takes its generic
	// path for the others, which call exec once per match. Timing them too
	// would count the time spent in a replacer function as the pattern's.
	{path: "RegExp.prototype", names: []string{"exec", "test"}, check: (*guard).checkRegexp, timed: true},
	{path: "RegExp.prototype", names: []string{"[Symbol.match]", "[Symbol.matchAll]", "[Symbol.replace]", "[Symbol.search]", "[Symbol.split]"}, check: (*guard).checkRegexp},
	{path: "RegExp.prototype", names: []string{"compile"}, check: func(g *guard, what site, c goja.FunctionCall) []goja.Value {
		g.checkPattern(what, c.Arguments)
		return c.Arguments
	}},
}

// guarded is how many builtins the tables wrap.
var guarded = func() int {
	n := 0
	for _, mg := range methodGuards {
		n += len(mg.names)
	}
	for _, cg := range constructorGuards {
		n += len(cg.names)
	}
	return n
}()

// An original is a guarded builtin as its proxy's trap calls it.
type original struct {
	method    *methodGuard // the entry of a method; nil for a constructor
	call      func(goja.FunctionCall) goja.Value
	construct goja.Constructor
}

// original returns what the trap of fn's proxy needs. The functions that call
// fn from Go are made on its first call: most builtins a session guards, it
// never calls.
func (g *guard) original(fn *goja.Object) original {
	o := g.originals[fn]
	if o.call == nil {
		o.call = callFromTrap(fn)
		o.construct, _ = goja.AssertConstructor(fn)
		g.originals[fn] = o
	}
	return o
}

// callFromTrap returns how a trap calls the builtin fn. goja's builtins are Go
// functions, and a trap calls them directly, as goja's own call instruction
// does: the trap already runs inside the VM, so what the builtin throws goes on
// up as it would from an unguarded call. goja.AssertFunction's wrapper, made
// for calls from outside the VM, saves and restores the VM's state and
// recovers around every call, which made a guarded call cost several times
// the builtin itself; it remains only for a function that is not Go.
func callFromTrap(fn *goja.Object) func(goja.FunctionCall) goja.Value {
	if f, ok := fn.Export().(func(goja.FunctionCall) goja.Value); ok && f != nil {
		return f
	}
	call, _ := goja.AssertFunction(fn)
	return func(c goja.FunctionCall) goja.Value {
		v, err := call(c.This, c.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	}
}

// callMethod is the apply trap of every guarded method: the check, then the
// original.
func (g *guard) callMethod(target *goja.Object, this goja.Value, args []goja.Value) goja.Value {
	orig := g.original(target)
	mg := orig.method
	what := site{path: mg.path, fn: target}
	args = mg.check(g, what, goja.FunctionCall{This: this, Arguments: args})
	var start regexpStart
	if mg.timed {
		start = startRegexp()
	}
	v := orig.call(goja.FunctionCall{This: this, Arguments: args})
	if mg.timed && !v.ToBoolean() {
		// Only a call that found nothing may have been abandoned: exec's null,
		// test's false.
		g.afterRegexp(what, this, start)
	}
	return v
}

// A constructorGuard replaces global constructors with proxies that check the
// arguments of calls and of new. The proxy also becomes prototype.constructor, so
// that [].constructor and /x/.constructor lead back to it.
type constructorGuard struct {
	names []string
	check func(g *guard, what site, args []goja.Value)
	// family marks constructors that inherit from one parent, as the typed
	// arrays do from %TypedArray%.
	family bool
}

var constructorGuards = []constructorGuard{
	// goja backs a dense array with a slice, so Array(n) followed by anything that
	// touches the elements allocates n slots.
	{names: []string{"Array"}, check: func(g *guard, what site, args []goja.Value) {
		if len(args) == 1 && isNumber(args[0]) {
			what.arg = args[0]
			g.needElems(what, argInt(args, 0))
		}
	}},
	{names: []string{"RegExp"}, check: func(g *guard, what site, args []goja.Value) { g.checkPattern(what, args) }},
	{names: []string{"ArrayBuffer"}, check: func(g *guard, what site, args []goja.Value) {
		if len(args) > 0 {
			what.arg = args[0]
		}
		g.need(what, argInt(args, 0))
	}},
	// new Uint8Array(n) and new Uint8Array(arrayLike); a view on an existing
	// buffer allocates nothing.
	{family: true, names: []string{
		"Uint8Array", "Uint8ClampedArray", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array",
		"Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
	}, check: func(g *guard, what site, args []goja.Value) {
		if len(args) == 0 {
			return
		}
		n := argInt(args, 0)
		if obj, ok := args[0].(*goja.Object); ok {
			if _, isBuffer := obj.Export().(goja.ArrayBuffer); isBuffer {
				return
			}
			n = lengthOf(g.vm, obj)
		}
		g.need(what, n*bytesPerElement(what.fn))
	}},
}

// bytesPerElement reads a typed-array constructor's element size; the constant
// is non-writable and non-configurable, so a scenario cannot lower it.
func bytesPerElement(ctor *goja.Object) int64 {
	if n := ctor.Get("BYTES_PER_ELEMENT"); n != nil {
		return max(1, n.ToInteger())
	}
	return 1
}

func (g *guard) need(what site, size int64) {
	if size > g.limit {
		panic(throwRange(g.vm, fmt.Sprintf("%s would allocate about %s, over the session's memory limit of %s", what, mib(size), mib(g.limit))))
	}
}

func (g *guard) needElems(what site, n int64) {
	if n > g.maxElems {
		panic(throwRange(g.vm, fmt.Sprintf("%s: %d elements is over the session's limit of %d (memory limit %s)", what, n, g.maxElems, mib(g.limit))))
	}
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// The Array.prototype methods walk this.length in Go. They work on any
// array-like, so [].indexOf.call({length: 2**53}, 1) would loop for days where
// Interrupt cannot reach it; concat walks its arguments' lengths as well, and
// join builds a string of length times the separator.

func (g *guard) checkArrayConcat(what site, c goja.FunctionCall) []goja.Value {
	n := lengthOf(g.vm, c.This)
	for _, a := range c.Arguments {
		if obj, ok := a.(*goja.Object); ok {
			n += lengthOf(g.vm, obj)
		} else {
			n++
		}
	}
	g.needElems(what, n)
	return c.Arguments
}

func (g *guard) checkArrayJoin(what site, c goja.FunctionCall) []goja.Value {
	n := lengthOf(g.vm, c.This)
	g.needElems(what, n)
	sep := int64(1)
	if len(c.Arguments) > 0 && !goja.IsUndefined(c.Arguments[0]) {
		sep = strLen(c.Arguments[0].ToString())
	}
	g.need(what, n*sep*bytesPerChar)
	return c.Arguments
}

// checkKeys bounds Object.keys and its kin on strings, arrays and typed arrays,
// whose index keys exist only when asked for: Object.keys of an 8-million
// character string makes 8 million strings.
func (g *guard) checkKeys(what site, c goja.FunctionCall) []goja.Value {
	v := c.Argument(0)
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return c.Arguments
	}
	g.need(what, lengthOf(g.vm, v)*bytesPerPiece)
	return c.Arguments
}

func (g *guard) checkSplit(what site, c goja.FunctionCall) []goja.Value {
	sep := c.Argument(0)
	if _, isObj := sep.(*goja.Object); isObj || goja.IsUndefined(sep) {
		// A RegExp separator goes through RegExp.prototype[Symbol.split], which calls
		// exec for every piece and so reaches checkpoints.
		return c.Arguments
	}
	s := c.This.ToString().String()
	sepStr := sep.ToString().String()
	pieces := int64(strings.Count(s, sepStr)) + 1
	if len(c.Arguments) > 1 && !goja.IsUndefined(c.Arguments[1]) {
		pieces = min(pieces, argInt(c.Arguments, 1))
	}
	g.need(what, pieces*bytesPerPiece)
	return c.Arguments
}

// checkReplace bounds what replace and replaceAll build. The matches are found
// first and the result is assembled in Go afterwards, so a replacement that is
// large, or that copies the text for every match ("$`"), must be refused up front;
// a replacement function is wrapped to count what it returns.
func (g *guard) checkReplace(what site, c goja.FunctionCall, all bool) []goja.Value {
	text := strLen(c.This.ToString())
	pattern, repl := c.Argument(0), c.Argument(1)
	if fn, ok := goja.AssertFunction(repl); ok {
		args := append([]goja.Value(nil), c.Arguments...)
		total := int64(0)
		args[1] = g.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			v, err := fn(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			s := v.ToString()
			total += strLen(s) + 1
			g.need(site{path: what.path, fn: what.fn, note: " with a replacement function"}, (text+total)*bytesPerChar)
			g.checkpoint()
			return s
		})
		return args
	}
	// At most one match for replace with a string or a non-global RegExp; for the
	// rest, at most one per position.
	matches := int64(1)
	lookaround := false
	if obj, ok := pattern.(*goja.Object); ok {
		if flags := obj.Get("flags"); flags != nil && strings.Contains(flags.String(), "g") {
			matches = text + 1
		}
		if src := obj.Get("source"); src != nil {
			lookaround = strings.Contains(src.String(), "(?=") || strings.Contains(src.String(), "(?<=")
		}
	} else if all {
		p := pattern.ToString().String()
		matches = int64(strings.Count(c.This.ToString().String(), p)) + 1
	}
	r := repl.ToString().String()
	// Each $& or $n is at most the text in total, the matches being disjoint;
	// $` and $' (and a capture inside a lookahead) may be the whole text per match.
	perText := int64(strings.Count(r, "$&"))
	perMatch := int64(strings.Count(r, "$`") + strings.Count(r, "$'"))
	captures := int64(0)
	for i := 0; i+1 < len(r); i++ {
		if r[i] == '$' && (r[i+1] >= '0' && r[i+1] <= '9' || r[i+1] == '<') {
			captures++
		}
	}
	if lookaround {
		perMatch += captures
	} else {
		perText += captures
	}
	size := text + perText*text + matches*(int64(len(r))+perMatch*text)
	if size/max(matches, 1) < text && perMatch > 0 {
		size = 1 << 62 // overflowed
	}
	g.need(what, size*bytesPerChar)
	return c.Arguments
}

// checkStringify makes JSON.stringify call back into JS for every value it
// serialises, through a replacer, so that a value that doubles at each level of
// nesting is stopped by the watchdog rather than serialised to gigabytes in Go. A
// scenario's own replacer function already does that; an array of property names
// becomes a replacer function with the same meaning.
func (g *guard) checkStringify(what site, c goja.FunctionCall) []goja.Value {
	args := []goja.Value{c.Argument(0), c.Argument(1), c.Argument(2)}
	if _, ok := goja.AssertFunction(args[1]); ok {
		return args
	}
	var names []string
	if obj, ok := args[1].(*goja.Object); ok && obj.ClassName() == "Array" {
		names = allowList(g.vm, obj)
	}
	args[1] = g.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		g.checkpoint()
		v := call.Argument(1)
		obj, ok := v.(*goja.Object)
		if names == nil || !ok || obj.ClassName() != "Object" {
			return v
		}
		if _, isFn := goja.AssertFunction(obj); isFn {
			return v
		}
		// Only the listed properties, in the list's order, as JSON.stringify would
		// serialise them with the list itself.
		out := g.vm.NewObject()
		for _, name := range names {
			if p := obj.Get(name); p != nil {
				must(out.DefineDataProperty(name, p, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE))
			}
		}
		return out
	})
	return args
}

// allowList reads JSON.stringify's property list: strings and numbers, without
// repeats, in order.
func allowList(vm *goja.Runtime, list *goja.Object) []string {
	n := lengthOf(vm, list)
	names := make([]string, 0, min(n, 1024))
	seen := map[string]bool{}
	for i := int64(0); i < n; i++ {
		v := list.Get(fmt.Sprint(i))
		var name string
		switch e := v.Export().(type) {
		case string:
			name = e
		case int64, float64:
			name = v.String()
		default:
			if obj, ok := v.(*goja.Object); ok && (obj.ClassName() == "String" || obj.ClassName() == "Number") {
				name = v.String()
			} else {
				continue
			}
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// checkRegexp is the check of the RegExp methods: every call is a checkpoint,
// which is what makes a global match over a long text interruptible, since
// with exec wrapped goja's matchAll, replace and split call it once per match.
// The timed ones (exec, test) are also judged by afterRegexp, which turns a
// match regexp2 abandoned at RegexpTimeout into a RangeError: goja reports it
// as no match, which would let the scenario go on with a wrong answer and no
// word of why.
func (g *guard) checkRegexp(what site, c goja.FunctionCall) []goja.Value {
	g.checkpoint()
	return c.Arguments
}

// regexpStart is when a regular-expression builtin began, by the wall clock
// regexp2 uses and by the thread's CPU clock.
type regexpStart struct {
	wall  time.Time
	cpu   time.Duration
	cpuOK bool
}

func startRegexp() regexpStart {
	cpu, ok := threadCPU()
	return regexpStart{wall: time.Now(), cpu: cpu, cpuOK: ok}
}

// regexpClockSlack is how early regexp2 may abandon a match: it keeps time
// with a coarse clock that a busy machine can leave behind.
const regexpClockSlack = RegexpTimeout / 4

// abandoned tells whether regexp2 gave up on the match that began at s. Wall
// time alone cannot tell: on a loaded machine a sound match may wait half a
// second for a core. So a match counts as abandoned when it lasted about as
// long as regexp2's timeout by the wall clock, or when it really burned half
// of it on this thread's CPU (regexp2's lagging clock may then have cut it
// short early).
func (s regexpStart) abandoned() (time.Duration, bool) {
	took := time.Since(s.wall)
	if took >= RegexpTimeout-regexpClockSlack {
		return took, true
	}
	if !s.cpuOK || took < RegexpTimeout/2 {
		return took, false
	}
	cpu, ok := threadCPU()
	used := cpu - s.cpu
	// A reading from another thread (a goroutine not locked to one) is no
	// measure; real CPU time never exceeds the wall time it was used in.
	return took, ok && used >= RegexpTimeout/2 && used <= took
}

func (g *guard) afterRegexp(what site, this goja.Value, start regexpStart) {
	took, abandoned := start.abandoned()
	if !abandoned {
		return
	}
	src, flags := "", ""
	if obj, ok := this.(*goja.Object); ok {
		src, flags = obj.Get("source").String(), obj.Get("flags").String()
	}
	if !backtracks(src, flags) {
		// Go's regexp ran it: it has no timeout to be abandoned at, and a slow
		// call only waited for a core.
		return
	}
	panic(throwRange(g.vm, fmt.Sprintf("%s: the regular expression /%s/ ran for %s on this input and was stopped (catastrophic backtracking; a match may take at most %s)", what, src, took.Round(time.Millisecond), RegexpTimeout)))
}

// backtracks reports whether goja matches the pattern with regexp2, the
// backtracking engine with the timeout, rather than with Go's linear regexp. It
// makes goja's own choice (compileRegexp): Go's regexp whenever goja's parser can
// translate the pattern and Go's compiler takes the translation. goja rewrites
// surrogate pairs before that, so a pattern with one, or with a \u escape that
// may be one, counts as regexp2's. It is only asked about a call that already
// looks abandoned, so its cost stays off the ordinary path.
func backtracks(source, flags string) bool {
	if strings.Contains(source, `\u`) || strings.ContainsFunc(source, func(r rune) bool { return r > 0xFFFF }) {
		return true
	}
	translated, err := parser.TransformRegExp(source, strings.Contains(flags, "s"), strings.Contains(flags, "u"))
	if err != nil {
		return true
	}
	var modes strings.Builder
	for _, f := range "msi" {
		if strings.ContainsRune(flags, f) {
			modes.WriteRune(f)
		}
	}
	if modes.Len() > 0 {
		translated = "(?" + modes.String() + ":" + translated + ")"
	}
	_, err = regexp.Compile(translated)
	return err != nil
}

// checkPattern refuses patterns nested deeper than Go's own regexp allows: the
// parsers of goja and regexp2 recurse once per group on the Go stack.
func (g *guard) checkPattern(what site, args []goja.Value) {
	if len(args) == 0 {
		return
	}
	p := args[0]
	if obj, ok := p.(*goja.Object); ok && obj.ClassName() == "RegExp" {
		return
	}
	if goja.IsUndefined(p) {
		return
	}
	if depth := nesting(p.String(), "(", ")", false); depth > maxNesting {
		panic(throwRange(g.vm, fmt.Sprintf("%s: the pattern nests %d groups deep; at most %d are allowed", what, depth, maxNesting)))
	}
}

// nesting reports how deeply open and close nest in s, skipping what a backslash
// escapes and, for JSON, what is inside strings.
func nesting(s, open, close string, jsonStrings bool) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case jsonStrings && c == '"':
			inString = !inString
		case inString:
		case strings.IndexByte(open, c) >= 0:
			depth++
			deepest = max(deepest, depth)
		case strings.IndexByte(close, c) >= 0:
			depth--
		}
	}
	return deepest
}

// refuseCodeFromStrings turns off eval and the Function constructors. goja's JS
// parser recurses once per nesting level on the Go stack, and a source such as
// "(".repeat(3e6) overflows it, which ends the process and every call in it. A
// scenario's own code is compiled when its release is pushed; it has no need to
// compile more while a call runs. The async and generator function constructors
// have no global name and are reached only through the constructor property of
// their prototypes, given here (none when the VM's code defines no such
// function: the prototypes then never exist).
func (g *guard) refuseCodeFromStrings(codeProtos ...goja.Value) error {
	refuse := func(what string) *goja.ProxyTrapConfig {
		fail := func() {
			panic(throwNamed(g.vm, "EvalError", what+": code generation from strings is not allowed in a scenario"))
		}
		return &goja.ProxyTrapConfig{
			Apply: func(*goja.Object, goja.Value, []goja.Value) goja.Value {
				fail()
				return nil
			},
			Construct: func(*goja.Object, []goja.Value, *goja.Object) *goja.Object {
				fail()
				return nil
			},
		}
	}
	global := g.vm.GlobalObject()
	eval := g.vm.NewProxy(global.Get("eval").ToObject(g.vm), refuse("eval"))
	if err := global.DefineDataProperty("eval", g.vm.ToValue(eval), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return fmt.Errorf("guard eval: %w", err)
	}
	fnProto := global.Get("Function").ToObject(g.vm).Get("prototype").ToObject(g.vm)
	ctor := fnProto.Get("constructor").ToObject(g.vm)
	if err := g.keepInstanceof(ctor); err != nil {
		return fmt.Errorf("guard Function: %w", err)
	}
	// One refusing proxy stands for Function and for the async and generator
	// function constructors.
	proxy := g.vm.ToValue(g.vm.NewProxy(ctor, refuse("Function")))
	if err := global.DefineDataProperty("Function", proxy, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return fmt.Errorf("guard Function: %w", err)
	}
	for _, p := range append([]goja.Value{fnProto}, codeProtos...) {
		if err := p.ToObject(g.vm).DefineDataProperty("constructor", proxy, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return fmt.Errorf("guard Function: %w", err)
		}
	}
	return nil
}

// path resolves "String.prototype" and the like on the global object.
func (g *guard) path(p string) *goja.Object {
	obj := g.vm.GlobalObject()
	for part := range strings.SplitSeq(p, ".") {
		obj = obj.Get(part).ToObject(g.vm)
	}
	return obj
}

var symbols = map[string]*goja.Symbol{
	"[Symbol.match]":    goja.SymMatch,
	"[Symbol.matchAll]": goja.SymMatchAll,
	"[Symbol.replace]":  goja.SymReplace,
	"[Symbol.search]":   goja.SymSearch,
	"[Symbol.split]":    goja.SymSplit,
}

// wrapMethod replaces obj[name] with a proxy of the original whose apply trap
// runs the check first. The proxy reads name and length from the original, so
// they are what they were.
func (g *guard) wrapMethod(obj *goja.Object, mg *methodGuard, name string, trap *goja.ProxyTrapConfig) error {
	sym := symbols[name]
	var orig goja.Value
	if sym != nil {
		orig = obj.GetSymbol(sym)
	} else {
		orig = obj.Get(name)
	}
	fn, ok := orig.(*goja.Object)
	if !ok || fn.ClassName() != "Function" {
		return fmt.Errorf("guard %s.%s: not a function", mg.path, name)
	}
	g.originals[fn] = original{method: mg}
	wrapped := g.vm.ToValue(g.vm.NewProxy(fn, trap))
	if sym != nil {
		return obj.DefineDataPropertySymbol(sym, wrapped, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	return obj.DefineDataProperty(name, wrapped, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

// wrapConstructor replaces a global constructor with a native proxy: statics,
// prototype, instanceof and subclassing keep working, and the traps, written in
// Go, leave no frame of their own in a scenario's stack.
func (g *guard) wrapConstructor(name string, trap *goja.ProxyTrapConfig) (*goja.Object, error) {
	target := g.vm.Get(name).ToObject(g.vm)
	if _, ok := goja.AssertConstructor(target); !ok {
		return nil, fmt.Errorf("guard %s: not a constructor", name)
	}
	proxy := g.vm.ToValue(g.vm.NewProxy(target, trap))
	proto := target.Get("prototype").ToObject(g.vm)
	if err := proto.DefineDataProperty("constructor", proxy, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return nil, fmt.Errorf("guard %s: %w", name, err)
	}
	if err := g.vm.GlobalObject().DefineDataProperty(name, proxy, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return nil, fmt.Errorf("guard %s: %w", name, err)
	}
	return target, nil
}

func throwNamed(vm *goja.Runtime, ctor, msg string) *goja.Object {
	obj, err := vm.New(vm.Get(ctor), vm.ToValue(msg))
	if err != nil {
		return vm.NewGoError(fmt.Errorf("%s", msg))
	}
	return obj
}

// keepInstanceof gives ctor its own Symbol.hasInstance. goja's proxy objects
// have no [[HasInstance]] of their own, so without it "[] instanceof Array"
// throws a TypeError once Array is a proxy.
func (g *guard) keepInstanceof(ctor *goja.Object) error {
	return ctor.DefineDataPropertySymbol(goja.SymHasInstance, g.hasInstance, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

// instanceOf is OrdinaryHasInstance for a constructor behind a proxy: this is
// the proxy, whose prototype property is the original's.
func (g *guard) instanceOf(call goja.FunctionCall) goja.Value {
	ctor, isObj := call.This.(*goja.Object)
	o, ok := call.Argument(0).(*goja.Object)
	if !isObj || !ok {
		return g.vm.ToValue(false)
	}
	proto, ok := ctor.Get("prototype").(*goja.Object)
	if !ok {
		return g.vm.ToValue(false)
	}
	for p := o.Prototype(); p != nil; p = p.Prototype() {
		if p.SameAs(proto) {
			return g.vm.ToValue(true)
		}
	}
	return g.vm.ToValue(false)
}

func isNumber(v goja.Value) bool {
	switch v.Export().(type) {
	case int64, float64:
		return true
	}
	return false
}

func strLen(v goja.Value) int64 {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	if s, ok := v.(goja.String); ok {
		return int64(s.Length())
	}
	if s, ok := v.ToString().(goja.String); ok {
		return int64(s.Length())
	}
	// UTF-8 bytes are never fewer than UTF-16 units, so this errs on the safe side.
	return int64(len(v.String()))
}

func argInt(args []goja.Value, i int) int64 {
	if i >= len(args) {
		return 0
	}
	f := args[i].ToFloat()
	if f != f || f < 0 {
		return 0
	}
	if f > 1<<53 {
		return 1 << 53
	}
	return int64(f)
}

func lengthOf(vm *goja.Runtime, v goja.Value) int64 {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	l := v.ToObject(vm).Get("length")
	if l == nil {
		return 0
	}
	return argInt([]goja.Value{l}, 0)
}
