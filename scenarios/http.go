package scenarios

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// APIPrefix is where the scenario API lives on the HTTP listener. Every path
// below it names the application (and the account, where there is one), so that
// the controller can authorise per tenant in front of the handler without
// changing a path.
const APIPrefix = "/api/v1"

// Stable error codes of the API; clients switch on them.
const (
	CodeInvalidRequest      = "invalid_request"      // 400: not JSON, unknown field, bad query
	CodeUnauthorized        = "unauthorized"         // 401
	CodeNotFound            = "not_found"            // 404: application, release or endpoint
	CodeNoMatchingRule      = "no_matching_rule"     // 404: resolve found no rule for the destination
	CodeMethodNotAllowed    = "method_not_allowed"   // 405
	CodeTooLarge            = "too_large"            // 413
	CodeInvalidPush         = "invalid_push"         // 422: details list every problem
	CodeInvalidArgument     = "invalid_argument"     // 422: a value out of range, a missing account
	CodeIdempotencyConflict = "idempotency_conflict" // 422: a key reused for a different push
	CodeInternal            = "internal"             // 500
	CodeUnexpected          = "unexpected_response"  // the client got something that is not the API's answer
)

// APIError is the API's error: the server writes it (it is an http.Handler) and
// the client returns it. errors.Is matches it against ErrNotFound and ErrInvalid
// as it would the Store's error.
type APIError struct {
	Status  int      `json:"-"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

func (e *APIError) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return e.Message + ": " + strings.Join(e.Details, "; ")
}

func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrInvalid
	}
	return nil
}

// ServeHTTP writes the error as {"error":{"code":...,"message":...,"details":[...]}}.
func (e *APIError) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, e.Status, errorEnvelope{Error: e})
}

type errorEnvelope struct {
	Error *APIError `json:"error"`
}

// Bodies of the API that are not the Store's own types.
type (
	// AppList is a page of GET /apps; Next is the after= of the next page.
	AppList struct {
		Apps []AppSummary `json:"apps"`
		Next string       `json:"next,omitempty"`
	}
	// ReleaseList is a page of GET /apps/{app}/releases; Next is the before= of
	// the next page.
	ReleaseList struct {
		Releases []ReleaseSummary `json:"releases"`
		Next     int              `json:"next,omitempty"`
	}
	RollbackRequest struct {
		Release int `json:"release"`
	}
	CanaryRequest struct {
		Percent int `json:"percent"`
	}
	PinRequest struct {
		Release int `json:"release"`
	}
	// PolicyState answers a rollback, canary, pin or unpin.
	PolicyState struct {
		App    string `json:"app"`
		Mode   string `json:"mode"`
		Policy Policy `json:"policy"`
	}
	// RuleSet is the rules of an application's latest release.
	RuleSet struct {
		App     string `json:"app"`
		Release int    `json:"release"`
		Rules   []Rule `json:"rules"`
	}
	// RulesChange replaces an application's rules (PUT /apps/{app}/rules).
	RulesChange struct {
		Rules   []Rule `json:"rules"`
		Author  string `json:"author,omitempty"`
		Message string `json:"message,omitempty"`
	}
	// ResolveRequest asks which release and scenarios an account's call runs.
	// Trigger defaults to TriggerIncoming; without a destination nothing is
	// routed (a balance check moves the account and runs nothing).
	ResolveRequest struct {
		Trigger     string `json:"trigger,omitempty"`
		Destination string `json:"destination,omitempty"`
	}
	// Resolution is the account's release and, for a destination, the rule
	// that answers it with that rule's files in order.
	Resolution struct {
		App       string    `json:"app"`
		Account   string    `json:"account"`
		Release   int       `json:"release"`
		Rule      *Rule     `json:"rule,omitempty"`
		Files     []File    `json:"files,omitempty"`
		Placement Placement `json:"placement"`
	}
)

// HandlerOption tunes NewHandler.
type HandlerOption func(*handler)

// WithLogger logs pushes and internal errors to l (default: slog.Default()).
func WithLogger(l *slog.Logger) HandlerOption { return func(h *handler) { h.log = l } }

// WithMaxBody bounds a request body (default DefaultMaxBody).
func WithMaxBody(n int64) HandlerOption { return func(h *handler) { h.maxBody = n } }

// WithIdempotencyKeys sets how many recent Idempotency-Keys are remembered
// (default DefaultIdempotencyKeys).
func WithIdempotencyKeys(n int) HandlerOption { return func(h *handler) { h.keys.max = n } }

const (
	// DefaultMaxBody is 16 MiB: sixteen scenario files of the largest size.
	DefaultMaxBody = 16 << 20
	// DefaultIdempotencyKeys is enough for every retry a client makes within
	// minutes of its push on a busy server.
	DefaultIdempotencyKeys = 1024
	maxListLimit           = 1000
	maxKeyLength           = 255
	// maxAccountLength bounds an account id in a path: it is a bbolt key.
	maxAccountLength = 256
	maxTriggerLength = 64
)

type handler struct {
	store   *Store
	log     *slog.Logger
	maxBody int64
	// writes serialises the requests that create releases, so that a rules
	// change based on the latest release's files cannot race a push and
	// drop its files, and so that a retried push finds its key.
	writes sync.Mutex
	keys   recentKeys
	mux    *http.ServeMux
}

// NewHandler serves the scenario API under APIPrefix. It does no
// authentication: cmd/vox puts its admin token in front, and the controller
// will put per-tenant authorisation there.
func NewHandler(store *Store, opts ...HandlerOption) http.Handler {
	h := &handler{store: store, log: slog.Default(), maxBody: DefaultMaxBody, keys: recentKeys{max: DefaultIdempotencyKeys}, mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	routes := []struct {
		method, path string
		fn           http.HandlerFunc
	}{
		{"GET", "/apps", h.apps},
		{"GET", "/apps/{app}/releases", h.releases},
		{"POST", "/apps/{app}/releases", h.push},
		{"GET", "/apps/{app}/releases/{n}", h.release},
		{"POST", "/apps/{app}/rollback", h.rollback},
		{"POST", "/apps/{app}/canary", h.canary},
		{"PUT", "/apps/{app}/pins/{account}", h.pin},
		{"DELETE", "/apps/{app}/pins/{account}", h.unpin},
		{"GET", "/apps/{app}/rollout", h.rollout},
		{"GET", "/apps/{app}/rules", h.rules},
		{"PUT", "/apps/{app}/rules", h.setRules},
		{"POST", "/apps/{app}/accounts/{account}/resolve", h.resolve},
	}
	allowed := map[string][]string{}
	for _, r := range routes {
		h.mux.HandleFunc(r.method+" "+APIPrefix+r.path, r.fn)
		allowed[r.path] = append(allowed[r.path], r.method)
	}
	// The mux's own 404 and 405 answers are plain text; the API's are JSON.
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		h.mux.HandleFunc(APIPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.fail(w, r, &APIError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, allow)})
		})
	}
	h.mux.HandleFunc(APIPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no endpoint %s", r.URL.Path)})
	})
	return h.mux
}

func (h *handler) apps(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1, maxListLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.store.Apps(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	after := r.URL.Query().Get("after")
	i := sort.Search(len(all), func(i int) bool { return all[i].Name > after })
	page := AppList{Apps: all[i:min(i+limit, len(all))]}
	if i+limit < len(all) {
		page.Next = page.Apps[len(page.Apps)-1].Name
	}
	if page.Apps == nil {
		page.Apps = []AppSummary{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *handler) releases(w http.ResponseWriter, r *http.Request) {
	before, err := queryInt(r, "before", 0, 1, math.MaxInt32)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", 100, 1, maxListLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, next, err := h.store.Releases(r.Context(), r.PathValue("app"), before, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []ReleaseSummary{}
	}
	writeJSON(w, http.StatusOK, ReleaseList{Releases: list, Next: next})
}

func (h *handler) release(w http.ResponseWriter, r *http.Request) {
	n := 0
	if s := r.PathValue("n"); s != "latest" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			h.fail(w, r, invalidRequest("release %q: want a number from 1, or latest", s))
			return
		}
	}
	rel, err := h.store.Release(r.Context(), r.PathValue("app"), n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rel)
}

// push stores a release. An Idempotency-Key makes a retried push answer with
// the release the first attempt stored instead of storing another; the server
// remembers the last DefaultIdempotencyKeys keys in memory, so a retry after a
// restart of the server is not recognised.
func (h *handler) push(w http.ResponseWriter, r *http.Request) {
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var p Push
	if err := decodeStrict(body, &p); err != nil {
		h.fail(w, r, err)
		return
	}
	app := r.PathValue("app")
	if p.App != "" && p.App != app {
		h.fail(w, r, invalidRequest("the push names application %q but is sent to %q", p.App, app))
		return
	}
	p.App = app
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxKeyLength {
		h.fail(w, r, invalidRequest("Idempotency-Key is longer than %d characters", maxKeyLength))
		return
	}
	fingerprint := sha256.Sum256(body)
	h.writes.Lock()
	defer h.writes.Unlock()
	if key != "" {
		if done, ok := h.keys.get(app + "\x00" + key); ok {
			if done.fingerprint != fingerprint {
				h.fail(w, r, &APIError{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyConflict,
					Message: fmt.Sprintf("Idempotency-Key %q was used for a different push to %s", key, app)})
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			h.created(w, done.result)
			return
		}
	}
	res, err := h.store.Push(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if key != "" {
		h.keys.put(app+"\x00"+key, pushed{fingerprint: fingerprint, result: res})
	}
	h.log.Info("release pushed", "app", app, "release", res.Release.Number, "files", len(res.Release.Files), "author", res.Release.Author, "warnings", len(res.Warnings))
	h.created(w, res)
}

func (h *handler) created(w http.ResponseWriter, res *PushResult) {
	w.Header().Set("Location", APIPrefix+appPath(res.Release.App, "releases", strconv.Itoa(res.Release.Number)))
	writeJSON(w, http.StatusCreated, res)
}

func (h *handler) rollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if !h.decode(w, r, &req) {
		return
	}
	app := r.PathValue("app")
	p, err := h.store.Rollback(r.Context(), app, req.Release)
	h.policy(w, r, app, p, err)
}

func (h *handler) canary(w http.ResponseWriter, r *http.Request) {
	var req CanaryRequest
	if !h.decode(w, r, &req) {
		return
	}
	app := r.PathValue("app")
	p, err := h.store.Canary(r.Context(), app, req.Percent)
	h.policy(w, r, app, p, err)
}

func (h *handler) pin(w http.ResponseWriter, r *http.Request) {
	var req PinRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.Release < 1 {
		h.fail(w, r, &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidArgument,
			Message: fmt.Sprintf("pin to release %d: want a release number from 1 (DELETE removes a pin)", req.Release)})
		return
	}
	app, account := r.PathValue("app"), r.PathValue("account")
	if err := checkAccount(account); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.store.Pin(r.Context(), account, app, req.Release)
	h.policy(w, r, app, p, err)
}

func (h *handler) unpin(w http.ResponseWriter, r *http.Request) {
	app, account := r.PathValue("app"), r.PathValue("account")
	if err := checkAccount(account); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.store.Pin(r.Context(), account, app, 0)
	h.policy(w, r, app, p, err)
}

func checkAccount(account string) error {
	if len(account) > maxAccountLength {
		return &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidArgument,
			Message: fmt.Sprintf("account id is %d bytes; at most %d", len(account), maxAccountLength)}
	}
	return nil
}

func (h *handler) policy(w http.ResponseWriter, r *http.Request, app string, p Policy, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("rollout policy changed", "app", app, "mode", p.Mode(), "pins", len(p.Pins))
	writeJSON(w, http.StatusOK, PolicyState{App: app, Mode: p.Mode(), Policy: p})
}

func (h *handler) rollout(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.Rollout(r.Context(), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) rules(w http.ResponseWriter, r *http.Request) {
	rel, err := h.store.Release(r.Context(), r.PathValue("app"), 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RuleSet{App: rel.App, Release: rel.Number, Rules: rel.Rules})
}

// setRules stores a release with the latest release's files and new rules:
// rules are versioned with the scenarios they name. The same rules again store
// nothing, which makes the PUT idempotent.
func (h *handler) setRules(w http.ResponseWriter, r *http.Request) {
	var change RulesChange
	if !h.decode(w, r, &change) {
		return
	}
	app := r.PathValue("app")
	h.writes.Lock()
	defer h.writes.Unlock()
	latest, err := h.store.Release(r.Context(), app, 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if slices.EqualFunc(latest.Rules, change.Rules, equalRules) {
		writeJSON(w, http.StatusOK, PushResult{Release: latest})
		return
	}
	if change.Message == "" {
		change.Message = "rules changed"
	}
	res, err := h.store.Push(r.Context(), Push{App: app, Author: change.Author, Message: change.Message, Files: latest.Files, Rules: change.Rules})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("rules changed", "app", app, "release", res.Release.Number, "rules", len(res.Release.Rules), "author", res.Release.Author)
	writeJSON(w, http.StatusOK, res)
}

func equalRules(a, b Rule) bool {
	return a.Name == b.Name && a.Pattern == b.Pattern && slices.Equal(a.Scenarios, b.Scenarios)
}

func (h *handler) resolve(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.Trigger == "" {
		req.Trigger = TriggerIncoming
	}
	app, account := r.PathValue("app"), r.PathValue("account")
	if err := checkAccount(account); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(req.Trigger) > maxTriggerLength {
		h.fail(w, r, &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidArgument,
			Message: fmt.Sprintf("trigger is %d bytes; at most %d", len(req.Trigger), maxTriggerLength)})
		return
	}
	rel, placement, err := h.store.Resolve(r.Context(), account, app, req.Trigger)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := Resolution{App: app, Account: account, Release: rel.Number, Placement: *placement}
	if req.Destination != "" {
		rule, files, err := rel.Route(req.Destination)
		if errors.Is(err, ErrNotFound) {
			h.fail(w, r, &APIError{Status: http.StatusNotFound, Code: CodeNoMatchingRule, Message: err.Error()})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out.Rule, out.Files = &rule, files
	}
	writeJSON(w, http.StatusOK, out)
}

// readBody reads a request body of at most maxBody bytes.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body is over %d bytes", tooLarge.Limit)}
	}
	if err != nil {
		return nil, invalidRequest("read request body: %v", err)
	}
	return body, nil
}

// decode reads the body into v, or answers with the error and returns false.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := h.readBody(w, r)
	if err == nil {
		err = decodeStrict(body, v)
	}
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	return true
}

// decodeStrict refuses what a typo would produce: unknown fields, a second value,
// an empty body.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidRequest("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidRequest("request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("request body: data after the JSON value")
	}
	return nil
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, invalidRequest("query %s=%q: want a number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

func invalidRequest(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// fail answers with err as the API's error: the Store's sentinel errors map to
// stable codes; anything else is an internal error, logged here and not shown.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		apiErr     *APIError
		validation *ValidationError
	)
	switch {
	case errors.As(err, &apiErr):
	case errors.As(err, &validation):
		msg := "push refused: 1 problem"
		if n := len(validation.Problems); n != 1 {
			msg = fmt.Sprintf("push refused: %d problems", n)
		}
		apiErr = &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidPush, Message: msg, Details: validation.Problems}
	case errors.Is(err, ErrNotFound):
		apiErr = &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, ErrInvalid):
		apiErr = &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidArgument, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		apiErr = &APIError{Status: 499, Code: CodeInternal, Message: "request cancelled"}
	default:
		h.log.Error("scenario API", "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the server log has the cause"}
	}
	apiErr.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// recentKeys remembers the results of the last max keyed pushes, forgetting
// the oldest first. handler.writes guards it.
type recentKeys struct {
	max   int
	m     map[string]pushed
	order []string
}

type pushed struct {
	fingerprint [sha256.Size]byte
	result      *PushResult
}

func (k *recentKeys) get(key string) (pushed, bool) {
	p, ok := k.m[key]
	return p, ok
}

func (k *recentKeys) put(key string, p pushed) {
	if k.max <= 0 {
		return
	}
	if k.m == nil {
		k.m = map[string]pushed{}
	}
	if len(k.order) >= k.max {
		delete(k.m, k.order[0])
		k.order = k.order[1:]
	}
	k.m[key] = p
	k.order = append(k.order, key)
}
