package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pionrtp "github.com/pion/rtp"

	"vox/media/dtmf"
	"vox/media/pcm"
	"vox/media/record"
	"vox/media/rtp"
)

// Errors of a Channel.
var (
	ErrClosed       = errors.New("media: channel closed")
	ErrRecording    = errors.New("media: the call is already being recorded")
	ErrNotRecording = errors.New("media: the call is not being recorded")
	ErrNoRecordDir  = errors.New("media: recording is not enabled (no storage directory)")
)

// ReasonStoppedByUser is the reason Call.RecordStopped gives for a recording
// stopped by StopRecording or by the end of the call; the seed's log shows it
// in both cases.
const ReasonStoppedByUser = "Stopped by user"

// ChannelEvents receives what happens on a Channel; a leg turns each call into
// the runtime event of the same name. The methods are called from any
// goroutine, some with the Channel's lock held: they must not block and must
// not call the Channel.
type ChannelEvents interface {
	// PlaybackFinished: the audio given to Play has really ended (err nil:
	// its last frame has been sent and its 20 ms have passed) or could not be
	// played (err: a download or decoding failure). A playback that was
	// stopped, replaced, cut short by its context or by Close reports nothing.
	PlaybackFinished(err error)
	// ToneReceived: a DTMF digit (0-9 * # A-D) arrived while tones are
	// handled.
	ToneReceived(digit byte)
	// RecordStarted: a recording started; url is where it will be served.
	RecordStarted(url string)
	// RecordStopped: the recording is finished, d long; reason is
	// ReasonStoppedByUser, or what went wrong when writing it failed.
	RecordStopped(url string, d time.Duration, reason string)
}

// ChannelOptions configure a Channel. The zero value plays, handles and sends
// digits with the usual figures and refuses to record.
type ChannelOptions struct {
	// RecordDir is the tenant's storage directory (S17: recordings stay with
	// the tenant); "" refuses Record.
	RecordDir string
	// RecordURL turns a recording's token into the URL Call.RecordStarted
	// reports (where record.Handler serves it); nil reports the token.
	RecordURL func(token string) string
	// Send says how SendDigits sends, as RFC 4733 events or in band.
	Send dtmf.SendOptions
	// Detect tunes in-band digit detection.
	Detect dtmf.DetectOptions
	// Logger; default discards.
	Logger *slog.Logger
}

// Audio is what Play sends: a source of frames that can be stopped early, so
// that it lets go of what it holds (a download, a decoder). ReadFrame returns
// io.EOF when the audio has ended, and pcm.ErrClosed after Stop; any other
// error is a failure Call.PlaybackFinished reports. *player.Playback is one
// (made with a nil finished callback: the Channel reports the end itself).
type Audio interface {
	pcm.Source
	Stop()
}

