package jsapi

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
)

// Unimplemented lists a scenario's uses of Voximplant API names that the
// VoxEngine layer does not define, as "name:line:column: VoxEngine.createConference
// is not implemented in Vox". A scenario written for Voximplant would otherwise
// find out at run time, in the middle of a call. The source is parsed, not
// searched, so strings and comments never warn; a source that does not parse
// gets no warnings (the compiler reports it).
//
// It recognises member uses of the layer's globals (VoxEngine.x, CallEvents.x,
// Modules.x, also in the ["x"] form), require("module") of a module Vox does
// not install, method calls on what is evidently a Call (e.call, a variable
// bound to one, a callUser/callSIP/callPSTN result, a variable named call), and
// Voximplant module globals Vox does not define (ASREvents.Result,
// ConferenceEvents.Started).
func Unimplemented(name, source string) []string {
	api, err := implementedAPI()
	if err != nil {
		// The layer is embedded and tested; should it fail to start, every
		// session fails too, with this error, so there is nothing to add here.
		return nil
	}
	files := &file.FileSet{}
	prog, err := parser.ParseFile(files, name, source, parser.IgnoreRegExpErrors, parser.WithDisableSourceMaps)
	if err != nil {
		return nil
	}
	s := &scan{api: api, declared: map[string]bool{}, calls: map[string]bool{}}
	s.collectBindings(prog)
	walk(reflect.ValueOf(prog), s.check)

	sort.SliceStable(s.found, func(i, j int) bool { return s.found[i].at < s.found[j].at })
	var out []string
	seen := map[string]bool{}
	for _, f := range s.found {
		pos := files.Position(f.at)
		msg := fmt.Sprintf("%s:%d:%d: %s is not implemented in Vox", name, pos.Line, pos.Column, f.what)
		if !seen[msg] {
			seen[msg] = true
			out = append(out, msg)
		}
	}
	return out
}

// api is what the VoxEngine layer defines, found by running it.
type api struct {
	// members of each object the layer publishes as a global (VoxEngine,
	// AppEvents, ...), prototype chain included.
	members map[string]map[string]bool
	// callMembers are the names a Call answers to.
	callMembers map[string]bool
	// modules are the Modules keys that require installs; moduleKeys maps
	// every Modules value to its key ("asr" -> "ASR").
	modules    map[string]bool
	moduleKeys map[string]string
	// builtins are the globals of a bare VM (Object, JSON, setTimeout...).
	builtins map[string]bool
}

// implementedAPI runs the VoxEngine layer once in a VM with a host that accepts
// everything, and reads back what it defines: the list follows the layer
// instead of being kept by hand next to it.
var implementedAPI = sync.OnceValues(func() (*api, error) {
	vm := goja.New()
	globals := func() (map[string]bool, error) {
		v, err := vm.RunString("Object.getOwnPropertyNames(globalThis)")
		if err != nil {
			return nil, err
		}
		var names []string
		if err := vm.ExportTo(v, &names); err != nil {
			return nil, err
		}
		return set(names), nil
	}
	before, err := globals()
	if err != nil {
		return nil, err
	}
	if _, err := InstallPrelude(vm, hostObject(vm, probeHost{})); err != nil {
		return nil, err
	}
	after, err := globals()
	if err != nil {
		return nil, err
	}
	var published []string
	for n := range after {
		if !before[n] {
			published = append(published, n)
		}
	}
	sort.Strings(published)
	probe, err := vm.RunString(`(function (published) {
  "use strict";
  function names(o) {
    const out = [];
    for (; o !== null && o !== undefined; o = Object.getPrototypeOf(o)) {
      out.push(...Object.getOwnPropertyNames(o));
    }
    return out;
  }
  const members = {};
  for (const g of published) {
    const v = globalThis[g];
    if (v !== null && typeof v === "object") {
      members[g] = names(v);
    }
  }
  const installed = Object.keys(Modules).filter((k) => {
    try {
      require(Modules[k]);
      return true;
    } catch (e) {
      return false;
    }
  });
  const moduleKeys = {};
  for (const k of Object.keys(Modules)) {
    moduleKeys[Modules[k]] = k;
  }
  return { members, call: names(VoxEngine.callUser("probe")), installed, moduleKeys };
})`)
	if err != nil {
		return nil, fmt.Errorf("probe the VoxEngine layer: %w", err)
	}
	fn, _ := goja.AssertFunction(probe)
	res, err := fn(goja.Undefined(), vm.ToValue(published))
	if err != nil {
		return nil, fmt.Errorf("probe the VoxEngine layer: %w", err)
	}
	var found struct {
		Members    map[string][]string `json:"members"`
		Call       []string            `json:"call"`
		Installed  []string            `json:"installed"`
		ModuleKeys map[string]string   `json:"moduleKeys"`
	}
	vm.SetFieldNameMapper(goja.TagFieldNameMapper("json", true))
	if err := vm.ExportTo(res, &found); err != nil {
		return nil, fmt.Errorf("probe the VoxEngine layer: %w", err)
	}
	a := &api{members: map[string]map[string]bool{}, callMembers: set(found.Call), modules: set(found.Installed),
		moduleKeys: found.ModuleKeys, builtins: before}
	for g, names := range found.Members {
		a.members[g] = set(names)
	}
	return a, nil
})

