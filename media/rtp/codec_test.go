package rtp

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// soxPath finds sox, which make test installs.
func soxPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sox")
	if err != nil {
		t.Fatal("sox is not installed (make test installs it)")
	}
	return p
}

func runSox(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(soxPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestG711AgainstSox decodes every code and encodes a sweep of linear samples
// with sox, a G.711 implementation nobody here wrote, and compares.
func TestG711AgainstSox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	lin := make([]int16, 0, 65536/7+1)
	for v := -32768; v < 32768; v += 7 {
		lin = append(lin, int16(v))
	}
	linBytes := make([]byte, 2*len(lin))
	for i, v := range lin {
		binary.LittleEndian.PutUint16(linBytes[2*i:], uint16(v))
	}
	linPath := filepath.Join(dir, "lin.raw")
	if err := os.WriteFile(linPath, linBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		codec Codec
		enc   string
	}{{PCMU, "u-law"}, {PCMA, "a-law"}} {
		t.Run(tc.codec.String(), func(t *testing.T) {
			codePath := filepath.Join(dir, tc.enc+".raw")
			if err := os.WriteFile(codePath, codes, 0o600); err != nil {
				t.Fatal(err)
			}
			decPath := filepath.Join(dir, tc.enc+"-dec.raw")
			runSox(t, "-t", "raw", "-r", "8000", "-c", "1", "-e", tc.enc, "-b", "8", codePath,
				"-t", "raw", "-e", "signed-integer", "-b", "16", "-L", decPath)
			dec, err := os.ReadFile(decPath)
			if err != nil {
				t.Fatal(err)
			}
			ours := make([]int16, 256)
			tc.codec.Decode(ours, codes)
			for i := range 256 {
				if want := int16(binary.LittleEndian.Uint16(dec[2*i:])); ours[i] != want {
					t.Errorf("decode %#02x = %d, sox says %d", i, ours[i], want)
				}
			}

			encPath := filepath.Join(dir, tc.enc+"-enc.raw")
			runSox(t, "-D", "-t", "raw", "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", "-L", linPath,
				"-t", "raw", "-e", tc.enc, "-b", "8", encPath)
			enc, err := os.ReadFile(encPath)
			if err != nil {
				t.Fatal(err)
			}
			// Encoders may break a tie at a decision level either way (sox
			// rounds, the ITU reference that zaf/g711 follows truncates a
			// one's complement): where the codes differ, they must be
			// neighbours with the sample between their levels.
			mine := make([]byte, len(lin))
			tc.codec.Encode(mine, lin)
			levels := make([]int16, 2)
			differ := 0
			for i, v := range lin {
				if mine[i] == enc[i] {
					continue
				}
				differ++
				tc.codec.Decode(levels, []byte{mine[i], enc[i]})
				if levels[0] == levels[1] {
					continue // µ-law's two zeros
				}
				lo, hi := min(levels[0], levels[1]), max(levels[0], levels[1])
				if v < lo || v > hi || !adjacent(tc.codec, lo, hi) {
					t.Errorf("encode %d = %#02x (%d), sox says %#02x (%d)", v, mine[i], levels[0], enc[i], levels[1])
				}
			}
			t.Logf("%d of %d samples on a decision boundary encode to the neighbouring code", differ, len(lin))
		})
	}
}

// TestTranscodeBounds passes a sine through PCMU, PCMU→PCMA and back, and
// checks the signal-to-noise ratio stays where tandem G.711 puts it (one
// encoding gives about 38 dB on a loud sine; each tandem costs a little).
func TestTranscodeBounds(t *testing.T) {
	t.Parallel()
	const n = 8000
	sig := make([]int16, n)
	for i := range sig {
		sig[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/8000+0.3))
	}
	snr := func(got []int16) float64 {
		var s, e float64
		for i, v := range sig {
			d := float64(got[i]) - float64(v)
			s += float64(v) * float64(v)
			e += d * d
		}
		return 10 * math.Log10(s/e)
	}
	u := make([]byte, n)
	PCMU.Encode(u, sig)
	a := make([]byte, n)
	Transcode(a, PCMA, PCMU, u)
	u2 := make([]byte, n)
	Transcode(u2, PCMU, PCMA, a)
	out := make([]int16, n)
	for _, tc := range []struct {
		name  string
		codec Codec
		data  []byte
		min   float64
	}{
		{"PCMU", PCMU, u, 35},
		{"PCMU→PCMA", PCMA, a, 33},
		{"PCMU→PCMA→PCMU", PCMU, u2, 33},
	} {
		tc.codec.Decode(out, tc.data)
		if got := snr(out); got < tc.min {
			t.Errorf("%s: SNR %.1f dB, want ≥ %.0f dB", tc.name, got, tc.min)
		} else {
			t.Logf("%s: SNR %.1f dB", tc.name, got)
		}
	}
	// µ-law → A-law → µ-law (G.711 Tables 3 and 4) changes a sample only
	// where µ-law is finer than A-law, near zero, and then by one step.
	for i := range 256 {
		back := alawToUlaw[ulawToAlaw[i]]
		if d := int(ulawDecode[back]) - int(ulawDecode[i]); d < -8 || d > 8 {
			t.Errorf("µ-law %#02x → A → %#02x changes the sample %d → %d", i, back, ulawDecode[i], ulawDecode[back])
		}
	}
}

// adjacent reports whether no level of codec lies strictly between lo and hi.
func adjacent(codec Codec, lo, hi int16) bool {
	table := &ulawDecode
	if codec == PCMA {
		table = &alawDecode
	}
	for _, v := range table {
		if v > lo && v < hi {
			return false
		}
	}
	return true
}
