package runtime

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"vox/jsapi"
)

// command executes one engine command on the session goroutine. An error means
// the scenario misused the protocol and is thrown into it; what goes wrong later,
// on the network, arrives as an event instead.
type command func(s *Session, params []any) error

// commands are the engine commands of docs/engine-protocol.md.
var commands map[string]command

func init() {
	commands = map[string]command{
		"SetCustomData": func(s *Session, p []any) error {
			m := firstParams(p)
			s.customData = str(m, "data")
			return nil
		},
		"AcceptCall": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.Answer(s.ctx, headers(m))
		}),
		"StartAudio": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.StartEarlyMedia(s.ctx, headers(m))
		}),
		"Ring": legCommand(func(s *Session, st *legState, m map[string]any) error {
			l, ok := st.leg.(RingingLeg)
			if !ok {
				return errors.New("this call cannot be told it rings")
			}
			return l.Ring(s.ctx, headers(m))
		}),
		"HangupCall": legCommand(func(s *Session, st *legState, m map[string]any) error {
			code := int(num(m, "code"))
			if code >= 300 && st.connected.IsZero() {
				// A call rejected before it was answered ends with the scenario's code.
				st.code = code
			}
			return st.leg.Hangup(s.ctx, code, headers(m))
		}),
		"Play": legCommand(func(s *Session, st *legState, m map[string]any) error {
			url := str(m, "url")
			if url == "" {
				return errors.New("url is required")
			}
			return st.leg.Play(s.ctx, Media{URL: url, Loop: boolean(m, "loop")})
		}),
		"PlayToneScript": legCommand(func(s *Session, st *legState, m map[string]any) error {
			script := str(m, "script")
			if script == "" {
				return errors.New("script is required")
			}
			return st.leg.Play(s.ctx, Media{ToneScript: script, Loop: boolean(m, "loop")})
		}),
		"Say": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.Play(s.ctx, Media{Text: str(m, "text"), Voice: str(m, "voice")})
		}),
		"Stop": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.StopPlayback(s.ctx)
		}),
		"HandleTones": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.HandleTones(s.ctx, boolean(m, "handle"))
		}),
		"SendDigits": legCommand(func(s *Session, st *legState, m map[string]any) error {
			digits := str(m, "digits")
			if strings.Trim(digits, "0123456789*#ABCDabcd") != "" {
				return fmt.Errorf("digits %q: only 0-9, *, # and A-D can be sent", digits)
			}
			return st.leg.SendDigits(s.ctx, digits)
		}),
		"SendMessage": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.SendMessage(s.ctx, str(m, "text"))
		}),
		"SendInfo": legCommand(func(s *Session, st *legState, m map[string]any) error {
			mimeType, body := str(m, "mimeType"), str(m, "body")
			if !ValidMIMEType(mimeType) {
				return fmt.Errorf("sendInfo: MIME type %q is not type/subtype", mimeType)
			}
			if len(body) > maxInfoBody {
				return fmt.Errorf("sendInfo: a body of %d bytes is over %d", len(body), maxInfoBody)
			}
			l, ok := st.leg.(InfoLeg)
			if !ok {
				return errors.New("this call carries no SIP INFO")
			}
			return l.SendInfo(s.ctx, mimeType, body, headers(m))
		}),
		"HandleBlindTransfer": legCommand(func(s *Session, st *legState, m map[string]any) error {
			t, ok := st.leg.(TransferLeg)
			if !ok {
				return errNoTransfer
			}
			return t.HandleBlindTransfer(s.ctx, boolean(m, "handle"))
		}),
		"NotifyBlindTransfer": legCommand(func(s *Session, st *legState, m map[string]any) error {
			code := int(num(m, "code"))
			if code < 200 || code > 699 {
				return fmt.Errorf("code %d: a transfer ends with a final SIP status, 200 to 699", code)
			}
			t, ok := st.leg.(TransferLeg)
			if !ok {
				return errNoTransfer
			}
			return t.NotifyBlindTransfer(s.ctx, code, str(m, "reason"))
		}),
		"Record": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.Record(s.ctx, Recording{Stereo: boolean(m, "stereo")})
		}),
		"StopRecord": legCommand(func(s *Session, st *legState, m map[string]any) error {
			return st.leg.StopRecording(s.ctx)
		}),
		"CallUser":         dialCommand(DialUser, "username"),
		"CallSIP":          dialCommand(DialSIP, "to"),
		"CallPSTN":         dialCommand(DialPSTN, "number"),
		"SendMediaBetween": pairCommand(true),
		"StopMediaBetween": pairCommand(false),
		"SendMediaTo":      mediaToCommand(true),
		"StopMediaTo":      mediaToCommand(false),
		"HttpRequest":      (*Session).httpCommand,
		"HttpResponse":     httpResponseCommand,
		"close": func(s *Session, _ []any) error {
			s.closing = true
			return nil
		},
	}
}

// maxInfoBody bounds an INFO's body: one that fits a UDP datagram, as SIP
// over UDP needs (RFC 3261 section 18.1.1).
const maxInfoBody = 1300

// ValidMIMEType says whether t is type/subtype made of token characters,
// parameters allowed: what a Content-Type header may carry.
func ValidMIMEType(t string) bool {
	media, _, _ := strings.Cut(t, ";")
	typ, sub, ok := strings.Cut(strings.TrimSpace(media), "/")
	token := func(s string) bool {
		return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") == ""
	}
	return ok && token(typ) && token(sub) && !strings.ContainsAny(t, "\r\n")
}

// errNoTransfer is the warning for a transfer command to a leg that is no
// TransferLeg (live and simulated calls both are).
var errNoTransfer = errors.New("this call cannot be transferred")