func (a *api) isModuleKey(name string) bool {
	for _, k := range a.moduleKeys {
		if k == name {
			return true
		}
	}
	return false
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// probeHost is the host of the VM that implementedAPI inspects: it accepts
// every command and records nothing.
type probeHost struct{}

func (probeHost) Command(string, []any) error { return nil }
func (probeHost) NewCallID() string           { return "probe" }
func (probeHost) Log(string)                  {}
func (probeHost) Warn(string)                 {}
func (probeHost) SetTimer(goja.Callable, []goja.Value, time.Duration, bool) (int64, error) {
	return 0, nil
}
func (probeHost) ClearTimer(int64) {}

// scan is one source's walk.
type scan struct {
	api *api
	// declared are the names the source binds itself: a scenario that
	// declares its own Recorder is not using Voximplant's.
	declared map[string]bool
	// calls are the variables that hold a Call.
	calls map[string]bool
	found []finding
}

type finding struct {
	at   file.Idx
	what string
}

// callVariable is a name scenarios conventionally give a Call (call, call1).
var callVariable = regexp.MustCompile(`^call\d*$`)

// moduleGlobal is how Voximplant names a module's globals: ASREvents,
// ConferenceEvents, PlayerEvents.
var moduleGlobal = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*Events$`)

// collectBindings finds the names the source declares and which of them hold
// a Call, repeating until no new Call variable turns up (const b = a; const a
// = e.call).
func (s *scan) collectBindings(prog *ast.Program) {
	for changed := true; changed; {
		changed = false
		mark := func(name string) {
			if !s.calls[name] {
				s.calls[name] = true
				changed = true
			}
		}
		walk(reflect.ValueOf(prog), func(n ast.Node) {
			switch n := n.(type) {
			case *ast.Binding:
				walk(reflect.ValueOf(n.Target), func(m ast.Node) {
					switch m := m.(type) {
					case *ast.Identifier:
						s.declared[m.Name.String()] = true
					case *ast.PropertyShort:
						s.declared[m.Name.Name.String()] = true
					}
				})
				if id, ok := n.Target.(*ast.Identifier); ok && n.Initializer != nil && s.isCall(n.Initializer) {
					mark(id.Name.String())
				}
				if obj, ok := n.Target.(*ast.ObjectPattern); ok {
					for _, name := range destructuredCall(obj) {
						mark(name)
					}
				}
			case *ast.FunctionLiteral:
				if n.Name != nil {
					s.declared[n.Name.Name.String()] = true
				}
			case *ast.ClassLiteral:
				if n.Name != nil {
					s.declared[n.Name.Name.String()] = true
				}
			case *ast.CatchStatement:
				if id, ok := n.Parameter.(*ast.Identifier); ok {
					s.declared[id.Name.String()] = true
				}
			case *ast.AssignExpression:
				if id, ok := n.Left.(*ast.Identifier); ok {
					s.declared[id.Name.String()] = true
					if s.isCall(n.Right) {
						mark(id.Name.String())
					}
				}
			}
		})
	}
}

// destructuredCall returns the variables an object pattern binds to a "call"
// property: ({call}) => ..., const {call: inbound} = e.
func destructuredCall(obj *ast.ObjectPattern) []string {
	var names []string
	for _, p := range obj.Properties {
		switch p := p.(type) {
		case *ast.PropertyShort:
			if p.Name.Name == "call" {
				names = append(names, "call")
			}
		case *ast.PropertyKeyed:
			if propertyName(p.Key) != "call" {
				continue
			}
			if id, ok := p.Value.(*ast.Identifier); ok {
				names = append(names, id.Name.String())
			}
		}
	}
	return names
}

// isCall tells whether an expression evidently yields a Call.
func (s *scan) isCall(e ast.Expression) bool {
	switch e := unwrap(e).(type) {
	case *ast.Identifier:
		name := e.Name.String()
		return s.calls[name] || callVariable.MatchString(name)
	case *ast.DotExpression:
		return e.Identifier.Name == "call"
	case *ast.CallExpression:
		// VoxEngine.callUser(...), callSIP, callPSTN and whatever else the
		// layer (or Voximplant) names call*: they place a call and return it.
		d, ok := unwrap(e.Callee).(*ast.DotExpression)
		return ok && s.isGlobal(d.Left, "VoxEngine") && strings.HasPrefix(d.Identifier.Name.String(), "call")
	}
	return false
}

// isGlobal tells whether e is the global name, not shadowed by the source.
func (s *scan) isGlobal(e ast.Expression, name string) bool {
	id, ok := unwrap(e).(*ast.Identifier)
	return ok && id.Name.String() == name && !s.declared[name]
}

// check records one node's use of something the layer does not define.
func (s *scan) check(n ast.Node) {
	switch n := n.(type) {
	case *ast.DotExpression:
		s.member(n.Left, n.Identifier.Name.String(), n.Idx0())
	case *ast.BracketExpression:
		if lit, ok := n.Member.(*ast.StringLiteral); ok {
			s.member(n.Left, lit.Value.String(), n.Idx0())
		}
	case *ast.CallExpression:
		s.callMethod(n)
		s.require(n)
	}
}

func (s *scan) member(left ast.Expression, prop string, at file.Idx) {
	id, ok := unwrap(left).(*ast.Identifier)
	if !ok {
		return
	}
	global := id.Name.String()
	if s.declared[global] {
		return
	}
	if global == "Modules" {
		// Every Modules constant exists, so that require lines read as on
		// Voximplant; what matters is whether require installs it.
		if !s.api.modules[prop] && (s.api.isModuleKey(prop) || !s.api.members[global][prop]) {
			s.found = append(s.found, finding{at, "Modules." + prop})
		}
		return
	}
	if members, ok := s.api.members[global]; ok {
		if !members[prop] {
			s.found = append(s.found, finding{at, global + "." + prop})
		}
		return
	}
	if !s.api.builtins[global] && moduleGlobal.MatchString(global) {
		s.found = append(s.found, finding{at, global + "." + prop})
	}
}

// functionMethods are what every function has; e.call.apply is not a Call method.
var functionMethods = map[string]bool{"apply": true, "bind": true, "call": true}

// callMethod checks call.method(...) where call is evidently a Call.
func (s *scan) callMethod(c *ast.CallExpression) {
	d, ok := unwrap(c.Callee).(*ast.DotExpression)
	if !ok || !s.isCall(d.Left) {
		return
	}
	method := d.Identifier.Name.String()
	if !s.api.callMembers[method] && !functionMethods[method] {
		s.found = append(s.found, finding{d.Idx0(), "Call." + method})
	}
}

// require checks require("asr"), the string form of require(Modules.ASR).
func (s *scan) require(c *ast.CallExpression) {
	if !s.isGlobal(c.Callee, "require") || len(c.ArgumentList) != 1 {
		return
	}
	lit, ok := c.ArgumentList[0].(*ast.StringLiteral)
	if !ok {
		return
	}
	if key, known := s.api.moduleKeys[lit.Value.String()]; known && !s.api.modules[key] {
		s.found = append(s.found, finding{lit.Idx, "Modules." + key})
	}
}

// unwrap looks through optional chaining: VoxEngine?.createConference.
func unwrap(e ast.Expression) ast.Expression {
	for {
		switch o := e.(type) {
		case *ast.OptionalChain:
			e = o.Expression
		case *ast.Optional:
			e = o.Expression
		default:
			return e
		}
	}
}

func propertyName(e ast.Expression) string {
	switch k := e.(type) {
	case *ast.StringLiteral:
		return k.Value.String()
	case *ast.Identifier:
		return k.Name.String()
	}
	return ""
}

var (
	nodeType = reflect.TypeFor[ast.Node]()
	fileType = reflect.TypeFor[*file.File]()
)

// walk calls visit for every node under v, in source order. goja's ast has no
// walker of its own; reflection follows every field, so a node kind added to
// goja is walked too. Declaration lists repeat what the body holds and are
// skipped, so each node is visited once.
func walk(v reflect.Value, visit func(ast.Node)) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), visit)
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == fileType {
			return
		}
		if v.Type().Implements(nodeType) {
			visit(v.Interface().(ast.Node))
		}
		walk(v.Elem(), visit)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).Name == "DeclarationList" {
				continue
			}
			walk(v.Field(i), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), visit)
		}
	}
}
