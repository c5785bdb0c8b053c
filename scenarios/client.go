package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client speaks the scenario API (NewHandler) for the vox CLI, vox dev and
// vox sim --server. Its methods mirror the Store's where the two do the same
// thing, and its errors are *APIError, which errors.Is matches against
// ErrNotFound and ErrInvalid like the Store's own errors.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the server at baseURL (http://127.0.0.1:8080;
// without a scheme, http is assumed) that sends token as a bearer token when it
// is not empty. A nil hc means http.DefaultClient.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// BaseURL is the server's address as the client uses it.
func (c *Client) BaseURL() string { return c.base }

// Health checks that the server answers GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, url: c.base + "/healthz"}, nil)
}

// Apps lists every application by name, following the pages.
func (c *Client) Apps(ctx context.Context) ([]AppSummary, error) {
	all := []AppSummary{}
	after := ""
	for {
		var page AppList
		q := url.Values{}
		if after != "" {
			q.Set("after", after)
		}
		if err := c.get(ctx, "/apps", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Apps...)
		if page.Next == "" {
			return all, nil
		}
		after = page.Next
	}
}

// Releases lists app's releases newest first, at most limit of them (0: the
// server's default), starting below release before (0: from the newest). next is
// the before of the following page, 0 on the last page.
func (c *Client) Releases(ctx context.Context, app string, before, limit int) (list []ReleaseSummary, next int, err error) {
	q := url.Values{}
	if before > 0 {
		q.Set("before", strconv.Itoa(before))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page ReleaseList
	if err := c.get(ctx, appPath(app, "releases"), q, &page); err != nil {
		return nil, 0, err
	}
	return page.Releases, page.Next, nil
}

// Release returns release n of app with its files, or the latest when n is 0.
func (c *Client) Release(ctx context.Context, app string, n int) (*Release, error) {
	which := "latest"
	if n != 0 {
		which = strconv.Itoa(n)
	}
	var rel Release
	if err := c.get(ctx, appPath(app, "releases", which), nil, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

// pushAttempts bounds how often Push sends the same push when the connection
// fails before an answer arrives; the idempotency key makes the retries safe.
const pushAttempts = 3

// Push stores p as its application's next release. The push carries a fresh
// Idempotency-Key, and is sent again with the same key when the connection
// fails without an answer, so a push is stored at most once.
func (c *Client) Push(ctx context.Context, p Push) (*PushResult, error) {
	var (
		res PushResult
		err error
	)
	req := request{method: http.MethodPost, url: c.api(appPath(p.App, "releases")), body: p, key: rand.Text()}
	for attempt := 1; ; attempt++ {
		err = c.do(ctx, req, &res)
		var apiErr *APIError
		if err == nil || errors.As(err, &apiErr) || ctx.Err() != nil || attempt == pushAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Rollback makes release n of app current for every account not pinned.
func (c *Client) Rollback(ctx context.Context, app string, n int) (Policy, error) {
	return c.policy(ctx, http.MethodPost, appPath(app, "rollback"), RollbackRequest{Release: n})
}

// Canary offers app's latest release to percent (0-100) of its accounts.
func (c *Client) Canary(ctx context.Context, app string, percent int) (Policy, error) {
	return c.policy(ctx, http.MethodPost, appPath(app, "canary"), CanaryRequest{Percent: percent})
}

// Pin holds account on release n of app; n == 0 removes the pin.
func (c *Client) Pin(ctx context.Context, account, app string, n int) (Policy, error) {
	path := appPath(app, "pins", account)
	if n == 0 {
		return c.policy(ctx, http.MethodDelete, path, nil)
	}
	return c.policy(ctx, http.MethodPut, path, PinRequest{Release: n})
}

func (c *Client) policy(ctx context.Context, method, path string, body any) (Policy, error) {
	var out PolicyState
	err := c.do(ctx, request{method: method, url: c.api(path), body: body}, &out)
	return out.Policy, err
}

// Rollout reports how many of app's accounts sit on each release.
func (c *Client) Rollout(ctx context.Context, app string) (*Rollout, error) {
	var out Rollout
	if err := c.get(ctx, appPath(app, "rollout"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rules returns the rules of app's latest release.
func (c *Client) Rules(ctx context.Context, app string) (*RuleSet, error) {
	var out RuleSet
	if err := c.get(ctx, appPath(app, "rules"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetRules makes change.Rules the rules of app: a new release with the latest
// release's files. Rules equal to the latest release's create nothing, and the
// result is the latest release.
func (c *Client) SetRules(ctx context.Context, app string, change RulesChange) (*PushResult, error) {
	var out PushResult
	if err := c.do(ctx, request{method: http.MethodPut, url: c.api(appPath(app, "rules")), body: change}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Resolve returns the release account runs for app now, moving the account to
// the release the policy gives it (S11), and, when req names a destination, the
// rule and files that answer it.
func (c *Client) Resolve(ctx context.Context, account, app string, req ResolveRequest) (*Resolution, error) {
	var out Resolution
	if err := c.do(ctx, request{method: http.MethodPost, url: c.api(appPath(app, "accounts", account, "resolve")), body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func appPath(app string, rest ...string) string {
	var b strings.Builder
	b.WriteString("/apps/")
	b.WriteString(url.PathEscape(app))
	for _, s := range rest {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func (c *Client) api(path string) string { return c.base + APIPrefix + path }

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.api(path)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.do(ctx, request{method: http.MethodGet, url: u}, out)
}

type request struct {
	method, url string
	body        any
	key         string // Idempotency-Key
}

func (c *Client) do(ctx context.Context, r request, out any) error {
	var body io.Reader
	if r.body != nil {
		data, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.url, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeAPIError(resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer: %w", r.method, r.url, err)
	}
	return nil
}

// decodeAPIError reads the API's error envelope, or describes an answer that is
// not one (a proxy's error page, another server on the port).
func decodeAPIError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env errorEnvelope
	if json.Unmarshal(data, &env) == nil && env.Error != nil && env.Error.Code != "" {
		env.Error.Status = resp.StatusCode
		return env.Error
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	msg := fmt.Sprintf("%s %s answered %s", resp.Request.Method, resp.Request.URL.Redacted(), resp.Status)
	if text != "" {
		msg += ": " + text
	}
	return &APIError{Status: resp.StatusCode, Code: CodeUnexpected, Message: msg}
}
