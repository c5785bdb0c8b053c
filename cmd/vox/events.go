package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/controller/access"
	"vox/controller/alerts"
	"vox/controller/history"
	"vox/controller/signature"
	"vox/controller/support"
	"vox/controller/webhook"
	"vox/numbers"
	"vox/runtime"
)

// What vox serve does when calls start and end (issue 8, S5, S13, S20,
// S21): every session gets an access URL, every finished session a call
// record, the scenario's events go to the tenant's portal as signed
// webhooks, and session logs are kept for --log-retention.

// callEvents are those parts, opened on the server's data file.
type callEvents struct {
	history *history.Store
	live    *liveCalls // calls in progress, for a restart after a crash
	logs    *history.Logs
	outbox  *webhook.Outbox
	access  *access.Server
	alerts  *alerts.Monitor
	support *support.Service
	ctrl    eventsController
	// supportToken opens the support endpoints (DATA/support.token).
	supportToken string
	log          *slog.Logger
	stop         context.CancelFunc
	running      sync.WaitGroup
}

// eventsController is what these parts ask the controller.
type eventsController interface {
	Account(ctx context.Context, id string) (controller.Account, error)
	SigningKeys(ctx context.Context, id string) (signature.Credentials, error)
	NumberConfig(ctx context.Context, account, number string) (json.RawMessage, error)
	// Cost prices a PSTN leg for the call record; the leg itself was
	// charged by billedLeg when it ended.
	Cost(ctx context.Context, account, destination string, d time.Duration) (controller.Amount, error)
	Balance(ctx context.Context, account string) (controller.Balance, error)
}

// sweepEvery is how often expired session logs are looked for, and
// alertsEvery how often every account's balance is checked (spending ages
// out of the adaptive window, balances change between calls).
const (
	sweepEvery  = time.Hour
	alertsEvery = 10 * time.Minute
)

// openCallEvents opens the webhook outbox, alerts and support access in db,
// next to the call history hist; base is the HTTP address portals reach
// ("http://HOST:PORT").
func openCallEvents(cfg serveConfig, db *bolt.DB, hist *history.Store, ctrl eventsController, base string, client *http.Client) (*callEvents, error) {
	var err error
	e := &callEvents{
		history: hist, ctrl: ctrl, log: cfg.Log, live: &liveCalls{db: db, hist: hist},
		logs: &history.Logs{Dir: filepath.Join(cfg.Data, logsDir), Retention: cfg.LogRetention, Logger: cfg.Log},
	}
	e.outbox, err = webhook.Open(db, webhook.Options{Portals: portalsOf{e}, Sign: signature.Sign, Logger: cfg.Log, Client: client})
	if err != nil {
		return nil, err
	}
	e.access = access.NewServer(access.Options{Base: base, Settings: numberSettings{ctrl}, Outbox: e.outbox, Logger: cfg.Log})
	e.alerts, err = alerts.Open(db, alerts.Options{Ledger: spending{e}, Sender: e.outbox, Logger: cfg.Log})
	if err != nil {
		return nil, err
	}
	if e.support, err = support.Open(db, cfg.Now); err != nil {
		return nil, err
	}
	if e.supportToken, err = supportToken(cfg.Data); err != nil {
		return nil, err
	}
	return e, nil
}

// start runs the webhook deliveries and the log sweeper until stop.
func (e *callEvents) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.running.Add(3)
	go func() {
		defer e.running.Done()
		e.outbox.Run(ctx)
	}()
	go func() {
		defer e.running.Done()
		e.alerts.Run(ctx, alertsEvery)
	}()
	go func() {
		defer e.running.Done()
		e.logs.RunSweeper(ctx, sweepEvery)
	}()
}

// shutdown stops what start started; queued webhooks wait on disk for the
// next start.
func (e *callEvents) shutdown() {
	if e.stop != nil {
		e.stop()
	}
	e.running.Wait()
}

