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

// TestToJSKeyOrder: an event's properties come in the same order at every
// run (Go maps have none), so that JSON.stringify of an event, which a
// scenario's test may compare, is stable.
func TestToJSKeyOrder(t *testing.T) {
	ev := map[string]any{"name": "Call.Connected", "id": "c1", "headers": map[string]string{"X-b": "2", "X-a": "1", "X-c": "3"}, "code": Number(200)}
	const want = `{"code":200,"headers":{"X-a":"1","X-b":"2","X-c":"3"},"id":"c1","name":"Call.Connected"}`
	for range 20 {
		vm := goja.New()
		if err := vm.Set("ev", ToJS(vm, ev)); err != nil {
			t.Fatal(err)
		}
		got, err := vm.RunString(`JSON.stringify(ev)`)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Fatalf("JSON.stringify(event) = %s, want %s", got, want)
		}
	}
}
