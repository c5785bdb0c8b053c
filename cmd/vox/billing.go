package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"vox/controller"
	"vox/internal/timerref"
	"vox/media"
	"vox/numbers"
	"vox/runtime"
)

// Prepaid PSTN calls (S6): before a scenario's CallPSTN goes out through a
// trunk, the controller authorizes it for the account and the number and
// says for how long the balance pays; the call is cut at that point, and
// when it ends its duration is charged once, under a call id of its own.

// biller is what the call path needs of the controller.
type biller interface {
	Authorize(ctx context.Context, callID, account, destination string) (controller.Grant, error)
	Charge(ctx context.Context, callID, account, destination string, d time.Duration) (controller.Entry, error)
	Release(callID string)
	Account(ctx context.Context, id string) (controller.Account, error)
}

// billedDialer wraps the SIP server's Dialer: PSTN calls are authorized and
// charged, the others pass as they are.
type billedDialer struct {
	next    runtime.Dialer
	billing biller
	log     *slog.Logger
	// countries are the dialling countries of accounts the controller has
	// none for.
	countries map[string]string
	// charging are the charges being written; shutdown waits for them
	// before it closes the data file.
	charging sync.WaitGroup
}

// chargeTimeout bounds the write of a call's charge.
const chargeTimeout = 10 * time.Second

func (d *billedDialer) Dial(ctx context.Context, req runtime.DialRequest) (runtime.Leg, error) {
	if req.Kind != runtime.DialPSTN {
		return d.next.Dial(ctx, req)
	}
	country := d.countries[req.Account]
	if a, err := d.billing.Account(ctx, req.Account); err == nil && a.Country != "" {
		country = a.Country
	}
	n, err := numbers.Parse(req.To, numbers.Preference{Country: country})
	if err != nil || n.Kind != numbers.International {
		return d.next.Dial(ctx, req) // the trunk refuses what is not a number, as before
	}
	billID := req.Account + "-" + newSessionID()
	grant, err := d.billing.Authorize(ctx, billID, req.Account, n.Value)
	if err != nil {
		return nil, refusal(err, d.log, req)
	}
	leg, err := d.next.Dial(ctx, req)
	if err != nil {
		d.billing.Release(billID)
		return nil, err
	}
	return &billedLeg{Leg: leg, billing: d.billing, charging: &d.charging, log: d.log, id: billID, account: req.Account, destination: n.Value, max: grant.MaxDuration}, nil
}

// refusal is the SIP failure a scenario sees for a call the controller
// refused.
func refusal(err error, log *slog.Logger, req runtime.DialRequest) error {
	switch {
	case errors.Is(err, controller.ErrInsufficientFunds):
		return &runtime.DialError{Code: 402, Reason: "Payment Required: the balance does not cover the call"}
	case errors.Is(err, controller.ErrTooManyCalls):
		return &runtime.DialError{Code: 486, Reason: "Busy Here: the account's concurrent calls are at their limit"}
	case controller.IsRefusal(err):
		return &runtime.DialError{Code: 403, Reason: "Forbidden: the account may not call this number"}
	}
	log.Error("billing: authorize a PSTN call", "account", req.Account, "call", req.ID, "err", err)
	return &runtime.DialError{Code: 500, Reason: "Server Internal Error"}
}

// billedLeg is a PSTN leg whose connected time is charged when it ends and
// which is hung up when its grant runs out.
type billedLeg struct {
	runtime.Leg
	billing              biller
	charging             *sync.WaitGroup
	log                  *slog.Logger
	id                   string // the charge's id
	account, destination string
	max                  time.Duration

	mu        sync.Mutex
	connected time.Time
	cut       *time.Timer
	// cutting is what cut reaches the leg by; finish clears it, for cut
	// is set hours ahead for a funded account (see package timerref).
	cutting *timerref.Ref[billedLeg]
	charged bool
}

// MediaChannel lets a SIP leg bridge with the leg inside.
func (l *billedLeg) MediaChannel() *media.Channel {
	if m, ok := l.Leg.(interface{ MediaChannel() *media.Channel }); ok {
		return m.MediaChannel()
	}
	return nil
}

func (l *billedLeg) Attach(events runtime.EventSink) {
	l.Leg.Attach(sinkFunc(func(e runtime.Event) {
		switch e.Name {
		case runtime.EventConnected:
			l.mu.Lock()
			l.connected = time.Now()
			l.cutting = timerref.New(l)
			l.cut = time.AfterFunc(l.max, l.cutting.Func((*billedLeg).cutOff))
			l.mu.Unlock()
		case runtime.EventDisconnected, runtime.EventFailed:
			l.finish()
		}
		events.Post(e)
	}))
}

// cutOff ends a call its balance no longer pays for.
func (l *billedLeg) cutOff() {
	l.log.Info("billing: the call's paid time is over; hanging up", "account", l.account, "call", l.Leg.ID(), "after", l.max)
	ctx, cancel := context.WithTimeout(context.Background(), chargeTimeout)
	defer cancel()
	if err := l.Leg.Hangup(ctx, 0, nil); err != nil {
		l.log.Warn("billing: hang up a call out of balance", "call", l.Leg.ID(), "err", err)
	}
}

// finish charges the call once; Post must not block, so the write runs
// on its own.
func (l *billedLeg) finish() {
	l.mu.Lock()
	if l.charged {
		l.mu.Unlock()
		return
	}
	l.charged = true
	var d time.Duration
	if !l.connected.IsZero() {
		// The time past the grant is the cut's own latency: not the
		// tenant's to pay.
		d = min(time.Since(l.connected), l.max)
		l.cut.Stop()
		l.cutting.Clear()
	}
	l.mu.Unlock()
	l.charging.Add(1)
	go func() {
		defer l.charging.Done()
		ctx, cancel := context.WithTimeout(context.Background(), chargeTimeout)
		defer cancel()
		if _, err := l.billing.Charge(ctx, l.id, l.account, l.destination, d); err != nil {
			l.log.Error("billing: charge a call", "account", l.account, "call", l.id, "seconds", d.Seconds(), "err", err)
		}
	}()
}

type sinkFunc func(runtime.Event)

func (f sinkFunc) Post(e runtime.Event) { f(e) }
