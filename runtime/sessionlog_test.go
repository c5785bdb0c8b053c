package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"vox/jsapi"
)

// The seed's own log lines are the reference for the format (S13).
func TestFormatParamsMatchesSeed(t *testing.T) {
	tests := []struct {
		name   string
		params []any
		want   string
	}{
		{
			name:   "a command's numbers come from JS and print in exponent form",
			params: []any{map[string]any{"code": jsapi.Number(302), "headers": nil, "id": "viXM"}},
			want:   "[{code = 3.0200E+02 ; headers = NULL ; id = viXM ; } ; ]",
		},
		{
			name:   "the host's integers print plainly, its floats in exponent form",
			params: []any{map[string]any{"code": 487, "cost": 0.0, "headers": map[string]string{}, "id": "x", "name": "Call.Failed", "reason": "Request Terminated"}},
			want:   "[{code = 487 ; cost = 0.0000E+00 ; headers = {} ; id = x ; name = Call.Failed ; reason = Request Terminated ; } ; ]",
		},
		{
			name: "CallUser's two params objects",
			params: []any{
				map[string]any{"id": "aI2B"},
				map[string]any{"callerid": "79112233444", "displayName": nil, "headers": nil, "username": "user67", "video": nil},
			},
			want: "[{id = aI2B ; } ; {callerid = 79112233444 ; displayName = NULL ; headers = NULL ; username = user67 ; video = NULL ; } ; ]",
		},
		{
			name:   "nested headers, sorted",
			params: []any{map[string]any{"headers": map[string]any{"VI-Client-Type": "user", "VI-Client-Device": "SIP"}}},
			want:   "[{headers = {VI-Client-Device = SIP ; VI-Client-Type = user ; } ; } ; ]",
		},
		{
			name:   "close has no params",
			params: nil,
			want:   "[void ; ]",
		},
		{
			name:   "booleans and empty strings",
			params: []any{map[string]any{"accessURL": "", "loop": true}},
			want:   "[{accessURL =  ; loop = true ; } ; ]",
		},
		{
			name:   "line breaks in a value stay on one line",
			params: []any{map[string]any{"text": "a\nb\r\nc"}},
			want:   `[{text = a\nb\nc ; } ; ]`,
		},
		{
			name:   "arrays",
			params: []any{map[string]any{"queue": []any{"user67", jsapi.Number(3)}}},
			want:   "[{queue = [user67 ; 3.0000E+00 ; ] ; } ; ]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatParams(tt.params); got != tt.want {
				t.Errorf("FormatParams\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestFormatParamsTruncatesHugeValues(t *testing.T) {
	got := FormatParams([]any{map[string]any{"text": strings.Repeat("x", 100000)}})
	if len(got) > maxLoggedString+100 || !strings.Contains(got, "…(100000 bytes)") {
		t.Errorf("a 100000-byte value was not cut short: %d bytes logged", len(got))
	}
}

func TestSessionLogLines(t *testing.T) {
	at := time.Date(2015, 7, 24, 8, 50, 8, 0, time.UTC)
	var buf bytes.Buffer
	l := NewSessionLog(&buf, LogText)
	l.System(at, "Loading scenario bitrix24")
	l.Event(at, map[string]any{"name": "Call.Connected", "id": "16214d90", "headers": map[string]string{}})
	l.Command(at, "close", nil)
	l.Script(at, "\n----\nStart INCOMING scenario (version: 9)")
	want := `2015-07-24 08:50:08 Loading scenario bitrix24
2015-07-24 08:50:08 Sent event to JS onPhoneEvent with params [{headers = {} ; id = 16214d90 ; name = Call.Connected ; } ; ]
2015-07-24 08:50:08 Executing JS command: close with params [void ; ]
2015-07-24 08:50:08
2015-07-24 08:50:08 ----
2015-07-24 08:50:08 Start INCOMING scenario (version: 9)
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestSessionLogJSON(t *testing.T) {
	at := time.Date(2015, 7, 24, 8, 50, 8, 0, time.UTC)
	var buf bytes.Buffer
	l := NewSessionLog(&buf, LogJSON)
	l.Command(at, "HangupCall", []any{map[string]any{"code": jsapi.Number(603), "id": "x"}})
	l.Script(at, "two\nlines")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON line per entry, got %d: %s", len(lines), buf.String())
	}
	var cmd struct {
		Time   string           `json:"time"`
		Kind   string           `json:"kind"`
		Name   string           `json:"name"`
		Params []map[string]any `json:"params"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &cmd); err != nil {
		t.Fatal(err)
	}
	if cmd.Kind != KindCommand || cmd.Name != "HangupCall" || cmd.Params[0]["code"] != 603.0 || cmd.Time != "2015-07-24T08:50:08Z" {
		t.Errorf("command entry: %+v", cmd)
	}
	var script map[string]string
	if err := json.Unmarshal([]byte(lines[1]), &script); err != nil {
		t.Fatal(err)
	}
	if script["kind"] != KindScript || script["text"] != "two\nlines" {
		t.Errorf("script entry: %v", script)
	}
}

// failingWriter fails every write, as a full disk would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

var errFull = &QuotaError{Reason: "disk full"}

func TestSessionLogKeepsFirstWriteError(t *testing.T) {
	l := NewSessionLog(failingWriter{}, LogText)
	l.System(time.Now(), "a")
	l.System(time.Now(), "b")
	if l.Err() != errFull {
		t.Errorf("Err() = %v, want the write error", l.Err())
	}
}

// Numbers are appended with strconv; they must read as the %.4E they were
// printed with before, special values included.
func TestFormatParamsNumbersReadAsPercentE(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 603, -1.5, 1e21, 1.23456789e-7, math.Inf(1), math.Inf(-1), math.NaN()} {
		want := fmt.Sprintf("[%.4E ; %.4E ; ]", f, f)
		if got := FormatParams([]any{jsapi.Number(f), f}); got != want {
			t.Errorf("%v: got %q, want %q", f, got, want)
		}
	}
}

// BenchmarkSessionLog writes what one portal request costs the log: its event,
// a command and a scenario line.
func BenchmarkSessionLog(b *testing.B) {
	l := NewSessionLog(io.Discard, LogText)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	event := map[string]any{"name": EventHTTPRequest, "method": "POST", "path": "/request/bench", "content": `{"COMMAND":"wait","REASON":"bench"}`}
	command := []any{map[string]any{"id": "call-1", "url": "http://media/a.mp3", "loop": false, "volume": jsapi.Number(0.5)}}
	b.ReportAllocs()
	for b.Loop() {
		l.Event(at, event)
		l.Command(at, "Play", command)
		l.Script(at, "Portal command done wait #1")
	}
}
