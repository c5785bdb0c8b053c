package runtime

import (
	"context"
	"fmt"
	"strings"

	"vox/scenarios"
)

// Releases tells which release of an application an account's call runs, moving
// the account to it if the rollout says so (S11). *scenarios.Store implements it.
type Releases interface {
	Resolve(ctx context.Context, account, app, trigger string) (*scenarios.Release, *scenarios.Placement, error)
}

// Launcher starts sessions for calls: it resolves the account's release, routes
// the destination to a rule, takes the rule's compiled programs from the cache
// and runs them. A session keeps the programs it started with until it ends, even
// if a newer release arrives mid-call.
type Launcher struct {
	Releases Releases
	Programs *ProgramCache
	// Defaults are the settings every session gets (clock, dialer, HTTP client,
	// limits, logger); Launch fills in the scenario, its identity and its log.
	Defaults Config
}

// CallStart is one call that needs a session.
type CallStart struct {
	Account     string
	App         string
	Destination string // the dialled number or user name the rules match
	Trigger     string // scenarios.TriggerIncoming or TriggerOutgoing
	Info        SessionInfo
	Log         *SessionLog
	Incoming    *Incoming // the call that starts the session, if any
}

// Launch starts a session for cs and returns it running.
func (l *Launcher) Launch(ctx context.Context, cs CallStart) (*Session, error) {
	rel, _, err := l.Releases.Resolve(ctx, cs.Account, cs.App, cs.Trigger)
	if err != nil {
		return nil, fmt.Errorf("launch %s call for %s: %w", cs.App, cs.Account, err)
	}
	_, files, err := rel.Route(cs.Destination)
	if err != nil {
		return nil, fmt.Errorf("launch %s call for %s: %w", cs.App, cs.Account, err)
	}
	programs := make([]*Program, 0, len(files))
	release := func() {
		for _, p := range programs {
			l.Programs.Release(p)
		}
	}
	for _, f := range files {
		p, err := l.Programs.AcquireHashed(f.Name, f.SHA256, f.Source)
		if err != nil {
			release()
			return nil, fmt.Errorf("launch %s@%d: %w", rel.App, rel.Number, err)
		}
		programs = append(programs, p)
	}
	cfg := l.Defaults
	cfg.Name = rel.App
	cfg.Programs = programs
	cfg.Info = cs.Info
	if cfg.Info.AccountID == "" {
		cfg.Info.AccountID = cs.Account
	}
	if cfg.Info.ApplicationID == "" {
		cfg.Info.ApplicationID = rel.App
	}
	cfg.Log = cs.Log
	cfg.Release = fmt.Sprintf("%s@%d", rel.App, rel.Number)
	cfg.Version = fmt.Sprintf("%s scenario (version: %d)", triggerWord(cs.Trigger), rel.Number)
	s, err := New(ctx, cfg)
	if err != nil {
		release()
		return nil, err
	}
	if cs.Incoming != nil {
		s.Incoming(*cs.Incoming)
	}
	s.Run()
	go func() {
		<-s.Done()
		release()
	}()
	return s, nil
}

// triggerWord words the trigger as the seed's log does: "Start INCOMING scenario".
func triggerWord(trigger string) string {
	switch trigger {
	case scenarios.TriggerIncoming:
		return "INCOMING"
	case scenarios.TriggerOutgoing:
		return "OUTGOING"
	}
	return strings.ToUpper(trigger)
}
