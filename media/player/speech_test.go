package player

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSay(t *testing.T) {
	needTool(t, "espeak-ng")
	tests := []struct {
		text, voice string
	}{
		{"Hello, this is a test of the telephone system.", ""},
		{"Здравствуйте, все операторы заняты.", "ru_RU_Female"},
		{"Guten Tag.", "de"},
		// A dash is text, not an option.
		{"--version", "en-us+f3"},
	}
	for _, tt := range tests {
		t.Run(tt.voice+" "+tt.text, func(t *testing.T) {
			got := newPlayed()
			pb := New(Options{}).Play(context.Background(), Media{Text: tt.text, Voice: tt.voice}, got.finished)
			<-pb.Ready()
			out := readAll(t, pb, 1000)
			if err := got.result(t); err != nil {
				t.Fatalf("finished with %v", err)
			}
			// Speech length: a few syllables a second, neither a blip nor minutes.
			seconds := float64(len(out)) / 8000
			words := len(strings.Fields(tt.text))
			if seconds < 0.2*float64(words) || seconds > 2+float64(words) {
				t.Errorf("%.2f s of speech for %d words", seconds, words)
			}
			if r := rms(out); r < 300 {
				t.Errorf("RMS %.0f: next to silent", r)
			}
			st := soxStat(t, writeWAV(t, "say.wav", out))
			if st["RMS     amplitude"] < 0.01 {
				t.Errorf("sox: %v", st)
			}
			t.Logf("%.2f s, RMS %.0f", seconds, rms(out))
		})
	}
}

func TestSayRefuses(t *testing.T) {
	needTool(t, "espeak-ng")
	tests := []struct {
		name        string
		speech      *Speech
		text, voice string
		want        error
	}{
		{"unknown voice", nil, "hello", "klingon", ErrUnknownVoice},
		{"an option as voice", nil, "hello", "--help", ErrUnknownVoice},
		{"a path as voice", nil, "hello", "../../../etc/passwd", ErrUnknownVoice},
		{"unknown variant", nil, "hello", "en+nobody", ErrUnknownVoice},
		{"blank text", nil, "  \n", "", ErrNoText},
		{"text too long", &Speech{MaxText: 10}, "this is more than ten bytes", "", ErrTooLong},
		{"speech too long", nil, strings.Repeat("and so on and so forth ", 100), "", ErrTooLong},
		{"no espeak-ng", &Speech{Command: "/nonexistent/espeak-ng"}, "hello", "", ErrNoSpeech},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newPlayed()
			p := New(Options{Speech: tt.speech, MaxDuration: 10e9})
			p.Play(context.Background(), Media{Text: tt.text, Voice: tt.voice}, got.finished)
			if err := got.result(t); !errors.Is(err, tt.want) {
				t.Errorf("finished with %v, want %v", err, tt.want)
			} else {
				t.Log(err)
			}
		})
	}
}

func TestSpeechVoiceNames(t *testing.T) {
	needTool(t, "espeak-ng")
	s := &Speech{}
	for in, want := range map[string]string{
		"":             "en-us",
		"en-US":        "en-us",
		"ru":           "ru",
		"ru_RU":        "ru",
		"ru_RU_Female": "ru+f3",
		"en_US_Male":   "en-us+m3",
		"en-us+f3":     "en-us+f3",
		"gmw/en-US":    "gmw/en-US",
	} {
		got, err := s.voice(context.Background(), in)
		if err != nil || got != want {
			t.Errorf("voice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
