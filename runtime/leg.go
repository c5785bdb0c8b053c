package runtime

import (
	"context"
	"errors"
	"time"
)

// Leg is one call in a session: the caller's incoming call or an outgoing call the
// scenario placed. sip and webrtc implement it for live calls; package sim for
// simulated ones. The session calls its methods from the session goroutine only;
// they must not block for long (signalling and media run on their own goroutines)
// and report what happens later through the EventSink given to Attach.
type Leg interface {
	ID() string
	// Attach hands the leg the sink for its events. It is called once, before any
	// other method; a leg holds back events that happen before it.
	Attach(events EventSink)
	// Answer accepts an alerting incoming call (200 OK).
	Answer(ctx context.Context, headers map[string]string) error
	// StartEarlyMedia opens media before answering (183 Session Progress).
	StartEarlyMedia(ctx context.Context, headers map[string]string) error
	// Hangup ends the call: BYE when connected, a final response with code when an
	// incoming call is still alerting, CANCEL for an outgoing call not yet answered.
	// code 0 lets the leg choose.
	Hangup(ctx context.Context, code int, headers map[string]string) error
	// Play starts media toward the leg, replacing whatever was playing.
	Play(ctx context.Context, m Media) error
	// StopPlayback stops what Play started; no event follows.
	StopPlayback(ctx context.Context) error
	// HandleTones turns delivery of Call.ToneReceived on or off.
	HandleTones(ctx context.Context, on bool) error
	// Record starts recording the call; Call.RecordStarted reports the URL.
	Record(ctx context.Context, r Recording) error
	// StopRecording stops the recording; Call.RecordStopped follows.
	StopRecording(ctx context.Context) error
	SendDigits(ctx context.Context, digits string) error
	// SendMessage sends an in-call message (SIP MESSAGE/INFO, S20).
	SendMessage(ctx context.Context, text string) error
	// SendMediaTo sends this leg's incoming audio to another leg of the session;
	// SendMediaBetween is SendMediaTo both ways.
	SendMediaTo(ctx context.Context, to Leg) error
	StopMediaTo(ctx context.Context, to Leg) error
}

// TransferLeg is a Leg whose far end may ask to have the call transferred (a
// phone's transfer key: SIP REFER, RFC 3515). A leg that cannot be
// transferred leaves it out, and the commands warn.
type TransferLeg interface {
	Leg
	// HandleBlindTransfer turns the far end's transfer requests into
	// Call.BlindTransferRequested, or, off (the default), refuses them.
	HandleBlindTransfer(ctx context.Context, on bool) error
	// NotifyBlindTransfer tells the far end how the transfer it asked for
	// went: code 200 when the target answered, else the failure's code and
	// reason.
	NotifyBlindTransfer(ctx context.Context, code int, reason string) error
}

// TransferWait is how long the far end waits for the outcome of a transfer
// it asked for (the subscription of its REFER, RFC 3515) unless told
// otherwise. A transfer the scenario has not answered by then is reported to
// it as failed with 408, and the call goes on.
const TransferWait = time.Minute

// ErrNoTransfer is NotifyBlindTransfer's error when no transfer awaits an
// answer.
var ErrNoTransfer = errors.New("no transfer awaits an answer: none was requested, or the far end's wait for it expired")

// TransferRefusal is how a TransferLeg answers the far end's transfer
// request, whatever the leg: 0 to take it, else the SIP status to refuse it
// with and why. answered: the call is up; handled: the scenario takes
// transfers; underWay: one it has not answered yet is.
func TransferRefusal(answered, handled, underWay bool) (code int, why string) {
	switch {
	case !answered:
		return 403, "only an answered call can be transferred"
	case !handled:
		return 603, "the scenario does not take transfers"
	case underWay:
		return 491, "a transfer of this call is under way"
	}
	return 0, ""
}

// RingingLeg is a Leg whose far end can be told that the call is ringing
// (Call.ring: 180 Ringing, without media, so the caller's phone plays its own
// ringback).
type RingingLeg interface {
	Leg
	// Ring tells an alerting incoming call's far end it rings, with the X-
	// and VI- headers of headers; once is enough, and a call no longer
	// alerting is left as it is.
	Ring(ctx context.Context, headers map[string]string) error
}

// InfoLeg is a Leg that carries SIP INFO: Call.sendInfo's, and the far end's
// as Call.InfoReceived.
type InfoLeg interface {
	Leg
	// SendInfo sends body as mimeType ("application/x-crm+json"), with the
	// X- and VI- headers of headers.
	SendInfo(ctx context.Context, mimeType, body string, headers map[string]string) error
}

// Media says what Play plays: exactly one of URL, ToneScript or Text is set.
type Media struct {
	URL        string
	ToneScript string // Cisco ToneScript, S23
	Text       string // text to speech
	Voice      string
	Loop       bool
}

// Recording says how to record a call.
type Recording struct {
	Stereo bool
}

