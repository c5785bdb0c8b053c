package sim

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vox/media"
	"vox/media/dtmf"
	"vox/media/pcm"
	"vox/media/player"
	"vox/runtime"
)

// A simulated leg carries real audio, 20 ms frames of 8 kHz samples, in virtual
// time. Two ticks drive it, each every pcm.FrameDuration on the simulation's
// clock and each running only while it has work:
//
//   - the playback tick, from the moment Play is called: it reads the next frame
//     of what the scenario plays (a media/player Playback, or the silence that
//     stands in for a URL the simulation has no file for) and gives it to the
//     leg to hear; Call.PlaybackFinished follows at the tick whose read returned
//     io.EOF, or with the error the read returned;
//   - the far-end tick: what the simulated person or phone at the other end
//     says (silence, a tone script or a file, with digits pressed sent in band
//     in its place), which goes to the leg's DTMF detector while the scenario
//     handles tones, to its recording, and to the legs it is bridged to.
//
// A tick whose end the scenario waits for is a foreground call on the virtual
// clock (a finite playback, digits being pressed, a far end saying a file);
// every other tick (a recording, a bridge, looping hold music) is background,
// so that it never keeps a simulation from becoming idle (VirtualClock).

// audio is a pcm.Source being played to a leg or said by a far end.
type audio struct {
	src pcm.Source
	// ready is closed once src has its audio; nil when it has from the start.
	// A player loads files, URLs and speech in a goroutine; the tick waits for
	// it, so that virtual time does not run on while real time loads.
	ready  <-chan struct{}
	stop   func() // nil when there is nothing to stop
	finite bool   // it ends by itself
}

func (a *audio) read(f *pcm.Frame) error {
	if a.ready != nil {
		<-a.ready
		a.ready = nil
	}
	return a.src.ReadFrame(f)
}

func (a *audio) close() {
	if a.stop != nil {
		a.stop()
	}
}

// silence is n frames of silence, or silence for ever when n is negative: the
// stated stand-in for a URL the simulation has no file for (--playback).
type silence struct{ n int }

func (s *silence) ReadFrame(f *pcm.Frame) error {
	if s.n == 0 {
		return io.EOF
	}
	if s.n > 0 {
		s.n--
	}
	*f = pcm.Silence
	return nil
}

// openMedia prepares what the legs play, say and record with: the scenario's
// player (files under Options.Dir, URLs through a download cache that --http
// routes answer, tone scripts, espeak-ng), the far ends' player, and the
// directory recordings go to. close removes the scratch directory.
func (s *Simulation) openMedia() (close func(), err error) {
	scratch, err := os.MkdirTemp("", "vox-sim-")
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	close = func() { os.RemoveAll(scratch) }
	dir, err := filepath.Abs(cmp.Or(s.opts.Dir, "."))
	if err != nil {
		close()
		return nil, fmt.Errorf("simulate: audio directory: %w", err)
	}
	cache, err := player.NewCache(filepath.Join(scratch, "cache"), player.CacheOptions{
		Client: &http.Client{Transport: s.opts.HTTP},
		Logger: s.opts.Logger,
	})
	if err != nil {
		close()
		return nil, fmt.Errorf("simulate: %w", err)
	}
	s.player = player.New(player.Options{Cache: cache, FileDir: dir})
	// Far ends' files are named on the command line or in the timeline, by
	// absolute name (farAudio makes them so): the root is the whole tree.
	s.farPlayer = player.New(player.Options{FileDir: "/"})
	s.recordDir = s.opts.RecordDir
	if s.recordDir == "" {
		s.recordDir = filepath.Join(scratch, "records")
	}
	return close, nil
}

