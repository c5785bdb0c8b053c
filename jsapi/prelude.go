package jsapi

import (
	"embed"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
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

// compiledPrelude is the layer's program and whether it defines an async or a
// generator function (see Options.NoAsyncOrGenerators).
type compiledPrelude struct {
	prog              *goja.Program
	asyncOrGenerators bool
}

var preludeProgram = sync.OnceValues(func() (compiledPrelude, error) {
	var b strings.Builder
	// The wrapper keeps the host object and the dispatcher out of the scenario's
	// global scope: the only globals are the public API the files attach to global.
	b.WriteString("(function (host, global) {\n\"use strict\";\n")
	for _, name := range preludeFiles {
		src, err := voxengineFS.ReadFile("voxengine/" + name)
		if err != nil {
			return compiledPrelude{}, fmt.Errorf("read voxengine/%s: %w", name, err)
		}
		fmt.Fprintf(&b, "// ---- %s ----\n", name)
		b.Write(src)
		b.WriteString("\n")
	}
	b.WriteString("return dispatch;\n})")
	ast, err := parser.ParseFile(nil, PreludeName, b.String(), 0)
	if err != nil {
		return compiledPrelude{}, fmt.Errorf("parse VoxEngine layer: %w", err)
	}
	prog, err := goja.CompileAST(ast, true)
	if err != nil {
		return compiledPrelude{}, fmt.Errorf("compile VoxEngine layer: %w", err)
	}
	return compiledPrelude{prog: prog, asyncOrGenerators: HasAsyncOrGenerator(ast)}, nil
})

// Prelude returns the compiled VoxEngine layer. It is compiled once per process and
// shared by every session, as scenario programs are.
func Prelude() (*goja.Program, error) {
	p, err := preludeProgram()
	return p.prog, err
}

// HasAsyncOrGenerator tells whether prog defines an async or a generator
// function, in any form: declaration, expression, arrow, method.
func HasAsyncOrGenerator(prog *ast.Program) bool {
	found := false
	walk(reflect.ValueOf(prog), func(n ast.Node) {
		switch f := n.(type) {
		case *ast.FunctionLiteral:
			found = found || f.Async || f.Generator
		case *ast.ArrowFunctionLiteral:
			found = found || f.Async
		}
	})
	return found
}

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
