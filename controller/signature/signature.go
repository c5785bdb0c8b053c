// Package signature owns the signing of REST exchanges between a portal and
// the controller, both ways (seed requirement S9): every request carries an
// HMAC-SHA256 over its method, path, a timestamp, a nonce and the SHA-256 of
// its body, keyed with the tenant's licence key. A request is valid for
// MaxAge around its timestamp and only once (its nonce is remembered for that
// long), so a captured request cannot be replayed or altered.
//
// The string signed is, with "\n" between the fields and none after the last:
//
//	METHOD            upper case: POST
//	PATH              the request URI as sent: /controller/v1/accounts/a1/topups?x=1
//	TIMESTAMP         Unix seconds: 1764130000
//	NONCE             16 to 128 of A-Z a-z 0-9 _ -
//	BODY-SHA256       lower-case hex SHA-256 of the body (of nothing for a GET)
//
// and X-Vox-Signature is "v1=" and the lower-case hex HMAC-SHA256 of it.
//
// The seed's older scheme, "md5=" and the hex MD5 of the same fields, the raw
// body and the key joined by "\n", is accepted only for tenants switched to
// it. It is weaker: MD5 has practical collisions and a bare hash of a secret
// and data is not a MAC (length extension), so it is kept for compatibility
// with portals that cannot yet compute HMAC, never as a default.
package signature

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	HeaderAccount   = "X-Vox-Account"
	HeaderTimestamp = "X-Vox-Timestamp"
	HeaderNonce     = "X-Vox-Nonce"
	HeaderSignature = "X-Vox-Signature"
)

// Scheme is how a signature is computed.
type Scheme string

// The schemes; the prefix of X-Vox-Signature names it.
const (
	HMACSHA256 Scheme = "v1"
	// LegacyMD5 is the seed's scheme, weaker (see the package comment).
	LegacyMD5 Scheme = "md5"
)

// MaxAge is how far a request's timestamp may be from the verifier's clock,
// either way.
const MaxAge = 5 * time.Minute

// Options change how Sign signs; the zero value signs with HMACSHA256 now.
type Options struct {
	Scheme Scheme
	Now    func() time.Time
	// Nonce is used instead of a random one (tests, documentation).
	Nonce string
}

// Sign adds the timestamp, a random nonce and the signature of req with body
// under key. The caller sets X-Vox-Account (or whatever names the key) and
// gives req the same body.
func Sign(req *http.Request, body, key []byte) error {
	return SignWith(req, body, key, Options{})
}