// Channel is the media of one call leg: an rtp.Endpoint and what the runtime
// asks of it (runtime.Leg's Play, StopPlayback, HandleTones, Record,
// StopRecording, SendDigits, SendMediaTo, StopMediaTo), reporting through
// ChannelEvents. Signalling (SIP, WebRTC) creates the endpoint from its
// session description, wraps it in a Channel, and keeps the endpoint's remote
// address and codecs up to date; the Channel owns the endpoint from then on.
//
// # Digits
//
// Received digits come two ways: RFC 4733 events, and DTMF tones in the audio
// (Goertzel detection) for phones that do not send events. Some phones send
// both for every key; so once a Channel has received one RFC 4733 digit it
// trusts events alone and stops listening in band for the rest of the call,
// and no key is reported twice. The event normally arrives first (the tone
// must last 40 ms to be detected), so even the first key is reported once.
//
// # Recording
//
// A recording's caller side is what the endpoint receives. Its callee side is
// what the far end hears, which the endpoint's one outbound stream (see
// package rtp) takes from one writer at a time: the current playback, else the
// channel relaying into this one (another Channel's SendMediaTo). The callee
// side follows the same precedence: a playback's frames are copied as they
// are sent, and the relaying channel's received audio only while nothing
// plays, so no frame is recorded twice. (While SendDigits holds the stream
// for an RFC 4733 event, the far end hears no audio but the recording goes
// on with what would have played.)
//
// # Locks
//
// Each Channel has two locks. ctl is taken first: it serialises the changes to
// what flows into the channel (which channel relays into it) and to its
// recording, and Close. mu, the inner lock, guards the channel's own state.
// No goroutine ever holds two ctl locks or two mu locks, and none takes a ctl
// lock while it holds a mu lock, so operations on two channels (A relays to
// B while B relays to A, both closing at once) cannot deadlock. What the
// media goroutines read (the current playback, the recording, the relay
// targets) is published through atomic pointers, so sending and receiving
// audio takes neither lock. mu is never held while waiting for the
// endpoint's goroutines: the endpoint is closed without it.
type Channel struct {
	ep     *rtp.Endpoint
	opts   ChannelOptions
	events ChannelEvents
	log    *slog.Logger
	sender *dtmf.Sender
	sink   pcm.Sink // the one sink on the endpoint, while one is needed
	tone   time.Duration
	gap    time.Duration

	ctl sync.Mutex
	mu  sync.Mutex

	// Written under mu, read by the media goroutines.
	play     atomic.Pointer[playing]
	rec      atomic.Pointer[recording]
	targets  atomic.Pointer[[]*Channel] // channels this one relays to
	detector atomic.Pointer[dtmf.Detector]
	tones    atomic.Bool
	closed   atomic.Bool
	// from is the channel relaying into this one; written under ctl.
	from atomic.Pointer[Channel]
	// eventsSeen: an RFC 4733 digit has been received; in-band detection
	// is over.
	eventsSeen atomic.Bool

	// Guarded by mu.
	removeSink func()
	inBand     bool        // the far end did not negotiate telephone-event
	digits     *digitQueue // in-band digits playing, nil when none
	pending    string      // RFC 4733 digits waiting for the sending goroutine
	sending    bool

	receiver dtmf.Receiver // the endpoint's receive goroutine only

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

// playing is one Play (or in-band digits) on the endpoint. It is the source
// the endpoint reads: it copies each frame to the recording's callee side
// while it is the channel's current playback.
type playing struct {
	c       *Channel
	audio   Audio
	encoded rtp.PayloadReader // audio, when it is one
	// rec is the channel's recording while this is its current playback,
	// kept here under the channel's mu so a frame reads this one cache
	// line, not the channel's: the pacer reads hundreds of them a tick.
	rec    atomic.Pointer[recording]
	ctx    context.Context
	rtp    *rtp.Playback
	report bool        // Call.PlaybackFinished; not for digits
	digits *digitQueue // set for in-band digits
}

// recording is the current recording with its two sinks, made once.
type recording struct {
	r              *record.Recorder
	caller, callee pcm.Sink
	url            string
}

// NewChannel wraps ep. It checks opts; on error the caller keeps ep. events
// may be nil to drop them.
func NewChannel(ep *rtp.Endpoint, opts ChannelOptions, events ChannelEvents) (*Channel, error) {
	sender, err := dtmf.NewSender(opts.Send)
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	if err := opts.Detect.Check(); err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	if events == nil {
		events = noEvents{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		ep:     ep,
		opts:   opts,
		events: events,
		log:    opts.Logger,
		sender: sender,
		tone:   cmp.Or(opts.Send.Tone, dtmf.DefaultTone),
		gap:    cmp.Or(opts.Send.Gap, dtmf.DefaultGap),
		done:   make(chan struct{}),
	}
	c.sink = channelSink{c}
	ep.OnEvent(c.onEvent)
	return c, nil
}

type noEvents struct{}

func (noEvents) PlaybackFinished(error)                      {}
func (noEvents) ToneReceived(byte)                           {}
func (noEvents) RecordStarted(string)                        {}
func (noEvents) RecordStopped(string, time.Duration, string) {}

// Stats reports the endpoint's statistics (the call's quality figure, S21).
func (c *Channel) Stats() rtp.Stats { return c.ep.Stats() }

// SetTelephoneEvent applies what offer/answer agreed on RFC 4733 (sdp.Media's
// EventPT): the telephone-event payload type, or 0 when the far end did not
// negotiate it and SendDigits must play digits in band. Until it is called,
// digits go as events on the endpoint's payload type.
func (c *Channel) SetTelephoneEvent(pt uint8) {
	if pt != 0 {
		c.ep.SetTelephoneEventPT(pt)
	}
	c.mu.Lock()
	c.inBand = pt == 0
	c.mu.Unlock()
}

// Play sends a to the far end, replacing whatever plays; ctx bounds it (the
// call's context). Call.PlaybackFinished follows when it ends by itself or
// fails. The channel stops a when the playback ends, however it ends.
func (c *Channel) Play(ctx context.Context, a Audio) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		a.Stop()
		return ErrClosed
	}
	c.startLocked(ctx, &playing{audio: a, report: true})
	return nil
}

