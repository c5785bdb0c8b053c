// Package player owns playback toward a call: audio files (WAV and MP3, local
// or downloaded over HTTP(S) into a bounded cache), tone scripts (S23) and
// text spoken by espeak-ng, each turned into 20 ms frames at 8 kHz
// (pcm.Source) for an RTP endpoint or a simulated leg to send.
//
// Files and speech are decoded whole, up front, by a goroutine that Play
// starts: the 20 ms pacer that sends every call's frames (package rtp) only
// copies samples out of memory, and until the audio is ready it reads
// silence. A decoded file is held at 8 kHz, 16 kB a second, and bounded by
// Options.MaxDuration. A tone script's frames are made once per Player and
// kept encoded, for every call that plays it (see tonePlan); a tone held on
// for ever is generated as it is read.
package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"vox/media/pcm"
	"vox/media/rtp"
)

// Errors a playback finishes with; wrapped with what was being played.
var (
	ErrStopped  = errors.New("playback stopped")
	ErrNoMedia  = errors.New("nothing to play: want exactly one of URL, tone script or text")
	ErrBadURL   = errors.New("unsupported URL")
	ErrFetch    = errors.New("download failed")
	ErrTimeout  = errors.New("download timed out")
	ErrTooLarge = errors.New("file too large")
	ErrTooLong  = errors.New("too long to play")
	ErrNotAudio = errors.New("not audio")
	// ErrUnsupportedFormat is audio whose format Vox cannot decode.
	ErrUnsupportedFormat = errors.New("unsupported audio format")
	ErrNoText            = errors.New("no text to speak")
	ErrNoSpeech          = errors.New("text to speech needs espeak-ng, which is not installed")
	ErrUnknownVoice      = errors.New("unknown voice")
)

// Media is what to play, as the runtime's Play command says it (runtime.Media):
// exactly one of URL, ToneScript or Text.
type Media struct {
	URL        string // http(s)://…, or a file name under Options.FileDir
	ToneScript string // Cisco ToneScript, S23
	Text       string // spoken by espeak-ng
	Voice      string // espeak-ng voice for Text; "" for Speech.DefaultVoice
	// Loop starts the audio again at its end, until stopped. A tone script
	// that repeats for ever (`*`) plays until stopped either way.
	Loop bool
}

// Options configure a Player; the zero value plays tone scripts and speech and
// refuses URLs and files.
type Options struct {
	// Cache fetches http and https URLs; nil refuses them.
	Cache *Cache
	// FileDir is where local files are played from; "" refuses them. A name
	// is looked up inside it and may not leave it (os.Root), since scenarios
	// are untrusted.
	FileDir string
	// Speech renders Text; nil uses espeak-ng with its defaults.
	Speech *Speech
	// MaxDuration bounds a decoded file or speech; default 10 minutes (9.6 MB
	// in memory).
	MaxDuration time.Duration
}

// Player starts playbacks. One Player serves every call; it is safe for
// concurrent use.
type Player struct {
	opts  Options
	tones toneCache
}

// New returns a Player.
func New(o Options) *Player {
	if o.Speech == nil {
		o.Speech = &Speech{}
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 10 * time.Minute
	}
	return &Player{opts: o}
}

// Playback is one Play: a pcm.Source that ends when its audio does.
//
// finished, given to Play, is called exactly once: with nil when the last
// frame has been read (the audio really ended), with the error when the media
// cannot be played (as soon as that is known, while ReadFrame gives silence),
// and with an error wrapping ErrStopped after Stop or when Play's context ends.
// It is called from whichever goroutine got there (the reader's, the loader's,
// Stop's caller, or Play's own caller for a request that is wrong from the
// start) and must not block; the runtime turns it into
// Call.PlaybackFinished, skipping ErrStopped.
type Playback struct {
	mu  sync.Mutex
	src source // nil while loading
	err error  // why it ended, once it has
	// plan is src for a planned tone: in the Playback, which a frame
	// reads anyway, rather than on a cache line of its own.
	plan     planSource
	finished func(error)
	ready    chan struct{} // closed when src is set or err is
	cancel   context.CancelFunc
	unwatch  func() bool
}

