package sip

import (
	"strconv"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// A phone that loses power or its network sends no BYE. Session timers find
// such a call only when the next refresh goes unanswered, up to half the
// session interval later (15 minutes by default), and the call is billed
// until then. A phone in a call sends RTP every 20 ms, so a call whose far
// end has sent none for CallOptions.MediaTimeout while the agreed direction
// has it send is ended with a BYE, as rtpengine's timeout and Asterisk's
// rtptimeout end it. A far end that owes no audio (a call it holds with
// inactive, or one we hold with sendonly) is not judged until the audio
// resumes. Browsers' calls are left to ICE and their WebSocket, which tell a
// gone browser sooner.
//
// Our own stream is kept going the same way (rtp.Endpoint.FillSilence):
// silence whenever the scenario plays nothing, so that a peer with such a
// timeout does not end a call that waits for digits or records a message.

// silenceWatch is what a leg knows about the far end's RTP; guarded by the
// leg's mu.
type silenceWatch struct {
	timer *time.Timer
	heard uint64    // what had come from the far end at the last look (rtp.Endpoint.Heard)
	since time.Time // when the far end was last heard, or began to owe audio
	owed  bool      // the agreed direction has the far end send
}

// watchSilence starts watching a connected call's RTP, and keeps ours
// going: a peer with a timeout like ours would end a call in which a
// scenario plays nothing for a while.
func (l *leg) watchSilence() {
	timeout := l.c.opts.MediaTimeout
	l.mu.Lock()
	ep := l.ep
	if l.state != stateConnected || ep == nil || l.rtc != nil || l.silence.timer != nil {
		l.mu.Unlock()
		return
	}
	if timeout > 0 {
		l.silence.since = time.Now()
		l.silence.timer = l.afterFunc(silenceStep(timeout), (*leg).checkSilence)
	}
	l.mu.Unlock()
	ep.FillSilence(true)
}

// silenceStep is how often a call's RTP is looked at: a silent call ends
// within a quarter of the timeout after it.
func silenceStep(timeout time.Duration) time.Duration { return timeout / 4 }

// checkSilence ends the call when the far end has owed audio and sent
// nothing for the timeout: no RTP, not even comfort noise, and no RTCP.
func (l *leg) checkSilence() {
	timeout := l.c.opts.MediaTimeout
	now := time.Now()
	l.mu.Lock()
	if l.state == stateEnded {
		l.mu.Unlock()
		return
	}
	// Heard takes only the endpoint's receive lock, which nothing holds
	// while it takes the leg's.
	heard := l.ep.Heard()
	w := &l.silence
	if heard != w.heard || !w.owed {
		w.heard, w.since = heard, now
	}
	silent := now.Sub(w.since)
	if silent < timeout {
		w.timer.Reset(silenceStep(timeout))
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	secs := strconv.Itoa(int(silent.Round(time.Second) / time.Second))
	l.log.Info("sip: no RTP from the far end; ending the call", "seconds", secs)
	// Q.850 cause 41, temporary failure: the network, not the callee, ended
	// the call.
	l.byeWith(nil, sipmsg.NewHeader("Reason", `Q.850;cause=41;text="no RTP for `+secs+` s"`))
}