// startLocked makes pl the endpoint's playback; the caller holds mu. pl is
// current before the endpoint reads its first frame, so the recording gets
// every frame, and any playback it replaces is no longer current, so nothing
// it does later (a frame, its end) is reported or recorded.
func (c *Channel) startLocked(ctx context.Context, pl *playing) {
	pl.c, pl.ctx = c, ctx
	pl.encoded, _ = pl.audio.(rtp.PayloadReader)
	c.setPlayLocked(pl)
	c.digits = pl.digits
	pl.rtp = c.ep.Play(ctx, pl)
	c.wg.Add(1)
	go c.watch(pl)
}

// setPlayLocked makes pl the current playback (nil: none) and returns the
// one it replaces; the caller holds mu. Only the current playback's frames
// are recorded.
func (c *Channel) setPlayLocked(pl *playing) *playing {
	old := c.play.Load()
	if old != nil {
		old.rec.Store(nil)
	}
	if pl != nil {
		pl.rec.Store(c.rec.Load())
	}
	c.play.Store(pl)
	return old
}

// setRecLocked makes rec the recording (nil: none) and returns the one it
// replaces; the caller holds mu.
func (c *Channel) setRecLocked(rec *recording) *recording {
	old := c.rec.Swap(rec)
	if pl := c.play.Load(); pl != nil {
		pl.rec.Store(rec)
	}
	return old
}

// ReadFrame is what the endpoint sends: the audio's frame, copied to the
// recording's callee side.
func (pl *playing) ReadFrame(f *pcm.Frame) error {
	if err := pl.audio.ReadFrame(f); err != nil {
		return err
	}
	if rec := pl.rec.Load(); rec != nil {
		rec.callee.WriteFrame(f) // a failing recorder reports at StopRecording
	}
	return nil
}

// ReadPayload passes the audio's encoded frames on (rtp.PayloadReader)
// unless they are being recorded, which takes the samples.
func (pl *playing) ReadPayload(dst []byte, codec rtp.Codec) bool {
	if pl.encoded == nil || pl.rec.Load() != nil {
		return false
	}
	return pl.encoded.ReadPayload(dst, codec)
}

// watch waits for a playback to end and reports it if it is still current.
// Reporting under mu orders it with Play: once Play has returned, no earlier
// playback reports.
func (c *Channel) watch(pl *playing) {
	defer c.wg.Done()
	<-pl.rtp.Done()
	err := pl.rtp.Err()
	pl.audio.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.play.Load() != pl {
		return
	}
	c.setPlayLocked(nil)
	if c.digits == pl.digits {
		c.digits = nil
	}
	if pl.report && !interrupted(pl.ctx, err) {
		c.events.PlaybackFinished(err)
	}
}

// interrupted tells a playback ended from outside (stopped, replaced, closed,
// its context ended) from one that ended by itself or failed.
func interrupted(ctx context.Context, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, rtp.ErrStopped), errors.Is(err, rtp.ErrReplaced),
		errors.Is(err, rtp.ErrClosed), errors.Is(err, pcm.ErrClosed):
		return true
	}
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// StopPlayback stops what Play (or in-band SendDigits) started; nothing is
// reported.
func (c *Channel) StopPlayback() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.setPlayLocked(nil) != nil {
		c.digits = nil
		c.ep.StopPlayback()
	}
}

// HandleTones turns the reporting of received digits on or off. While it is
// on, digits are taken from RFC 4733 events and, until the first event, from
// the audio (see Digits in the type's comment).
func (c *Channel) HandleTones(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	c.tones.Store(on)
	switch {
	case on && c.detector.Load() == nil:
		d, _ := dtmf.NewDetector(c.opts.Detect) // checked by NewChannel
		c.detector.Store(d)
	case !on:
		c.detector.Store(nil)
	}
	c.refreshLocked()
	return nil
}