// source is audio ready to read; read reports false once it has ended.
type source interface {
	read(f *pcm.Frame) bool
}

// encodedSource is a source that also has its frames encoded: readPayload
// writes the next one in c into dst, or reports false, having read nothing.
type encodedSource interface {
	readPayload(dst []byte, c rtp.Codec) bool
}

// Play starts playing m. It never blocks on I/O: files, URLs and speech load
// in a goroutine. ctx bounds the playback (a call's context): when it ends,
// the playback stops.
func (p *Player) Play(ctx context.Context, m Media, finished func(error)) *Playback {
	ctx, cancel := context.WithCancel(ctx)
	pb := &Playback{finished: finished, ready: make(chan struct{}), cancel: cancel}
	// With a context already done, AfterFunc runs end at once on another
	// goroutine; holding the lock makes it wait until unwatch is set.
	pb.mu.Lock()
	pb.unwatch = context.AfterFunc(ctx, func() {
		pb.end(fmt.Errorf("%w: %w", ErrStopped, context.Cause(ctx)))
	})
	pb.mu.Unlock()
	set := 0
	for _, s := range []string{m.URL, m.ToneScript, m.Text} {
		if s != "" {
			set++
		}
	}
	switch {
	case set != 1:
		pb.end(ErrNoMedia)
	case m.ToneScript != "":
		t, err := p.tones.get(m.ToneScript, m.Loop)
		if err != nil {
			pb.end(err)
			break
		}
		if t.plan == nil {
			pb.start(newToneSource(t.ts, m.Loop))
			break
		}
		pb.plan.plan = t.plan
		pb.start(&pb.plan)
	default:
		go func() {
			audio, err := p.load(ctx, m)
			if err != nil {
				pb.end(err)
				return
			}
			pb.start(&clipSource{audio: audio, loop: m.Loop})
		}()
	}
	return pb
}

// load decodes a file, a URL or speech to 8 kHz audio, at least a sample of it.
func (p *Player) load(ctx context.Context, m Media) ([]int16, error) {
	maxSamples := int64(p.opts.MaxDuration / pcm.FrameDuration * pcm.FrameSamples)
	if m.Text != "" {
		audio, err := p.opts.Speech.render(ctx, m.Text, m.Voice, maxSamples)
		if err == nil && len(audio) == 0 {
			err = fmt.Errorf("say: espeak-ng made no audio: %w", ErrNotAudio)
		}
		return audio, err
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		return nil, fmt.Errorf("play %q: %w: %w", m.URL, ErrBadURL, err)
	}
	var (
		file        *os.File
		contentType string
		name        = u.Path
	)
	switch u.Scheme {
	case "http", "https":
		if p.opts.Cache == nil {
			return nil, fmt.Errorf("play %s: %w (no download cache configured)", m.URL, ErrBadURL)
		}
		cf, err := p.opts.Cache.Open(ctx, m.URL)
		if err != nil {
			return nil, err
		}
		file, contentType = cf.File, cf.ContentType
	case "", "file":
		file, err = p.openLocal(u.Path)
		if err != nil {
			return nil, fmt.Errorf("play %s: %w", m.URL, err)
		}
	default:
		return nil, fmt.Errorf("play %s: %w (http, https or a file name)", m.URL, ErrBadURL)
	}
	defer file.Close()
	head, err := sniff(file)
	if err != nil {
		return nil, fmt.Errorf("play %s: %w", m.URL, err)
	}
	audio, err := decode(file, formatOf(contentType, name, head), maxSamples)
	if err == nil && len(audio) == 0 {
		err = fmt.Errorf("no samples: %w", ErrNotAudio)
	}
	if err != nil {
		return nil, fmt.Errorf("play %s: %w", m.URL, err)
	}
	return audio, nil
}

