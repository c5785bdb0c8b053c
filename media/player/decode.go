package player

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/go-audio/wav"
	"github.com/hajimehoshi/go-mp3"

	"vox/media/pcm"
)

// Audio file formats the player decodes.
type format int

const (
	formatUnknown format = iota
	formatWAV
	formatMP3
)

// WAVE format tags (RFC 2361, and the WAVE_FORMAT_EXTENSIBLE sub-format GUIDs
// whose first two bytes repeat them).
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE
)

// formatOf picks the decoder for a file from its media type, then its name's
// extension, then its first bytes: servers label audio loosely, and the bytes
// are what the decoder will see.
func formatOf(contentType, name string, head []byte) format {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		switch mt {
		case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-pn-wav":
			return formatWAV
		case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3":
			return formatMP3
		}
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".wav", ".wave":
		return formatWAV
	case ".mp3":
		return formatMP3
	}
	switch {
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return formatWAV
	case len(head) >= 3 && string(head[:3]) == "ID3",
		len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0: // MPEG frame sync
		return formatMP3
	}
	return formatUnknown
}

// decode reads a whole WAV or MP3 file into mono audio at pcm.SampleRate, at
// most maxSamples long.
func decode(r io.ReadSeeker, f format, maxSamples int64) ([]int16, error) {
	switch f {
	case formatWAV:
		return decodeWAV(r, maxSamples)
	case formatMP3:
		return decodeMP3(r, maxSamples)
	}
	return nil, fmt.Errorf("%w (WAV and MP3 are)", ErrUnsupportedFormat)
}

// decodeWAV decodes 8-, 16-, 24- and 32-bit integer PCM, 32- and 64-bit
// float, A-law and μ-law, with any number of channels mixed down to one.
// go-audio/wav finds the format and the data chunk; the samples are decoded
// here, since its own sample reader knows integers only.
func decodeWAV(r io.ReadSeeker, maxSamples int64) ([]int16, error) {
	d := wav.NewDecoder(r)
	if err := d.FwdToPCM(); err != nil || d.Err() != nil || d.PCMChunk == nil {
		if err == nil {
			err = d.Err()
		}
		if err == nil {
			err = errors.New("no data chunk")
		}
		return nil, fmt.Errorf("not a WAV file (%v): %w", err, ErrNotAudio)
	}
	dataStart, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	channels, bits, rate, tag := int(d.NumChans), int(d.BitDepth), int(d.SampleRate), d.WavAudioFormat
	if channels < 1 || rate < 1000 || rate > 384000 {
		return nil, fmt.Errorf("WAV file with %d channels at %d Hz: %w", channels, rate, ErrUnsupportedFormat)
	}
	if tag == wavExtensible {
		sub, err := extensibleSubFormat(r)
		if err != nil {
			return nil, err
		}
		tag = sub
		// The data chunk was found before this look back; find it again.
		if _, err := r.Seek(dataStart, io.SeekStart); err != nil {
			return nil, err
		}
	}
	sample, err := sampleDecoder(tag, bits)
	if err != nil {
		return nil, err
	}
	bytesPerSample := bits / 8
	blockSize := bytesPerSample * channels
	rs := newResampler(rate)
	maxIn := (maxSamples*int64(rate))/pcm.SampleRate + 1
	in := bufio.NewReaderSize(d.PCMChunk.R, 64<<10)
	block := make([]byte, blockSize*1024)
	mono := make([]float32, 0, 1024)
	// Room for all of it at once when the header tells the size (a stream
	// such as espeak-ng's says "huge").
	out := make([]int16, 0, min(rs.outLen(int64(d.PCMSize/blockSize)), maxSamples)+1)
	var read int64
	for {
		n, err := io.ReadFull(in, block)
		frames := n / blockSize // a trailing partial block is padding or damage
		mono = mono[:0]
		for i := range frames {
			var sum float64
			for c := range channels {
				off := i*blockSize + c*bytesPerSample
				sum += sample(block[off : off+bytesPerSample])
			}
			mono = append(mono, float32(sum/float64(channels)))
		}
		read += int64(frames)
		if read > maxIn {
			return nil, fmt.Errorf("WAV file longer than %v: %w", maxDuration(maxSamples), ErrTooLong)
		}
		out = rs.push(mono, out)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read WAV data: %w", err)
		}
	}
	return rs.flush(out), nil
}

