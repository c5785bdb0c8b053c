package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Digest authentication (RFC 3261 section 22, RFC 7616, RFC 8760) with
// stateless nonces: a nonce is its issue time and a random part, signed with
// the server's secret, so a nonce proves by itself that this server issued it
// and when. Only the nonce counts of nonces in use are kept (nonceCounts),
// which refuses replays with bounded memory.

const (
	nonceTimeLen = 8
	nonceRandLen = 8
	nonceMACLen  = 16
	nonceRawLen  = nonceTimeLen + nonceRandLen + nonceMACLen

	// Limits on an Authorization header, far above what a phone sends.
	maxAuthLen    = 2048
	maxAuthParams = 24
)

var errBadCredentials = errors.New("malformed Authorization")

// nonces mints and checks signed nonces for one server secret.
type nonces struct {
	secret []byte
	// macs are HMACs keyed with secret (*nonceMAC), kept for the next
	// nonce: setting one up costs more than the MAC itself.
	macs *sync.Pool
}

type nonceMAC struct {
	h   hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

func newNonces(secret []byte) nonces {
	return nonces{secret: secret, macs: &sync.Pool{New: func() any {
		return &nonceMAC{h: hmac.New(sha256.New, secret)}
	}}}
}

// nonceLen is the length of a nonce, base64 without padding (as
// base64.RawURLEncoding.EncodedLen gives it, but a constant, for nonceKey).
const nonceLen = (nonceRawLen*8 + 5) / 6

// mint returns a nonce issued at now for realm.
func (n nonces) mint(realm string, now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:nonceTimeLen], uint64(now.UnixNano()))
	rand.Read(raw[nonceTimeLen : nonceTimeLen+nonceRandLen])
	n.mac(raw[nonceTimeLen+nonceRandLen:], realm, raw[:nonceTimeLen+nonceRandLen])
	var text [64]byte
	base64.RawURLEncoding.Encode(text[:nonceLen], raw[:])
	return string(text[:nonceLen])
}

// issued checks that nonce was minted by this secret for realm and returns
// when; ok is false for anything else.
func (n nonces) issued(realm, nonce string) (at time.Time, ok bool) {
	if len(nonce) != nonceLen {
		return time.Time{}, false
	}
	var text [64]byte
	var raw [nonceRawLen]byte
	if _, err := base64.RawURLEncoding.Decode(raw[:], text[:copy(text[:], nonce)]); err != nil {
		return time.Time{}, false
	}
	body := raw[:nonceTimeLen+nonceRandLen]
	var mac [nonceMACLen]byte
	n.mac(mac[:], realm, body)
	if !hmac.Equal(raw[nonceTimeLen+nonceRandLen:], mac[:]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(body[:nonceTimeLen]))), true
}

// mac writes the MAC of body for realm, cut to len(dst), into dst.
func (n nonces) mac(dst []byte, realm string, body []byte) {
	m := n.macs.Get().(*nonceMAC)
	m.h.Reset()
	m.in = append(append(append(m.in[:0], realm...), 0), body...)
	m.h.Write(m.in)
	copy(dst, m.h.Sum(m.sum[:0]))
	n.macs.Put(m)
}