// legCommand looks up the call a command names. A leg's own error (the call just
// ended on the network, say) is a warning, not a scenario failure: the event
// saying so is already on its way.
func legCommand(run func(s *Session, st *legState, m map[string]any) error) command {
	return func(s *Session, p []any) error {
		m := firstParams(p)
		st, err := s.legFor(str(m, "id"))
		if err != nil {
			return err
		}
		if err := run(s, st, m); err != nil {
			s.logf(KindWarning, "call %s: %v", st.leg.ID(), err)
			s.logger.Warn("call command failed", "call", st.leg.ID(), "err", err)
		}
		return nil
	}
}

func (s *Session) legFor(id string) (*legState, error) {
	if id == "" {
		return nil, errors.New("id is required")
	}
	st, ok := s.legs[id]
	if !ok {
		return nil, fmt.Errorf("no call with id %s in this session", id)
	}
	return st, nil
}

// pairCommand is VoxEngine.sendMediaBetween (bridge) or stopMediaBetween:
// mediaToCommand both ways.
func pairCommand(bridge bool) command {
	return func(s *Session, p []any) error {
		m := firstParams(p)
		a, b, err := s.legPair(str(m, "id1"), str(m, "id2"))
		if err != nil {
			return fmt.Errorf("id1 and id2: %w", err)
		}
		s.relay(bridge, a, b)
		s.relay(bridge, b, a)
		return nil
	}
}

// mediaToCommand is Call.sendMediaTo (send) or stopMediaTo: the call to
// hears the far end of the call id, or no longer does.
func mediaToCommand(send bool) command {
	return func(s *Session, p []any) error {
		m := firstParams(p)
		from, to, err := s.legPair(str(m, "id"), str(m, "to"))
		if err != nil {
			return fmt.Errorf("id and to: %w", err)
		}
		s.relay(send, from, to)
		return nil
	}
}

func (s *Session) legPair(id1, id2 string) (*legState, *legState, error) {
	a, err := s.legFor(id1)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.legFor(id2)
	if err != nil {
		return nil, nil, err
	}
	if a == b {
		return nil, nil, errors.New("the same call twice")
	}
	return a, b, nil
}

// relay starts or stops sending from's incoming audio to to. The leg's
// error (one of them just ended on the network, say) is a warning, as in
// legCommand.
func (s *Session) relay(send bool, from, to *legState) {
	var err error
	if send {
		err = from.leg.SendMediaTo(s.ctx, to.leg)
	} else {
		err = from.leg.StopMediaTo(s.ctx, to.leg)
	}
	if err != nil {
		s.logf(KindWarning, "media from %s to %s: %v", from.leg.ID(), to.leg.ID(), err)
	}
}

// DialError is a Dialer's refusal with the SIP code the scenario should see.
type DialError struct {
	Code   int
	Reason string
}

func (e *DialError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

func dialCommand(kind, toKey string) command {
	return func(s *Session, p []any) error {
		if len(p) < 2 {
			return errors.New("two params objects are required: {id} and the call's parameters")
		}
		id := str(firstParams(p), "id")
		if id == "" {
			return errors.New("id is required")
		}
		if _, dup := s.legs[id]; dup {
			return fmt.Errorf("a call with id %s already exists", id)
		}
		m, _ := p[1].(map[string]any)
		req := DialRequest{
			ID: id, Account: s.cfg.Info.AccountID, Kind: kind, To: str(m, toKey),
			CallerID: str(m, "callerid"), DisplayName: str(m, "displayName"),
			Headers: headers(m), Video: boolean(m, "video"),
			AuthUser: str(m, "authUser"), Password: str(m, "password"), OutProxy: str(m, "outProxy"),
		}
		if req.To == "" {
			return fmt.Errorf("%s is required", toKey)
		}
		var leg Leg
		var err error
		if s.cfg.Dialer == nil {
			err = &DialError{Code: 404, Reason: "Not Found"}
		} else {
			leg, err = s.cfg.Dialer.Dial(s.ctx, req)
		}
		if err != nil {
			// The scenario learns of the failure as it would of a far end's: by an
			// event, after the command returned.
			leg = &failedLeg{id: id}
			s.addLeg(&legState{leg: leg, kind: kind, from: req.CallerID, to: req.To})
			code, reason := 500, err.Error()
			var de *DialError
			if errors.As(err, &de) {
				code, reason = de.Code, de.Reason
			}
			s.post(func() {
				s.legEvent(Event{Name: EventFailed, CallID: id, Params: map[string]any{"code": code, "reason": reason}})
			})
			return nil
		}
		if leg.ID() != id {
			return fmt.Errorf("dialer returned call %s for %s", leg.ID(), id)
		}
		s.addLeg(&legState{leg: leg, kind: kind, from: req.CallerID, to: req.To})
		return nil
	}
}

func firstParams(p []any) map[string]any {
	if len(p) == 0 {
		return nil
	}
	m, _ := p[0].(map[string]any)
	return m
}

func str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case jsapi.Number:
		return fmt.Sprint(float64(v))
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func num(m map[string]any, key string) float64 {
	switch v := m[key].(type) {
	case jsapi.Number:
		return float64(v)
	case int:
		return float64(v)
	}
	return 0
}

func boolean(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

func headers(m map[string]any) map[string]string {
	raw, ok := m["headers"].(map[string]any)
	if !ok || len(raw) == 0 {
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[k] = str(raw, k)
		_ = v
	}
	return out
}

func millis(m map[string]any, key string) time.Duration {
	return time.Duration(num(m, key) * float64(time.Millisecond))
}
