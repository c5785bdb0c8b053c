package media

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ToneScript is a parsed Cisco ToneScript (S23), the notation the seed's scenario
// uses for progress tones: `440@-19,480@-19;*(2/4/1+2)` is 440 Hz and 480 Hz at
// -19 dBm, on for 2 s and off for 4 s, repeated forever.
type ToneScript struct {
	Tones    []Tone
	Sections []Section
}

// Tone is one frequency and its level.
type Tone struct {
	Hz    float64
	Level float64 // dBm
}

// Section is a cadence repeated Repeat times, or forever when Repeat is 0.
type Section struct {
	Repeat int
	Steps  []Step
}

// Step plays Tones (1-based indexes into ToneScript.Tones) for On, then is silent
// for Off. An On of 0 in the script means "on for ever" and is kept as 0.
type Step struct {
	On, Off time.Duration
	Tones   []int
}

// ParseToneScript parses a ToneScript.
func ParseToneScript(s string) (*ToneScript, error) {
	freqPart, cadencePart, ok := strings.Cut(strings.TrimSpace(s), ";")
	if !ok {
		return nil, fmt.Errorf("tone script %q: want FREQUENCIES;CADENCE", s)
	}
	ts := &ToneScript{}
	for _, f := range strings.Split(freqPart, ",") {
		hz, level, ok := strings.Cut(f, "@")
		if !ok {
			return nil, fmt.Errorf("tone script %q: tone %q is not HZ@LEVEL", s, f)
		}
		h, err1 := strconv.ParseFloat(hz, 64)
		l, err2 := strconv.ParseFloat(level, 64)
		if err1 != nil || err2 != nil || h <= 0 || h >= 4000 {
			return nil, fmt.Errorf("tone script %q: tone %q is not a frequency below 4000 Hz at a level in dBm", s, f)
		}
		ts.Tones = append(ts.Tones, Tone{Hz: h, Level: l})
	}
	for _, sec := range splitTop(cadencePart) {
		open := strings.IndexByte(sec, '(')
		if open < 0 || !strings.HasSuffix(sec, ")") {
			return nil, fmt.Errorf("tone script %q: cadence %q is not COUNT(ON/OFF/TONES,...)", s, sec)
		}
		section := Section{}
		if count := sec[:open]; count != "*" {
			n, err := strconv.Atoi(count)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("tone script %q: repeat count %q is not * or a positive number", s, count)
			}
			section.Repeat = n
		}
		for _, step := range strings.Split(sec[open+1:len(sec)-1], ",") {
			fields := strings.Split(step, "/")
			if len(fields) != 3 {
				return nil, fmt.Errorf("tone script %q: step %q is not ON/OFF/TONES", s, step)
			}
			on, err1 := seconds(fields[0])
			off, err2 := seconds(fields[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("tone script %q: step %q has a bad duration", s, step)
			}
			st := Step{On: on, Off: off}
			for _, idx := range strings.Split(fields[2], "+") {
				i, err := strconv.Atoi(idx)
				if err != nil || i < 1 || i > len(ts.Tones) {
					return nil, fmt.Errorf("tone script %q: step %q names tone %q, but there are %d", s, step, idx, len(ts.Tones))
				}
				st.Tones = append(st.Tones, i)
			}
			section.Steps = append(section.Steps, st)
		}
		ts.Sections = append(ts.Sections, section)
	}
	if len(ts.Sections) == 0 {
		return nil, fmt.Errorf("tone script %q: no cadence", s)
	}
	return ts, nil
}

// splitTop splits on commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// Duration is how long the script plays once through; forever is reported as
// ok == false (a section repeated for ever, or a tone held on for ever).
func (t *ToneScript) Duration() (d time.Duration, ok bool) {
	for _, sec := range t.Sections {
		if sec.Repeat == 0 {
			return 0, false
		}
		var cycle time.Duration
		for _, st := range sec.Steps {
			if st.On == 0 {
				return 0, false
			}
			cycle += st.On + st.Off
		}
		d += cycle * time.Duration(sec.Repeat)
	}
	return d, true
}

// Cycle is the length of one pass through the last section's cadence: how long a
// looping tone takes before it sounds the same again.
func (t *ToneScript) Cycle() time.Duration {
	var cycle time.Duration
	for _, st := range t.Sections[len(t.Sections)-1].Steps {
		cycle += st.On + st.Off
	}
	return cycle
}
