package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"vox/controller"
	"vox/numbers"
	"vox/runtime"
	"vox/scenarios"
	"vox/sip"
)

// Live calls in vox serve: a SIP user's call goes to its account's demo
// application, a trunk's to the application of the number called (until the
// controller routes numbers, S8), and every session writes its log to
// DATA/logs/ACCOUNT/SESSION.log.

// logsDir is where, under the data directory, live sessions' logs go, one
// directory per account.
const logsDir = "logs"

// userRouter routes every call of a SIP user to app in the user's account
// (or, for a number the account rents, to the number's application), and a
// trunk's call by its number (routeNumber).
type userRouter struct {
	app string
	// countries are dialling countries (S18) of accounts the controller
	// does not know (those of the trunks file); the demo account dials as
	// in Russia, as the seed's people do.
	countries map[string]string
	// numbers are the numbers of DATA/trunks.json.
	numbers map[string]numberRoute
	// rented are the controller's numbers and accounts; nil: none.
	rented routerController
}

// routerController is what routing asks the controller.
type routerController interface {
	RouteNumber(ctx context.Context, number string) (controller.Number, error)
	Account(ctx context.Context, id string) (controller.Account, error)
}

// country is how account's people write numbers.
func (r userRouter) country(ctx context.Context, account string) string {
	if r.rented != nil {
		if a, err := r.rented.Account(ctx, account); err == nil && a.Country != "" {
			return a.Country
		}
	}
	return r.countries[account]
}

func (r userRouter) Route(ctx context.Context, call sip.CallInfo) (sip.Route, error) {
	if call.Trunk != "" {
		return r.routeNumber(ctx, call)
	}
	if call.Account == "" {
		return sip.Route{}, sip.ErrNoRoute
	}
	pref := numbers.Preference{Country: r.country(ctx, call.Account)}
	app := r.app
	if own, ok := r.ownNumber(ctx, call.Account, call.Dialled, pref); ok {
		app = own
	}
	return sip.Route{Account: call.Account, App: app, Numbers: pref}, nil
}

// ownNumber is the application of a number that account rents, when its
// phone dials it: the tenant's people try their number the way its callers
// reach it (the demo's phones calling 74950000100 hear the standard
// scenario), without a trunk. Another tenant's number is not reached this
// way: that is a PSTN call, and the scenario places it.
func (r userRouter) ownNumber(ctx context.Context, account, dialled string, pref numbers.Preference) (string, bool) {
	if r.rented == nil {
		return "", false
	}
	n, err := numbers.Parse(dialled, pref)
	if err != nil || n.Kind != numbers.International {
		return "", false
	}
	rented, err := r.rented.RouteNumber(ctx, n.Value)
	if err != nil || rented.Account != account || rented.App == "" {
		return "", false
	}
	return rented.App, true
}

// liveLauncher starts live sessions through runtime.Launcher with their log
// in the data directory.
type liveLauncher struct {
	launcher *runtime.Launcher
	dir      string // DATA/logs
	log      *slog.Logger
	events   *callEvents // access URLs
	running  sync.WaitGroup
}

func (l *liveLauncher) Launch(ctx context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	if !accountName.MatchString(cs.Account) {
		return nil, fmt.Errorf("account %q: %w", cs.Account, sip.ErrNoRoute)
	}
	if cs.Trigger == "" {
		cs.Trigger = scenarios.TriggerIncoming
	}
	if cs.Info.SessionID == "" {
		cs.Info.SessionID = newSessionID()
	}
	dir := filepath.Join(l.dir, cs.Account)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("session log: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, cs.Info.SessionID+".log"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("session log: %w", err)
	}
	cs.Log = runtime.NewSessionLog(f, runtime.LogText)
	slot, err := l.events.openAccess(&cs)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := l.events.live.mark(cs, time.Now()); err != nil {
		slot.Close()
		f.Close()
		return nil, err
	}
	s, err := l.launcher.Launch(ctx, cs)
	if err != nil {
		l.events.live.unmark(cs.Info.SessionID)
		slot.Close()
		f.Close()
		if errors.Is(err, scenarios.ErrNotFound) {
			err = fmt.Errorf("%w: %w", sip.ErrNoRoute, err)
		}
		return nil, err
	}
	slot.Attach(sessionAccess{s})
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		<-s.Done()
		slot.Close()
		if err := f.Close(); err != nil {
			l.log.Warn("session log", "session", s.ID(), "err", err)
		}
	}()
	return s, nil
}

// wait waits for the running sessions to end, or for ctx.
func (l *liveLauncher) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		l.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// The SIP shutdown may have used the whole deadline on peers that did not
	// answer; its end cancelled the sessions, which take a moment to close
	// their logs.
	select {
	case <-done:
		return nil
	case <-time.After(sessionGrace):
		return fmt.Errorf("sessions still running at the deadline: %w", ctx.Err())
	}
}

// sessionGrace is how long sessions may take to end once cancelled.
const sessionGrace = 2 * time.Second

// newSessionID names a live session and its log file.
func newSessionID() string { return strings.ToLower(rand.Text()) }
