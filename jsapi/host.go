package jsapi

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/dop251/goja"
)

// Host is what a scenario's VM needs from the session that runs it. Every method is
// called on the session goroutine, from inside a JS call.
type Host interface {
	// Command executes one engine command (docs/engine-protocol.md). An error is
	// thrown into the scenario as a TypeError.
	Command(name string, params []any) error
	// NewCallID returns a fresh id for an outgoing call or an HTTP request.
	NewCallID() string
	// Log writes the scenario's own text to the session log (Logger.write).
	Log(text string)
	// Warn writes a warning about a misuse that the scenario survives.
	Warn(text string)
	// SetTimer schedules fn; an error (the timer quota) is thrown as a RangeError.
	SetTimer(fn goja.Callable, args []goja.Value, delay time.Duration, repeat bool) (int64, error)
	ClearTimer(id int64)
}

// Options tune what Install sets up.
type Options struct {
	// MaxAlloc bounds what one builtin call may allocate (a String.prototype.repeat,
	// an Array(n), a JSON.stringify). Zero means DefaultMaxAlloc.
	MaxAlloc int64
	// NoAsyncOrGenerators promises that no program the VM will run defines an
	// async or a generator function (HasAsyncOrGenerator is false for each).
	// With eval and Function refused, those programs and the VoxEngine layer
	// are all the code the VM ever has, so the async and generator function
	// constructors, reachable only through such functions, cannot be reached,
	// and Install does not build them to refuse them.
	NoAsyncOrGenerators bool
}

// DefaultMaxAlloc is a session's memory budget, 16 MiB.
const DefaultMaxAlloc = 16 << 20

// Install prepares a fresh VM for a scenario: timers, the host object, allocation
// guards and the VoxEngine layer. It returns the dispatcher that delivers one engine
// event to the VoxEngine layer.
func Install(vm *goja.Runtime, h Host, opts Options) (goja.Callable, error) {
	if opts.MaxAlloc <= 0 {
		opts.MaxAlloc = DefaultMaxAlloc
	}
	prelude, err := preludeProgram()
	if err != nil {
		return nil, err
	}
	if err := guardBuiltins(vm, opts.MaxAlloc, !opts.NoAsyncOrGenerators || prelude.asyncOrGenerators); err != nil {
		return nil, err
	}
	if err := installTimers(vm, h); err != nil {
		return nil, err
	}
	return InstallPrelude(vm, hostObject(vm, h))
}

func hostObject(vm *goja.Runtime, h Host) *goja.Object {
	o := vm.NewObject()
	must(o.Set("command", func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		params := make([]any, 0, len(call.Arguments))
		for _, a := range call.Arguments[1:] {
			params = append(params, ToGo(a))
		}
		if err := h.Command(name, params); err != nil {
			panic(vm.NewTypeError("%s: %v", name, err))
		}
		return goja.Undefined()
	}))
	must(o.Set("newCallId", func(goja.FunctionCall) goja.Value { return vm.ToValue(h.NewCallID()) }))
	must(o.Set("log", func(call goja.FunctionCall) goja.Value {
		h.Log(call.Argument(0).String())
		return goja.Undefined()
	}))
	must(o.Set("warn", func(call goja.FunctionCall) goja.Value {
		h.Warn(call.Argument(0).String())
		return goja.Undefined()
	}))
	must(o.Set("zonedTime", zonedTime(vm)))
	return o
}

