package sim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"vox/media"
	"vox/runtime"
)

// leg is a simulated far end. All its methods and timers run on the session
// goroutine (the virtual clock fires there), so it needs no lock.
type leg struct {
	sim       *Simulation
	id        string
	dest      string // "caller" for the incoming call, else the dialled destination
	incoming  bool
	events    runtime.EventSink
	state     string // alerting, early, connected, ended
	tones     bool
	playback  runtime.Timer
	recording *recording
	ring      runtime.Timer
}

type recording struct {
	url   string
	start time.Time
}

// States of a simulated leg.
const (
	stateAlerting  = "alerting"
	stateEarly     = "early"
	stateConnected = "connected"
	stateEnded     = "ended"
)

var errEnded = errors.New("the call has ended")

func (l *leg) ID() string { return l.id }

func (l *leg) Attach(events runtime.EventSink) { l.events = events }

func (l *leg) emit(name string, params map[string]any) {
	l.events.Post(runtime.Event{Name: name, CallID: l.id, Params: params})
}

func (l *leg) after(d time.Duration, f func()) runtime.Timer {
	return l.sim.clock.AfterFunc(d, func() {
		if l.state != stateEnded {
			f()
		}
	})
}

func (l *leg) Answer(ctx context.Context, headers map[string]string) error {
	if !l.incoming {
		return errors.New("only an incoming call can be answered")
	}
	switch l.state {
	case stateEnded:
		return errEnded
	case stateConnected:
		return nil
	}
	l.state = stateConnected
	// Connected follows when the caller's ACK arrives; in virtual time that is
	// the same instant, but a separate event, as on the wire.
	l.after(0, func() { l.emit(runtime.EventConnected, nil) })
	return nil
}

func (l *leg) StartEarlyMedia(ctx context.Context, headers map[string]string) error {
	if !l.incoming {
		return errors.New("only an incoming call has early media")
	}
	if l.state != stateAlerting {
		return nil
	}
	l.state = stateEarly
	l.after(0, func() { l.emit(runtime.EventAudioStarted, nil) })
	return nil
}

func (l *leg) Hangup(ctx context.Context, code int, headers map[string]string) error {
	switch l.state {
	case stateEnded:
		return nil
	case stateConnected:
		l.end(runtime.EventDisconnected, nil)
	default:
		if l.incoming {
			l.end(runtime.EventDisconnected, nil)
		} else {
			// CANCEL: the far end answers 487 Request Terminated.
			l.end(runtime.EventFailed, map[string]any{"code": 487, "reason": Reason(487)})
		}
	}
	return nil
}

// end finishes the call from either side and reports it.
func (l *leg) end(event string, params map[string]any) {
	if l.state == stateEnded {
		return
	}
	l.stopTimers()
	l.state = stateEnded
	l.sim.forget(l)
	l.events.Post(runtime.Event{Name: event, CallID: l.id, Params: params})
	if l.recording != nil {
		// The recording is finished and reported after the call, as the seed's
		// log shows.
		l.emitRecordStopped("Stopped by user")
	}
}

func (l *leg) stopTimers() {
	if l.playback != nil {
		l.playback.Stop()
		l.playback = nil
	}
	if l.ring != nil {
		l.ring.Stop()
		l.ring = nil
	}
}

func (l *leg) Play(ctx context.Context, m runtime.Media) error {
	if l.state == stateEnded {
		return errEnded
	}
	if l.playback != nil {
		l.playback.Stop()
		l.playback = nil
	}
	d, err := l.sim.playDuration(m)
	if err != nil {
		l.playback = l.after(0, func() {
			l.playback = nil
			l.emit(runtime.EventPlaybackFinished, map[string]any{"error": err.Error()})
		})
		return nil
	}
	if m.Loop || d < 0 {
		return nil // plays until stopped
	}
	l.playback = l.after(d, func() {
		l.playback = nil
		l.emit(runtime.EventPlaybackFinished, nil)
	})
	return nil
}

func (l *leg) StopPlayback(ctx context.Context) error {
	if l.playback != nil {
		l.playback.Stop()
		l.playback = nil
	}
	return nil
}

func (l *leg) HandleTones(ctx context.Context, on bool) error {
	l.tones = on
	return nil
}

func (l *leg) Record(ctx context.Context, r runtime.Recording) error {
	if l.state == stateEnded {
		return errEnded
	}
	if l.recording != nil {
		return errors.New("the call is already being recorded")
	}
	l.sim.records++
	url := fmt.Sprintf("https://records.vox.invalid/%s/%d.mp3", l.sim.sessionID, l.sim.records)
	l.recording = &recording{url: url, start: l.sim.clock.Now()}
	l.after(0, func() { l.emit(runtime.EventRecordStarted, map[string]any{"url": url}) })
	return nil
}

func (l *leg) StopRecording(ctx context.Context) error {
	if l.recording == nil {
		return errors.New("the call is not being recorded")
	}
	l.emitRecordStopped("Stopped by user")
	return nil
}

func (l *leg) emitRecordStopped(reason string) {
	r := l.recording
	l.recording = nil
	secs := int(l.sim.clock.Now().Sub(r.start).Round(time.Second) / time.Second)
	l.emit(runtime.EventRecordStopped, map[string]any{"url": r.url, "duration": secs, "cost": 0, "reason": reason})
}

func (l *leg) SendDigits(ctx context.Context, digits string) error {
	if l.state == stateEnded {
		return errEnded
	}
	return nil
}

func (l *leg) SendMessage(ctx context.Context, text string) error {
	if l.state == stateEnded {
		return errEnded
	}
	return nil
}

func (l *leg) SendMediaTo(ctx context.Context, to runtime.Leg) error {
	if l.state == stateEnded {
		return errEnded
	}
	return nil
}

func (l *leg) StopMediaTo(ctx context.Context, to runtime.Leg) error { return nil }

// playDuration says how long m plays: a local file for its real length, a tone
// script once through (or for ever), speech for a rough reading time, and any other
// URL for the simulation's stated default. A negative duration means for ever.
func (s *Simulation) playDuration(m runtime.Media) (time.Duration, error) {
	switch {
	case m.ToneScript != "":
		ts, err := media.ParseToneScript(m.ToneScript)
		if err != nil {
			return 0, err
		}
		if d, ok := ts.Duration(); ok {
			return d, nil
		}
		return -1, nil
	case m.Text != "":
		words := len(strings.Fields(m.Text))
		return 500*time.Millisecond + time.Duration(words)*400*time.Millisecond, nil
	}
	if path, local := s.localAudio(m.URL); local {
		return media.FileDuration(path)
	}
	if d, ok := s.opts.PlaybackDurations[m.URL]; ok {
		return d, nil
	}
	return s.opts.DefaultPlayback, nil
}

// localAudio maps a file: URL or a path (relative to the scenario's directory) to a
// file name; local is false for network URLs.
func (s *Simulation) localAudio(url string) (path string, local bool) {
	path = strings.TrimPrefix(url, "file://")
	if strings.Contains(path, "://") {
		return "", false
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.opts.Dir, path)
	}
	return path, true
}