// onEvent takes the endpoint's RFC 4733 packets, on its receive goroutine.
// The receiver follows events whether or not tones are handled, so turning
// them on in the middle of a key press does not report that key.
func (c *Channel) onEvent(p *pionrtp.Packet) {
	digit, ok := c.receiver.Receive(p)
	if !ok {
		return
	}
	if !c.eventsSeen.Swap(true) {
		c.refreshSink()
	}
	if c.tones.Load() && !c.closed.Load() {
		c.events.ToneReceived(digit)
	}
}

// channelSink is the Channel's sink on its endpoint: the received audio goes
// to the in-band detector, the recording's caller side, and the callee side
// of the recording of each channel this one relays to. It runs on the
// endpoint's receive goroutine and never fails, so the endpoint keeps it.
type channelSink struct{ c *Channel }

func (s channelSink) WriteFrame(f *pcm.Frame) error {
	c := s.c
	if d := c.detector.Load(); d != nil && !c.eventsSeen.Load() {
		if digit, ok := d.Detect(f); ok && c.tones.Load() && !c.closed.Load() {
			c.events.ToneReceived(digit)
		}
	}
	if rec := c.rec.Load(); rec != nil {
		rec.caller.WriteFrame(f)
	}
	if targets := c.targets.Load(); targets != nil {
		for _, t := range *targets {
			// t hears this channel only while it plays nothing (the
			// endpoint's precedence); a playback's frames are recorded by
			// the playback.
			if t.from.Load() == c && t.play.Load() == nil {
				if rec := t.rec.Load(); rec != nil {
					rec.callee.WriteFrame(f)
				}
			}
		}
	}
	return nil
}

// refreshSink puts the channel's sink on the endpoint or takes it off, as
// needed now: the endpoint decodes received audio only for its sinks, and a
// bridge that nobody records or listens to relays packets untouched. Every
// change to what the sink serves is followed by a refresh, which reads the
// state as it is then, so the last refresh sees the last change.
func (c *Channel) refreshSink() {
	c.mu.Lock()
	c.refreshLocked()
	c.mu.Unlock()
}

func (c *Channel) refreshLocked() {
	need := !c.closed.Load() && (c.rec.Load() != nil ||
		c.detector.Load() != nil && !c.eventsSeen.Load() ||
		c.tapNeeded())
	switch {
	case need && c.removeSink == nil:
		c.removeSink = c.ep.AddSink(c.sink)
	case !need && c.removeSink != nil:
		c.removeSink()
		c.removeSink = nil
	}
}

// tapNeeded: a channel this one relays to is recording what it hears.
func (c *Channel) tapNeeded() bool {
	if targets := c.targets.Load(); targets != nil {
		for _, t := range *targets {
			if t.from.Load() == c && t.rec.Load() != nil {
				return true
			}
		}
	}
	return false
}

// Record starts recording the call in ChannelOptions.RecordDir, stereo (this
// leg left, what it hears right) or mixed; Call.RecordStarted follows with
// the recording's URL.
func (c *Channel) Record(stereo bool) error {
	if c.opts.RecordDir == "" {
		return ErrNoRecordDir
	}
	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.rec.Load() != nil {
		c.mu.Unlock()
		return ErrRecording
	}
	r, err := record.Start(c.opts.RecordDir, record.Options{Stereo: stereo})
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("record: %w", err)
	}
	url := r.Token()
	if c.opts.RecordURL != nil {
		url = c.opts.RecordURL(url)
	}
	c.setRecLocked(&recording{r: r, caller: r.Caller(), callee: r.Callee(), url: url})
	c.refreshLocked()
	c.events.RecordStarted(url)
	c.mu.Unlock()
	// from is stable under ctl.
	if src := c.from.Load(); src != nil {
		src.refreshSink()
	}
	return nil
}

// StopRecording finishes the recording; Call.RecordStopped follows.
func (c *Channel) StopRecording() error {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.mu.Lock()
	rec := c.setRecLocked(nil)
	if rec == nil {
		c.mu.Unlock()
		return ErrNotRecording
	}
	c.refreshLocked()
	c.finishLocked(rec)
	c.mu.Unlock()
	if src := c.from.Load(); src != nil {
		src.refreshSink()
	}
	return nil
}

