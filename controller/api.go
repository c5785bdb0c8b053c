package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vox/controller/signature"
)

// APIPrefix is where the controller's REST API is served.
const APIPrefix = "/controller/v1"

// Stable error codes of the API, besides the signature package's.
const (
	CodeInvalidRequest = "invalid_request"      // 400: not JSON, unknown field
	CodeUnauthorized   = "unauthorized"         // 401: wrong admin token
	CodeNotFound       = "not_found"            // 404: also another tenant's things (S1)
	CodeInvalid        = "invalid_argument"     // 422
	CodeConflict       = "conflict"             // 409
	CodeIdempotency    = "idempotency_conflict" // 409: a key reused for something else
	CodeFunds          = "insufficient_funds"   // 402
	CodeNoLicence      = "no_licence"           // 403
	CodeTooLarge       = "body_too_large"       // 413
	CodeInternal       = "internal"             // 500
)

// HandlerOptions configure the API.
type HandlerOptions struct {
	// AdminToken opens every account as a bearer token (the operator's
	// vox CLI); tenants sign their requests instead.
	AdminToken string
	// Registrar is the SIP address phones register at, told with credentials.
	Registrar string
	// MaxBody bounds a signed request's body (default 1 MiB); the
	// operator's imports may be 64 MiB.
	MaxBody int64
	Log     *slog.Logger
	Now     func() time.Time
	// Auth checks callers; nil makes one from AdminToken, MaxBody and Now.
	// Routes served beside the API pass theirs so that one nonce memory
	// covers every signed request.
	Auth *Auth
}

// maxAdminBody bounds an operator's request: an account's export with its
// ledger.
const maxAdminBody = 64 << 20

type principalKey struct{}

type api struct {
	c    *Controller
	opts HandlerOptions
	auth *Auth
}

// NewHandler serves the controller's REST API under APIPrefix. A tenant's
// requests are signed (package signature) with its licence key and reach
// only its own account; anything else answers 404, as a thing that does
// not exist (S1).
func NewHandler(c *Controller, opts HandlerOptions) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	a := &api{c: c, opts: opts, auth: opts.Auth}
	if a.auth == nil {
		a.auth = NewAuth(opts.AdminToken, c.SigningKeys, signature.VerifierOptions{MaxBody: opts.MaxBody, Now: opts.Now}, opts.Log)
	}
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request, p Principal)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+APIPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			h(w, r, r.Context().Value(principalKey{}).(Principal))
		})
	}
	route("POST /credentials", a.credentials)
	route("GET /accounts", a.listAccounts)
	route("POST /accounts", a.createAccount)
	route("POST /import", a.importAccount)
	route("GET /accounts/{account}", a.showAccount)
	route("PATCH /accounts/{account}", a.changeAccount)
	route("POST /accounts/{account}/keys", a.rotateKey)
	route("GET /accounts/{account}/balance", a.balance)
	route("POST /accounts/{account}/topups", a.topUp)
	route("GET /accounts/{account}/ledger", a.ledger)
	route("GET /accounts/{account}/export", a.export)
	route("GET /accounts/{account}/sipusers", a.listSIPUsers)
	route("POST /accounts/{account}/sipusers", a.createSIPUser)
	route("POST /accounts/{account}/sipusers/{name}/password", a.sipPassword)
	route("POST /accounts/{account}/sipusers/{name}/disable", a.sipDisable)
	route("POST /accounts/{account}/sipusers/{name}/enable", a.sipEnable)
	route("GET /accounts/{account}/numbers", a.accountNumbers)
	route("POST /accounts/{account}/numbers", a.rent)
	route("DELETE /accounts/{account}/numbers/{number}", a.releaseNumber)
	route("PUT /accounts/{account}/numbers/{number}/app", a.attachNumber)
	route("GET /accounts/{account}/numbers/{number}/config", a.numberConfig)
	route("PUT /accounts/{account}/numbers/{number}/config", a.setNumberConfig)
	route("GET /numbers", a.availableNumbers)
	route("POST /numbers", a.addNumbers)
	route("GET /tariffs/{currency}", a.tariffs)
	route("PUT /tariffs/{currency}", a.setTariffs)
	mux.HandleFunc(APIPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return a.authenticate(mux)
}

