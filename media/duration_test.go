package media

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileDuration(t *testing.T) {
	got, err := FileDuration("../testdata/sim/beep.wav")
	if err != nil {
		t.Fatal(err)
	}
	if got != 1500*time.Millisecond {
		t.Errorf("beep.wav plays %v, want 1.5s", got)
	}
}

func TestFileDurationErrors(t *testing.T) {
	dir := t.TempDir()
	notWav := filepath.Join(dir, "fake.wav")
	if err := os.WriteFile(notWav, []byte("not audio at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	notMP3 := filepath.Join(dir, "fake.mp3")
	if err := os.WriteFile(notMP3, []byte("not audio at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FileDuration(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := FileDuration(notWav); err == nil {
		t.Error("a text file passed as WAV")
	}
	if _, err := FileDuration(notMP3); err == nil {
		t.Error("a text file passed as MP3")
	}
	if _, err := FileDuration("x.ogg"); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("ogg: %v, want ErrUnsupportedFormat", err)
	}
}