func installTimers(vm *goja.Runtime, h Host) error {
	set := func(repeat bool) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			fn, ok := goja.AssertFunction(call.Argument(0))
			if !ok {
				panic(vm.NewTypeError("timer callback is not a function"))
			}
			ms := call.Argument(1).ToFloat()
			if math.IsNaN(ms) || ms < 0 {
				ms = 0
			}
			var args []goja.Value
			if len(call.Arguments) > 2 {
				args = append(args, call.Arguments[2:]...)
			}
			id, err := h.SetTimer(fn, args, time.Duration(ms*float64(time.Millisecond)), repeat)
			if err != nil {
				panic(throwRange(vm, err.Error()))
			}
			return vm.ToValue(id)
		}
	}
	clear := func(call goja.FunctionCall) goja.Value {
		if v := call.Argument(0); !goja.IsUndefined(v) && !goja.IsNull(v) {
			h.ClearTimer(v.ToInteger())
		}
		return goja.Undefined()
	}
	// In a fixed order, so that the global object's names come in the same
	// order in every session.
	for _, timer := range []struct {
		name string
		fn   func(goja.FunctionCall) goja.Value
	}{
		{"setTimeout", set(false)},
		{"setInterval", set(true)},
		{"clearTimeout", clear},
		{"clearInterval", clear},
	} {
		if err := vm.Set(timer.name, timer.fn); err != nil {
			return fmt.Errorf("install %s: %w", timer.name, err)
		}
	}
	return nil
}

func throwRange(vm *goja.Runtime, msg string) *goja.Object {
	ctor := vm.Get("RangeError")
	obj, err := vm.New(ctor, vm.ToValue(msg))
	if err != nil {
		return vm.NewGoError(fmt.Errorf("%s", msg))
	}
	return obj
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Number is a JavaScript number as it crossed into Go. The seed's log prints numbers
// that come from the scenario in exponent form (`code = 6.0300E+02`) and the host's
// integers plainly (`code = 487`), so the two are kept apart by type.
type Number float64

// maxDepth bounds how deep ToGo follows nested objects, so a cyclic or absurdly
// deep value from a scenario cannot recurse the host to death.
const maxDepth = 16

// ToGo converts a value from a scenario to plain Go: objects to map[string]any,
// arrays to []any, numbers to Number, null and undefined to nil.
func ToGo(v goja.Value) any { return toGo(v, 0) }

func toGo(v goja.Value, depth int) any {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	obj, ok := v.(*goja.Object)
	// Exporting an object exports all of it, recursively, only to find it is
	// no primitive: objects other than boxed numbers and booleans (the only
	// ones that export as one) go straight to the walk below.
	if !ok || obj.ClassName() == "Number" || obj.ClassName() == "Boolean" {
		switch e := v.Export().(type) {
		case string:
			return e
		case bool:
			return e
		case int64:
			return Number(e)
		case float64:
			return Number(e)
		}
	}
	if !ok || depth >= maxDepth {
		return v.String()
	}
	if _, isFn := goja.AssertFunction(obj); isFn {
		return v.String()
	}
	if obj.ClassName() == "Array" {
		n := obj.Get("length").ToInteger()
		if n > 1000 {
			n = 1000
		}
		out := make([]any, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, toGo(obj.Get(strconv.FormatInt(i, 10)), depth+1))
		}
		return out
	}
	keys := obj.Keys()
	sort.Strings(keys)
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		out[k] = toGo(obj.Get(k), depth+1)
	}
	return out
}

// ToJS converts an event's params to a plain JS object (not a wrapped Go map, so a
// scenario can enumerate, copy and JSON.stringify it as it would any object).
func ToJS(vm *goja.Runtime, v any) goja.Value {
	switch v := v.(type) {
	case nil:
		return goja.Null()
	case map[string]any:
		// In the keys' order, so that Object.keys and JSON.stringify of
		// an event give the same text at every run, as a test of a
		// scenario needs.
		o := vm.NewObject()
		for _, k := range slices.Sorted(maps.Keys(v)) {
			must(o.Set(k, ToJS(vm, v[k])))
		}
		return o
	case map[string]string:
		o := vm.NewObject()
		for _, k := range slices.Sorted(maps.Keys(v)) {
			must(o.Set(k, v[k]))
		}
		return o
	case []any:
		items := make([]any, len(v))
		for i, e := range v {
			items[i] = ToJS(vm, e)
		}
		return vm.NewArray(items...)
	case Number:
		return vm.ToValue(float64(v))
	default:
		return vm.ToValue(v)
	}
}
