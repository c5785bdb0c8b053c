package media

import (
	"strings"
	"testing"
	"time"
)

func TestParseToneScript(t *testing.T) {
	tests := []struct {
		script   string
		tones    int
		steps    int
		duration time.Duration // 0: plays for ever
		cycle    time.Duration
	}{
		// The seed's US ringback (S23): 2 s on, 4 s off, for ever.
		{"440@-19,480@-19;*(2/4/1+2)", 2, 1, 0, 6 * time.Second},
		{"425@-19;*(1/4/1)", 1, 1, 0, 5 * time.Second},
		// GB ringback: two bursts then a pause.
		{"400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)", 2, 2, 0, 3 * time.Second},
		// Three beeps and done, then a tone held on for ever.
		{"950@-10;3(0.3/0.1/1)", 1, 1, 1200 * time.Millisecond, 400 * time.Millisecond},
		{"350@-19,440@-19;10(0.1/0.1/1+2),*(0/0/1+2)", 2, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			ts, err := ParseToneScript(tt.script)
			if err != nil {
				t.Fatal(err)
			}
			if len(ts.Tones) != tt.tones || len(ts.Sections[0].Steps) != tt.steps {
				t.Errorf("tones %d, steps %d; want %d and %d", len(ts.Tones), len(ts.Sections[0].Steps), tt.tones, tt.steps)
			}
			d, finite := ts.Duration()
			if finite != (tt.duration > 0) || d != tt.duration {
				t.Errorf("Duration() = %v, %v; want %v", d, finite, tt.duration)
			}
			if got := ts.Cycle(); got != tt.cycle {
				t.Errorf("Cycle() = %v, want %v", got, tt.cycle)
			}
		})
	}
}

func TestParseToneScriptErrors(t *testing.T) {
	tests := map[string]string{
		"440@-19":                   "want FREQUENCIES;CADENCE",
		"440;*(1/1/1)":              "is not HZ@LEVEL",
		"9000@-19;*(1/1/1)":         "below 4000 Hz",
		"440@-19;*(1/1/2)":          "names tone",
		"440@-19;*(1/1)":            "is not ON/OFF/TONES",
		"440@-19;x(1/1/1)":          "repeat count",
		"440@-19;*(a/1/1)":          "bad duration",
		"440@-19;*1/1/1":            "is not COUNT(ON/OFF/TONES,...)",
		"440@-19,480@-19;":          "no cadence",
		"440@-19;*(-1/1/1)":         "bad duration",
		"440@-19;0(1/1/1)":          "repeat count",
		"440@-19;*(1/1/1),2(1/1/0)": "names tone",
	}
	for script, want := range tests {
		if _, err := ParseToneScript(script); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseToneScript(%q) = %v, want an error containing %q", script, err, want)
		}
	}
}
