package sim

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
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

// HTTPRoute is one --http URL_PATTERN=FILE.
type HTTPRoute struct {
	Pattern string
	File    string
}

// ParseHTTPRoute parses URL_PATTERN=FILE; the file must exist.
func ParseHTTPRoute(s string) (HTTPRoute, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return HTTPRoute{}, fmt.Errorf("--http %q: want URL_PATTERN=FILE", s)
	}
	r := HTTPRoute{Pattern: s[:i], File: s[i+1:]}
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
	for _, r := range h.Routes {
		if !r.match(req.URL) {
			continue
		}
		body, err := os.ReadFile(r.File)
		if err != nil {
			return nil, &runtime.HTTPError{Code: runtime.HTTPCodeInternal, Message: fmt.Sprintf("simulated response for %s: %v", req.URL, err)}
		}
		ct := "application/octet-stream"
		switch strings.ToLower(path.Ext(r.File)) {
		case ".json":
			ct = "application/json"
		case ".txt":
			ct = "text/plain; charset=utf-8"
		case ".xml":
			ct = "application/xml"
		}
		return &runtime.HTTPResponse{Code: http.StatusOK, Header: http.Header{"Content-Type": {ct}}, Body: body}, nil
	}
	if h.Fallback != nil {
		return h.Fallback.Do(ctx, req)
	}
	return nil, &runtime.HTTPError{Code: runtime.HTTPCodeHostNotFound, Message: fmt.Sprintf("no simulated response for %s %s (add --http PATTERN=FILE, or --allow-net to reach the network)", req.Method, req.URL)}
}
