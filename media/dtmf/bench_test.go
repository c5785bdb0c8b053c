package dtmf

import (
	"testing"

	"github.com/pion/rtp"

	"vox/media/pcm"
)

func BenchmarkDetect(b *testing.B) {
	frames := digitsSignal("1234567890", 100, 70, -10, -10, 0).frames()
	d, err := NewDetector(DetectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(pcm.FrameSamples * 2)
	for i := 0; b.Loop(); i++ {
		d.Detect(&frames[i%len(frames)])
	}
}

func BenchmarkReceive(b *testing.B) {
	var ps []*rtp.Packet
	for k := range 64 {
		ps = append(ps, event(1, uint32(k)*1360, uint8(k%16))...)
	}
	var r Receiver
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Receive(ps[i%len(ps)])
	}
}