// portalsOf finds an account's portal: the URL set for it, and its licence
// key to sign with (S9: the same key the portal signs its requests with).
type portalsOf struct{ e *callEvents }

func (p portalsOf) Portal(ctx context.Context, account string) (webhook.Portal, error) {
	u, err := p.e.outbox.PortalURL(ctx, account)
	if err != nil {
		return webhook.Portal{}, err
	}
	creds, err := p.e.ctrl.SigningKeys(ctx, account)
	if err != nil {
		return webhook.Portal{}, fmt.Errorf("signing key of %s: %w", account, err)
	}
	if len(creds.Keys) == 0 {
		return webhook.Portal{}, fmt.Errorf("%s has no licence key to sign with: %w", account, webhook.ErrNoPortal)
	}
	return webhook.Portal{URL: u, Key: creds.Keys[0]}, nil
}

// numberSettings gives the access URL the controller's number settings.
type numberSettings struct{ ctrl eventsController }

func (n numberSettings) NumberConfig(ctx context.Context, account, number string) (json.RawMessage, error) {
	cfg, err := n.ctrl.NumberConfig(ctx, account, number)
	if errors.Is(err, controller.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", access.ErrNotFound, err)
	}
	return cfg, err
}

// sessionAccess lets the access URL reach a running session.
type sessionAccess struct{ s *runtime.Session }

func (a sessionAccess) Request(ctx context.Context, method, path, content string) (access.Answer, error) {
	ans, err := a.s.Request(ctx, method, path, content)
	if errors.Is(err, runtime.ErrSessionEnded) {
		return access.Answer{}, access.ErrSessionEnded
	}
	return access.Answer{Status: ans.Status, ContentType: ans.ContentType, Body: ans.Body}, err
}

// openAccess gives a session about to start its access URL (in cs.Info);
// the slot is handed the running session once it runs.
func (e *callEvents) openAccess(cs *runtime.CallStart) (*access.Slot, error) {
	slot, err := e.access.Open(cs.Info.SessionID, cs.Account, cs.Destination)
	if err != nil {
		return nil, err
	}
	cs.Info.AccessURL = slot.URL()
	return slot, nil
}

// recordTimeout bounds the write of a call record at a session's end.
const recordTimeout = 10 * time.Second

