package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Handler serves the call history under prefix (e.g. /api/v1/calls):
//
//	GET prefix?account=A&since=&until=&direction=&status=&number=&cursor=&limit=
//	    {"calls":[...],"next":"CURSOR"}; format=csv exports every match as CSV
//	GET prefix/stats?account=A&period=day|month&since=&until=
//	GET prefix/{callID}/log    the call's session log (S13), text
//
// since and until are dates (2026-11-26) or RFC 3339 times. The caller
// authorises the request before it gets here; Account, when set, names the
// account a request may see (a tenant's), else the account parameter does.
type Handler struct {
	Store   *Store
	Logs    *Logs
	Account func(*http.Request) (string, error)
	Logger  *slog.Logger
	mux     *http.ServeMux
}

// NewHandler builds the handler for prefix.
func NewHandler(prefix string, h Handler) http.Handler {
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	hp := &h
	hp.mux = http.NewServeMux()
	hp.mux.HandleFunc("GET "+prefix, hp.list)
	hp.mux.HandleFunc("GET "+prefix+"/stats", hp.stats)
	hp.mux.HandleFunc("GET "+prefix+"/{call}/log", hp.log)
	hp.mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return hp.mux
}

func (h *Handler) account(r *http.Request) (string, error) {
	if h.Account != nil {
		return h.Account(r)
	}
	a := r.URL.Query().Get("account")
	if !accountPattern.MatchString(a) {
		return "", fmt.Errorf("%w: give the account: account=ID", ErrInvalid)
	}
	return a, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	account, err := h.account(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	q := r.URL.Query()
	f := Filter{Direction: q.Get("direction"), Status: q.Get("status"), Number: q.Get("number")}
	if f.Since, err = parseTime(q, "since"); err == nil {
		f.Until, err = parseTime(q, "until")
	}
	limit := 0
	if err == nil && q.Get("limit") != "" {
		if limit, err = strconv.Atoi(q.Get("limit")); err != nil || limit <= 0 {
			err = fmt.Errorf("%w: limit %q", ErrInvalid, q.Get("limit"))
		}
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	if q.Get("format") == "csv" {
		h.exportCSV(w, r, account, f)
		return
	}
	page, next, err := h.Store.Query(r.Context(), account, f, q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	if page == nil {
		page = []Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": page, "next": next})
}

// exportCSV streams every matching record, a page at a time.
func (h *Handler) exportCSV(w http.ResponseWriter, r *http.Request, account string, f Filter) {
	page, next, err := h.Store.Query(r.Context(), account, f, "", MaxLimit)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="calls-`+account+`.csv"`)
	cw := NewCSVWriter(w)
	for {
		if err := cw.Write(page); err != nil {
			h.Logger.Warn("CSV export cut short", "account", account, "err", err)
			return
		}
		if next == "" {
			break
		}
		if page, next, err = h.Store.Query(r.Context(), account, f, next, MaxLimit); err != nil {
			h.Logger.Warn("CSV export cut short", "account", account, "err", err)
			return
		}
	}
	if err := cw.Flush(); err != nil {
		h.Logger.Warn("CSV export cut short", "account", account, "err", err)
	}
}

func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	account, err := h.account(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	q := r.URL.Query()
	period := q.Get("period")
	if period == "" {
		period = Day
	}
	since, err := parseTime(q, "since")
	var until time.Time
	if err == nil {
		until, err = parseTime(q, "until")
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	totals, err := h.Store.Stats(r.Context(), account, period, since, until)
	if err != nil {
		h.fail(w, err)
		return
	}
	if totals == nil {
		totals = []Totals{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"period": period, "totals": totals})
}

func (h *Handler) log(w http.ResponseWriter, r *http.Request) {
	call := r.PathValue("call")
	var path string
	var err error
	if h.Account != nil {
		var account string
		if account, err = h.Account(r); err == nil {
			path, err = h.Logs.Path(account, call)
		}
	} else {
		_, path, err = h.Logs.Find(call)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeFile(w, r, path)
}

// parseTime reads a date or an RFC 3339 time; absent is the zero time.
func parseTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q: want 2026-11-26 or 2026-11-26T09:00:00Z", ErrInvalid, name, s)
	}
	return t, nil
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		h.Logger.Error("call history", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the call history could not be read")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError writes the platform's JSON error: {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}
