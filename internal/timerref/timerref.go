// Package timerref lets a timer's function reach its owner without keeping
// it alive once the owner is done.
//
// Go keeps a stopped timer in its P's timer heap, function and all, until
// the time it was set for, or until that P clears such timers out, which a
// quiet P does not. A function that holds a call or a JS session directly
// keeps it, its media and its VM, alive for as long as the timer was set:
// 15 minutes for a session refresh, four hours for a session's deadline.
// A Ref sits between them: the timer holds the Ref, and Clear, when the
// owner ends, lets the owner go.
package timerref

import "sync/atomic"

// Ref reaches v until Clear.
type Ref[T any] struct{ p atomic.Pointer[T] }

// New is a Ref to v.
func New[T any](v *T) *Ref[T] {
	r := &Ref[T]{}
	r.p.Store(v)
	return r
}

// Func is f to be given to a timer: it calls f with v unless the Ref was
// cleared.
func (r *Ref[T]) Func(f func(*T)) func() {
	return func() {
		if v := r.p.Load(); v != nil {
			f(v)
		}
	}
}

// Clear lets v go: the functions Func made do nothing from now on.
func (r *Ref[T]) Clear() { r.p.Store(nil) }
