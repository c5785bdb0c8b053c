// Package sip owns Vox's SIP signalling on github.com/emiago/sipgo: the server
// (UDP and TCP listeners, SIP over WebSocket for browsers, limits, bans), the
// registrar with digest
// authentication (seed requirements S7 and S10), and calls (EnableCalls):
// incoming INVITEs become sessions of the runtime, the Server places the
// sessions' outgoing calls (runtime.Dialer), and each call is a runtime.Leg
// with its media channel. sipgo brings the transport and the transactions;
// dialogs and legs are this package's.
package sip

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ErrUnknownUser is what a Directory returns for a name it does not hold.
var ErrUnknownUser = errors.New("sip: unknown user")

// Directory holds the SIP users that may register. The controller implements
// it over its tenant store; vox serve has a small file-backed one until then.
//
// A Directory is asked on every authenticated request, so a changed password
// or a disabled user is refused from its next request on. To drop what such a
// user has registered at once, its owner calls Registrar.Revoke after the
// change (seed requirement S7).
type Directory interface {
	// User returns the user called name in realm, or an error wrapping
	// ErrUnknownUser.
	User(ctx context.Context, realm, name string) (User, error)
}

// User is a SIP user as the registrar needs it: who it is and how to check
// its digest. Passwords are not kept: only H(name:realm:password) for each
// algorithm (RFC 7616 section 3.4.2, HA1), which is all digest needs and
// which cannot be replayed against another realm.
type User struct {
	Account string // the tenant (S1)
	Name    string // the login, the user part of its address of record
	// HA1MD5 and HA1SHA256 are HA1 in lower-case hex for MD5 and SHA-256; see
	// HA1. A user without one cannot authenticate with that algorithm.
	HA1MD5, HA1SHA256 string
	// Disabled users are refused even with the right password.
	Disabled bool
}

// Algorithm is a digest algorithm (RFC 7616 section 3.3, RFC 8760).
type Algorithm string

// The algorithms the registrar offers.
const (
	SHA256 Algorithm = "SHA-256"
	MD5    Algorithm = "MD5"
)

// DefaultAlgorithms are offered when Options.Algorithms is empty, one
// WWW-Authenticate each, in this order. RFC 8760 section 2.4 lists
// challenges by preference, but MD5 comes first here: many phones answer
// only the first challenge and know only MD5 (SIPp 3.6 stops with
// "authentication must use MD5"). Phones that know SHA-256 and choose the
// strongest challenge they support (RFC 7616 section 3.7) still use it; a
// server whose phones all know SHA-256 lists it first, or alone. Some stacks
// fail on a challenge they do not know instead of skipping it (the libre 1.x
// under Debian's baresip refuses the whole 401), so vox serve offers MD5 alone
// unless told otherwise.
var DefaultAlgorithms = []Algorithm{MD5, SHA256}

// hexSum appends the hash of data in lower-case hex to dst.
func (a Algorithm) hexSum(dst, data []byte) []byte {
	if a == SHA256 {
		sum := sha256.Sum256(data)
		return hex.AppendEncode(dst, sum[:])
	}
	sum := md5.Sum(data)
	return hex.AppendEncode(dst, sum[:])
}

// known says whether a names an algorithm this package computes.
func (a Algorithm) known() bool { return a == SHA256 || a == MD5 }

// HA1 is H(name:realm:password) in lower-case hex, what a Directory keeps
// instead of the password.
func HA1(alg Algorithm, name, realm, password string) string {
	return hexHash(alg, name, ":", realm, ":", password)
}

// NewUser builds the credentials of a user from its password, for both
// algorithms.
func NewUser(account, name, realm, password string) User {
	return User{
		Account: account, Name: name,
		HA1MD5:    HA1(MD5, name, realm, password),
		HA1SHA256: HA1(SHA256, name, realm, password),
	}
}

func (u User) ha1(alg Algorithm) string {
	if alg == SHA256 {
		return u.HA1SHA256
	}
	return u.HA1MD5
}

func hexHash(alg Algorithm, parts ...string) string {
	var in []byte
	for _, p := range parts {
		in = append(in, p...)
	}
	var sum [2 * sha256.Size]byte
	return string(alg.hexSum(sum[:0], in))
}
