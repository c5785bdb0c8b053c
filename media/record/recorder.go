// Package record owns call recordings: WAV files written while the call goes
// on, kept playable through a crash, stored in the tenant's own directory
// (S17) under an unguessable name, and the HTTP handler that serves them by
// that name.
package record

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"vox/media/pcm"
)

// Options say how to record. The zero value records mono in real time.
type Options struct {
	// Stereo puts the caller on the left channel and the other side on the
	// right; otherwise both are mixed into one channel.
	Stereo bool
	// Clock tells the time frames arrive at, which aligns the two sides;
	// time.Now when nil. Tests set it to place frames exactly.
	Clock func() time.Time
}

// Crash safety. Every HeaderInterval the audio written so far is handed to the
// kernel and the WAV header's RIFF and data sizes are rewritten to cover it,
// so a process killed mid-recording (SIGKILL, a panic) leaves a file that
// plays up to at most that much before the kill; every SyncInterval the file
// is also fsync'd, so a machine that loses power loses at most that much.
const (
	HeaderInterval = 250 * time.Millisecond
	SyncInterval   = time.Second
)

// Frame alignment. Each side's frames go into 20 ms slots of the recording in
// the order they come, so jitter up to skewSlots (frames late, then a burst)
// moves nothing. A side whose frames stopped for longer (lost packets, hold,
// one-way audio, a leg that starts late) is placed by the clock again when
// they resume: the slots it skipped stay silent on its side, and the other
// side does not move. A gap shorter than that (a packet or two lost and not
// concealed by the endpoint) moves the side's later frames up to skewSlots
// early at most. A slot is written once both sides have filled or passed it,
// or once it is more than skewSlots old; at most ringSlots slots wait for the
// slower side.
const (
	skewSlots = 3  // 60 ms: more than RTP jitter, less than anyone hears
	ringSlots = 25 // 500 ms
)

// The two sides of a recording.
const (
	caller = 0
	callee = 1
)

const headerSize = 44

type slot struct {
	frames [2]pcm.Frame
	filled [2]bool
}

