package jsapi

import (
	"reflect"
	"testing"

	"github.com/dop251/goja"
)

// ToGo gives the host plain Go values, whatever the scenario passed.
func TestToGo(t *testing.T) {
	vm := goja.New()
	cases := []struct {
		expr string
		want any
	}{
		{`"s"`, "s"},
		{`true`, true},
		{`7`, Number(7)},
		{`0.5`, Number(0.5)},
		{`null`, nil},
		{`undefined`, nil},
		{`10n`, "10"},
		{`new String("ab")`, map[string]any{"0": "a", "1": "b"}},
		{`new Number(3)`, Number(3)},
		{`new Boolean(false)`, false},
		{`({b: [1, "x", null], a: {c: new Number(2)}})`, map[string]any{"a": map[string]any{"c": Number(2)}, "b": []any{Number(1), "x", nil}}},
		{`(() => 1)`, "() => 1"},
		{`new Date(0)`, map[string]any{}},
		{`(() => { const o = {}; o.self = o; return o; })()`, nest(maxDepth)},
	}
	for _, c := range cases {
		v, err := vm.RunString("(" + c.expr + ")")
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := ToGo(v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ToGo(%s) = %#v, want %#v", c.expr, got, c.want)
		}
	}
}

// nest is what ToGo makes of an object that holds itself: depth levels of
// {self: ...}, then the object's text.
func nest(depth int) any {
	if depth == 0 {
		return "[object Object]"
	}
	return map[string]any{"self": nest(depth - 1)}
}
