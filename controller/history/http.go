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

// API answers the call history's requests for one account; the caller
// routes them and decides who may see which account (cmd/vox mounts it in
// the controller's API, signed like the rest):
//
//	List   ?since=&until=&direction=&status=&number=&cursor=&limit=
//	       {"calls":[...],"next":"CURSOR"}; format=csv exports every match as CSV
//	Stats  ?period=day|month&since=&until=
//	Log    the call's session log (S13), text
//
// since and until are dates (2026-11-26) or RFC 3339 times.
type API struct {
	Store  *Store
	Logs   *Logs
	Logger *slog.Logger
}

func (a *API) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.Default()
	}
	return a.Logger
}

// List answers a page of the account's calls, or all of them as CSV.
func (a *API) List(w http.ResponseWriter, r *http.Request, account string) {
	q := r.URL.Query()
	f := Filter{Direction: q.Get("direction"), Status: q.Get("status"), Number: q.Get("number")}
	var err error
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
		a.fail(w, err)
		return
	}
	if q.Get("format") == "csv" {
		a.exportCSV(w, r, account, f)
		return
	}
	page, next, err := a.Store.Query(r.Context(), account, f, q.Get("cursor"), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	if page == nil {
		page = []Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": page, "next": next})
}

// exportCSV streams every matching record, a page at a time.
func (a *API) exportCSV(w http.ResponseWriter, r *http.Request, account string, f Filter) {
	page, next, err := a.Store.Query(r.Context(), account, f, "", MaxLimit)
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="calls-`+account+`.csv"`)
	cw := NewCSVWriter(w)
	for {
		if err := cw.Write(page); err != nil {
			a.logger().Warn("CSV export cut short", "account", account, "err", err)
			return
		}
		if next == "" {
			break
		}
		if page, next, err = a.Store.Query(r.Context(), account, f, next, MaxLimit); err != nil {
			a.logger().Warn("CSV export cut short", "account", account, "err", err)
			return
		}
	}
	if err := cw.Flush(); err != nil {
		a.logger().Warn("CSV export cut short", "account", account, "err", err)
	}
}

// Stats answers the account's totals per day or month.
func (a *API) Stats(w http.ResponseWriter, r *http.Request, account string) {
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
		a.fail(w, err)
		return
	}
	totals, err := a.Store.Stats(r.Context(), account, period, since, until)
	if err != nil {
		a.fail(w, err)
		return
	}
	if totals == nil {
		totals = []Totals{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"period": period, "totals": totals})
}

// Log answers a call's session log; account "" finds it in any account
// (the operator's view).
func (a *API) Log(w http.ResponseWriter, r *http.Request, account, call string) {
	var path string
	var err error
	if account == "" {
		_, path, err = a.Logs.Find(call)
	} else {
		path, err = a.Logs.Path(account, call)
	}
	if err != nil {
		a.fail(w, err)
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

func (a *API) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		a.logger().Error("call history", "err", err)
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
