package controller

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"vox/controller/signature"
)

// Principal is who a request to the API comes from: the operator, or one
// tenant.
type Principal struct {
	Admin   bool
	Account string // the signing tenant; "" for the operator
}

// Auth tells who sent a request: the operator by its bearer token, or a
// tenant by the request's signature (S9). Every handler of the API that
// accepts both goes through one, so the rules (and the answers to a refusal)
// are the same everywhere.
type Auth struct {
	token    [32]byte
	hasToken bool
	verifier *signature.Verifier
	log      *slog.Logger
}

// NewAuth checks bearer tokens against adminToken (none accepted when it is
// "") and signatures with the keys lookup finds.
func NewAuth(adminToken string, lookup signature.KeyLookup, opts signature.VerifierOptions, log *slog.Logger) *Auth {
	if log == nil {
		log = slog.Default()
	}
	return &Auth{
		token:    sha256.Sum256([]byte(adminToken)),
		hasToken: adminToken != "",
		verifier: signature.NewVerifier(lookup, opts),
		log:      log,
	}
}

// Identify is who sent r. When r is refused, Identify has answered it with
// the JSON error (401 for a wrong token or signature, 413 for a body over
// the limit, ...) and returns false. A signed request's body has been read
// and put back for the handler.
func (a *Auth) Identify(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	if bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		sum := sha256.Sum256([]byte(strings.TrimSpace(bearer)))
		if !a.hasToken || subtle.ConstantTimeCompare(sum[:], a.token[:]) != 1 {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "wrong admin token; tenants sign their requests instead (X-Vox-Signature)")
			return Principal{}, false
		}
		return Principal{Admin: true}, true
	}
	account, _, err := a.verifier.Verify(r)
	var se *signature.Error
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Code, se.Message)
		return Principal{}, false
	}
	if err != nil {
		a.log.Error("controller API: check a signature", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error; the server's log has the details")
		return Principal{}, false
	}
	return Principal{Account: account}, true
}
