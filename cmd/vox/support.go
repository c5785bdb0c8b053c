package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vox/controller"
	"vox/controller/history"
	"vox/controller/support"
)

// Support access (S16) in vox serve. Support staff hold DATA/support.token,
// which opens only the support endpoints, and name themselves in
// X-Vox-Staff:
//
//	GET /controller/v1/support/accounts/{account}                  the account
//	GET /controller/v1/support/accounts/{account}/calls            its calls
//	GET /controller/v1/support/accounts/{account}/calls/{call}/log a call's log
//
// each answered only while the tenant's consent holds (404 otherwise, as for
// no account) and written to the tenant's audit log either way. The tenant,
// signed with its licence key:
//
//	PUT    /controller/v1/accounts/{account}/support   {"hours":24,"note":"ticket 42"}
//	DELETE /controller/v1/accounts/{account}/support
//	GET    /controller/v1/accounts/{account}/support   the consent in force
//	GET    /controller/v1/accounts/{account}/support/audit?after=SEQ
const supportTokenFile = "support.token"

// supportToken reads DATA/support.token, making it at the first start.
func supportToken(dir string) (string, error) {
	token, _, err := secretFile(dir, supportTokenFile)
	if err != nil {
		return "", fmt.Errorf("support token: %w", err)
	}
	return token, nil
}

// supportAccount is what support reads of an account.
type supportAccount interface {
	Account(ctx context.Context, id string) (controller.Account, error)
	Balance(ctx context.Context, account string) (controller.Balance, error)
}

// supportRoutes mounts the support endpoints.
func (e *callEvents) supportRoutes(mux *http.ServeMux, auth *tenantAuth, staffToken string, accounts supportAccount) {
	sum := sha256.Sum256([]byte(staffToken))
	api := &history.API{Store: e.history, Logs: e.logs, Logger: e.log}
	// staff checks the support token, the staff name and the consent, and
	// audits the attempt as action.
	staff := func(action func(r *http.Request) string, h func(w http.ResponseWriter, r *http.Request, account string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			got := sha256.Sum256([]byte(strings.TrimSpace(bearer)))
			if subtle.ConstantTimeCompare(got[:], sum[:]) != 1 {
				writeAPIError(w, http.StatusUnauthorized, controller.CodeUnauthorized, "wrong support token (DATA/support.token)")
				return
			}
			account := r.PathValue("account")
			err := e.support.Access(r.Context(), r.Header.Get("X-Vox-Staff"), account, action(r))
			switch {
			case errors.Is(err, support.ErrInvalid):
				writeAPIError(w, http.StatusBadRequest, "invalid_request", "name yourself in X-Vox-Staff: "+err.Error())
			case errors.Is(err, support.ErrNoConsent):
				writeAPIError(w, http.StatusNotFound, controller.CodeNotFound, fmt.Sprintf("account %q: not found", account))
			case err != nil:
				writeAPIError(w, http.StatusInternalServerError, "internal", "the access could not be audited")
			default:
				h(w, r, account)
			}
		}
	}
	fixed := func(s string) func(*http.Request) string { return func(*http.Request) string { return s } }
	base := controller.APIPrefix + "/support/accounts/{account}"
	mux.HandleFunc("GET "+base, staff(fixed("account"), func(w http.ResponseWriter, r *http.Request, account string) {
		a, err := accounts.Account(r.Context(), account)
		if err != nil {
			writeAPIError(w, http.StatusNotFound, controller.CodeNotFound, fmt.Sprintf("account %q: not found", account))
			return
		}
		a.Keys = nil // support reads, it does not sign
		b, _ := accounts.Balance(r.Context(), account)
		writeAPIJSON(w, http.StatusOK, controller.AccountView{Account: a, Balance: b.Balance})
	}))
	mux.HandleFunc("GET "+base+"/calls", staff(fixed("calls"), api.List))
	mux.HandleFunc("GET "+base+"/calls/{call}/log", staff(func(r *http.Request) string { return "log " + r.PathValue("call") },
		func(w http.ResponseWriter, r *http.Request, account string) {
			api.Log(w, r, account, r.PathValue("call"))
		}))

	tenant := controller.APIPrefix + "/accounts/{account}/support"
	mux.HandleFunc("PUT "+tenant, auth.tenantOnly(e.grantSupport))
	mux.HandleFunc("DELETE "+tenant, auth.owner(func(w http.ResponseWriter, r *http.Request, account string) {
		if err := e.support.Revoke(r.Context(), account); err != nil {
			writeAPIError(w, http.StatusInternalServerError, "internal", "the consent could not be revoked")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET "+tenant, auth.owner(func(w http.ResponseWriter, r *http.Request, account string) {
		c, err := e.support.Consent(r.Context(), account)
		if errors.Is(err, support.ErrNoConsent) {
			writeAPIJSON(w, http.StatusOK, map[string]any{"consent": nil})
			return
		}
		if err != nil {
			writeAPIError(w, http.StatusInternalServerError, "internal", "the consent could not be read")
			return
		}
		writeAPIJSON(w, http.StatusOK, map[string]any{"consent": c})
	}))
	mux.HandleFunc("GET "+tenant+"/audit", auth.owner(func(w http.ResponseWriter, r *http.Request, account string) {
		after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		if r.URL.Query().Get("after") == "" {
			after, err = 0, nil
		}
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_request", "after: want the seq of the last entry seen")
			return
		}
		list, next, err := e.support.Audit(r.Context(), account, after, 0)
		if err != nil {
			writeAPIError(w, http.StatusInternalServerError, "internal", "the audit log could not be read")
			return
		}
		writeAPIJSON(w, http.StatusOK, map[string]any{"entries": list, "next": next})
	}))
}

// grantSupport is the tenant's consent: only the tenant gives it.
func (e *callEvents) grantSupport(w http.ResponseWriter, r *http.Request, account string) {
	var req struct {
		Hours float64 `json:"hours"`
		Note  string  `json:"note"`
	}
	if !decodeAPIRequest(w, r, &req, `{"hours":24,"note":"ticket 42"}`) {
		return
	}
	c, err := e.support.Grant(r.Context(), account, time.Duration(req.Hours*float64(time.Hour)), req.Note)
	if errors.Is(err, support.ErrInvalid) {
		writeAPIError(w, http.StatusUnprocessableEntity, "invalid_argument", err.Error())
		return
	}
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "internal", "the consent could not be saved")
		return
	}
	writeAPIJSON(w, http.StatusOK, map[string]any{"consent": c})
}
