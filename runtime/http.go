package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// HTTPRequest is a scenario's Net.httpRequestAsync.
type HTTPRequest struct {
	Method  string
	URL     string
	Header  http.Header
	Body    []byte
	Timeout time.Duration
}

// HTTPResponse is what the far end answered.
type HTTPResponse struct {
	Code   int
	Header http.Header
	Body   []byte
}

// HTTPClient performs a scenario's HTTP requests. The live server uses NetHTTP;
// `vox sim` answers from files.
type HTTPClient interface {
	Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)
}

// HTTPError is a request that got no HTTP answer, with the negative code
// Voximplant's HttpRequestResult uses for it.
type HTTPError struct {
	Code    int
	Message string
}

func (e *HTTPError) Error() string { return e.Message }

// Negative result codes, as Voximplant reports requests that got no answer.
const (
	HTTPCodeUnknown      = -1
	HTTPCodeBadURL       = -2
	HTTPCodeHostNotFound = -3
	HTTPCodeRefused      = -4
	HTTPCodeNetwork      = -6
	HTTPCodeTimeout      = -7
	HTTPCodeInternal     = -8
	HTTPCodeTooLarge     = -9
)

// DefaultHTTPTimeout is how long a request may take when the scenario sets none.
const DefaultHTTPTimeout = 90 * time.Second

// NetHTTP is the HTTPClient of a live server.
type NetHTTP struct {
	Client  *http.Client // nil uses a client with no cookie jar and at most 5 redirects
	MaxBody int64        // bytes of response body kept; 0 means 2 MiB
}

func (n *NetHTTP) Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &HTTPError{Code: HTTPCodeBadURL, Message: fmt.Sprintf("malformed URL %q: only http and https URLs can be requested", req.URL)}
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, &HTTPError{Code: HTTPCodeBadURL, Message: err.Error()}
	}
	hr.Header = req.Header
	client := n.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		}}
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, classifyNetError(err)
	}
	defer resp.Body.Close()
	max := n.MaxBody
	if max <= 0 {
		max = 2 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, classifyNetError(err)
	}
	if int64(len(body)) > max {
		return nil, &HTTPError{Code: HTTPCodeTooLarge, Message: fmt.Sprintf("response body is larger than %d bytes", max)}
	}
	return &HTTPResponse{Code: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func classifyNetError(err error) *HTTPError {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return &HTTPError{Code: HTTPCodeTimeout, Message: "request timed out"}
	case errors.As(err, &dns):
		return &HTTPError{Code: HTTPCodeHostNotFound, Message: err.Error()}
	case errors.As(err, &op) && op.Op == "dial":
		return &HTTPError{Code: HTTPCodeRefused, Message: err.Error()}
	}
	return &HTTPError{Code: HTTPCodeNetwork, Message: err.Error()}
}

// httpState counts a session's requests against its quota.
type httpState struct {
	inFlight int
	waiting  []func()
}

func (s *Session) httpCommand(p []any) error {
	m := firstParams(p)
	id, rawURL := str(m, "id"), str(m, "url")
	if id == "" || rawURL == "" {
		return errors.New("id and url are required")
	}
	req := &HTTPRequest{
		Method:  strings.ToUpper(str(m, "method")),
		URL:     rawURL,
		Header:  requestHeaders(m["headers"]),
		Body:    []byte(str(m, "postData")),
		Timeout: millis(m, "timeout"),
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultHTTPTimeout
	}
	if s.virtual != nil {
		// In virtual time a request is answered at the instant it was made, and in
		// the order requests were made, so a simulation replays the same way.
		s.post(func() { s.httpResult(id, s.doHTTP(req)) })
		return nil
	}
	start := func() {
		s.http.inFlight++
		ctx := s.ctx
		go func() {
			res := s.doHTTPWith(ctx, req)
			s.post(func() {
				s.http.inFlight--
				s.httpResult(id, res)
				if len(s.http.waiting) > 0 && s.http.inFlight < s.limits.MaxHTTP {
					next := s.http.waiting[0]
					s.http.waiting = s.http.waiting[1:]
					next()
				}
			})
		}()
	}
	switch {
	case s.http.inFlight < s.limits.MaxHTTP:
		start()
	case len(s.http.waiting) < s.limits.MaxHTTPWait:
		s.http.waiting = append(s.http.waiting, start)
	default:
		res := httpOutcome{err: &HTTPError{Code: HTTPCodeInternal, Message: fmt.Sprintf("HTTP request limit: %d requests in flight and %d waiting", s.limits.MaxHTTP, s.limits.MaxHTTPWait)}}
		s.post(func() { s.httpResult(id, res) })
	}
	return nil
}

type httpOutcome struct {
	resp *HTTPResponse
	err  error
}

func (s *Session) doHTTP(req *HTTPRequest) httpOutcome { return s.doHTTPWith(s.ctx, req) }

func (s *Session) doHTTPWith(ctx context.Context, req *HTTPRequest) httpOutcome {
	if s.cfg.HTTP == nil {
		return httpOutcome{err: &HTTPError{Code: HTTPCodeInternal, Message: "this session has no HTTP client"}}
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	resp, err := s.cfg.HTTP.Do(ctx, req)
	return httpOutcome{resp: resp, err: err}
}

func (s *Session) httpResult(id string, res httpOutcome) {
	params := map[string]any{"name": EventHTTPResult, "id": id}
	if res.err != nil {
		code := HTTPCodeUnknown
		var he *HTTPError
		if errors.As(res.err, &he) {
			code = he.Code
		}
		params["code"] = code
		params["error"] = res.err.Error()
		params["text"] = ""
		params["headers"] = map[string]string{}
	} else {
		params["code"] = res.resp.Code
		params["text"] = string(res.resp.Body)
		params["headers"] = flattenHeader(res.resp.Header)
	}
	s.deliver(params)
}

func flattenHeader(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = strings.Join(h[k], ", ")
	}
	return out
}

// requestHeaders accepts both forms scenarios use: an object of name → value, or
// Voximplant's array of {name, value}.
func requestHeaders(v any) http.Header {
	h := http.Header{}
	switch v := v.(type) {
	case map[string]any:
		for k := range v {
			h.Add(k, str(v, k))
		}
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok && str(m, "name") != "" {
				h.Add(str(m, "name"), str(m, "value"))
			}
		}
	}
	return h
}
