package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"vox/jsapi"
)

// LogFormat selects how a session log is written.
type LogFormat int

const (
	// LogText is the seed's format (S13): a timestamp and one happening per line.
	LogText LogFormat = iota
	// LogJSON writes one JSON object per line with the same content.
	LogJSON
)

// Entry kinds of the session log.
const (
	KindSystem  = "system"  // the host's own lines: loading, termination, quota stops
	KindEvent   = "event"   // an event sent to JS
	KindCommand = "command" // a command JS executed
	KindScript  = "script"  // a line the scenario wrote with Logger.write
	KindError   = "error"   // an uncaught scenario error or a refused command
	KindWarning = "warning" // a recoverable misuse of the API
)

// SessionLog writes a session's log as the call goes, one Write per line, so a call
// that crashes still leaves everything up to its last line behind.
type SessionLog struct {
	mu     sync.Mutex
	w      io.Writer
	format LogFormat
	err    error
}

// NewSessionLog returns a log that writes to w in format.
func NewSessionLog(w io.Writer, format LogFormat) *SessionLog {
	return &SessionLog{w: w, format: format}
}

// Err reports the first write error, if any; logging never stops a call.
func (l *SessionLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

const seedTimeLayout = "2006-01-02 15:04:05"

func (l *SessionLog) write(t time.Time, kind, name, text string, params any) {
	if l == nil {
		return
	}
	var line []byte
	switch l.format {
	case LogJSON:
		rec := struct {
			Time   string `json:"time"`
			Kind   string `json:"kind"`
			Name   string `json:"name,omitempty"`
			Text   string `json:"text,omitempty"`
			Params any    `json:"params,omitempty"`
		}{t.UTC().Format(time.RFC3339Nano), kind, name, text, jsonValue(params)}
		b, err := json.Marshal(rec)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"time": rec.Time, "kind": KindError, "text": "unloggable entry: " + err.Error()})
		}
		line = append(b, '\n')
	default:
		s := t.Format(seedTimeLayout)
		if text != "" {
			s += " " + text
		}
		line = []byte(s + "\n")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(line); err != nil && l.err == nil {
		l.err = err
	}
}

// System writes a host line such as "Loading scenario bitrix24".
func (l *SessionLog) System(t time.Time, text string) { l.lines(t, KindSystem, text) }

// Script writes the scenario's own text; each of its lines becomes a log line, as
// Logger.write does in the seed.
func (l *SessionLog) Script(t time.Time, text string) { l.lines(t, KindScript, text) }

// Error writes an error and its stack, one line each.
func (l *SessionLog) Error(t time.Time, text string) { l.lines(t, KindError, text) }

// Warning writes a recoverable misuse of the API.
func (l *SessionLog) Warning(t time.Time, text string) { l.lines(t, KindWarning, "Warning: "+text) }

func (l *SessionLog) lines(t time.Time, kind, text string) {
	if l != nil && l.format == LogJSON {
		l.write(t, kind, "", text, nil)
		return
	}
	for _, line := range strings.Split(text, "\n") {
		l.write(t, kind, "", strings.TrimRight(line, "\r"), nil)
	}
}

// Event writes "Sent event to JS onPhoneEvent with params [...]".
func (l *SessionLog) Event(t time.Time, params map[string]any) {
	name, _ := params["name"].(string)
	l.write(t, KindEvent, name, "Sent event to JS onPhoneEvent with params "+FormatParams([]any{params}), params)
}

// Command writes "Executing JS command: NAME with params [...]".
func (l *SessionLog) Command(t time.Time, name string, params []any) {
	l.write(t, KindCommand, name, "Executing JS command: "+name+" with params "+FormatParams(params), params)
}

// maxLoggedString keeps one huge value (a downloaded body, say) from swamping the log.
const maxLoggedString = 4096

// FormatParams renders command or event params as the seed does:
// `[{code = 487 ; id = abc ; } ; ]`, and `[void ; ]` for none.
func FormatParams(params []any) string {
	var b strings.Builder
	b.WriteByte('[')
	if len(params) == 0 {
		b.WriteString("void ; ")
	}
	for _, p := range params {
		formatValue(&b, p)
		b.WriteString(" ; ")
	}
	b.WriteByte(']')
	return b.String()
}

func formatValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("NULL")
	case string:
		// One happening per line: a value's own line breaks would split it.
		s := lineBreaks.Replace(v)
		if len(s) > maxLoggedString {
			fmt.Fprintf(b, "%s…(%d bytes)", s[:maxLoggedString], len(v))
			return
		}
		b.WriteString(s)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case jsapi.Number:
		fmt.Fprintf(b, "%.4E", float64(v))
	case float64:
		fmt.Fprintf(b, "%.4E", v)
	case map[string]any:
		b.WriteByte('{')
		for _, k := range sortedKeys(v) {
			b.WriteString(k)
			b.WriteString(" = ")
			formatValue(b, v[k])
			b.WriteString(" ; ")
		}
		b.WriteByte('}')
	case map[string]string:
		b.WriteByte('{')
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString(k)
			b.WriteString(" = ")
			formatValue(b, v[k])
			b.WriteString(" ; ")
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range v {
			formatValue(b, e)
			b.WriteString(" ; ")
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, v)
	}
}

var lineBreaks = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`)

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonValue turns jsapi.Numbers back into plain JSON numbers.
func jsonValue(v any) any {
	switch v := v.(type) {
	case jsapi.Number:
		return float64(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	default:
		return v
	}
}
