package jsapi

import (
	"fmt"
	"sync"

	"github.com/dop251/goja"
)

// goja has no memory limit of its own, and Runtime.Interrupt cannot stop a Go
// builtin that is already running, so a single call such as "x".repeat(1e9) would
// allocate gigabytes before any watchdog could react. Each builtin that can allocate
// much in one call is wrapped: the wrapper estimates the result's size from its
// arguments and throws a RangeError instead of calling the original when the
// estimate exceeds the session's budget.
func guardAllocations(vm *goja.Runtime, limit int64) error {
	g := &guard{vm: vm, limit: limit}
	return g.install()
}

type guard struct {
	vm    *goja.Runtime
	limit int64
}

// bytesPerChar is what goja stores per character of a string in the worst case
// (UTF-16).
const bytesPerChar = 2

// bytesPerSlot is what an array element costs at least (a goja.Value interface).
const bytesPerSlot = 16

func (g *guard) refuse(what string, size int64) {
	panic(throwRange(g.vm, fmt.Sprintf("%s would allocate about %d MiB, over the session's memory limit of %d MiB", what, size>>20, g.limit>>20)))
}

// wrapMethod replaces obj[name] with a function that first runs check on the call.
func (g *guard) wrapMethod(obj *goja.Object, name string, check func(this goja.Value, args []goja.Value)) error {
	orig, ok := goja.AssertFunction(obj.Get(name))
	if !ok {
		return fmt.Errorf("guard %s: not a function", name)
	}
	wrapped := g.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		check(call.This, call.Arguments)
		v, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	})
	return obj.DefineDataProperty(name, wrapped, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

func (g *guard) proto(ctor string) *goja.Object {
	return g.vm.Get(ctor).ToObject(g.vm).Get("prototype").ToObject(g.vm)
}

func (g *guard) install() error {
	strProto := g.proto("String")
	if err := g.wrapMethod(strProto, "repeat", func(this goja.Value, args []goja.Value) {
		n := int64(len(this.String()))
		count := argInt(args, 0)
		if n*count*bytesPerChar > g.limit {
			g.refuse("String.prototype.repeat", n*count*bytesPerChar)
		}
	}); err != nil {
		return err
	}
	for _, pad := range []string{"padStart", "padEnd"} {
		if err := g.wrapMethod(strProto, pad, func(this goja.Value, args []goja.Value) {
			if size := argInt(args, 0) * bytesPerChar; size > g.limit {
				g.refuse("String.prototype."+pad, size)
			}
		}); err != nil {
			return err
		}
	}
	arrProto := g.proto("Array")
	if err := g.wrapMethod(arrProto, "fill", func(this goja.Value, args []goja.Value) {
		if size := lengthOf(g.vm, this) * bytesPerSlot; size > g.limit {
			g.refuse("Array.prototype.fill", size)
		}
	}); err != nil {
		return err
	}
	if err := g.wrapMethod(arrProto, "join", func(this goja.Value, args []goja.Value) {
		n := lengthOf(g.vm, this)
		sep := int64(1)
		if len(args) > 0 && !goja.IsUndefined(args[0]) {
			sep = int64(len(args[0].String()))
		}
		if size := n * sep * bytesPerChar; size > g.limit {
			g.refuse("Array.prototype.join", size)
		}
	}); err != nil {
		return err
	}
	return g.guardArrayConstructor()
}

// guardArrayConstructor refuses Array(n) and new Array(n) for a huge n: goja backs a
// dense array with a slice, so the length alone is the allocation.
func (g *guard) guardArrayConstructor() error {
	install, err := g.vm.RunProgram(arrayGuardProgram())
	if err != nil {
		return fmt.Errorf("guard Array: %w", err)
	}
	fn, ok := goja.AssertFunction(install)
	if !ok {
		return fmt.Errorf("guard Array: not a function")
	}
	if _, err := fn(goja.Undefined(), g.vm.ToValue(g.limit), g.vm.ToValue(bytesPerSlot)); err != nil {
		return fmt.Errorf("guard Array: %w", err)
	}
	return nil
}

var arrayGuardProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile("guards.js", `(function (limit, slot) {
	const NativeArray = Array;
	const check = function (args) {
		if (args.length === 1 && typeof args[0] === "number" && args[0] * slot > limit) {
			throw new RangeError("Array(" + args[0] + ") would allocate about " +
				Math.floor(args[0] * slot / 1048576) + " MiB, over the session's memory limit of " +
				Math.floor(limit / 1048576) + " MiB");
		}
	};
	const GuardedArray = new Proxy(NativeArray, {
		apply(target, thisArg, args) { check(args); return Reflect.apply(target, thisArg, args); },
		construct(target, args, newTarget) { check(args); return Reflect.construct(target, args, newTarget); },
	});
	Object.defineProperty(globalThis, "Array", { value: GuardedArray, writable: true, configurable: true, enumerable: false });
})`, true)
})

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
