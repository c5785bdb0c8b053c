package jsapi

import (
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/dop251/goja"
)

//go:embed voxengine/*.js
var voxengineFS embed.FS

// preludeFiles lists the VoxEngine layer's files in the order they are joined. They
// share one function scope, so a later file may use what an earlier one declares.
var preludeFiles = []string{
	"events.js",
	"call.js",
	"net.js",
	"modules.js",
	"voxengine.js",
}

// PreludeName is the file name errors inside the VoxEngine layer are reported under.
const PreludeName = "voxengine.js"

var prelude = sync.OnceValues(func() (*goja.Program, error) {
	var b strings.Builder
	// The wrapper keeps the host object and the dispatcher out of the scenario's
	// global scope: the only globals are the public API the files attach to global.
	b.WriteString("(function (host, global) {\n\"use strict\";\n")
	for _, name := range preludeFiles {
		src, err := voxengineFS.ReadFile("voxengine/" + name)
		if err != nil {
			return nil, fmt.Errorf("read voxengine/%s: %w", name, err)
		}
		fmt.Fprintf(&b, "// ---- %s ----\n", name)
		b.Write(src)
		b.WriteString("\n")
	}
	b.WriteString("return dispatch;\n})")
	prog, err := goja.Compile(PreludeName, b.String(), true)
	if err != nil {
		return nil, fmt.Errorf("compile VoxEngine layer: %w", err)
	}
	return prog, nil
})

// Prelude returns the compiled VoxEngine layer. It is compiled once per process and
// shared by every session, as scenario programs are.
func Prelude() (*goja.Program, error) { return prelude() }

// InstallPrelude runs the VoxEngine layer in vm, handing it host, and returns the
// dispatcher that delivers one engine event object to the layer's listeners.
func InstallPrelude(vm *goja.Runtime, host *goja.Object) (goja.Callable, error) {
	prog, err := Prelude()
	if err != nil {
		return nil, err
	}
	wrapper, err := vm.RunProgram(prog)
	if err != nil {
		return nil, fmt.Errorf("run VoxEngine layer: %w", err)
	}
	factory, ok := goja.AssertFunction(wrapper)
	if !ok {
		return nil, fmt.Errorf("VoxEngine layer did not evaluate to a function")
	}
	dispatch, err := factory(goja.Undefined(), host, vm.GlobalObject())
	if err != nil {
		return nil, fmt.Errorf("start VoxEngine layer: %w", err)
	}
	fn, ok := goja.AssertFunction(dispatch)
	if !ok {
		return nil, fmt.Errorf("VoxEngine layer returned no dispatcher")
	}
	return fn, nil
}
