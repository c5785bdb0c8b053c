// Package access owns the session access URL (S20): every running call
// session gets http://HOST:PORT/calls/{sessionID}/{token}, the scenario's one
// handle to the controller and the portal's handle into the call:
//
//	POST {url}          JSON from the portal, delivered to the scenario as
//	                    Application.HttpRequest; the scenario's answer is the response
//	GET  {url}/config   the called number's settings JSON
//	POST {url}/events   {"event":"StartCall"|"HangupCall"|"AddCallHistory","data":{...}}:
//	                    202, a durable signed webhook to the tenant's portal
//	POST {url}/route    {"from":"...","to":"..."}: the portal's answer about who
//	                    answers the call; 504 when it does not answer in time
//
// The token is 128 random bits, compared in constant time; an unknown
// session and a wrong token get the same 404.
package access

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"vox/controller/webhook"
)

// Errors that the parts this package uses report.
var (
	// ErrNotFound is what Settings returns for a number without settings.
	ErrNotFound = errors.New("not found")
	// ErrSessionEnded is what a Session returns once it has ended.
	ErrSessionEnded = errors.New("the session has ended")
)

// Answer is a scenario's answer to a request on its access URL.
type Answer struct {
	Status      int
	ContentType string
	Body        string
}

// Session is a running call session (runtime.Session, adapted by cmd/vox).
type Session interface {
	Request(ctx context.Context, method, path, content string) (Answer, error)
}

// Settings gives a number's settings JSON (the controller keeps them).
type Settings interface {
	NumberConfig(ctx context.Context, account, number string) (json.RawMessage, error)
}

// Outbox queues webhooks and asks the portal where a call goes
// (*webhook.Outbox).
type Outbox interface {
	Enqueue(ctx context.Context, ev webhook.Event) (string, error)
	Lookup(ctx context.Context, account, from, to string) (json.RawMessage, error)
}

// Options configure a Server; zero values get the defaults written here.
type Options struct {
	// Base is the scheme, host and port portals reach: "http://192.0.2.10:8080".
	Base     string
	Settings Settings // nil: no number has settings
	Outbox   Outbox   // nil: events and lookups answer 503
	Logger   *slog.Logger
	// RequestTimeout bounds the wait for a scenario's answer (default 10 s).
	RequestTimeout time.Duration
	// MaxBody bounds a request's body (default 64 KiB).
	MaxBody int64
}

// Prefix is the path under which access URLs live.
const Prefix = "/calls/"

// Server keeps the access URLs of running sessions and answers on them.
type Server struct {
	opts Options
	mu   sync.RWMutex
	// slots by session id
	slots map[string]*Slot
}

// NewServer makes a server for URLs under opts.Base.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	opts.Base = strings.TrimSuffix(opts.Base, "/")
	return &Server{opts: opts, slots: map[string]*Slot{}}
}

// Slot is one session's access URL. It exists from before the session
// starts (Application.Started carries the URL) until Close.
type Slot struct {
	srv       *Server
	sessionID string
	token     string
	account   string
	number    string // the called number, whose settings /config gives
	mu        sync.Mutex
	session   Session
	// quality is the call's quality as the scenario reported it in
	// AddCallHistory (S20's meter: a grade 1 to 5), 0 when it did not.
	quality float64
}

// Open makes the access URL of a session of account whose called number is
// number.
func (s *Server) Open(sessionID, account, number string) (*Slot, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("access URL token: %w", err)
	}
	sl := &Slot{srv: s, sessionID: sessionID, token: hex.EncodeToString(b[:]), account: account, number: number}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.slots[sessionID]; dup {
		return nil, fmt.Errorf("access URL of session %s: already open", sessionID)
	}
	s.slots[sessionID] = sl
	return sl, nil
}

// URL is the session's access URL.
func (sl *Slot) URL() string {
	return sl.srv.opts.Base + Prefix + sl.sessionID + "/" + sl.token
}

// Attach hands the slot its running session.
func (sl *Slot) Attach(s Session) {
	sl.mu.Lock()
	sl.session = s
	sl.mu.Unlock()
}

// Quality is the quality grade (1 to 5) the scenario of a session still
// open reported in its AddCallHistory event, 0 when it reported none: the
// call record keeps it.
func (s *Server) Quality(sessionID string) float64 {
	s.mu.RLock()
	sl := s.slots[sessionID]
	s.mu.RUnlock()
	if sl == nil {
		return 0
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.quality
}

// Close ends the access URL: it answers 404 from now on.
func (sl *Slot) Close() {
	sl.srv.mu.Lock()
	if sl.srv.slots[sl.sessionID] == sl {
		delete(sl.srv.slots, sl.sessionID)
	}
	sl.srv.mu.Unlock()
}

// lookup finds the slot of a session whose token matches, in constant time
// in the token.
func (s *Server) lookup(sessionID, token string) *Slot {
	s.mu.RLock()
	sl := s.slots[sessionID]
	s.mu.RUnlock()
	if sl == nil || subtle.ConstantTimeCompare([]byte(sl.token), []byte(token)) != 1 {
		return nil
	}
	return sl
}

// ServeHTTP answers under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || len(parts) > 3 {
		notFound(w)
		return
	}
	sl := s.lookup(parts[0], parts[1])
	if sl == nil {
		notFound(w)
		return
	}
	what := ""
	if len(parts) == 3 {
		what = parts[2]
	}
	switch {
	case what == "" && r.Method == http.MethodPost:
		s.command(w, r, sl)
	case what == "config" && r.Method == http.MethodGet:
		s.config(w, r, sl)
	case what == "events" && r.Method == http.MethodPost:
		s.event(w, r, sl)
	case what == "route" && r.Method == http.MethodPost:
		s.route(w, r, sl)
	case what == "" || what == "config" || what == "events" || what == "route":
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
	default:
		notFound(w)
	}
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "no such session")
}