// authenticate lets through the operator's bearer token or a tenant's
// signed request, and puts who it is in the request's context.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.auth.Identify(w, r)
		if !ok {
			return
		}
		if p.Admin {
			r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// owns says whether p may act on account; a tenant gets 404 for any other.
func (a *api) owns(w http.ResponseWriter, r *http.Request, p Principal) (string, bool) {
	account := r.PathValue("account")
	if p.Admin || p.Account == account {
		return account, true
	}
	writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("account %q: not found", account))
	return "", false
}

// adminOnly answers 404 to tenants: the operator's endpoints do not exist
// for them.
func (a *api) adminOnly(w http.ResponseWriter, r *http.Request, p Principal) bool {
	if !p.Admin {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
	return p.Admin
}

func (a *api) credentials(w http.ResponseWriter, r *http.Request, p Principal) {
	var req struct {
		Account string `json:"account,omitempty"` // the operator names it
	}
	if !decode(w, r, &req, true) {
		return
	}
	account := p.Account
	if p.Admin {
		account = req.Account
	}
	creds, err := a.c.FirstUse(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if creds.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, struct {
		Credentials
		Registrar string `json:"registrar,omitempty"`
	}{creds, a.opts.Registrar})
}

// AccountView is an account as the API shows it: without its keys.
type AccountView struct {
	Account
	Balance Amount `json:"balance"`
}

func view(acc Account, bal Amount) AccountView {
	acc.Keys = nil
	return AccountView{Account: acc, Balance: bal}
}

func (a *api) listAccounts(w http.ResponseWriter, r *http.Request, p Principal) {
	var out struct {
		Accounts []AccountView `json:"accounts"`
		Next     string        `json:"next,omitempty"`
	}
	out.Accounts = []AccountView{}
	if !p.Admin {
		acc, err := a.c.Account(r.Context(), p.Account)
		if err == nil {
			out.Accounts = append(out.Accounts, a.withBalance(r.Context(), acc))
		} else if !errors.Is(err, ErrNotFound) {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	list, next, err := a.c.Accounts(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, acc := range list {
		out.Accounts = append(out.Accounts, a.withBalance(r.Context(), acc))
	}
	out.Next = next
	writeJSON(w, http.StatusOK, out)
}

func (a *api) withBalance(ctx context.Context, acc Account) AccountView {
	b, _ := a.c.Balance(ctx, acc.ID)
	return view(acc, b.Balance)
}

func (a *api) createAccount(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.adminOnly(w, r, p) {
		return
	}
	var n NewAccount
	if !decode(w, r, &n, false) {
		return
	}
	acc, err := a.c.CreateAccount(r.Context(), n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		AccountView
		Key string `json:"key"`
	}{view(acc, 0), acc.Keys[0]})
}

func (a *api) showAccount(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	if p.Admin && strings.HasPrefix(account, "master-") {
		m, err := a.c.Master(r.Context(), account)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	acc, err := a.c.Account(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.withBalance(r.Context(), acc))
}

func (a *api) changeAccount(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var change AccountChange
	if !decode(w, r, &change, false) {
		return
	}
	if change.LegacyMD5 != nil && !p.Admin {
		// Only the operator weakens how an account is signed for.
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, "legacy_md5 is changed by the operator")
		return
	}
	acc, err := a.c.ChangeAccount(r.Context(), account, change)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.withBalance(r.Context(), acc))
}

func (a *api) rotateKey(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req struct {
		Key string `json:"key,omitempty"`
	}
	if !decode(w, r, &req, true) {
		return
	}
	acc, err := a.c.RotateKey(r.Context(), account, req.Key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"account": acc.ID, "key": acc.Keys[0]})
}

func (a *api) balance(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	b, err := a.c.Balance(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// A balance check moves the account to its scenario release (S11).
	if a.c.opts.Rollouts != nil {
		if err := a.c.opts.Rollouts.Place(r.Context(), account, TriggerBalance); err != nil {
			a.opts.Log.Warn("controller: scenario placement at a balance check", "account", account, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, b)
}

// TriggerBalance is the placement trigger of a balance check (S11), the
// scenarios store's own name for it.
const TriggerBalance = "balance check"

// TopUpRequest credits an account; IdempotencyKey (or the Idempotency-Key
// header) is required: a retried top-up must not credit twice.
type TopUpRequest struct {
	Amount         Amount `json:"amount"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	Note           string `json:"note,omitempty"`
}

func (a *api) topUp(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req TopUpRequest
	if !decode(w, r, &req, false) {
		return
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	}
	if req.IdempotencyKey == "" {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, "a top-up needs an idempotency_key (or Idempotency-Key header), so that a retry does not credit twice")
		return
	}
	e, err := a.c.TopUp(r.Context(), account, req.Amount, "topup:"+req.IdempotencyKey, req.Note)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (a *api) ledger(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	list, next, err := a.c.Ledger(r.Context(), account, after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": list, "next": next})
}

func (a *api) export(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	doc, err := a.c.ExportAccount(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (a *api) importAccount(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.adminOnly(w, r, p) {
		return
	}
	var doc Export
	if !decode(w, r, &doc, false) {
		return
	}
	res, err := a.c.ImportAccount(r.Context(), &doc)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// SIPUserView is a SIP user as the API shows it: its hashes stay inside.
type SIPUserView struct {
	Account  string    `json:"account"`
	Name     string    `json:"name"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
	Password string    `json:"password,omitempty"` // only when just made
}

func sipView(u SIPUser, password string) SIPUserView {
	return SIPUserView{Account: u.Account, Name: u.Name, Disabled: u.Disabled, Created: u.Created, Password: password}
}

func (a *api) listSIPUsers(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	users, err := a.c.SIPUsers(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]SIPUserView, 0, len(users))
	for _, u := range users {
		out = append(out, sipView(u, ""))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sip_users": out})
}

type passwordRequest struct {
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
}

func (a *api) createSIPUser(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req passwordRequest
	if !decode(w, r, &req, false) {
		return
	}
	u, password, err := a.c.CreateSIPUser(r.Context(), account, req.Name, req.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sipView(u, password))
}

func (a *api) sipPassword(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req passwordRequest
	if !decode(w, r, &req, true) {
		return
	}
	u, password, err := a.c.SetSIPPassword(r.Context(), account, r.PathValue("name"), req.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sipView(u, password))
}

func (a *api) sipDisable(w http.ResponseWriter, r *http.Request, p Principal) {
	a.sipSetDisabled(w, r, p, true)
}

func (a *api) sipEnable(w http.ResponseWriter, r *http.Request, p Principal) {
	a.sipSetDisabled(w, r, p, false)
}

func (a *api) sipSetDisabled(w http.ResponseWriter, r *http.Request, p Principal, disabled bool) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	u, err := a.c.SetSIPDisabled(r.Context(), account, r.PathValue("name"), disabled)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sipView(u, ""))
}

func (a *api) accountNumbers(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	list, err := a.c.AccountNumbers(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": list})
}

func (a *api) rent(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req struct {
		Number string `json:"number"`
		App    string `json:"app,omitempty"`
	}
	if !decode(w, r, &req, false) {
		return
	}
	n, err := a.c.Rent(r.Context(), account, req.Number, req.App)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (a *api) releaseNumber(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	if err := a.c.ReleaseNumber(r.Context(), account, r.PathValue("number")); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"released": r.PathValue("number")})
}

func (a *api) attachNumber(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	var req struct {
		App string `json:"app"`
	}
	if !decode(w, r, &req, false) {
		return
	}
	n, err := a.c.AttachNumber(r.Context(), account, r.PathValue("number"), req.App)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (a *api) numberConfig(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	cfg, err := a.c.NumberConfig(r.Context(), account, r.PathValue("number"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(cfg)
}

func (a *api) setNumberConfig(w http.ResponseWriter, r *http.Request, p Principal) {
	account, ok := a.owns(w, r, p)
	if !ok {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		tooLarge(w, err)
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the body is not JSON")
		return
	}
	if err := a.c.SetNumberConfig(r.Context(), account, r.PathValue("number"), body); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (a *api) availableNumbers(w http.ResponseWriter, r *http.Request, p Principal) {
	q := r.URL.Query()
	currency := q.Get("currency")
	if !p.Admin {
		// A tenant sees the free numbers it could rent: in its currency.
		acc, err := a.c.Account(r.Context(), p.Account)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		currency = acc.Currency
	}
	var (
		list []Number
		err  error
	)
	if p.Admin && q.Get("all") == "true" {
		list, err = a.c.AllNumbers(r.Context())
	} else {
		list, err = a.c.AvailableNumbers(r.Context(), q.Get("country"), currency)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": list})
}

func (a *api) addNumbers(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.adminOnly(w, r, p) {
		return
	}
	var req struct {
		Numbers []Number `json:"numbers"`
	}
	if !decode(w, r, &req, false) {
		return
	}
	if err := a.c.AddNumbers(r.Context(), req.Numbers); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"added": len(req.Numbers)})
}

func (a *api) tariffs(w http.ResponseWriter, r *http.Request, p Principal) {
	currency := r.PathValue("currency")
	if !p.Admin {
		acc, err := a.c.Account(r.Context(), p.Account)
		if err != nil || acc.Currency != currency {
			writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("tariffs of %q: not found", currency))
			return
		}
	}
	list, err := a.c.Tariffs(r.Context(), currency)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"currency": currency, "tariffs": list})
}

func (a *api) setTariffs(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.adminOnly(w, r, p) {
		return
	}
	var req struct {
		Tariffs []Tariff `json:"tariffs"`
	}
	if !decode(w, r, &req, false) {
		return
	}
	if err := a.c.SetTariffs(r.Context(), r.PathValue("currency"), req.Tariffs); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"currency": r.PathValue("currency"), "tariffs": req.Tariffs})
}

