package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
	// line is the text format's line buffer, reused from line to line: a session
	// logs every event and command, and the log should not cost more than the
	// JS it records.
	line []byte
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
	if l.format == LogJSON {
		l.writeJSON(t, kind, name, text, params)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := t.AppendFormat(l.line[:0], seedTimeLayout)
	if text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	}
	l.writeLine(b)
}

// writeParams writes an event or a command: head followed by params in the seed's
// form (FormatParams). The text format appends params to the line as it goes.
func (l *SessionLog) writeParams(t time.Time, kind, name, head string, params []any, record any) {
	if l == nil {
		return
	}
	if l.format == LogJSON {
		l.writeJSON(t, kind, name, head+FormatParams(params), record)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := t.AppendFormat(l.line[:0], seedTimeLayout)
	b = append(b, ' ')
	b = append(b, head...)
	b = appendParams(b, params)
	l.writeLine(b)
}

// maxKeptLine bounds the line buffer kept between lines, so one huge line does not
// stay allocated for the rest of the call.
const maxKeptLine = 16 << 10

// writeLine ends the text line b and writes it; l.mu is held.
func (l *SessionLog) writeLine(b []byte) {
	b = append(b, '\n')
	if _, err := l.w.Write(b); err != nil && l.err == nil {
		l.err = err
	}
	if cap(b) <= maxKeptLine {
		l.line = b
	}
}

func (l *SessionLog) writeJSON(t time.Time, kind, name, text string, params any) {
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
	line := append(b, '\n')
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
	for {
		line, rest, more := strings.Cut(text, "\n")
		l.write(t, kind, "", strings.TrimRight(line, "\r"), nil)
		if !more {
			return
		}
		text = rest
	}
}

// Event writes "Sent event to JS onPhoneEvent with params [...]".
func (l *SessionLog) Event(t time.Time, params map[string]any) {
	name, _ := params["name"].(string)
	l.writeParams(t, KindEvent, name, "Sent event to JS onPhoneEvent with params ", []any{params}, params)
}

// Command writes "Executing JS command: NAME with params [...]".
func (l *SessionLog) Command(t time.Time, name string, params []any) {
	l.writeParams(t, KindCommand, name, "Executing JS command: "+name+" with params ", params, params)
}

// maxLoggedString keeps one huge value (a downloaded body, say) from swamping the log.
const maxLoggedString = 4096

// FormatParams renders command or event params as the seed does:
// `[{code = 487 ; id = abc ; } ; ]`, and `[void ; ]` for none.
func FormatParams(params []any) string { return string(appendParams(nil, params)) }

func appendParams(b []byte, params []any) []byte {
	b = append(b, '[')
	if len(params) == 0 {
		b = append(b, "void ; "...)
	}
	for _, p := range params {
		b = appendValue(b, p)
		b = append(b, " ; "...)
	}
	return append(b, ']')
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "NULL"...)
	case string:
		// One happening per line: a value's own line breaks would split it.
		s := v
		if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
			s = lineBreaks.Replace(s)
		}
		if len(s) > maxLoggedString {
			b = append(b, s[:maxLoggedString]...)
			b = append(b, "…("...)
			b = strconv.AppendInt(b, int64(len(v)), 10)
			return append(b, " bytes)"...)
		}
		return append(b, s...)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case jsapi.Number:
		// strconv's E form is fmt's %.4E, NaN and infinities included.
		return strconv.AppendFloat(b, float64(v), 'E', 4, 64)
	case float64:
		return strconv.AppendFloat(b, v, 'E', 4, 64)
	case map[string]any:
		return appendMap(b, v)
	case map[string]string:
		return appendMap(b, v)
	case []any:
		b = append(b, '[')
		for _, e := range v {
			b = appendValue(b, e)
			b = append(b, " ; "...)
		}
		return append(b, ']')
	default:
		return fmt.Append(b, v)
	}
}

var lineBreaks = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`)

// sortedKeys appends m's keys to keys, sorted.
// appendMap writes a map as the seed does, keys sorted: {a = 1 ; b = 2 ; }.
func appendMap[V any](b []byte, m map[string]V) []byte {
	var small [16]string
	b = append(b, '{')
	for _, k := range sortedKeys(small[:0], m) {
		b = append(b, k...)
		b = append(b, " = "...)
		b = appendValue(b, m[k])
		b = append(b, " ; "...)
	}
	return append(b, '}')
}

func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
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
