package rtp

import "time"

// Clock is the time an endpoint paces playback by, stamps arrivals with and
// schedules its RTCP reports on. Tests drive a fake one; RealClock is the
// wall clock.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of time.Timer a Clock's AfterFunc hands out.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker is the part of time.Ticker a Clock hands out.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the system clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
