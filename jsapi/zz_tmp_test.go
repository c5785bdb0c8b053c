package jsapi

import (
	"testing"

	"github.com/dop251/goja"
)

func BenchmarkTmpGuardOnly(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		vm := goja.New()
		if err := guardAllocations(vm, DefaultMaxAlloc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTmpNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		goja.New()
	}
}

func BenchmarkTmpMaterialise(b *testing.B) {
	for _, set := range []struct {
		name  string
		names []string
	}{
		{"typed", []string{"ArrayBuffer", "Uint8Array", "Uint8ClampedArray", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"}},
		{"uint8", []string{"Uint8Array"}},
		{"json", []string{"JSON"}},
		{"reflect", []string{"Reflect"}},
		{"arrayregexp", []string{"Array", "RegExp"}},
	} {
		b.Run(set.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				vm := goja.New()
				for _, n := range set.names {
					vm.Get(n)
				}
			}
		})
	}
}
