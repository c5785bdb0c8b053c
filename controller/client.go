package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"vox/controller/signature"
)

// Client speaks the controller's API for the vox CLI: signed as a tenant
// when it has the tenant's key, else with the operator's bearer token.
type Client struct {
	base    string
	token   string
	account string
	key     []byte
	scheme  signature.Scheme
	hc      *http.Client
}

// NewClient returns a client of the server at baseURL that uses the admin
// token.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// AsTenant makes the client sign its requests as account with key, by
// scheme (default HMAC-SHA256).
func (c *Client) AsTenant(account string, key []byte, scheme signature.Scheme) *Client {
	cp := *c
	cp.account, cp.key, cp.scheme, cp.token = account, key, scheme, ""
	return &cp
}

// BaseURL is the server's address as the client uses it.
func (c *Client) BaseURL() string { return c.base }

// APIError is the API's error as the client got it.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Do sends in (nil: no body; json.RawMessage and []byte as they are) to
// path under APIPrefix and decodes the answer into out (nil: dropped).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		body = v
	case json.RawMessage:
		body = v
	default:
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+APIPrefix+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != nil {
		req.Header.Set(signature.HeaderAccount, c.account)
		if err := signature.SignWith(req, body, c.key, signature.Options{Scheme: c.scheme}); err != nil {
			return err
		}
	} else if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Code: "unexpected_response", Message: fmt.Sprintf("%s %s: the server answered %s, not the controller's API", method, path, resp.Status)}
		}
		return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}