// Recorder writes one call's audio to a WAV file (16-bit PCM, 8 kHz, mono or
// stereo). Its two sinks take the two directions of the call from any
// goroutines; Close finishes the file.
type Recorder struct {
	token, path string
	stereo      bool
	clock       func() time.Time
	start       time.Time

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	ring    [ringSlots]slot
	next    [2]int64 // the slot each side's next frame goes to
	written int64    // slots written to the file
	covered int64    // slots the header on disk covers
	synced  int64    // slots covered at the last fsync
	buf     []byte   // one slot's samples as written
	err     error    // the first write error; the recording stops with it
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// Start creates a recording in dir (created if missing), named by a random
// token, and starts its periodic sync.
func Start(dir string, opts Options) (*Recorder, error) {
	token := newToken()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording directory: %w", err)
	}
	path := filepath.Join(dir, token+".wav")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	r := &Recorder{
		token:  token,
		path:   path,
		stereo: opts.Stereo,
		clock:  opts.Clock,
		f:      f,
		w:      bufio.NewWriterSize(f, 16<<10),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	r.buf = make([]byte, pcm.FrameSamples*2*r.channels())
	r.start = r.clock()
	if err := r.createFile(dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	go r.syncLoop()
	return r, nil
}

// createFile writes the header of an empty recording and makes the file and
// its directory entry durable, so that even a crash before the first sync
// leaves a valid, empty WAV.
func (r *Recorder) createFile(dir string) error {
	if _, err := r.f.Write(r.header(0)); err != nil {
		return fmt.Errorf("write recording header: %w", err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("sync recording: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync recording directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync recording directory: %w", err)
	}
	return nil
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return weak bytes
	return hex.EncodeToString(b[:])
}

// Token is the recording's unguessable name: 32 lowercase hex digits (128
// random bits). The file is Token()+".wav" in the directory given to Start,
// and Handler serves it under that name.
func (r *Recorder) Token() string { return r.token }

// Path is the recording's file.
func (r *Recorder) Path() string { return r.path }

// Caller is the sink for what the recorded leg says (left channel in stereo).
func (r *Recorder) Caller() pcm.Sink { return sideSink{r, caller} }

// Callee is the sink for what the recorded leg hears: the other leg of a
// bridged call, or what the scenario plays (right channel in stereo).
func (r *Recorder) Callee() pcm.Sink { return sideSink{r, callee} }

type sideSink struct {
	r    *Recorder
	side int
}

func (s sideSink) WriteFrame(f *pcm.Frame) error { return s.r.write(s.side, f) }

func (r *Recorder) channels() int {
	if r.stereo {
		return 2
	}
	return 1
}

// now is the slot the clock is in.
func (r *Recorder) now() int64 {
	return int64(r.clock().Sub(r.start) / pcm.FrameDuration)
}

func (r *Recorder) write(side int, f *pcm.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return pcm.ErrClosed
	}
	if r.err != nil {
		return r.err
	}
	now := r.now()
	s := r.next[side]
	if s < now-skewSlots {
		s = now
	}
	s = max(s, r.written)
	for s-r.written >= ringSlots && r.err == nil {
		r.emit() // the other side is too far behind: it stays silent there
	}
	if r.err != nil {
		return r.err
	}
	sl := &r.ring[s%ringSlots]
	sl.frames[side], sl.filled[side] = *f, true
	r.next[side] = s + 1
	r.drain(now)
	return r.err
}

// drain writes every slot that is complete or timed out.
func (r *Recorder) drain(now int64) {
	for r.err == nil {
		sl := &r.ring[r.written%ringSlots]
		// Complete when each side has filled the slot or moved past it.
		done := (sl.filled[caller] || r.next[caller] > r.written) &&
			(sl.filled[callee] || r.next[callee] > r.written)
		if !done && r.written >= now-skewSlots {
			return
		}
		r.emit()
	}
}

// emit writes the oldest waiting slot, silence where a side left it empty.
func (r *Recorder) emit() {
	sl := &r.ring[r.written%ringSlots]
	a, b := &sl.frames[caller], &sl.frames[callee]
	if !sl.filled[caller] {
		a = &pcm.Silence
	}
	if !sl.filled[callee] {
		b = &pcm.Silence
	}
	if r.stereo {
		for i := range pcm.FrameSamples {
			binary.LittleEndian.PutUint16(r.buf[4*i:], uint16(a[i]))
			binary.LittleEndian.PutUint16(r.buf[4*i+2:], uint16(b[i]))
		}
	} else {
		for i := range pcm.FrameSamples {
			// Saturate instead of wrapping: two loud voices clip, they do not
			// turn into a burst of noise of the opposite sign.
			v := min(max(int32(a[i])+int32(b[i]), -32768), 32767)
			binary.LittleEndian.PutUint16(r.buf[2*i:], uint16(int16(v)))
		}
	}
	*sl = slot{}
	if r.written >= r.maxSlots() {
		r.err = ErrTooLong
		return
	}
	r.written++
	if _, err := r.w.Write(r.buf); err != nil {
		r.err = fmt.Errorf("write recording: %w", err)
	}
}

// header is the 44-byte canonical WAV header for dataBytes of samples.
func (r *Recorder) header(dataBytes uint32) []byte {
	ch := uint16(r.channels())
	h := make([]byte, 0, headerSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, 36+dataBytes)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, ch)
	h = binary.LittleEndian.AppendUint32(h, pcm.SampleRate)
	h = binary.LittleEndian.AppendUint32(h, pcm.SampleRate*2*uint32(ch))
	h = binary.LittleEndian.AppendUint16(h, 2*ch)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	return binary.LittleEndian.AppendUint32(h, dataBytes)
}

// maxSlots keeps the data size within the RIFF header's 32 bits: about 74
// hours mono, 37 stereo.
func (r *Recorder) maxSlots() int64 {
	return (1<<32 - 1 - 36) / int64(len(r.buf))
}

// updateHeader flushes what was written, then rewrites the header's RIFF and
// data sizes to cover it, and with fsync makes both durable: the order makes
// the header never claim audio that is not in the file. A recording that
// reached the size limit is still brought up to date.
func (r *Recorder) updateHeader(fsync bool) {
	if r.err != nil && !errors.Is(r.err, ErrTooLong) {
		return
	}
	if r.written != r.covered {
		if err := r.w.Flush(); err != nil {
			r.err = fmt.Errorf("write recording: %w", err)
			return
		}
		h := r.header(uint32(r.written * int64(len(r.buf))))
		if _, err := r.f.WriteAt(h, 0); err != nil {
			r.err = fmt.Errorf("write recording header: %w", err)
			return
		}
		r.covered = r.written
	}
	if fsync && r.synced != r.covered {
		if err := r.f.Sync(); err != nil {
			r.err = fmt.Errorf("sync recording: %w", err)
			return
		}
		r.synced = r.covered
	}
}

func (r *Recorder) syncLoop() {
	defer close(r.done)
	t := time.NewTicker(HeaderInterval)
	defer t.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			// Every fourth tick; half a tick of margin absorbs ticks that
			// come a little early or late.
			fsync := now.Sub(lastSync) >= SyncInterval-HeaderInterval/2
			if fsync {
				lastSync = now
			}
			r.mu.Lock()
			// The clock goes on when neither side sends (hold without RTP):
			// the recording goes on with silence.
			r.drain(r.now())
			r.updateHeader(false)
			covered := r.covered
			fsync = fsync && r.synced != covered && (r.err == nil || errors.Is(r.err, ErrTooLong))
			r.mu.Unlock()
			if fsync {
				r.sync(covered)
			}
		}
	}
}

// sync makes the file durable up to covered, without holding mu: the sides'
// writers (the callee's comes from package rtp's pacer, which sends every
// call's playback) must not wait for the disk. Only syncLoop calls it, and
// Close waits for syncLoop before it closes the file.
func (r *Recorder) sync(covered int64) {
	err := r.f.Sync()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = fmt.Errorf("sync recording: %w", err)
		return
	}
	r.synced = max(r.synced, covered)
}

// Duration is how much audio the recording holds so far.
func (r *Recorder) Duration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.duration()
}

func (r *Recorder) duration() time.Duration {
	n := min(max(r.written, r.next[caller], r.next[callee]), r.maxSlots())
	return time.Duration(n) * pcm.FrameDuration
}

// ErrTooLong is a recording past the 4 GiB a WAV file can describe.
var ErrTooLong = errors.New("record: recording longer than a WAV file holds")

// Close writes what the sides have sent (a side that sent less is silent at
// the end), finishes the file and returns its duration, the figure for
// Call.RecordStopped. Frames written after Close get pcm.ErrClosed; a second
// Close returns the same duration.
func (r *Recorder) Close() (time.Duration, error) {
	r.mu.Lock()
	if r.closed {
		defer r.mu.Unlock()
		return r.duration(), r.err
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done

	r.mu.Lock()
	defer r.mu.Unlock()
	for end := max(r.next[caller], r.next[callee]); r.written < end && r.err == nil; {
		r.emit()
	}
	r.updateHeader(true)
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("close recording: %w", err)
	}
	return r.duration(), r.err
}