// challenge is the value of a WWW-Authenticate header.
func challenge(realm, nonce string, alg Algorithm, stale bool) string {
	var b strings.Builder
	b.Grow(len(realm) + len(nonce) + len(alg) + 64)
	b.WriteString(`Digest realm="`)
	b.WriteString(realm)
	b.WriteString(`", nonce="`)
	b.WriteString(nonce)
	b.WriteString(`", algorithm=`)
	b.WriteString(string(alg))
	b.WriteString(`, qop="auth"`)
	if stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

// credentials are the parameters of a Digest Authorization header.
type credentials struct {
	username, realm, nonce, uri, response, cnonce, qop string
	algorithm                                          Algorithm
	nc                                                 uint32
	hasNC                                              bool
}

// parseCredentials reads `Digest k=v, k="v", ...` (RFC 7616 section 3.4). It
// allocates little and refuses anything too long, repeated or unterminated.
func parseCredentials(value string) (credentials, error) {
	var c credentials
	if len(value) > maxAuthLen {
		return c, fmt.Errorf("%w: too long", errBadCredentials)
	}
	scheme, rest, _ := strings.Cut(strings.TrimLeft(value, " \t"), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, fmt.Errorf("%w: scheme %q is not Digest", errBadCredentials, trimForLog(scheme))
	}
	var seen [maxAuthParams]string
	for n := 0; ; n++ {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" {
			break
		}
		if n == maxAuthParams {
			return c, fmt.Errorf("%w: too many parameters", errBadCredentials)
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return c, fmt.Errorf("%w: parameter without a value", errBadCredentials)
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			v, after, err := quoted(rest)
			if err != nil {
				return c, err
			}
			val, rest = v, after
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" {
			if rest[0] != ',' {
				return c, fmt.Errorf("%w: no comma after %s", errBadCredentials, name)
			}
			rest = rest[1:]
		}
		if slices.Contains(seen[:n], name) {
			return c, fmt.Errorf("%w: %s repeated", errBadCredentials, name)
		}
		seen[n] = name
		switch name {
		case "username":
			c.username = val
		case "realm":
			c.realm = val
		case "nonce":
			c.nonce = val
		case "uri":
			c.uri = val
		case "response":
			c.response = strings.ToLower(val)
		case "cnonce":
			c.cnonce = val
		case "qop":
			c.qop = strings.ToLower(val)
		case "algorithm":
			c.algorithm = Algorithm(strings.ToUpper(val))
		case "nc":
			nc, err := strconv.ParseUint(val, 16, 32)
			if err != nil || len(val) != 8 {
				return c, fmt.Errorf("%w: nc %q", errBadCredentials, trimForLog(val))
			}
			c.nc, c.hasNC = uint32(nc), true
		}
	}
	if c.username == "" || c.realm == "" || c.nonce == "" || c.uri == "" || c.response == "" {
		return c, fmt.Errorf("%w: username, realm, nonce, uri and response are required", errBadCredentials)
	}
	if c.algorithm == "" {
		c.algorithm = MD5 // RFC 7616 section 3.3: absent means MD5
	}
	return c, nil
}

// quoted reads a quoted-string at the start of s and returns its value and
// what follows it.
func quoted(s string) (val, rest string, err error) {
	if end := strings.IndexAny(s[1:], `"\\`); end >= 0 && s[1+end] == '"' {
		return s[1 : 1+end], s[2+end:], nil // nothing escaped: the value is in s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i == len(s) {
				return "", "", fmt.Errorf("%w: unterminated quoted string", errBadCredentials)
			}
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", errBadCredentials)
}

// verify says whether c is the response of the holder of ha1 to a request
// with method (RFC 7616 section 3.4.1, qop=auth). It takes the same time
// whatever the mismatch, so that an unknown user, checked against a dummy
// HA1, cannot be told from a wrong password.
func (c credentials) verify(method, ha1 string) bool {
	var buf [512]byte
	in := append(append(append(buf[:0], method...), ':'), c.uri...)
	var ha2, want [2 * sha256.Size]byte
	h2 := c.algorithm.hexSum(ha2[:0], in)
	in = append(append(buf[:0], ha1...), ':')
	in = append(append(in, c.nonce...), ':')
	in = hex.AppendEncode(in, binary.BigEndian.AppendUint32(nil, c.nc)) // nc as sent: 8 hex digits
	in = append(append(in, ':'), c.cnonce...)
	in = append(append(in, ':'), c.qop...)
	in = append(append(in, ':'), h2...)
	return equalConstantTime(c.algorithm.hexSum(want[:0], in), c.response)
}

