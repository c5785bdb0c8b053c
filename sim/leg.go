package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vox/media/dtmf"
	"vox/media/record"
	"vox/runtime"
)

// leg is a simulated far end. All its methods and timers run on the session
// goroutine (the virtual clock fires there), so it needs no lock. Its audio is
// real (media.go).
type leg struct {
	sim      *Simulation
	id       string
	dest     string // "caller" for the incoming call, else the dialled destination
	incoming bool
	events   runtime.EventSink
	state    string // alerting, early, connected, ended
	ring     runtime.Timer

	// What the scenario plays to the leg, and its tick.
	playback *audio
	playTick runtime.Timer

	// What the far end says: its voice (nil is silence), with digits pressed
	// in band in its place, and the far-end tick.
	voice     *audio
	keys      *dtmf.Generator
	digits    string // pressed and not yet sounding
	pressedAt time.Time
	farTimer  runtime.Timer
	farAt     time.Time
	farFG     bool

	tones    bool
	detector *dtmf.Detector // while tones are handled
	// transfers: the scenario takes the far end's transfers
	// (HandleBlindTransfer); transferTo is the one it has yet to answer.
	transfers  bool
	transferTo string
	// transferWait ends the far end's wait for transferTo's outcome.
	transferWait runtime.Timer
	held         bool   // the far end holds the call
	relayTo      []*leg // legs that hear this one (SendMediaTo)
	recording    *recording
}

type recording struct {
	url    string
	rec    *record.Recorder
	failed bool // a write failed and was logged
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
	return l.schedule(d, false, f)
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
	l.wake()
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
	l.wake()
	return nil
}

// Ring is 180 Ringing to the simulated caller, whose phone would play its
// own ringback: nothing the simulation hears, so nothing happens but the
// command in the log.
func (l *leg) Ring(ctx context.Context, headers map[string]string) error {
	if !l.incoming {
		return errors.New("only an incoming call rings")
	}
	return nil
}

// connect is an outgoing call's answer.
func (l *leg) connect() {
	l.state = stateConnected
	l.emit(runtime.EventAudioStarted, nil)
	l.emit(runtime.EventConnected, nil)
	l.wake()
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
	l.release()
	l.state = stateEnded
	l.sim.forget(l)
	l.events.Post(runtime.Event{Name: event, CallID: l.id, Params: params})
	if l.recording != nil {
		// The recording is finished and reported after the call, as the seed's
		// log shows.
		l.emitRecordStopped("Stopped by user")
	}
}

// release stops the leg's timers and audio; a recording is left to the caller.
func (l *leg) release() {
	for _, t := range []runtime.Timer{l.ring, l.playTick, l.farTimer, l.transferWait} {
		if t != nil {
			t.Stop()
		}
	}
	l.ring, l.playTick, l.farTimer, l.transferWait = nil, nil, nil, nil
	for _, a := range []*audio{l.playback, l.voice} {
		if a != nil {
			a.close()
		}
	}
	l.playback, l.voice = nil, nil
	for _, o := range l.sim.live {
		o.relayTo = slices.DeleteFunc(o.relayTo, func(to *leg) bool { return to == l })
	}
}

func (l *leg) Play(ctx context.Context, m runtime.Media) error {
	if l.state == stateEnded {
		return errEnded
	}
	l.StopPlayback(ctx)
	a := l.sim.playAudio(m)
	l.playback = a
	// The first tick is in the foreground whatever plays: it reports a file
	// or URL that cannot be played.
	l.playTick = l.after(0, func() { l.playStep(a) })
	return nil
}

func (l *leg) StopPlayback(ctx context.Context) error {
	if l.playback != nil {
		l.playback.close()
		l.playback = nil
		l.playTick.Stop()
		l.playTick = nil
	}
	return nil
}

// askTransfer is the far end pressing its transfer key for to, as a phone
// sends REFER: refused, as Vox refuses it, unless the scenario takes
// transfers and has none under way.
func (l *leg) askTransfer(to string) {
	if code, why := runtime.TransferRefusal(l.state == stateConnected, l.transfers, l.transferTo != ""); code != 0 {
		l.sim.log.System(l.sim.clock.Now(), fmt.Sprintf("Simulation: call %s asked to be transferred to %s, refused with %d %s: %s", l.id, to, code, Reason(code), why))
		return
	}
	l.transferTo = to
	l.transferWait = l.schedule(runtime.TransferWait, false, func() {
		l.sim.log.System(l.sim.clock.Now(), fmt.Sprintf("Simulation: call %s gave up waiting for its transfer to %s after %s: 408 %s", l.id, to, runtime.TransferWait, Reason(408)))
		l.transferTo = ""
	})
	l.emit(runtime.EventBlindTransferRequested, map[string]any{"transferTo": to, "headers": map[string]string{"Refer-To": "sip:" + to + "@" + transferDomain}})
}

