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
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".wav" && ext != ".mp3" {
		return 0, fmt.Errorf("%s: %w (WAV and MP3 are)", path, ErrUnsupportedFormat)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("audio file: %w", err)
	}
	defer f.Close()
	if ext == ".wav" {
		d := wav.NewDecoder(f)
		if !d.IsValidFile() {
			return 0, fmt.Errorf("%s: not a valid WAV file", path)
		}
		// The decoder's own Duration counts the file's headers as audio; the
		// data chunk's size is exact.
		if err := d.FwdToPCM(); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		bytesPerSecond := int64(d.SampleRate) * int64(d.NumChans) * int64(d.BitDepth) / 8
		if bytesPerSecond == 0 {
			return 0, fmt.Errorf("%s: WAV header has no sample rate", path)
		}
		return time.Duration(d.PCMSize) * time.Second / time.Duration(bytesPerSecond), nil
	}
	d, err := mp3.NewDecoder(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	// Length is in bytes of 16-bit stereo PCM at the file's sample rate.
	samples := d.Length() / 4
	return time.Duration(samples) * time.Second / time.Duration(d.SampleRate()), nil
}
