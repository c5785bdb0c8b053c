package signature

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// ErrUnknownAccount is what a KeyLookup returns for an account it does not
// know; the request is refused as badly signed, so that an unsigned caller
// cannot tell which accounts exist.
var ErrUnknownAccount = errors.New("signature: unknown account")

// KeyLookup returns the credentials of an account.
type KeyLookup func(ctx context.Context, account string) (Credentials, error)

// VerifierOptions tune a Verifier; zero values take the defaults.
type VerifierOptions struct {
	// MaxBody is the largest body read (default 1 MiB).
	MaxBody int64
	// MaxNonces bounds the nonces remembered (default 1<<20). When that
	// many requests came within 2*MaxAge, new ones are refused rather than
	// an old nonce forgotten early, which would let its request be replayed.
	MaxNonces int
	Now       func() time.Time
}

// Verifier checks signed requests and remembers their nonces.
type Verifier struct {
	lookup KeyLookup
	opts   VerifierOptions
	nonces nonceMemory
}

// NewVerifier returns a Verifier that finds the accounts' keys with lookup.
func NewVerifier(lookup KeyLookup, opts VerifierOptions) *Verifier {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxNonces <= 0 {
		opts.MaxNonces = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{lookup: lookup, opts: opts, nonces: nonceMemory{max: opts.MaxNonces, seen: map[string]time.Time{}}}
}

// Verify reads req's body (up to MaxBody) and checks its signature. It
// returns the signing account and the body; a refusal is an *Error, any
// other error is the lookup's. The nonce is remembered only once the
// signature is right, so forged requests cannot use up the memory of nonces.
func (v *Verifier) Verify(req *http.Request) (account string, body []byte, err error) {
	now := v.opts.Now()
	p, perr := Parse(req, now)
	if perr != nil {
		return "", nil, perr
	}
	if body, err = readBody(req, v.opts.MaxBody); err != nil {
		return "", nil, err
	}
	creds, err := v.lookup(req.Context(), p.Account)
	if errors.Is(err, ErrUnknownAccount) {
		creds, err = Credentials{}, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("keys of %s: %w", p.Account, err)
	}
	if cerr := Check(req, p, body, creds); cerr != nil {
		return "", nil, cerr
	}
	if nerr := v.nonces.remember(p.Account+"\x00"+p.Nonce, now); nerr != nil {
		return "", nil, nerr
	}
	return p.Account, body, nil
}

// readBody reads at most max bytes of req's body and puts them back, so
// handlers after the verifier read the same bytes.
func readBody(req *http.Request, max int64) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	if req.ContentLength > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, CodeTooLarge, "the body is over %d bytes", max)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, CodeUnsigned, "reading the body: %v", err)
	}
	if int64(len(body)) > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, CodeTooLarge, "the body is over %d bytes", max)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// nonceMemory remembers nonces until no request carrying them can be fresh
// any more. Entries expire in the order they came (now+2*MaxAge grows with
// now), so a queue finds the expired ones without scanning.
type nonceMemory struct {
	mu    sync.Mutex
	max   int
	seen  map[string]time.Time
	order []nonceEntry
}

type nonceEntry struct {
	key     string
	expires time.Time
}

func (m *nonceMemory) remember(key string, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.order) > 0 && !m.order[0].expires.After(now) {
		delete(m.seen, m.order[0].key)
		m.order[0] = nonceEntry{}
		m.order = m.order[1:]
	}
	if _, dup := m.seen[key]; dup {
		return refuse(http.StatusUnauthorized, CodeReplayed, "this nonce was already used: every request needs a new one")
	}
	if len(m.seen) >= m.max {
		return refuse(http.StatusServiceUnavailable, CodeBusy, "too many signed requests in the last %s; retry later", 2*MaxAge)
	}
	// A timestamp may be up to MaxAge ahead, and stays fresh MaxAge after.
	expires := now.Add(2 * MaxAge)
	m.seen[key] = expires
	m.order = append(m.order, nonceEntry{key, expires})
	return nil
}
