package player

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"vox/media"
	"vox/media/pcm"
	"vox/media/rtp"
)

// TestTonePlanIsTheSynthesis: a Player's tone, played from its plan, is the
// toneSource's output bit for bit, frame for frame, to its end or over
// several of its cycles, as samples and as each law's payloads.
func TestTonePlanIsTheSynthesis(t *testing.T) {
	tests := []struct {
		script string
		loop   bool
		frames int  // how much to compare at most
		plan   bool // whether it has a plan
	}{
		// The presets of call.playProgressTone.
		{"425@-19;*(1/4/1)", false, 1000, true},
		{"425@-19;*(1.5/3/1)", false, 1000, true},
		{"440@-19;*(1.5/3.5/1)", false, 1000, true},
		{"440@-19,480@-19;*(2/4/1+2)", false, 1000, true},
		{"400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)", false, 1000, true},
		// Ends, and ends mid-frame.
		{"950@-10;3(0.3/0.1/1)", false, 1000, true},
		{"1000@-10;1(0.0125/0/1)", false, 1000, true},
		{"950@-10;3(0.3/0.1/1)", true, 1000, true},
		// Steps that do not fall on frame boundaries: the cadence comes back
		// to a frame boundary after 10 cycles, 23 frames.
		{"697@-7,1209@-7;*(0.0337/0.0123/1+2)", false, 1000, true},
		{"350@-19,440@-19;2(0.1/0.05/1,0.03/0.2/2),*(0.25/0.25/1+2)", false, 1000, true},
		{"350@-19,440@-19;2(0.1/0.05/1,0.03/0.2/2),1(0.25/0.25/1+2)", true, 1000, true},
		// Held for ever: synthesized as it plays.
		{"350@-19,440@-19;10(0.1/0.1/1+2),*(0/0/1+2)", false, 1000, false},
		{"425@-10;1(0/0/1)", false, 200, false},
		// A cadence too long to plan.
		{"425@-19;*(20/20/1)", false, 200, false},
	}
	p := New(Options{})
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(fmt.Sprintf("%s loop %v", tt.script, tt.loop), "/", "|"), func(t *testing.T) {
			ts, err := media.ParseToneScript(tt.script)
			if err != nil {
				t.Fatal(err)
			}
			tone, err := p.tones.get(tt.script, tt.loop)
			if err != nil {
				t.Fatal(err)
			}
			if (tone.plan != nil) != tt.plan {
				t.Fatalf("planned %v, want %v", tone.plan != nil, tt.plan)
			}
			for _, codec := range []rtp.Codec{0xff, rtp.PCMU, rtp.PCMA} {
				want := newToneSource(ts, tt.loop)
				pb := p.Play(context.Background(), Media{ToneScript: tt.script, Loop: tt.loop}, nil)
				var wf, f pcm.Frame
				var wp, payload [pcm.FrameSamples]byte
				for i := range tt.frames {
					more := want.read(&wf)
					// Every third frame as samples, as when a recording
					// takes them.
					if codec != 0xff && i%3 != 0 && pb.ReadPayload(payload[:], codec) {
						if !more {
							t.Fatalf("frame %d: a payload after the end", i)
						}
						codec.Encode(wp[:], wf[:])
						if payload != wp {
							t.Fatalf("frame %d: %s payload differs", i, codec)
						}
						continue
					}
					err := pb.ReadFrame(&f)
					if !more {
						if err != io.EOF {
							t.Fatalf("frame %d: %v after the end", i, err)
						}
						return
					}
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					if f != wf {
						t.Fatalf("frame %d differs", i)
					}
				}
				pb.Stop()
			}
		})
	}
}

// TestTonePlansAreBounded: scenarios may play any script; a Player keeps a
// bounded number of them.
func TestTonePlansAreBounded(t *testing.T) {
	p := New(Options{})
	for i := range 2 * maxPlans {
		if _, err := p.tones.get(fmt.Sprintf("%d@-19;*(0.1/0.1/1)", 400+i), false); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.tones.m); n > maxPlans {
		t.Errorf("%d scripts kept, want at most %d", n, maxPlans)
	}
	if _, err := p.tones.get("425@-19", false); err == nil {
		t.Error("a bad script parsed")
	}
}

func BenchmarkTonePlanPayload(b *testing.B) {
	pb := New(Options{}).Play(context.Background(), Media{ToneScript: "440@-19,480@-19;*(2/4/1+2)"}, nil)
	var payload [pcm.FrameSamples]byte
	b.ReportAllocs()
	for b.Loop() {
		if !pb.ReadPayload(payload[:], rtp.PCMU) {
			b.Fatal("no payload")
		}
	}
}