// Dialer places outgoing calls for a session. The returned leg is not yet attached;
// the session attaches it before returning to the scenario. Dial must not wait for
// the far end: ringing, answer and failure come later as events.
type Dialer interface {
	Dial(ctx context.Context, req DialRequest) (Leg, error)
}

// Destination kinds of a DialRequest.
const (
	DialUser = "user" // CallUser: a registered user of the account
	DialSIP  = "sip"  // CallSIP: a SIP URI
	DialPSTN = "pstn" // CallPSTN: a phone number through the account's trunk
)

// DialRequest is an outgoing call as the scenario asked for it.
type DialRequest struct {
	ID string // the call id the scenario already knows the call by
	// Account is the session's account: a user named in CallUser is looked up
	// among this account's users only (S1).
	Account     string
	Kind        string // DialUser, DialSIP or DialPSTN
	To          string // user name, SIP URI or number
	CallerID    string
	DisplayName string
	Headers     map[string]string
	Video       bool
	AuthUser    string // CallSIP digest credentials
	Password    string
	OutProxy    string
}

// Event is something that happened to a leg or the session, on its way to the
// scenario as an engine event. Params do not include name and id; the session adds
// them.
type Event struct {
	Name   string
	CallID string
	Params map[string]any
}

// Names of the engine events (docs/engine-protocol.md).
const (
	EventStarted          = "Application.Started"
	EventCallAlerting     = "Application.CallAlerting"
	EventHTTPRequest      = "Application.HttpRequest"
	EventTerminating      = "Application.Terminating"
	EventTerminated       = "Application.Terminated"
	EventRinging          = "Call.Ringing"
	EventAudioStarted     = "Call.AudioStarted"
	EventConnected        = "Call.Connected"
	EventFailed           = "Call.Failed"
	EventDisconnected     = "Call.Disconnected"
	EventPlaybackFinished = "Call.PlaybackFinished"
	EventRecordStarted    = "Call.RecordStarted"
	EventRecordStopped    = "Call.RecordStopped"
	EventToneReceived     = "Call.ToneReceived"
	EventMessageReceived  = "Call.MessageReceived"
	// EventBlindTransferRequested: the far end asks to have the call
	// transferred to transferTo (TransferLeg).
	EventBlindTransferRequested = "Call.BlindTransferRequested"
	// EventInfoReceived: the far end sent a SIP INFO that is neither a digit
	// nor text (InfoLeg).
	EventInfoReceived = "Call.InfoReceived"
	// EventOnHold and EventOffHold: the far end put the call on hold (a
	// re-INVITE or UPDATE with a=sendonly or a=inactive), or took it back.
	EventOnHold     = "Call.OnHold"
	EventOffHold    = "Call.OffHold"
	EventHTTPResult = "Net.HttpRequestResult"
)

// EventSink receives a leg's events. Post never blocks and may be called from any
// goroutine.
type EventSink interface {
	Post(Event)
}

// Incoming describes the call that starts a session, as Application.CallAlerting
// reports it.
type Incoming struct {
	Leg         Leg
	CallerID    string
	Destination string
	DisplayName string
	FromURI     string
	ToURI       string
	Headers     map[string]string
}

// legState is what the session keeps about each of its legs.
type legState struct {
	leg       Leg
	incoming  bool
	kind      string // DialUser, DialSIP, DialPSTN, or "" for the incoming call
	connected time.Time
	// For the session's summary (OnEnd).
	from, to   string
	started    time.Time
	ended      time.Time
	code       int
	reason     string
	recordURLs []string
}

// errCallFailed is what a failed outgoing call answers to every command.
var errCallFailed = errors.New("the call failed")

// failedLeg stands for an outgoing call the Dialer refused, between the command and
// the Call.Failed event that reports it.
type failedLeg struct{ id string }

func (l *failedLeg) ID() string                                               { return l.id }
func (l *failedLeg) Attach(EventSink)                                         {}
func (l *failedLeg) Answer(context.Context, map[string]string) error          { return errCallFailed }
func (l *failedLeg) StartEarlyMedia(context.Context, map[string]string) error { return errCallFailed }
func (l *failedLeg) Hangup(context.Context, int, map[string]string) error     { return nil }
func (l *failedLeg) Play(context.Context, Media) error                        { return errCallFailed }
func (l *failedLeg) StopPlayback(context.Context) error                       { return errCallFailed }
func (l *failedLeg) HandleTones(context.Context, bool) error                  { return errCallFailed }
func (l *failedLeg) Record(context.Context, Recording) error                  { return errCallFailed }
func (l *failedLeg) StopRecording(context.Context) error                      { return errCallFailed }
func (l *failedLeg) SendDigits(context.Context, string) error                 { return errCallFailed }
func (l *failedLeg) SendMessage(context.Context, string) error                { return errCallFailed }
func (l *failedLeg) SendMediaTo(context.Context, Leg) error                   { return errCallFailed }
func (l *failedLeg) StopMediaTo(context.Context, Leg) error                   { return errCallFailed }
