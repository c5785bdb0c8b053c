package jsapi

import (
	"testing"

	"github.com/dop251/goja"
)

// BenchmarkInstallPrelude is what the VoxEngine layer costs every session before
// its scenario runs; `make bench` shows it inside the session start figure.
func BenchmarkInstallPrelude(b *testing.B) {
	if _, err := Prelude(); err != nil {
		b.Fatal(err)
	}
	host := &fakeHost{}
	b.ReportAllocs()
	for b.Loop() {
		vm := goja.New()
		if _, err := InstallPrelude(vm, host.object(vm)); err != nil {
			b.Fatal(err)
		}
	}
}