// openLocal opens name inside Options.FileDir; an absolute name must lie in it.
func (p *Player) openLocal(name string) (*os.File, error) {
	if p.opts.FileDir == "" {
		return nil, fmt.Errorf("%w (local files are not enabled)", ErrBadURL)
	}
	if filepath.IsAbs(name) {
		rel, err := filepath.Rel(p.opts.FileDir, name)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%w: outside the audio directory", ErrBadURL)
		}
		name = rel
	}
	root, err := os.OpenRoot(p.opts.FileDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(path.Clean(name))
}

func (pb *Playback) start(src source) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.err == nil {
		pb.src = src
		close(pb.ready)
	}
}

// Ready is closed once the audio is ready to read, or the playback has ended;
// until then ReadFrame gives silence. An endpoint may wait for it rather than
// send leading silence; a tone script is ready at once.
func (pb *Playback) Ready() <-chan struct{} {
	return pb.ready
}

// end records why the playback ended and reports it, once.
func (pb *Playback) end(err error) {
	pb.mu.Lock()
	if pb.err != nil {
		pb.mu.Unlock()
		return
	}
	if pb.src == nil {
		close(pb.ready)
	}
	pb.err = err
	pb.src = nil
	unwatch := pb.unwatch
	pb.mu.Unlock()
	unwatch()
	pb.cancel()
	if pb.finished != nil {
		pb.finished(errOrNil(err))
	}
}

// errEnded marks a playback whose audio ended; finished gets nil for it.
var errEnded = errors.New("playback ended")

func errOrNil(err error) error {
	if err == errEnded {
		return nil
	}
	return err
}

// ReadFrame fills f with the next 20 ms. While a file or speech is loading it
// is silence. At the end it returns io.EOF; after a failure, the failure; after
// Stop, pcm.ErrClosed.
func (pb *Playback) ReadFrame(f *pcm.Frame) error {
	pb.mu.Lock()
	switch {
	case pb.err == errEnded:
		pb.mu.Unlock()
		return io.EOF
	case errors.Is(pb.err, ErrStopped):
		pb.mu.Unlock()
		return pcm.ErrClosed
	case pb.err != nil:
		err := pb.err
		pb.mu.Unlock()
		return err
	case pb.src == nil:
		pb.mu.Unlock()
		*f = pcm.Silence
		return nil
	}
	ok := pb.src.read(f)
	pb.mu.Unlock()
	if !ok {
		pb.end(errEnded)
		return io.EOF
	}
	return nil
}

// ReadPayload is ReadFrame's next frame already encoded in c, into dst
// (pcm.FrameSamples bytes), when the audio has it so: a tone script's frames
// are made once for every call (rtp.PayloadReader). It reports false, having
// read nothing, when the audio is not so, or has ended or failed:
// ReadFrame then reads the frame or says why not.
func (pb *Playback) ReadPayload(dst []byte, c rtp.Codec) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	es, ok := pb.src.(encodedSource)
	return ok && pb.err == nil && es.readPayload(dst, c)
}

// Stop ends the playback; finished gets ErrStopped unless it already had its
// answer.
func (pb *Playback) Stop() {
	pb.end(ErrStopped)
}

// clipSource plays decoded audio, once or looping.
type clipSource struct {
	audio []int16
	pos   int
	loop  bool
}

func (c *clipSource) read(f *pcm.Frame) bool {
	if c.pos == len(c.audio) && !c.loop {
		return false
	}
	for i := 0; i < len(f); {
		if c.pos == len(c.audio) {
			if !c.loop {
				clear(f[i:]) // the last frame, completed with silence
				break
			}
			c.pos = 0
		}
		n := copy(f[i:], c.audio[c.pos:])
		c.pos += n
		i += n
	}
	return true
}