// decode reads the body as exactly one JSON value of v's shape; an empty
// body is allowed when optional.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		tooLarge(w, err)
		return false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the body is not the JSON expected: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the body has more than one JSON value")
		return false
	}
	return true
}

func tooLarge(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is over %d bytes", mbe.Limit))
		return
	}
	writeError(w, http.StatusBadRequest, CodeInvalidRequest, "reading the body: "+err.Error())
}

// fail answers err with its status and stable code.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrNotFound, http.StatusNotFound, CodeNotFound},
		{ErrIdempotency, http.StatusConflict, CodeIdempotency},
		{ErrConflict, http.StatusConflict, CodeConflict},
		{ErrInvalid, http.StatusUnprocessableEntity, CodeInvalid},
		{ErrInsufficientFunds, http.StatusPaymentRequired, CodeFunds},
		{ErrNoLicence, http.StatusForbidden, CodeNoLicence},
	} {
		if errors.Is(err, m.err) {
			writeError(w, m.status, m.code, err.Error())
			return
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusServiceUnavailable, CodeInternal, "the request was cancelled")
		return
	}
	a.internal(w, r, err)
}

func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.opts.Log.Error("controller API", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, CodeInternal, "internal error; the server's log has the details")
}

// ErrorBody is the API's error document: {"error":{"code":...,"message":...}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var body ErrorBody
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