// sessionEnded writes the call record of a finished session (runtime
// Config.OnEnd): the session's id is the call id, the one vox logs takes.
func (e *callEvents) sessionEnded(sum runtime.SessionSummary) {
	if len(sum.Legs) == 0 {
		// The scenario never had a call: nothing to record.
		if err := e.live.unmark(sum.SessionID); err != nil {
			e.log.Error("call record", "call", sum.SessionID, "err", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	rec := e.callRecord(ctx, sum)
	if _, err := e.history.Commit(ctx, rec); err != nil {
		e.log.Error("call record", "call", rec.CallID, "account", rec.Account, "err", err)
	} else if err := e.live.unmark(rec.CallID); err != nil {
		e.log.Error("call record", "call", rec.CallID, "err", err)
	}
	if _, err := e.alerts.Check(ctx, rec.Account); err != nil {
		e.log.Warn("low-balance check", "account", rec.Account, "err", err)
	}
}

// spending is what the low-balance alerts read: the balance from the
// controller's ledger, the spending from the call records' daily totals.
type spending struct{ e *callEvents }

func (s spending) Balance(ctx context.Context, account string) (int64, error) {
	b, err := s.e.ctrl.Balance(ctx, account)
	return int64(b.Balance), err
}

func (s spending) Spent(ctx context.Context, account string, since time.Time) (int64, error) {
	days, err := s.e.history.Stats(ctx, account, history.Day, since, time.Time{})
	var sum int64
	for _, d := range days {
		sum += d.Cost
	}
	return sum, err
}

// callRecord makes the record of a session: the first leg is the call (the
// caller's incoming call, or the first call the scenario placed), the PSTN
// legs are what it cost.
func (e *callEvents) callRecord(ctx context.Context, sum runtime.SessionSummary) history.Record {
	first := sum.Legs[0]
	pref := numbers.Preference{}
	if a, err := e.ctrl.Account(ctx, sum.AccountID); err == nil {
		pref.Country = a.Country
	}
	rec := history.Record{
		CallID: sum.SessionID, Account: sum.AccountID, Direction: history.Outgoing,
		From: normalised(first.From, pref), To: normalised(first.To, pref),
		Start: first.Start, Duration: int64(first.Talk().Round(time.Second) / time.Second),
		Code: first.Code, Status: history.StatusOf(first.Code),
		Device: first.Device, Release: sum.Release,
		// The slot is closed only after the session's end: what the
		// scenario reported of the call's quality (S20 meter) is there.
		Quality: e.access.Quality(sum.SessionID),
	}
	if first.Incoming {
		rec.Direction = history.Incoming
	}
	if rec.Device == "" {
		rec.Device = history.Phone
	}
	for _, l := range sum.Legs {
		if rec.RecordURL == "" && len(l.RecordURLs) > 0 {
			rec.RecordURL = l.RecordURLs[0] // S17: the URL only; the audio stays in the tenant's directory
		}
		if l.Kind != runtime.DialPSTN || l.Talk() == 0 {
			continue
		}
		cost, err := e.ctrl.Cost(ctx, sum.AccountID, normalised(l.To, pref), l.Talk())
		if err != nil {
			e.log.Warn("call record: price a PSTN leg", "call", sum.SessionID, "leg", l.ID, "err", err)
			continue
		}
		rec.Cost += int64(cost)
	}
	return rec
}

// normalised writes a number as international digits (S18); what is not a
// number (a user name, a SIP URI) stays as it is.
func normalised(s string, pref numbers.Preference) string {
	if n, err := numbers.Normalize(s, pref); err == nil {
		return n
	}
	return s
}

// routes mounts the call history, session logs and portal settings in the
// controller's API, for the operator (admin token) and for each tenant
// signed with its licence key, who sees only its own (404 for the others, S1).
func (e *callEvents) routes(mux *http.ServeMux, checker *controller.Auth) {
	auth := &tenantAuth{auth: checker}
	api := &history.API{Store: e.history, Logs: e.logs, Logger: e.log}
	base := controller.APIPrefix + "/accounts/{account}"
	mux.HandleFunc("GET "+base+"/calls", auth.owner(api.List))
	mux.HandleFunc("GET "+base+"/calls/stats", auth.owner(api.Stats))
	mux.HandleFunc("GET "+base+"/calls/{call}/log", auth.owner(func(w http.ResponseWriter, r *http.Request, account string) {
		api.Log(w, r, account, r.PathValue("call"))
	}))
	mux.HandleFunc("GET "+controller.APIPrefix+"/calls/{call}/log", auth.admin(func(w http.ResponseWriter, r *http.Request) {
		api.Log(w, r, "", r.PathValue("call"))
	}))
	mux.HandleFunc("GET "+base+"/alerts", auth.owner(e.getAlerts))
	mux.HandleFunc("PUT "+base+"/alerts", auth.owner(e.setAlerts))
	mux.HandleFunc("GET "+base+"/portal", auth.owner(e.getPortal))
	mux.HandleFunc("PUT "+base+"/portal", auth.owner(e.setPortal))
	mux.Handle(access.Prefix, e.access)
	e.supportRoutes(mux, auth, e.supportToken, e.ctrl)
}

func (e *callEvents) getPortal(w http.ResponseWriter, r *http.Request, account string) {
	u, err := e.outbox.PortalURL(r.Context(), account)
	if errors.Is(err, webhook.ErrNoPortal) {
		u, err = "", nil
	}
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "internal", "the portal could not be read")
		return
	}
	writeAPIJSON(w, http.StatusOK, map[string]string{"url": u})
}

func (e *callEvents) setPortal(w http.ResponseWriter, r *http.Request, account string) {
	var req struct {
		URL string `json:"url"`
	}
	if !decodeAPIRequest(w, r, &req, `{"url":"https://portal.example.com/vox"}`) {
		return
	}
	err := e.outbox.SetPortalURL(r.Context(), account, req.URL)
	if errors.Is(err, webhook.ErrInvalid) {
		writeAPIError(w, http.StatusUnprocessableEntity, "invalid_argument", err.Error())
		return
	}
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "internal", "the portal could not be set")
		return
	}
	writeAPIJSON(w, http.StatusOK, map[string]string{"url": req.URL})
}