var (
	_ runtime.TransferLeg = (*leg)(nil)
	_ runtime.InfoLeg     = (*leg)(nil)
)

// SendInfo is a SIP INFO to the far end, which a simulation shows in the log.
func (l *leg) SendInfo(ctx context.Context, mimeType, body string, headers map[string]string) error {
	if l.state == stateEnded {
		return errEnded
	}
	l.sim.log.System(l.sim.clock.Now(), fmt.Sprintf("Simulation: call %s got an INFO (%s): %s", l.id, mimeType, body))
	return nil
}

// hold is the far end holding the call or taking it back, reported once
// each way as a phone's re-INVITEs are.
func (l *leg) hold(on bool) {
	if l.state != stateConnected || on == l.held {
		return
	}
	l.held = on
	if on {
		l.emit(runtime.EventOnHold, nil)
	} else {
		l.emit(runtime.EventOffHold, nil)
	}
}

// transferDomain is the host of the Refer-To URIs of simulated transfers.
const transferDomain = "sim.vox"

func (l *leg) HandleBlindTransfer(ctx context.Context, on bool) error {
	if l.state == stateEnded {
		return errEnded
	}
	l.transfers = on
	return nil
}

// NotifyBlindTransfer tells the far end how its transfer went; on success it
// hangs up, as a phone does.
func (l *leg) NotifyBlindTransfer(ctx context.Context, code int, reason string) error {
	if l.state == stateEnded {
		return errEnded
	}
	if l.transferTo == "" {
		return runtime.ErrNoTransfer
	}
	l.transferWait.Stop()
	l.transferWait = nil
	if reason == "" {
		reason = Reason(code)
	}
	l.sim.log.System(l.sim.clock.Now(), fmt.Sprintf("Simulation: call %s heard that its transfer to %s ended with %d %s", l.id, l.transferTo, code, reason))
	l.transferTo = ""
	if code >= 200 && code < 300 {
		l.end(runtime.EventDisconnected, nil)
	}
	return nil
}

func (l *leg) HandleTones(ctx context.Context, on bool) error {
	l.tones = on
	switch {
	case !on:
		l.detector = nil
	case l.detector == nil:
		d, err := dtmf.NewDetector(dtmf.DetectOptions{})
		if err != nil {
			return err
		}
		l.detector = d
		l.wake()
	}
	return nil
}

func (l *leg) Record(ctx context.Context, r runtime.Recording) error {
	if l.state == stateEnded {
		return errEnded
	}
	if l.recording != nil {
		return errors.New("the call is already being recorded")
	}
	rec, err := record.Start(l.sim.recordDir, record.Options{Stereo: r.Stereo, Clock: l.sim.clock.Now})
	if err != nil {
		return err
	}
	l.sim.records++
	// The URL is the simulation's own, so that logs replay exactly; the file
	// has the recorder's unguessable name.
	url := fmt.Sprintf("https://records.vox.invalid/%s/%d.wav", l.sim.sessionID, l.sim.records)
	l.recording = &recording{url: url, rec: rec}
	l.sim.opts.Logger.Info("recording", "call", l.id, "url", url, "file", rec.Path())
	if l.sim.opts.OnRecording != nil {
		l.sim.opts.OnRecording(url, rec.Path())
	}
	l.after(0, func() { l.emit(runtime.EventRecordStarted, map[string]any{"url": url}) })
	l.wake()
	return nil
}

func (l *leg) StopRecording(ctx context.Context) error {
	if l.recording == nil {
		return errors.New("the call is not being recorded")
	}
	l.emitRecordStopped("Stopped by user")
	return nil
}

// emitRecordStopped finishes the file and reports the recording's real
// length, in whole seconds as the seed's log does.
func (l *leg) emitRecordStopped(reason string) {
	r := l.recording
	l.recording = nil
	d, err := r.rec.Close()
	if err != nil {
		l.sim.opts.Logger.Warn("simulated recording failed", "call", l.id, "url", r.url, "err", err)
	}
	secs := int(d.Round(time.Second) / time.Second)
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

// SendMediaTo makes to hear what this leg's far end says, from the next tick.
func (l *leg) SendMediaTo(ctx context.Context, to runtime.Leg) error {
	if l.state == stateEnded {
		return errEnded
	}
	dst, ok := to.(*leg)
	if !ok {
		return fmt.Errorf("send media to %s: not a simulated call", to.ID())
	}
	if dst.state == stateEnded {
		return errEnded
	}
	if !slices.Contains(l.relayTo, dst) {
		l.relayTo = append(l.relayTo, dst)
	}
	l.wake()
	return nil
}

func (l *leg) StopMediaTo(ctx context.Context, to runtime.Leg) error {
	l.relayTo = slices.DeleteFunc(l.relayTo, func(d *leg) bool { return d == to })
	return nil
}