// equalConstantTime is subtle.ConstantTimeCompare of b and s, without a
// copy of s: the time taken depends on their lengths only.
func equalConstantTime(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	var diff byte
	for i := range b {
		diff |= b[i] ^ s[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// nonceCounts remembers the highest nonce count (nc) seen for each nonce in
// use, so that a request cannot be replayed (RFC 7616 section 3.4.5), in
// bounded memory: at most max nonces. When a nonce still young has to be
// forgotten, floor moves to its issue time, and a nonce issued before floor
// that is not remembered is answered as stale: the phone asks for a fresh
// one, and a replay finds nothing.
//
// Nothing in its map or slice is a pointer: a busy server keeps its
// maximum, a hundred thousand nonces, and the collector would otherwise go
// through them all at every cycle.
//
// Expired nonces are dropped as new ones are used, and, so that a server
// left idle after a busy hour gives their memory back, by a sweep when the
// oldest kept expires (none when ttl is 0).
type nonceCounts struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[nonceKey]uint32 // the highest count of each nonce
	order []nonceUse          // first use first, from head on
	head  int
	floor time.Time
	// peak is the most nonces seen has held since it was made: a Go map
	// keeps the room of its peak, so the sweep makes a smaller one when
	// far fewer are left.
	peak  int
	sweep *time.Timer // pending while nonces are kept
}

// nonceKey is a nonce as a map key; a nonce that reaches nonceCounts has been
// checked (nonces.issued), so it is nonceLen long.
type nonceKey [nonceLen]byte

type nonceUse struct {
	key    nonceKey
	issued int64 // Unix nanoseconds
}

func newNonceCounts(max int, ttl time.Duration) *nonceCounts {
	return &nonceCounts{max: max, ttl: ttl, seen: make(map[nonceKey]uint32)}
}

// use records nc for nonce and says whether it is new: higher than every
// count seen for this nonce. Nonces issued before expired are forgotten.
func (nc *nonceCounts) use(nonce string, issued time.Time, count uint32, expired time.Time) bool {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	nc.expireLocked(expired)
	var key nonceKey
	copy(key[:], nonce)
	if last, ok := nc.seen[key]; ok {
		if count <= last {
			return false
		}
		nc.seen[key] = count
		return true
	}
	if !issued.After(nc.floor) {
		return false
	}
	for len(nc.seen) >= nc.max {
		nc.forget(true)
	}
	if nc.head > len(nc.order)/2 {
		// Reuse the forgotten half rather than let the slice grow.
		nc.order = nc.order[:copy(nc.order, nc.order[nc.head:])]
		nc.head = 0
	}
	nc.seen[key] = count
	nc.peak = max(nc.peak, len(nc.seen))
	nc.order = append(nc.order, nonceUse{key: key, issued: issued.UnixNano()})
	if nc.sweep == nil && nc.ttl > 0 {
		nc.sweep = time.AfterFunc(nc.ttl, nc.sweepExpired)
	}
	return true
}

func (nc *nonceCounts) sweepExpired() {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	now := time.Now()
	nc.expireLocked(now.Add(-nc.ttl))
	nc.release()
	if nc.head == len(nc.order) {
		nc.sweep = nil
		return
	}
	// Next when the oldest nonce kept expires; a second on at least, so that
	// a busy server's go in batches.
	next := time.Unix(0, nc.order[nc.head].issued).Add(nc.ttl).Sub(now)
	nc.sweep.Reset(max(next, time.Second))
}

// expireLocked forgets the nonces issued at or before expired.
func (nc *nonceCounts) expireLocked(expired time.Time) {
	for nc.head < len(nc.order) && nc.order[nc.head].issued <= expired.UnixNano() {
		nc.forget(false)
	}
}

// release gives back the room of nonces forgotten once under a quarter of
// it is in use: a Go map keeps the room of its peak, and the slice that of
// its longest.
func (nc *nonceCounts) release() {
	if len(nc.seen) < nc.peak/4 {
		seen := make(map[nonceKey]uint32, len(nc.seen))
		maps.Copy(seen, nc.seen)
		nc.seen, nc.peak = seen, len(seen)
	}
	if kept := len(nc.order) - nc.head; kept < cap(nc.order)/4 {
		nc.order = slices.Clone(nc.order[nc.head:])
		nc.head = 0
	}
}

// forget drops the nonce first used; young says it has not expired.
func (nc *nonceCounts) forget(young bool) {
	u := nc.order[nc.head]
	nc.head++
	delete(nc.seen, u.key)
	if at := time.Unix(0, u.issued); young && at.After(nc.floor) {
		nc.floor = at
	}
}
