package signature

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Unix(1764130000, 0)
	keyNow = []byte("licence-key-current")
	keyOld = []byte("licence-key-previous")
)

func lookup(_ context.Context, account string) (Credentials, error) {
	switch account {
	case "acme":
		return Credentials{Keys: [][]byte{keyNow, keyOld}}, nil
	case "legacy":
		return Credentials{Keys: [][]byte{keyNow}, Legacy: true}, nil
	}
	return Credentials{}, ErrUnknownAccount
}

func signed(t *testing.T, account, method, path, body string, key []byte, opts Options) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set(HeaderAccount, account)
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	if err := SignWith(req, []byte(body), key, opts); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerify(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }
	cases := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		wantCode string // "" accepted
	}{
		{"valid", func(t *testing.T) *http.Request {
			return signed(t, "acme", "POST", "/controller/v1/accounts/acme/topups", `{"amount":"10"}`, keyNow, Options{})
		}, ""},
		{"previous key during rotation", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/controller/v1/accounts/acme", "", keyOld, Options{})
		}, ""},
		{"wrong key", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/controller/v1/accounts/acme", "", []byte("guess"), Options{})
		}, CodeBadSignature},
		{"body tampered", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "POST", "/controller/v1/accounts/acme/topups", `{"amount":"10"}`, keyNow, Options{})
			r.Body = io.NopCloser(strings.NewReader(`{"amount":"1000"}`))
			return r
		}, CodeBadSignature},
		{"path tampered", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "POST", "/controller/v1/accounts/acme/topups", `{}`, keyNow, Options{})
			r.URL.Path = "/controller/v1/accounts/other/topups"
			return r
		}, CodeBadSignature},
		{"query tampered", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "GET", "/controller/v1/accounts/acme/ledger?limit=1", "", keyNow, Options{})
			r.URL.RawQuery = "limit=1000"
			return r
		}, CodeBadSignature},
		{"method tampered", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "GET", "/controller/v1/accounts/acme/numbers/74950000000", "", keyNow, Options{})
			r.Method = "DELETE"
			return r
		}, CodeBadSignature},
		{"timestamp tampered", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "GET", "/x", "", keyNow, Options{})
			r.Header.Set(HeaderTimestamp, "1764130001")
			return r
		}, CodeBadSignature},
		{"stale", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/x", "", keyNow, Options{Now: at(-MaxAge - time.Second)})
		}, CodeStale},
		{"from the future", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/x", "", keyNow, Options{Now: at(MaxAge + time.Second)})
		}, CodeStale},
		{"at the edge of the window", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/x", "", keyNow, Options{Now: at(-MaxAge)})
		}, ""},
		{"unknown account", func(t *testing.T) *http.Request {
			return signed(t, "nobody", "GET", "/x", "", keyNow, Options{})
		}, CodeBadSignature},
		{"unsigned", func(t *testing.T) *http.Request {
			return httptest.NewRequest("GET", "/x", nil)
		}, CodeUnsigned},
		{"timestamp not a number", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "GET", "/x", "", keyNow, Options{})
			r.Header.Set(HeaderTimestamp, "yesterday")
			return r
		}, CodeBadTimestamp},
		{"short nonce", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/x", "", keyNow, Options{Nonce: "abc"})
		}, CodeBadNonce},
		{"signature not hex", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "GET", "/x", "", keyNow, Options{})
			r.Header.Set(HeaderSignature, "v1=zz")
			return r
		}, CodeBadSignature},
		{"md5 for an account not switched to it", func(t *testing.T) *http.Request {
			return signed(t, "acme", "GET", "/x", "", keyNow, Options{Scheme: LegacyMD5})
		}, CodeScheme},
		{"md5 for a legacy account", func(t *testing.T) *http.Request {
			return signed(t, "legacy", "POST", "/x", `{"a":1}`, keyNow, Options{Scheme: LegacyMD5})
		}, ""},
		{"md5 with a wrong key", func(t *testing.T) *http.Request {
			return signed(t, "legacy", "POST", "/x", `{"a":1}`, keyOld, Options{Scheme: LegacyMD5})
		}, CodeBadSignature},
		{"body over the limit", func(t *testing.T) *http.Request {
			return signed(t, "acme", "POST", "/x", strings.Repeat("a", 1025), keyNow, Options{})
		}, CodeTooLarge},
		{"body over the limit without a length", func(t *testing.T) *http.Request {
			r := signed(t, "acme", "POST", "/x", strings.Repeat("a", 1025), keyNow, Options{})
			r.ContentLength = -1
			return r
		}, CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier(lookup, VerifierOptions{MaxBody: 1024, Now: func() time.Time { return t0 }})
			req := tc.req(t)
			account, body, err := v.Verify(req)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if account != req.Header.Get(HeaderAccount) {
					t.Errorf("account %q", account)
				}
				again, _ := io.ReadAll(req.Body)
				if !bytes.Equal(again, body) {
					t.Errorf("the body handed on is %q, verified %q", again, body)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a refusal %s", err, tc.wantCode)
			}
			if se.Code != tc.wantCode || se.Message == "" {
				t.Errorf("refused with %s (%q), want %s", se.Code, se.Message, tc.wantCode)
			}
		})
	}
}

