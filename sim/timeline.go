package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"vox/runtime"
)

// Actions of a timeline step.
const (
	ActionDTMF        = "dtmf"         // the call sends digits
	ActionMessage     = "message"      // the call sends an in-call message (S20)
	ActionHTTPRequest = "http-request" // the portal sends a request into the session (S20)
	ActionHangup      = "hangup"       // the call hangs up
	ActionAudio       = "audio"        // the call starts saying Audio
	ActionTransfer    = "transfer"     // the call presses its transfer key for To
	ActionInfo        = "info"         // the call sends a SIP INFO: Text as MIMEType
	ActionHold        = "hold"         // the call puts the scenario on hold
	ActionUnhold      = "unhold"       // the call takes it back
	ActionDial        = "dial"         // how outgoing calls matching Call behave (no At)
)

// Step is one line of a timeline: something that happens At a moment of the
// session, or, for ActionDial, a rule for outgoing calls.
type Step struct {
	At     Duration `json:"at"`
	Action string   `json:"action"`
	// Call names the call the step is about: "caller" (the default) for the
	// incoming call, or an outgoing call's destination (user name, number or URI).
	// For ActionDial it is a regular expression that must match the whole
	// destination; empty matches every call.
	Call    string `json:"call,omitempty"`
	Digits  string `json:"digits,omitempty"`
	Text    string `json:"text,omitempty"`
	Content string `json:"content,omitempty"`
	Method  string `json:"method,omitempty"`
	Path    string `json:"path,omitempty"`
	// Audio is what the call says from then on (ActionAudio) or what matching
	// outgoing calls say once answered (ActionDial): a tone script, or a WAV
	// or MP3 file relative to the working directory.
	Audio string `json:"audio,omitempty"`
	// RFC4733 delivers ActionDTMF's digits as out-of-band events, at once,
	// instead of as tones in the call's audio for the detector to find.
	RFC4733 bool `json:"rfc4733,omitempty"`

	AnswerAfter *Duration `json:"answer_after,omitempty"`
	NoAnswer    bool      `json:"no_answer,omitempty"`
	Fail        int       `json:"fail,omitempty"`
	Reason      string    `json:"reason,omitempty"`

	// To is where ActionTransfer sends the call: a user name or a number.
	To string `json:"to,omitempty"`
	// MIMEType is the type of ActionInfo's Text.
	MIMEType string `json:"mime_type,omitempty"`
}

// Duration is a time.Duration that reads and writes as "2s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: want a string like \"2s\" or a number of seconds")
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ReadTimeline reads a JSON Lines timeline. Blank lines and lines starting with //
// are skipped; errors name the line.
func ReadTimeline(r io.Reader, name string) ([]Step, error) {
	var steps []Step
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var st Step
		if err := dec.Decode(&st); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if err := st.validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return steps, nil
}

func (st *Step) validate() error {
	switch st.Action {
	case ActionDTMF:
		if st.Digits == "" || strings.Trim(st.Digits, "0123456789*#ABCD") != "" {
			return fmt.Errorf("dtmf: digits %q must be 0-9, *, #, A-D", st.Digits)
		}
	case ActionMessage:
		if st.Text == "" {
			return fmt.Errorf("message: text is required")
		}
	case ActionTransfer:
		if st.To == "" {
			return fmt.Errorf("transfer: to is required (a user name or a number)")
		}
	case ActionInfo:
		if !runtime.ValidMIMEType(st.MIMEType) {
			return fmt.Errorf("info: mime_type %q is not type/subtype", st.MIMEType)
		}
	case ActionHTTPRequest, ActionHangup, ActionHold, ActionUnhold:
	case ActionAudio:
		if st.Audio == "" {
			return fmt.Errorf("audio: audio is required (a tone script or a file)")
		}
	case ActionDial:
		if _, err := regexp.Compile("^(?:" + st.Call + ")$"); err != nil {
			return fmt.Errorf("dial: call pattern: %w", err)
		}
		if st.Fail != 0 && (st.Fail < 300 || st.Fail > 699) {
			return fmt.Errorf("dial: fail code %d is not a SIP failure code (300-699)", st.Fail)
		}
	default:
		return fmt.Errorf("unknown action %q (want dtmf, message, info, http-request, hangup, hold, unhold, audio, transfer or dial)", st.Action)
	}
	if st.Audio != "" {
		if err := ValidateAudio(st.Audio); err != nil {
			return fmt.Errorf("%s: %w", st.Action, err)
		}
	}
	if st.At < 0 {
		return fmt.Errorf("at must not be negative")
	}
	return nil
}

// ParseTimed parses the flag form "VALUE@TIME[,VALUE@TIME...]" used by --dtmf:
// "1@3s,#@5s".
func ParseTimed(s string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(s, ",") {
		v, at, ok := strings.Cut(strings.TrimSpace(part), "@")
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: want VALUE@TIME, like 1@3s", part)
		}
		out = append(out, [2]string{v, at})
	}
	return out, nil
}

// ParseFail parses --fail: "486" or "486:phone67".
func ParseFail(s string) (Step, error) {
	codeStr, pattern, _ := strings.Cut(s, ":")
	code, err := strconv.Atoi(codeStr)
	if err != nil {
		return Step{}, fmt.Errorf("--fail %q: want CODE or CODE:PATTERN", s)
	}
	st := Step{Action: ActionDial, Call: pattern, Fail: code}
	return st, st.validate()
}

// reasons are the SIP reason phrases of the codes a simulation reports (S24).
var reasons = map[int]string{
	302: "Moved Temporarily", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
	480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 491: "Request Pending", 500: "Server Internal Error", 503: "Service Unavailable",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
}

// Reason is the SIP reason phrase for code.
func Reason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	return "Failure"
}

// ValidateStep checks a step built from flags as ReadTimeline checks a file's.
func ValidateStep(st Step) error { return st.validate() }