// SignWith is Sign with options.
func SignWith(req *http.Request, body, key []byte, opts Options) error {
	if len(key) == 0 {
		return errors.New("sign request: no key")
	}
	if opts.Scheme == "" {
		opts.Scheme = HMACSHA256
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	nonce := opts.Nonce
	if nonce == "" {
		nonce = NewNonce()
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	sig, err := Compute(opts.Scheme, key, req.Method, req.URL.RequestURI(), ts, nonce, body)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, sig)
	return nil
}

// NewNonce returns a random nonce (26 characters, 130 bits).
func NewNonce() string { return rand.Text() }

// Compute is the X-Vox-Signature value of a request, "scheme=hex".
func Compute(scheme Scheme, key []byte, method, path, timestamp, nonce string, body []byte) (string, error) {
	var h hash.Hash
	switch scheme {
	case HMACSHA256:
		h = hmac.New(sha256.New, key)
		writeFields(h, method, path, timestamp, nonce, BodyHash(body))
	case LegacyMD5:
		h = md5.New()
		writeFields(h, method, path, timestamp, nonce, string(body), string(key))
	default:
		return "", fmt.Errorf("unknown signature scheme %q", scheme)
	}
	return string(scheme) + "=" + hex.EncodeToString(h.Sum(nil)), nil
}

func writeFields(h hash.Hash, fields ...string) {
	for i, f := range fields {
		if i > 0 {
			h.Write([]byte{'\n'})
		}
		h.Write([]byte(f))
	}
}

// BodyHash is the lower-case hex SHA-256 of body.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Stable codes of the errors a verifier answers with.
const (
	CodeUnsigned     = "unsigned_request"   // a header is missing
	CodeBadTimestamp = "bad_timestamp"      // not Unix seconds
	CodeStale        = "stale_request"      // more than MaxAge away from now
	CodeBadNonce     = "bad_nonce"          // not 16-128 of A-Z a-z 0-9 _ -
	CodeReplayed     = "replayed_request"   // the nonce was seen
	CodeBadSignature = "bad_signature"      // wrong key, altered request, unknown account
	CodeScheme       = "scheme_not_allowed" // md5 for a tenant not switched to it
	CodeTooLarge     = "body_too_large"
	CodeBusy         = "nonce_memory_full" // refused rather than forgetting nonces
)

// Error is why a request was refused; Status is its HTTP status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// validNonce says whether n has the form nonces must have: long enough to be
// unguessable, short and plain enough to keep in memory and logs.
func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 128 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Credentials are what a verifier checks an account's requests with.
type Credentials struct {
	// Keys are the keys valid now: the current one and, during a rotation,
	// the previous one.
	Keys [][]byte
	// Legacy allows the seed's MD5 scheme for this account.
	Legacy bool
}

// Parsed is a request's signing headers.
type Parsed struct {
	Account, Timestamp, Nonce string
	Scheme                    Scheme
	Signature                 []byte // decoded from hex
	Time                      time.Time
}

// Parse reads and checks the form of req's signing headers against now.
func Parse(req *http.Request, now time.Time) (Parsed, *Error) {
	p := Parsed{
		Account:   req.Header.Get(HeaderAccount),
		Timestamp: req.Header.Get(HeaderTimestamp),
		Nonce:     req.Header.Get(HeaderNonce),
	}
	sig := req.Header.Get(HeaderSignature)
	if p.Account == "" || p.Timestamp == "" || p.Nonce == "" || sig == "" {
		return p, refuse(http.StatusUnauthorized, CodeUnsigned,
			"the request is not signed: it needs %s, %s, %s and %s", HeaderAccount, HeaderTimestamp, HeaderNonce, HeaderSignature)
	}
	secs, err := strconv.ParseInt(p.Timestamp, 10, 64)
	if err != nil {
		return p, refuse(http.StatusUnauthorized, CodeBadTimestamp, "%s must be Unix seconds", HeaderTimestamp)
	}
	p.Time = time.Unix(secs, 0)
	if d := now.Sub(p.Time); d > MaxAge || d < -MaxAge {
		return p, refuse(http.StatusUnauthorized, CodeStale,
			"the request's timestamp is %s away from the server's clock; requests are valid for %s", d.Round(time.Second), MaxAge)
	}
	if !validNonce(p.Nonce) {
		return p, refuse(http.StatusUnauthorized, CodeBadNonce, "%s must be 16 to 128 letters, digits, _ or -", HeaderNonce)
	}
	scheme, hexSig, ok := strings.Cut(sig, "=")
	p.Scheme = Scheme(scheme)
	if p.Signature, err = hex.DecodeString(hexSig); !ok || err != nil || (p.Scheme != HMACSHA256 && p.Scheme != LegacyMD5) {
		return p, refuse(http.StatusUnauthorized, CodeBadSignature, "%s must be v1=HEX (or md5=HEX)", HeaderSignature)
	}
	return p, nil
}

// Check verifies p's signature of req and body against creds, in constant
// time whatever key matches, so timing tells nothing about the key or where
// a forged signature went wrong.
func Check(req *http.Request, p Parsed, body []byte, creds Credentials) *Error {
	if p.Scheme == LegacyMD5 && !creds.Legacy {
		return refuse(http.StatusUnauthorized, CodeScheme, "the md5 scheme is not enabled for this account; sign with v1 (HMAC-SHA256)")
	}
	match := 0
	for _, key := range creds.Keys {
		want, err := Compute(p.Scheme, key, req.Method, req.URL.RequestURI(), p.Timestamp, p.Nonce, body)
		if err != nil {
			continue
		}
		_, wantHex, _ := strings.Cut(want, "=")
		wantSig, _ := hex.DecodeString(wantHex)
		match |= subtle.ConstantTimeCompare(wantSig, p.Signature)
	}
	if match != 1 {
		return refuse(http.StatusUnauthorized, CodeBadSignature,
			"the signature does not match: check the key, and sign exactly the method, path, timestamp, nonce and body sent")
	}
	return nil
}