// alertSettings are the low-balance thresholds as the API shows them (S14):
// threshold a decimal amount ("100.00"; "0" off), days of spending left (0 off).
type alertSettings struct {
	Threshold controller.Amount `json:"threshold"`
	Days      int               `json:"days"`
}

func (e *callEvents) getAlerts(w http.ResponseWriter, r *http.Request, account string) {
	s, err := e.alerts.Settings(r.Context(), account)
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "internal", "the alert settings could not be read")
		return
	}
	writeAPIJSON(w, http.StatusOK, alertSettings{Threshold: controller.Amount(s.Threshold), Days: s.Days})
}

func (e *callEvents) setAlerts(w http.ResponseWriter, r *http.Request, account string) {
	var req alertSettings
	if !decodeAPIRequest(w, r, &req, `{"threshold":"100.00","days":3}`) {
		return
	}
	err := e.alerts.SetSettings(r.Context(), account, alerts.Settings{Threshold: int64(req.Threshold), Days: req.Days})
	if errors.Is(err, alerts.ErrInvalid) {
		writeAPIError(w, http.StatusUnprocessableEntity, "invalid_argument", err.Error())
		return
	}
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "internal", "the alert settings could not be saved")
		return
	}
	writeAPIJSON(w, http.StatusOK, req)
}

// tenantAuth lets through the operator's bearer token, or a request signed
// by the tenant named in the path.
type tenantAuth struct {
	auth *controller.Auth
}

// who is the operator ("", true) or the signing tenant; false when the
// request was refused and answered.
func (a *tenantAuth) who(w http.ResponseWriter, r *http.Request) (account string, admin, ok bool) {
	p, ok := a.auth.Identify(w, r)
	return p.Account, p.Admin, ok
}

// owner serves the account of the path to the operator or that tenant.
func (a *tenantAuth) owner(h func(w http.ResponseWriter, r *http.Request, account string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, admin, ok := a.who(w, r)
		if !ok {
			return
		}
		account := r.PathValue("account")
		if !admin && who != account {
			writeAPIError(w, http.StatusNotFound, controller.CodeNotFound, fmt.Sprintf("account %q: not found", account))
			return
		}
		h(w, r, account)
	}
}

// tenantOnly serves the account of the path to that tenant only: what only
// the tenant may decide (S16: consent to support access).
func (a *tenantAuth) tenantOnly(h func(w http.ResponseWriter, r *http.Request, account string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, _, ok := a.who(w, r)
		if !ok {
			return
		}
		account := r.PathValue("account")
		if who != account {
			writeAPIError(w, http.StatusNotFound, controller.CodeNotFound, "only the tenant "+account+" signs this")
			return
		}
		h(w, r, account)
	}
}

// admin serves the operator only; to tenants the endpoint does not exist.
func (a *tenantAuth) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, admin, ok := a.who(w, r)
		if !ok {
			return
		}
		if !admin {
			writeAPIError(w, http.StatusNotFound, controller.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
			return
		}
		h(w, r)
	}
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeAPIRequest reads a settings request's small JSON body into v, or
// answers 400 saying what example, the body's shape, wants.
func decodeAPIRequest(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "want "+example+": "+err.Error())
		return false
	}
	return true
}

func writeAPIError(w http.ResponseWriter, status int, code, message string) {
	var body controller.ErrorBody
	body.Error.Code, body.Error.Message = code, message
	writeAPIJSON(w, status, body)
}