// body reads the request body up to MaxBody.
func (s *Server) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", s.opts.MaxBody))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return nil, false
	}
	return b, true
}

// decode reads the JSON body into v; false when it could not, and the
// request is answered.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := s.body(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body is not JSON: "+err.Error())
		return false
	}
	return true
}

// command hands a portal's request to the scenario and returns its answer.
func (s *Server) command(w http.ResponseWriter, r *http.Request, sl *Slot) {
	body, ok := s.body(w, r)
	if !ok {
		return
	}
	sl.mu.Lock()
	sess := sl.session
	sl.mu.Unlock()
	if sess == nil {
		writeError(w, http.StatusServiceUnavailable, "starting", "the session is starting; try again")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	a, err := sess.Request(ctx, r.Method, r.URL.Path, string(body))
	switch {
	case errors.Is(err, ErrSessionEnded):
		notFound(w)
		return
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "scenario_timeout", fmt.Sprintf("the scenario did not answer within %s", s.opts.RequestTimeout))
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the request did not reach the scenario")
		return
	}
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body)
}

func (s *Server) config(w http.ResponseWriter, r *http.Request, sl *Slot) {
	if s.opts.Settings == nil || sl.number == "" {
		writeError(w, http.StatusNotFound, "no_config", "the called number has no settings")
		return
	}
	cfg, err := s.opts.Settings.NumberConfig(r.Context(), sl.account, sl.number)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "no_config", "the called number "+sl.number+" has no settings")
		return
	case err != nil:
		s.opts.Logger.Error("number settings", "account", sl.account, "number", sl.number, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the number's settings could not be read")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(cfg)
}

// scenarioEvents are the events a scenario may report (S21).
var scenarioEvents = map[string]bool{webhook.StartCall: true, webhook.HangupCall: true, webhook.AddCallHistory: true}

func (s *Server) event(w http.ResponseWriter, r *http.Request, sl *Slot) {
	var req struct {
		Event string          `json:"event"`
		ID    string          `json:"id"` // optional: a retry with the same id is queued once
		Data  json.RawMessage `json:"data"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if !scenarioEvents[req.Event] {
		writeError(w, http.StatusUnprocessableEntity, "invalid_argument", fmt.Sprintf("event %q: want StartCall, HangupCall or AddCallHistory", req.Event))
		return
	}
	var data map[string]json.RawMessage
	if len(req.Data) > 0 && (json.Unmarshal(req.Data, &data) != nil || data == nil) {
		writeError(w, http.StatusUnprocessableEntity, "invalid_argument", "data must be a JSON object")
		return
	}
	if req.Event == webhook.AddCallHistory {
		if q := reportedQuality(data["quality"]); q > 0 {
			sl.mu.Lock()
			sl.quality = q
			sl.mu.Unlock()
		}
	}
	if s.opts.Outbox == nil {
		writeError(w, http.StatusServiceUnavailable, "no_portal", "webhooks are not configured on this server")
		return
	}
	id := ""
	if req.ID != "" {
		id = sl.sessionID + ":" + req.ID
	}
	id, err := s.opts.Outbox.Enqueue(r.Context(), webhook.Event{ID: id, Type: req.Event, Account: sl.account, Data: req.Data})
	if errors.Is(err, webhook.ErrInvalid) {
		writeError(w, http.StatusUnprocessableEntity, "invalid_argument", err.Error())
		return
	}
	if err != nil {
		s.opts.Logger.Error("queue a webhook", "account", sl.account, "session", sl.sessionID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the event could not be queued")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

// reportedQuality reads AddCallHistory's quality: a grade 1 to 5, given as
// a number or as the seed's meter summary {"grade":4,...}.
func reportedQuality(raw json.RawMessage) float64 {
	var grade float64
	if json.Unmarshal(raw, &grade) != nil {
		var meter struct {
			Grade float64 `json:"grade"`
		}
		if json.Unmarshal(raw, &meter) != nil {
			return 0
		}
		grade = meter.Grade
	}
	if grade < 1 || grade > 5 {
		return 0
	}
	return grade
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, sl *Slot) {
	var req struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if s.opts.Outbox == nil {
		writeError(w, http.StatusServiceUnavailable, "no_portal", "the portal cannot be asked on this server")
		return
	}
	answer, err := s.opts.Outbox.Lookup(r.Context(), sl.account, req.From, req.To)
	switch {
	case errors.Is(err, webhook.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, "portal_timeout", "the portal did not answer in time")
		return
	case errors.Is(err, webhook.ErrNoPortal):
		writeError(w, http.StatusServiceUnavailable, "no_portal", "the account has no portal")
		return
	case err != nil:
		s.opts.Logger.Warn("routing lookup", "account", sl.account, "err", err)
		writeError(w, http.StatusBadGateway, "portal_error", "the portal's answer was not usable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes the platform's JSON error: {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}
