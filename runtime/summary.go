package runtime

import "time"

// SessionSummary is what a session knows about its calls when it ends: the
// call record (S5, S21) and billing are made from it. Config.OnEnd gets it once.
type SessionSummary struct {
	SessionID string
	AccountID string
	App       string
	Release   string // Config.Release: the scenario release that ran
	Start     time.Time
	End       time.Time
	Legs      []LegSummary // in the order the session got them; the first is the incoming call, if any
	// Err is why the scenario failed (wraps ErrScenario), nil when it ended normally.
	Err        error
	CustomData string
}

// LegSummary is one call of a session.
type LegSummary struct {
	ID       string
	Incoming bool
	Kind     string // DialUser, DialSIP, DialPSTN; "" for the incoming call
	From     string // the caller id as the call carried or the scenario set it
	To       string // the number, user or URI called
	Device   string // what LegDevice reported; "" when the leg did not say
	Start    time.Time
	// Connected is when the call was answered; zero when it never was.
	Connected time.Time
	End       time.Time
	// Code is the SIP status that ended the call: 200 for an answered call, the
	// failure's code (486, 487, 603 …), or the code the scenario hung up with.
	Code       int
	Reason     string
	RecordURLs []string // where the call's recordings are (S17: only their URLs)
}

// Talk is how long the call was connected.
func (l LegSummary) Talk() time.Duration {
	if l.Connected.IsZero() || l.End.Before(l.Connected) {
		return 0
	}
	return l.End.Sub(l.Connected)
}

// LegDevice is what a leg implements when it knows the kind of device on the
// other end ("PHONE", "WEBRTC"); a leg that does not is taken for a phone.
type LegDevice interface {
	Device() string
}

// summary collects what the session's legs reported. It runs on the session
// goroutine once the session has finished.
func (s *Session) summary() SessionSummary {
	sum := SessionSummary{
		SessionID:  s.cfg.Info.SessionID,
		AccountID:  s.cfg.Info.AccountID,
		App:        s.cfg.Name,
		Release:    s.cfg.Release,
		Start:      s.startedAt,
		End:        s.now(),
		Err:        s.err,
		CustomData: s.customData,
		Legs:       make([]LegSummary, 0, len(s.allLegs)),
	}
	for _, st := range s.allLegs {
		l := LegSummary{
			ID: st.leg.ID(), Incoming: st.incoming, Kind: st.kind, From: st.from, To: st.to,
			Start: st.started, Connected: st.connected, End: st.ended,
			Code: st.code, Reason: st.reason, RecordURLs: st.recordURLs,
		}
		if d, ok := st.leg.(LegDevice); ok {
			l.Device = d.Device()
		}
		if l.End.IsZero() {
			// Still up when the session ended: finish hung it up just now.
			l.End = sum.End
		}
		if l.Code == 0 {
			l.Code, l.Reason = endCode(st)
		}
		sum.Legs = append(sum.Legs, l)
	}
	return sum
}

// endCode is the status of a call that ended without a code of its own: an
// answered call ended well; one never answered was cancelled.
func endCode(st *legState) (int, string) {
	if !st.connected.IsZero() {
		return 200, "OK"
	}
	return 487, "Request Terminated"
}