func TestReplayRefusedUntilStale(t *testing.T) {
	t.Parallel()
	now := t0
	v := NewVerifier(lookup, VerifierOptions{Now: func() time.Time { return now }})
	req := signed(t, "acme", "POST", "/x", `{"amount":"5"}`, keyNow, Options{Nonce: "0123456789abcdefXYZ"})
	replay := req.Clone(context.Background())
	if _, _, err := v.Verify(req); err != nil {
		t.Fatal(err)
	}
	replay.Body = io.NopCloser(strings.NewReader(`{"amount":"5"}`))
	var se *Error
	if _, _, err := v.Verify(replay); !errors.As(err, &se) || se.Code != CodeReplayed {
		t.Fatalf("replay: %v", err)
	}
	// Another account may happen to use the same nonce.
	other := signed(t, "legacy", "POST", "/x", `{}`, keyNow, Options{Nonce: "0123456789abcdefXYZ"})
	if _, _, err := v.Verify(other); err != nil {
		t.Fatalf("same nonce, other account: %v", err)
	}
	// Once forgotten, the request is stale anyway.
	now = t0.Add(2*MaxAge + time.Second)
	replay.Body = io.NopCloser(strings.NewReader(`{"amount":"5"}`))
	if _, _, err := v.Verify(replay); !errors.As(err, &se) || se.Code != CodeStale {
		t.Fatalf("old replay: %v", err)
	}
}

func TestNonceMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := t0
	v := NewVerifier(lookup, VerifierOptions{MaxNonces: 3, Now: func() time.Time { return now }})
	for i := range 3 {
		if _, _, err := v.Verify(signed(t, "acme", "GET", "/x", "", keyNow, Options{})); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	var se *Error
	if _, _, err := v.Verify(signed(t, "acme", "GET", "/x", "", keyNow, Options{})); !errors.As(err, &se) || se.Code != CodeBusy {
		t.Fatalf("over the bound: %v", err)
	}
	// Forged requests do not take room.
	if _, _, err := v.Verify(signed(t, "acme", "GET", "/x", "", []byte("bad"), Options{})); !errors.As(err, &se) || se.Code != CodeBadSignature {
		t.Fatalf("forged: %v", err)
	}
	now = t0.Add(2 * MaxAge)
	fresh := Options{Now: func() time.Time { return now }}
	if _, _, err := v.Verify(signed(t, "acme", "GET", "/x", "", keyNow, fresh)); err != nil {
		t.Fatalf("after the old nonces expired: %v", err)
	}
	if n := len(v.nonces.seen); n != 1 {
		t.Errorf("%d nonces remembered, want 1", n)
	}
}

// TestKnownSignature pins the string signed: a portal written from the
// package comment (or the README's openssl line) must compute this. The
// values were computed with openssl dgst -sha256 -hmac and openssl dgst -md5.
func TestKnownSignature(t *testing.T) {
	t.Parallel()
	cases := []struct {
		scheme Scheme
		want   string
	}{
		{HMACSHA256, "v1=02f995e8b161c40dbee6b29f3f02e908b849b829926690ee1e2de5f54666e3d3"},
		{LegacyMD5, "md5=2ed7d56f2a07d44bab17303e8569d10e"},
	}
	for _, tc := range cases {
		got, err := Compute(tc.scheme, []byte("demo-key"), "POST", "/controller/v1/accounts/demo/topups", "1764130000", "0123456789abcdefXYZ", []byte(`{"amount":"10"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.scheme, got, tc.want)
		}
	}
}