// sampleDecoder returns the function that turns one little-endian sample into
// a value in [-1, 1].
func sampleDecoder(tag uint16, bits int) (func([]byte) float64, error) {
	switch {
	case tag == wavPCM && bits == 8: // unsigned, 128 is silence
		return func(b []byte) float64 { return (float64(b[0]) - 128) / 128 }, nil
	case tag == wavPCM && bits == 16:
		return func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15) }, nil
	case tag == wavPCM && bits == 24:
		return func(b []byte) float64 {
			return float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)) / (1 << 31)
		}, nil
	case tag == wavPCM && bits == 32:
		return func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31) }, nil
	case tag == wavFloat && bits == 32:
		return func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }, nil
	case tag == wavFloat && bits == 64:
		return func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }, nil
	case tag == wavMuLaw && bits == 8:
		return func(b []byte) float64 { return float64(muLaw(b[0])) / (1 << 15) }, nil
	case tag == wavALaw && bits == 8:
		return func(b []byte) float64 { return float64(aLaw(b[0])) / (1 << 15) }, nil
	}
	return nil, fmt.Errorf("WAV format tag %#04x with %d bits: %w", tag, bits, ErrUnsupportedFormat)
}

// extensibleSubFormat reads the sub-format of a WAVE_FORMAT_EXTENSIBLE file,
// which go-audio/wav skips: the first two bytes of the GUID at offset 24 of
// the fmt chunk are the plain format tag.
func extensibleSubFormat(r io.ReadSeeker) (uint16, error) {
	if _, err := r.Seek(12, io.SeekStart); err != nil {
		return 0, err
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, fmt.Errorf("WAV file: no fmt chunk: %w", ErrNotAudio)
		}
		size := int64(binary.LittleEndian.Uint32(hdr[4:]))
		if string(hdr[:4]) != "fmt " {
			if _, err := r.Seek(size+size%2, io.SeekCurrent); err != nil {
				return 0, err
			}
			continue
		}
		if size < 40 {
			return 0, fmt.Errorf("WAV file: extensible fmt chunk of %d bytes: %w", size, ErrNotAudio)
		}
		fmtChunk := make([]byte, 40)
		if _, err := io.ReadFull(r, fmtChunk); err != nil {
			return 0, fmt.Errorf("WAV file: %w", err)
		}
		return binary.LittleEndian.Uint16(fmtChunk[24:]), nil
	}
}

// muLaw and aLaw expand G.711 code words to 16-bit linear (ITU-T G.711,
// tables 2a and 1a).
func muLaw(u byte) int16 {
	u = ^u
	t := (int16(u&0x0F)<<3 + 0x84) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

func aLaw(a byte) int16 {
	a ^= 0x55
	t := int16(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}

// decodeMP3 decodes MPEG-1 and MPEG-2 layer III with go-mp3, whose output is
// 16-bit stereo at the file's rate. The encoder's delay and padding (about
// 1100 samples for LAME) are decoded as silence: go-mp3 does not read the
// gapless-playback header.
func decodeMP3(r io.Reader, maxSamples int64) ([]int16, error) {
	d, err := mp3.NewDecoder(r)
	if err != nil {
		return nil, fmt.Errorf("not an MP3 file (%v): %w", err, ErrNotAudio)
	}
	rate := d.SampleRate()
	rs := newResampler(rate)
	maxIn := (maxSamples*int64(rate))/pcm.SampleRate + 1
	block := make([]byte, 4*1152)
	mono := make([]float32, 0, 1152)
	out := make([]int16, 0, 1<<14)
	var read int64
	for {
		n, err := io.ReadFull(d, block)
		mono = mono[:0]
		for i := 0; i+4 <= n; i += 4 {
			left := int16(binary.LittleEndian.Uint16(block[i:]))
			right := int16(binary.LittleEndian.Uint16(block[i+2:]))
			mono = append(mono, float32(int32(left)+int32(right))/(1<<16))
		}
		read += int64(len(mono))
		if read > maxIn {
			return nil, fmt.Errorf("MP3 file longer than %v: %w", maxDuration(maxSamples), ErrTooLong)
		}
		out = rs.push(mono, out)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode MP3: %w", err)
		}
	}
	return rs.flush(out), nil
}

func maxDuration(maxSamples int64) time.Duration {
	return time.Duration(maxSamples) * time.Second / pcm.SampleRate
}

// sniff returns the first bytes of r and rewinds it.
func sniff(r io.ReadSeeker) ([]byte, error) {
	head := make([]byte, 12)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bytes.Clone(head[:n]), nil
}