// finishLocked closes a recording taken out of c.rec and reports it; the
// caller holds mu, which orders RecordStopped before any later
// RecordStarted.
func (c *Channel) finishLocked(rec *recording) {
	d, err := rec.r.Close()
	reason := ReasonStoppedByUser
	if err != nil {
		c.log.Warn("recording failed", "file", rec.r.Path(), "err", err)
		reason = err.Error()
	}
	c.events.RecordStopped(rec.url, d, reason)
}

// SendDigits sends digits (0-9 * # A-D) to the far end without waiting: as
// RFC 4733 events when it negotiated telephone-event (SetTelephoneEvent),
// otherwise as DTMF tones played like Play, replacing what plays, with no
// Call.PlaybackFinished. Digits sent while earlier ones are still going
// follow them. ctx bounds the sending (the call's context); digits queued
// behind a running send go with its context.
func (c *Channel) SendDigits(ctx context.Context, digits string) error {
	for i := range len(digits) {
		if _, err := dtmf.Code(digits[i]); err != nil {
			return err
		}
	}
	if digits == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if c.inBand {
		g, err := dtmf.NewGenerator(digits, c.opts.Send)
		if err != nil {
			return err
		}
		if c.digits != nil && c.digits.add(g) {
			return nil
		}
		q := &digitQueue{gens: []*dtmf.Generator{g}}
		c.startLocked(ctx, &playing{audio: q, digits: q})
		return nil
	}
	c.pending += digits
	if !c.sending {
		c.sending = true
		c.wg.Add(1)
		go c.sendEvents(ctx)
	}
	return nil
}

// sendEvents sends the pending digits as RFC 4733 packets on dtmf.Sender's
// schedule, until none are left. It holds the endpoint's stream only during
// each event (from the start packet to the last end packet), so audio goes on
// between keys; a new writer per event takes the stream's timestamp at that
// moment, as the event's timestamp must be its start (RFC 4733 §2.5.1.2).
func (c *Channel) sendEvents(ctx context.Context) {
	defer c.wg.Done()
	var (
		w       *rtp.Writer
		seq     uint16
		payload [dtmf.PayloadSize]byte
		next    time.Time // the earliest start of the next batch: after the last one's gap
	)
	finished := false
	defer func() {
		if w != nil {
			w.Close()
		}
		if !finished {
			// Cut short (the call or the channel ended): what is queued
			// goes too.
			c.mu.Lock()
			c.sending, c.pending = false, ""
			c.mu.Unlock()
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		c.mu.Lock()
		digits := c.pending
		c.pending = ""
		if digits == "" {
			// Under the lock that SendDigits queues under: digits queued
			// from now on start a new goroutine.
			c.sending = false
			finished = true
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		packets, err := c.sender.Packets(digits)
		if err != nil { // checked by SendDigits
			c.log.Warn("send digits", "err", err)
			return
		}
		start := time.Now()
		if next.After(start) {
			start = next
		}
		next = start.Add(time.Duration(len(digits)) * (c.tone + c.gap))
		for i, p := range packets {
			timer.Reset(time.Until(start.Add(p.At)))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			case <-c.done:
				return
			}
			if w == nil {
				if w, err = c.ep.OpenWriter(); err != nil {
					c.log.Warn("send digits", "err", err)
					return
				}
			}
			n, _ := p.Event.MarshalTo(payload[:])
			pkt := pionrtp.Packet{
				Header: pionrtp.Header{
					Version:        2,
					PayloadType:    c.ep.TelephoneEventPT(),
					Marker:         p.Marker,
					SequenceNumber: seq,
					Timestamp:      p.Timestamp,
				},
				Payload: payload[:n],
			}
			if err := w.WriteRTP(&pkt); err != nil {
				c.log.Debug("send digits", "err", err)
			}
			seq++
			if p.Event.End && (i+1 == len(packets) || packets[i+1].Marker) {
				w.Close()
				w = nil
			}
		}
	}
}

// digitQueue plays in-band digits one string after another.
type digitQueue struct {
	mu    sync.Mutex
	gens  []*dtmf.Generator
	ended bool
}

// add queues g behind the digits playing; false once they have ended.
func (q *digitQueue) add(g *dtmf.Generator) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended {
		return false
	}
	q.gens = append(q.gens, g)
	return true
}

