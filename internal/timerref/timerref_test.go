package timerref

import (
	"runtime"
	"testing"
	"time"
	"weak"
)

type owner struct {
	calls int
	big   [1 << 16]byte
}

// A function Func made calls f with the owner until Clear, and from then
// on neither calls f nor keeps the owner alive, though it is still held (as
// a stopped timer's is).
func TestRefLetsTheOwnerGo(t *testing.T) {
	o := &owner{}
	r := New(o)
	fire := r.Func(func(o *owner) { o.calls++ })
	fire()
	if o.calls != 1 {
		t.Fatalf("f ran %d times, want 1", o.calls)
	}
	gone := weak.Make(o)
	r.Clear()
	o = nil
	fire()
	for range 100 {
		runtime.GC()
		if gone.Value() == nil {
			runtime.KeepAlive(fire)
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the owner is still held by the function")
}
