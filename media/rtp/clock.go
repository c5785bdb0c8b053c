package rtp

import "time"

// Clock is the time an endpoint paces playback by and stamps arrivals with.
// Tests drive a fake one; RealClock is the wall clock.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
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

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
