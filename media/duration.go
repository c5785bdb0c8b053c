package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-audio/wav"
	"github.com/hajimehoshi/go-mp3"
)

// ErrUnsupportedFormat is a file whose audio format Vox cannot play.
var ErrUnsupportedFormat = errors.New("unsupported audio format")

// FileDuration reports how long a local WAV or MP3 file plays.
func FileDuration(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("audio file: %w", err)
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".wav":
		d := wav.NewDecoder(f)
		if !d.IsValidFile() {
			return 0, fmt.Errorf("%s: not a valid WAV file", path)
		}
		dur, err := d.Duration()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		return dur, nil
	case ".mp3":
		d, err := mp3.NewDecoder(f)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		// Length is in bytes of 16-bit stereo PCM at the file's sample rate.
		samples := d.Length() / 4
		return time.Duration(samples) * time.Second / time.Duration(d.SampleRate()), nil
	}
	return 0, fmt.Errorf("%s: %w (WAV and MP3 are)", path, ErrUnsupportedFormat)
}
