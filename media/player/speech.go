package player

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Speech renders text with espeak-ng (the Debian package espeak-ng). The zero
// value works: it runs "espeak-ng" from PATH with the defaults below.
type Speech struct {
	// Command is the espeak-ng binary; default "espeak-ng".
	Command string
	// DefaultVoice is used when a request names none; default "en-us".
	DefaultVoice string
	// Timeout bounds one rendering; default 20 s.
	Timeout time.Duration
	// MaxText is the longest text accepted, in bytes; default 4000.
	MaxText int

	once   sync.Once
	voices map[string]string // every name espeak-ng answers to, lower case, to its spelling
	err    error
}

func (s *Speech) command() string {
	if s.Command == "" {
		return "espeak-ng"
	}
	return s.Command
}

// render speaks text in voice ("" for the default) and returns the audio at
// pcm.SampleRate, at most maxSamples long.
func (s *Speech) render(ctx context.Context, text, voice string, maxSamples int64) ([]int16, error) {
	maxText := s.MaxText
	if maxText <= 0 {
		maxText = 4000
	}
	switch {
	case strings.TrimSpace(text) == "":
		return nil, fmt.Errorf("say: %w", ErrNoText)
	case len(text) > maxText:
		return nil, fmt.Errorf("say: text of %d bytes, over the limit of %d: %w", len(text), maxText, ErrTooLong)
	case !utf8.ValidString(text):
		return nil, fmt.Errorf("say: text is not UTF-8: %w", ErrNoText)
	}
	v, err := s.voice(ctx, voice)
	if err != nil {
		return nil, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// No shell: the text is one argument after "--", so a text that starts
	// with a dash is spoken, not taken for an option.
	cmd := exec.CommandContext(ctx, s.command(), "--stdout", "-v", v, "--", text)
	// espeak-ng speaks at 22050 Hz, 16-bit mono: bound what it may write by
	// the longest audio we keep, plus room for the header.
	out := &boundedBuffer{limit: maxSamples*2*22050/8000 + 4096}
	stderr := &boundedBuffer{limit: 4096, truncate: true}
	cmd.Stdout, cmd.Stderr = out, stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("say: espeak-ng did not finish in %v: %w", timeout, ctx.Err())
		case ctx.Err() != nil:
			return nil, fmt.Errorf("say: %w", ctx.Err())
		case out.over:
			return nil, fmt.Errorf("say: speech longer than %v: %w", maxDuration(maxSamples), ErrTooLong)
		}
		return nil, fmt.Errorf("say: espeak-ng: %w: %s", err, strings.TrimSpace(stderr.buf.String()))
	}
	audio, err := decodeWAV(bytes.NewReader(out.buf.Bytes()), maxSamples)
	if err != nil {
		return nil, fmt.Errorf("say: espeak-ng output: %w", err)
	}
	return audio, nil
}

// voice maps a requested voice to one espeak-ng knows. espeak-ng's own names
// are accepted as they are ("en-us", "ru", "gmw/en-US", "en-us+f3"); so are
// Voximplant-style ones ("ru_RU_Female", "en_US"), by language, region and
// gender. Anything else is refused, so a scenario cannot hand espeak-ng
// arbitrary arguments or files.
func (s *Speech) voice(ctx context.Context, requested string) (string, error) {
	if requested == "" {
		requested = s.DefaultVoice
		if requested == "" {
			requested = "en-us"
		}
	}
	if err := s.loadVoices(ctx); err != nil {
		return "", err
	}
	name, variant, _ := strings.Cut(strings.ToLower(requested), "+")
	if variant != "" {
		v, ok := s.voices["+"+variant]
		if !ok {
			return "", fmt.Errorf("say: voice %q: espeak-ng has no variant %q: %w", requested, variant, ErrUnknownVoice)
		}
		variant = v
	}
	if v, ok := s.voices[name]; ok {
		return v + variant, nil
	}
	// ru_RU_Female -> ru-ru with the female variant, or ru.
	parts := strings.Split(strings.ReplaceAll(name, "_", "-"), "-")
	switch parts[len(parts)-1] {
	case "female":
		parts, variant = parts[:len(parts)-1], "+f3"
	case "male":
		parts, variant = parts[:len(parts)-1], "+m3"
	}
	for n := len(parts); n > 0; n-- {
		if v, ok := s.voices[strings.Join(parts[:n], "-")]; ok {
			return v + variant, nil
		}
	}
	return "", fmt.Errorf("say: voice %q: %w (espeak-ng --voices lists them)", requested, ErrUnknownVoice)
}

// loadVoices asks espeak-ng once for its voices and variants.
func (s *Speech) loadVoices(ctx context.Context) error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.voices = map[string]string{}
		if _, err := exec.LookPath(s.command()); err != nil {
			s.err = fmt.Errorf("say: %w (%v)", ErrNoSpeech, err)
			return
		}
		for _, arg := range []string{"--voices", "--voices=variant"} {
			out, err := exec.CommandContext(ctx, s.command(), arg).Output()
			if err != nil {
				s.err = fmt.Errorf("say: list voices: %w", err)
				return
			}
			parseVoices(out, s.voices)
		}
	})
	return s.err
}

// parseVoices reads the table `espeak-ng --voices` prints:
//
//	Pty Language       Age/Gender VoiceName          File                 Other Languages
//	 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
//	 5  variant         --/F      Alicia             !v/Alicia
func parseVoices(out []byte, into map[string]string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Scan() // the heading
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		lang, file := f[1], f[4]
		if lang == "variant" {
			v := "+" + strings.TrimPrefix(file, "!v/")
			into[strings.ToLower(v)] = v
			continue
		}
		into[strings.ToLower(lang)], into[strings.ToLower(file)] = lang, file
		for _, other := range f[5:] {
			if o := strings.TrimPrefix(other, "("); o != other {
				into[strings.ToLower(o)] = o
			}
		}
	}
}

// boundedBuffer keeps at most limit bytes. Past them it fails the write, which
// stops the process writing to it, or with truncate drops the rest.
type boundedBuffer struct {
	buf      bytes.Buffer
	limit    int64
	truncate bool
	over     bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - int64(b.buf.Len()); int64(len(p)) > room {
		b.over = true
		if !b.truncate {
			return 0, ErrTooLong
		}
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}
