package record

import (
	"testing"

	"vox/media/pcm"
)

// BenchmarkRecordStereo is one call's recording: a frame per side per op.
func BenchmarkRecordStereo(b *testing.B) {
	r, err := Start(b.TempDir(), Options{Stereo: true})
	if err != nil {
		b.Fatal(err)
	}
	f := sine(1000, 8000, 0)
	b.ReportAllocs()
	b.SetBytes(2 * pcm.FrameSamples * 2)
	for b.Loop() {
		if err := r.Caller().WriteFrame(f); err != nil {
			b.Fatal(err)
		}
		if err := r.Callee().WriteFrame(f); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := r.Close(); err != nil {
		b.Fatal(err)
	}
}