// playAudio starts what Play asked for. A http(s) URL that no --http route
// answers plays as silence for PlaybackDurations[url] or DefaultPlayback: the
// simulation does not reach the network for audio.
func (s *Simulation) playAudio(m runtime.Media) *audio {
	if isHTTP(m.URL) && !s.opts.HTTP.routed(m.URL) {
		d, ok := s.opts.PlaybackDurations[m.URL]
		if !ok {
			d = s.opts.DefaultPlayback
		}
		n := int((d + pcm.FrameDuration - 1) / pcm.FrameDuration)
		if m.Loop {
			n = -1
		}
		return &audio{src: &silence{n: n}, finite: !m.Loop}
	}
	finite := !m.Loop
	if m.ToneScript != "" {
		if ts, err := media.ParseToneScript(m.ToneScript); err == nil {
			_, once := ts.Duration()
			finite = finite && once
		}
	}
	pb := s.player.Play(s.ctx, player.Media{URL: m.URL, ToneScript: m.ToneScript, Text: m.Text, Voice: m.Voice, Loop: m.Loop}, nil)
	return &audio{src: pb, ready: pb.Ready(), stop: pb.Stop, finite: finite}
}

func isHTTP(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https")
}

// farAudio starts what a far end says: a tone script (anything with a ";") or
// a WAV or MP3 file, relative to the working directory; nil for "", silence.
func (s *Simulation) farAudio(spec string) *audio {
	if spec == "" {
		return nil
	}
	m := player.Media{ToneScript: spec}
	finite := true
	if isToneScript(spec) {
		if ts, err := media.ParseToneScript(spec); err == nil {
			_, finite = ts.Duration()
		}
	} else {
		path, err := filepath.Abs(spec)
		if err != nil {
			path = spec
		}
		m = player.Media{URL: path}
	}
	pb := s.farPlayer.Play(s.ctx, m, nil)
	return &audio{src: pb, ready: pb.Ready(), stop: pb.Stop, finite: finite}
}

func isToneScript(spec string) bool { return strings.Contains(spec, ";") }

// ValidateAudio checks what a far end is to say (--caller-audio, a step's
// audio): a tone script that parses, or a file that exists.
func ValidateAudio(spec string) error {
	if isToneScript(spec) {
		_, err := media.ParseToneScript(spec)
		return err
	}
	st, err := os.Stat(spec)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", spec)
	}
	return nil
}

// mediaUp reports whether the far end's audio reaches the leg: an incoming
// call once answered or in early media, an outgoing call once answered.
func (l *leg) mediaUp() bool {
	return l.state == stateConnected || l.incoming && l.state == stateEarly
}

// schedule runs f after d on the simulation's clock, in the foreground or the
// background, unless the call has ended by then.
func (l *leg) schedule(d time.Duration, background bool, f func()) runtime.Timer {
	run := func() {
		if l.state != stateEnded {
			f()
		}
	}
	if background {
		return l.sim.clock.AfterFuncBackground(d, run)
	}
	return l.sim.clock.AfterFunc(d, run)
}

// playStep is the playback tick.
func (l *leg) playStep(a *audio) {
	l.playTick = nil
	var f pcm.Frame
	err := a.read(&f)
	switch {
	case err == nil:
		l.hear(&f, true)
		l.playTick = l.schedule(pcm.FrameDuration, !a.finite, func() { l.playStep(a) })
		return
	case errors.Is(err, pcm.ErrClosed):
		// Stopped from outside (the simulation is ending): no event.
		l.playback = nil
	case errors.Is(err, io.EOF):
		l.playback = nil
		l.emit(runtime.EventPlaybackFinished, nil)
	default:
		l.playback = nil
		l.emit(runtime.EventPlaybackFinished, map[string]any{"error": err.Error()})
	}
}

// hear takes a frame sent toward the leg's far end: what the scenario plays or,
// while nothing plays, what a bridged leg says (a playback has precedence, as
// on an RTP endpoint). The recording's callee side is what the leg hears.
func (l *leg) hear(f *pcm.Frame, played bool) {
	if !played && l.playback != nil {
		return
	}
	if l.recording != nil {
		l.recordFrame(l.recording.rec.Callee(), f)
	}
}

// farNeeded reports whether the far-end tick has work: a recording (which needs
// its caller side every 20 ms, silent or not), or, with media up, a detector,
// a bridge, digits or a voice to say.
func (l *leg) farNeeded() bool {
	if l.state == stateEnded {
		return false
	}
	if l.recording != nil {
		return true
	}
	return l.mediaUp() && (l.detector != nil || len(l.relayTo) > 0 || l.keys != nil || l.digits != "" || l.voice != nil)
}

