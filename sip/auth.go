package sip

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// authenticator checks digest credentials against the Directory and keeps the
// state that makes them safe: signed nonces, their counts, and bans.
//
// Enumeration (sipvicious svwar) finds nothing: a request without credentials
// is challenged before any lookup, and an unknown user is checked against a
// dummy user that no response can match, so it gets the answer of a known user
// with a wrong password, in the same time.
type authenticator struct {
	dir     Directory
	algs    []Algorithm
	ttl     time.Duration
	timeout time.Duration
	nonces  nonces
	counts  *nonceCounts
	bans    *bans
	dummy   User
}

func newAuthenticator(o *Options) *authenticator {
	return &authenticator{
		dir: o.Directory, algs: o.Algorithms, ttl: o.NonceTTL, timeout: o.LookupTimeout,
		nonces: newNonces(o.Secret),
		counts: newNonceCounts(o.MaxNonces, o.NonceTTL),
		bans:   newBans(o.MaxFailures, o.FailureWindow, o.BanFor, o.MaxSources),
		dummy:  NewUser("", "", "", rand.Text()),
	}
}

// verdict is what a check of a request's credentials found.
type verdict int

const (
	// challenge: no usable credentials for this realm, or wrong ones; answer
	// 401 with fresh nonces.
	challenge401 verdict = iota
	// stale: the right response to a nonce that expired, is not ours (a
	// restart) or was used with this count already; answer 401 stale=true,
	// and the phone retries without asking its user (RFC 7616 section 3.3).
	stale401
	// malformed: 400.
	malformed400
	// unavailable: the directory failed; 500.
	unavailable500
	// authenticated: the user holds the password and the nonce is fresh;
	// the caller commits the nonce count with use.
	authenticated
)

// check is the outcome of checking one request.
type check struct {
	verdict verdict
	user    User
	creds   credentials
	issued  time.Time // of the nonce
	failed  bool      // wrong credentials: counts towards a ban
	reason  string    // why, for the log
}

// credentialsFor finds the credentials of req meant for realm: a REGISTER
// answers a 401 with Authorization, other requests a 407 with
// Proxy-Authorization (RFC 3261 section 22.3), though some phones answer
// either with Authorization.
func credentialsFor(req *sipmsg.Request, realm string) (c credentials, found bool, err error) {
	names := []string{"Authorization"}
	if req.Method != sipmsg.REGISTER {
		names = []string{"Proxy-Authorization", "Authorization"}
	}
	for _, name := range names {
		for h := range headersNamed(req, name) {
			c, err := parseCredentials(h.Value())
			if err != nil {
				return c, true, err
			}
			if strings.EqualFold(c.realm, realm) {
				return c, true, nil
			}
		}
	}
	return credentials{}, false, nil
}

// check looks at the credentials in req for realm. It does not consume the
// nonce count: the caller does, with use, once it commits to the request.
func (a *authenticator) check(ctx context.Context, req *sipmsg.Request, realm string, now time.Time) check {
	c, found, err := credentialsFor(req, realm)
	switch {
	case err != nil:
		return check{verdict: malformed400, reason: err.Error()}
	case !found:
		return check{verdict: challenge401, reason: "no credentials"}
	case !a.offers(c.algorithm) || c.qop != "auth" || !c.hasNC || c.nc == 0 || c.cnonce == "":
		// Without qop=auth there is no nonce count, so no replay protection.
		return check{verdict: challenge401, reason: "credentials without qop=auth or with an algorithm not offered"}
	}
	lctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	user, err := a.dir.User(lctx, realm, c.username)
	known := err == nil
	if err != nil && !errors.Is(err, ErrUnknownUser) {
		return check{verdict: unavailable500, reason: fmt.Sprintf("directory: %v", err)}
	}
	ha1 := user.ha1(c.algorithm)
	if !known || ha1 == "" {
		ha1 = a.dummy.ha1(c.algorithm)
	}
	if !c.verify(string(req.Method), ha1) || !known || user.ha1(c.algorithm) == "" {
		return check{verdict: challenge401, creds: c, failed: true, reason: "wrong credentials"}
	}
	issued, ours := a.nonces.issued(realm, c.nonce)
	if !ours || now.Sub(issued) > a.ttl || issued.After(now) {
		return check{verdict: stale401, user: user, creds: c, reason: "stale nonce"}
	}
	return check{verdict: authenticated, user: user, creds: c, issued: issued}
}

// use commits the nonce count of an authenticated check; false means the
// count was seen already (a replay) and the request must be answered stale.
func (a *authenticator) use(ch check, now time.Time) bool {
	return a.counts.use(ch.creds.nonce, ch.issued, ch.creds.nc, now.Add(-a.ttl))
}

func (a *authenticator) offers(alg Algorithm) bool {
	for _, o := range a.algs {
		if o == alg {
			return true
		}
	}
	return false
}

// respondChallenge answers req with a challenge per algorithm, one fresh
// nonce: 401 to a REGISTER, 407 Proxy Authentication Required to a call
// (RFC 3261 section 22.3), whose answer the phone puts in
// Proxy-Authorization.
func (a *authenticator) respondChallenge(req *sipmsg.Request, realm string, stale bool, now time.Time) *sipmsg.Response {
	code, reason, header := sipmsg.StatusUnauthorized, "Unauthorized", "WWW-Authenticate"
	if req.Method != sipmsg.REGISTER {
		code, reason, header = sipmsg.StatusProxyAuthRequired, "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	nonce := a.nonces.mint(realm, now)
	for _, alg := range a.algs {
		res.AppendHeader(sipmsg.NewHeader(header, challenge(realm, nonce, alg, stale)))
	}
	return res
}

// failed counts a failure from src; it returns when the ban it started ends,
// zero when it started none.
func (a *authenticator) failed(src netip.Addr, now time.Time) time.Time {
	if !src.IsValid() {
		return time.Time{}
	}
	return a.bans.fail(src, now)
}

// authFailed counts a failed authentication from src towards its ban, and
// logs the ban it starts.
func (s *Server) authFailed(src netip.Addr, now time.Time) {
	if until := s.auth.failed(src, now); !until.IsZero() {
		s.badLog.Warn("sip: source banned after failed authentications", "source", sourceOf(src).String(), "until", until.Format(time.RFC3339))
	}
}
