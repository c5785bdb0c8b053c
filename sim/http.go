package sim

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"vox/runtime"
)

// HTTPFiles answers a simulated scenario's HTTP requests from local files: each
// route maps a URL pattern (path.Match syntax over the whole URL, or a prefix
// ending in *) to a file whose content is the response body. Unmatched requests
// fail with a clear error unless a Fallback client (the real network) is set.
type HTTPFiles struct {
	Routes   []HTTPRoute
	Fallback runtime.HTTPClient
}

// HTTPRoute is one --http URL_PATTERN=[STATUS:]FILE.
type HTTPRoute struct {
	Pattern string
	File    string
	// Status is the HTTP status answered; 0 is 200 OK. A scenario's error
	// path (the controller's 504 when the portal is late) is
	// simulated with it.
	Status int
}

// ParseHTTPRoute parses URL_PATTERN=FILE or URL_PATTERN=STATUS:FILE, where
// STATUS is an HTTP status (100-599); the file must exist.
func ParseHTTPRoute(s string) (HTTPRoute, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return HTTPRoute{}, fmt.Errorf("--http %q: want URL_PATTERN=FILE or URL_PATTERN=STATUS:FILE", s)
	}
	r := HTTPRoute{Pattern: s[:i], File: s[i+1:]}
	if status, file, ok := strings.Cut(r.File, ":"); ok && len(status) == 3 {
		code, err := strconv.Atoi(status)
		if err != nil || code < 100 || code > 599 {
			return HTTPRoute{}, fmt.Errorf("--http %q: status %q is not an HTTP status (100-599)", s, status)
		}
		r.Status, r.File = code, file
	}
	if _, err := path.Match(r.Pattern, ""); err != nil {
		return HTTPRoute{}, fmt.Errorf("--http %q: bad pattern: %w", s, err)
	}
	if _, err := os.Stat(r.File); err != nil {
		return HTTPRoute{}, fmt.Errorf("--http %q: %w", s, err)
	}
	return r, nil
}

func (r HTTPRoute) match(url string) bool {
	if ok, _ := path.Match(r.Pattern, url); ok {
		return true
	}
	return strings.HasSuffix(r.Pattern, "*") && strings.HasPrefix(url, strings.TrimSuffix(r.Pattern, "*"))
}

func (h *HTTPFiles) Do(ctx context.Context, req *runtime.HTTPRequest) (*runtime.HTTPResponse, error) {
	if r, ok := h.route(req.URL); ok {
		body, err := os.ReadFile(r.File)
		if err != nil {
			return nil, &runtime.HTTPError{Code: runtime.HTTPCodeInternal, Message: fmt.Sprintf("simulated response for %s: %v", req.URL, err)}
		}
		return &runtime.HTTPResponse{Code: r.status(), Header: http.Header{"Content-Type": {contentType(r.File)}}, Body: body}, nil
	}
	if h.Fallback != nil {
		return h.Fallback.Do(ctx, req)
	}
	return nil, &runtime.HTTPError{Code: runtime.HTTPCodeHostNotFound, Message: fmt.Sprintf("no simulated response for %s %s (add --http PATTERN=FILE, or --allow-net to reach the network)", req.Method, req.URL)}
}

// RoundTrip answers the downloads of the simulation's audio cache (a playback
// URL) from the routes, as Do answers the scenario's requests. A URL no route
// matches is 404; the simulation plays such URLs as silence and does not ask.
func (h *HTTPFiles) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{},
		Request: req,
	}
	r, ok := h.route(req.URL.String())
	if !ok {
		resp.StatusCode, resp.Status = http.StatusNotFound, "404 Not Found"
		resp.Body = http.NoBody
		return resp, nil
	}
	f, err := os.Open(r.File)
	if err != nil {
		return nil, fmt.Errorf("simulated response for %s: %w", req.URL, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("simulated response for %s: %w", req.URL, err)
	}
	resp.StatusCode = r.status()
	resp.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	resp.Header.Set("Content-Type", contentType(r.File))
	resp.ContentLength = st.Size()
	resp.Body = f
	return resp, nil
}

func (r HTTPRoute) status() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

func (h *HTTPFiles) route(url string) (HTTPRoute, bool) {
	for _, r := range h.Routes {
		if r.match(url) {
			return r, true
		}
	}
	return HTTPRoute{}, false
}

func (h *HTTPFiles) routed(url string) bool {
	_, ok := h.route(url)
	return ok
}

func contentType(file string) string {
	switch strings.ToLower(path.Ext(file)) {
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".xml":
		return "application/xml"
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	}
	return "application/octet-stream"
}