func (q *digitQueue) ReadFrame(f *pcm.Frame) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.gens) > 0 && !q.ended {
		err := q.gens[0].ReadFrame(f)
		if !errors.Is(err, io.EOF) {
			return err
		}
		q.gens = q.gens[1:]
	}
	if q.ended {
		return pcm.ErrClosed
	}
	q.ended = true
	return io.EOF
}

func (q *digitQueue) Stop() {
	q.mu.Lock()
	q.ended, q.gens = true, nil
	q.mu.Unlock()
}

// SendMediaTo sends the audio and events this channel receives to dst's far
// end (runtime.Leg's SendMediaTo; SendMediaBetween is both ways). dst takes
// media from one channel at a time: this replaces any other channel relaying
// into dst.
func (c *Channel) SendMediaTo(dst *Channel) error {
	if dst == c {
		return rtp.ErrSelf
	}
	dst.ctl.Lock()
	defer dst.ctl.Unlock()
	if c.closed.Load() || dst.closed.Load() {
		return ErrClosed
	}
	if err := c.ep.SendMediaTo(dst.ep); err != nil {
		return fmt.Errorf("send media: %w", err)
	}
	if old := dst.from.Swap(c); old != nil && old != c {
		old.removeTarget(dst) // the endpoint has stopped old's relay into dst
	}
	if !c.addTarget(dst) {
		// c closed meanwhile, after taking stock of its targets.
		dst.from.CompareAndSwap(c, nil)
		c.ep.StopMediaTo(dst.ep)
		return ErrClosed
	}
	return nil
}

// StopMediaTo ends what SendMediaTo started.
func (c *Channel) StopMediaTo(dst *Channel) {
	dst.ctl.Lock()
	defer dst.ctl.Unlock()
	c.ep.StopMediaTo(dst.ep)
	dst.from.CompareAndSwap(c, nil)
	c.removeTarget(dst)
}

// addTarget records that c relays to dst; false if c is closed.
func (c *Channel) addTarget(dst *Channel) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	var cur []*Channel
	if p := c.targets.Load(); p != nil {
		cur = *p
	}
	if !slices.Contains(cur, dst) {
		next := append(slices.Clone(cur), dst)
		c.targets.Store(&next)
	}
	c.refreshLocked()
	return true
}

func (c *Channel) removeTarget(dst *Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.targets.Load(); p != nil && slices.Contains(*p, dst) {
		next := slices.DeleteFunc(slices.Clone(*p), func(t *Channel) bool { return t == dst })
		if len(next) == 0 {
			c.targets.Store(nil)
		} else {
			c.targets.Store(&next)
		}
	}
	c.refreshLocked()
}

// Close ends everything the channel does: the playback (unreported), digits
// being sent, the relays into and out of it, and a recording, which is
// finished and reported (Call.RecordStopped, ReasonStoppedByUser); then it
// closes the endpoint, which returns its ports. It returns when the channel's
// goroutines have ended, and is safe to call more than once, but not from
// ChannelEvents.
func (c *Channel) Close() error {
	c.closeOnce.Do(c.close)
	return nil
}

func (c *Channel) close() {
	c.ctl.Lock()
	c.mu.Lock()
	c.closed.Store(true)
	c.setPlayLocked(nil)
	c.digits = nil
	rec := c.setRecLocked(nil)
	var targets []*Channel
	if p := c.targets.Swap(nil); p != nil {
		targets = *p
	}
	c.tones.Store(false)
	c.detector.Store(nil)
	c.refreshLocked()
	c.mu.Unlock()
	close(c.done)
	from := c.from.Swap(nil)
	c.ctl.Unlock()

	if from != nil {
		from.removeTarget(c)
	}
	for _, t := range targets {
		t.ctl.Lock()
		t.from.CompareAndSwap(c, nil)
		t.ctl.Unlock()
	}
	c.ep.Close() // ends the playback and the relays at the endpoint
	if rec != nil {
		c.mu.Lock()
		c.finishLocked(rec)
		c.mu.Unlock()
	}
	c.wg.Wait()
}