// farForeground reports whether the far end is in the middle of something with
// an end: pressing digits or saying a file.
func (l *leg) farForeground() bool {
	return l.keys != nil || l.digits != "" || l.voice != nil && l.voice.finite
}

// wake starts the far-end tick if it has work, or moves a pending tick into
// the foreground or the background as farForeground now says, at the same
// instant: a digit pressed while a bridge ticks in the background must keep
// the simulation alive until it is detected.
func (l *leg) wake() {
	if !l.farNeeded() {
		return // a pending tick stops by itself
	}
	fg := l.farForeground()
	d := pcm.FrameDuration
	if l.farTimer != nil {
		if fg == l.farFG {
			return
		}
		l.farTimer.Stop()
		d = l.farAt.Sub(l.sim.clock.Now())
	}
	l.scheduleFar(d, fg)
}

func (l *leg) scheduleFar(d time.Duration, fg bool) {
	l.farAt, l.farFG = l.sim.clock.Now().Add(d), fg
	l.farTimer = l.schedule(d, !fg, l.farStep)
}

// farStep is the far-end tick: the frame the far end said over the last 20 ms
// reaches the leg now.
func (l *leg) farStep() {
	l.farTimer = nil
	if !l.farNeeded() {
		return
	}
	var f pcm.Frame
	l.speak(&f)
	if l.detector != nil {
		if d, ok := l.detector.Detect(&f); ok {
			l.emit(runtime.EventToneReceived, map[string]any{"tone": string(d)})
		}
	}
	if l.recording != nil {
		l.recordFrame(l.recording.rec.Caller(), &f)
	}
	for _, to := range l.relayTo {
		to.hear(&f, false)
	}
	if l.farNeeded() {
		l.scheduleFar(pcm.FrameDuration, l.farForeground())
	}
}

// speak fills f with the far end's next 20 ms: its voice, or the digits being
// pressed in its place (a phone mutes the microphone while it sends a tone),
// or silence before media is up.
func (l *leg) speak(f *pcm.Frame) {
	*f = pcm.Silence
	if !l.mediaUp() {
		return
	}
	if l.voice != nil {
		if err := l.voice.read(f); err != nil {
			if !errors.Is(err, io.EOF) {
				l.sim.opts.Logger.Warn("simulated far end cannot say its audio", "call", l.id, "err", err)
			}
			l.voice = nil
			*f = pcm.Silence
		}
	}
	// The frame that reaches the leg now is the far end's last 20 ms: digits
	// pressed at this very instant start in the next one.
	for l.keys != nil || l.digits != "" && l.sim.clock.Now().After(l.pressedAt) {
		if l.keys == nil {
			// Digits were checked when the step was read.
			l.keys, _ = dtmf.NewGenerator(l.digits, dtmf.SendOptions{})
			l.digits = ""
		}
		if l.keys.ReadFrame(f) == nil {
			return
		}
		l.keys = nil
	}
}

// press sends digits in band, after any still sounding.
func (l *leg) press(digits string) {
	if !l.mediaUp() {
		l.sim.opts.Logger.Warn("digits pressed before the call has media are lost", "call", l.id, "digits", digits)
		return
	}
	if l.keys == nil && l.digits == "" {
		l.pressedAt = l.sim.clock.Now()
	}
	l.digits += digits
	l.wake()
}

// say replaces what the far end says.
func (l *leg) say(spec string) {
	if l.voice != nil {
		l.voice.close()
	}
	l.voice = l.sim.farAudio(spec)
	l.wake()
}

func (l *leg) recordFrame(sink pcm.Sink, f *pcm.Frame) {
	if err := sink.WriteFrame(f); err != nil && !l.recording.failed {
		l.recording.failed = true
		l.sim.opts.Logger.Warn("simulated recording failed", "call", l.id, "url", l.recording.url, "err", err)
	}
}
