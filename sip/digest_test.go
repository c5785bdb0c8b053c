package sip

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  credentials
		err   string
	}{
		{"a phone's", `Digest username="alice", realm="vox.test", nonce="n1", uri="sip:vox.test", response="ABCDEF", algorithm=MD5, cnonce="c1", qop=auth, nc=00000001`,
			credentials{username: "alice", realm: "vox.test", nonce: "n1", uri: "sip:vox.test", response: "abcdef", algorithm: MD5, cnonce: "c1", qop: "auth", nc: 1, hasNC: true}, ""},
		{"no spaces, quoted qop, lower-case algorithm", `digest username="bob",realm="r",nonce="n",uri="sip:r",response="00",algorithm=sha-256,qop="auth",nc=0000000a,cnonce="x"`,
			credentials{username: "bob", realm: "r", nonce: "n", uri: "sip:r", response: "00", algorithm: SHA256, cnonce: "x", qop: "auth", nc: 10, hasNC: true}, ""},
		{"no algorithm is MD5, escapes", `Digest username="a\"b", realm="r", nonce="n", uri="sip:r", response="00"`,
			credentials{username: `a"b`, realm: "r", nonce: "n", uri: "sip:r", response: "00", algorithm: MD5}, ""},
		{"unknown parameters ignored", `Digest username="a", realm="r", nonce="n", uri="sip:r", response="00", opaque="", x-y=z`,
			credentials{username: "a", realm: "r", nonce: "n", uri: "sip:r", response: "00", algorithm: MD5}, ""},
		{"Basic", `Basic YWxpY2U6c2VjcmV0`, credentials{}, "not Digest"},
		{"no response", `Digest username="a", realm="r", nonce="n", uri="sip:r"`, credentials{}, "required"},
		{"unterminated", `Digest username="a, realm=r`, credentials{}, "unterminated"},
		{"trailing backslash", `Digest username="a\`, credentials{}, "unterminated"},
		{"repeated", `Digest username="a", username="b", realm="r", nonce="n", uri="sip:r", response="00"`, credentials{}, "repeated"},
		{"bad nc", `Digest username="a", realm="r", nonce="n", uri="sip:r", response="00", nc=1`, credentials{}, "nc"},
		{"no comma", `Digest username="a" realm="r"`, credentials{}, "no comma"},
		{"no value", `Digest username`, credentials{}, "without a value"},
		{"too long", `Digest username="` + strings.Repeat("a", maxAuthLen) + `"`, credentials{}, "too long"},
		{"too many parameters", "Digest " + manyParams(maxAuthParams+1), credentials{}, "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCredentials(tt.value)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "x%d=1, ", i)
	}
	return b.String()
}

// Whatever an Authorization header holds, parsing it neither panics nor
// takes a value it did not see.
func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="alice", realm="vox.test", nonce="n1", uri="sip:vox.test", response="ab", algorithm=MD5, cnonce="c1", qop=auth, nc=00000001`)
	f.Add(`Digest username="a\"b",realm=r`)
	f.Add(`Digest ,,,=`)
	f.Fuzz(func(t *testing.T, value string) {
		c, err := parseCredentials(value)
		if err != nil {
			return
		}
		for _, v := range []string{c.username, c.realm, c.nonce, c.uri} {
			if v == "" || len(v) > len(value) {
				t.Fatalf("%q parsed as %+v", value, c)
			}
		}
	})
}

func TestNonces(t *testing.T) {
	n := newNonces([]byte("secret"))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nonce := n.mint("vox.test", at)
	if got, ok := n.issued("vox.test", nonce); !ok || !got.Equal(at) {
		t.Fatalf("issued %v, %v", got, ok)
	}
	if n.mint("vox.test", at) == nonce {
		t.Error("two nonces of one instant are equal")
	}
	tampered := []byte(nonce)
	tampered[3] ^= 1
	for name, bad := range map[string]string{
		"other realm":  "",
		"tampered":     string(tampered),
		"other secret": newNonces([]byte("other")).mint("vox.test", at),
		"short":        nonce[:10],
		"not base64":   strings.Repeat("!", len(nonce)),
	} {
		realm := "vox.test"
		if name == "other realm" {
			realm, bad = "other.test", nonce
		}
		if _, ok := n.issued(realm, bad); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Counts only go up; memory stays bounded, and a nonce forgotten while still
// young cannot come back.
func TestNonceCounts(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	long := base.Add(-time.Hour)
	nc := newNonceCounts(3, 0)
	steps := []struct {
		nonce  string
		issued int // seconds after base
		count  uint32
		ok     bool
	}{
		{"a", 1, 1, true},
		{"a", 1, 1, false}, // replay
		{"a", 1, 3, true},
		{"a", 1, 2, false}, // back in count
		{"b", 2, 1, true},
		{"c", 3, 1, true},
		{"d", 4, 1, true},  // a, the first used, is forgotten
		{"a", 1, 4, false}, // and cannot come back
		{"e", 1, 1, false}, // nor can an unused one as old
		{"b", 2, 2, true},
	}
	for i, s := range steps {
		if got := nc.use(s.nonce, base.Add(time.Duration(s.issued)*time.Second), s.count, long); got != s.ok {
			t.Fatalf("step %d %+v: %v", i, s, got)
		}
		if len(nc.seen) > 3 {
			t.Fatalf("step %d: %d nonces kept", i, len(nc.seen))
		}
	}
	// Expired nonces are dropped as time passes.
	nc.use("f", base.Add(10*time.Second), 1, base.Add(5*time.Second))
	if len(nc.seen) != 1 {
		t.Fatalf("%d nonces kept after expiry", len(nc.seen))
	}
}

// TestNonceCountsBounded: a long run of nonces keeps the last max of them,
// in a slice that stays within twice that.
func TestNonceCountsBounded(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const max = 100
	nc := newNonceCounts(max, 0)
	n := newNonces([]byte("secret"))
	var minted []string
	for i := range 10 * max {
		at := base.Add(time.Duration(i) * time.Millisecond)
		nonce := n.mint("vox.test", at)
		minted = append(minted, nonce)
		if !nc.use(nonce, at, 1, base.Add(-time.Hour)) {
			t.Fatalf("nonce %d refused", i)
		}
		if len(nc.seen) > max || len(nc.order) > 2*max+1 {
			t.Fatalf("after %d nonces: %d remembered, %d in order", i+1, len(nc.seen), len(nc.order))
		}
	}
	for i, nonce := range minted {
		at := base.Add(time.Duration(i) * time.Millisecond)
		remembered := i >= len(minted)-max
		// A remembered nonce takes a higher count; a forgotten one, issued
		// before the floor, is refused whatever its count.
		if got := nc.use(nonce, at, 2, base.Add(-time.Hour)); got != remembered {
			t.Fatalf("nonce %d of %d: taken %v, want %v", i, len(minted), got, remembered)
		}
	}
}

// TestNonceCountsSwept: a server left idle forgets the nonces of its busy
// time when they expire, with no request to make it look, and gives their
// room back.
func TestNonceCountsSwept(t *testing.T) {
	const ttl = 50 * time.Millisecond
	nc := newNonceCounts(1000, ttl)
	n := newNonces([]byte("secret"))
	now := time.Now()
	for range 600 {
		if !nc.use(n.mint("vox.test", now), now, 1, now.Add(-ttl)) {
			t.Fatal("a fresh nonce refused")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc.mu.Lock()
		kept, order, peak, sweeping := len(nc.seen), len(nc.order), nc.peak, nc.sweep != nil
		nc.mu.Unlock()
		if kept == 0 && order == 0 && peak == 0 && !sweeping {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d nonces kept, %d in order, map made for %d, sweep pending %v", 5*time.Second, kept, order, peak, sweeping)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A nonce used later starts the sweeps again.
	later := time.Now()
	if !nc.use(n.mint("vox.test", later), later, 1, later.Add(-ttl)) {
		t.Fatal("a nonce after the sweep refused")
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.sweep == nil {
		t.Error("no sweep pending for the new nonce")
	}
}

// verify takes the response a client library computes, for each algorithm
// and whatever the length of the URI, and nothing else.
func TestVerify(t *testing.T) {
	for _, alg := range []Algorithm{MD5, SHA256} {
		for _, uri := range []string{"sip:100@vox.test", "sip:" + strings.Repeat("9", 600) + "@vox.test"} {
			chal := &digest.Challenge{Realm: "vox.test", Nonce: "n1", Algorithm: string(alg), QOP: []string{"auth"}}
			cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: "alice", Password: "secret", Count: 10, Cnonce: "c1"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCredentials(cred.String())
			if err != nil {
				t.Fatal(err)
			}
			ha1 := HA1(alg, "alice", "vox.test", "secret")
			if !c.verify("INVITE", ha1) {
				t.Errorf("%s, %d-byte URI: the right response refused", alg, len(uri))
			}
			if c.verify("BYE", ha1) || c.verify("INVITE", HA1(alg, "alice", "vox.test", "guess")) {
				t.Errorf("%s: a wrong response taken", alg)
			}
		}
	}
}

// The digest work of a call (a challenge, then its answer checked) allocates
// only the nonce, the challenge and the parsed credentials' escaped values.
// Under the race detector, whose own allocations are counted, only the work
// is checked; make test runs the allocation tests without it too.
func TestDigestAllocations(t *testing.T) {
	n := newNonces([]byte("secret"))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nonce := n.mint("vox.test", at)
	chal := &digest.Challenge{Realm: "vox.test", Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:100@vox.test", Username: "alice", Password: "secret", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	value, ha1 := cred.String(), HA1(MD5, "alice", "vox.test", "secret")
	if allocs := testing.AllocsPerRun(100, func() { n.mint("vox.test", at) }); allocs > 1 && !raceEnabled {
		t.Errorf("mint: %v allocations", allocs)
	}
	allocs := testing.AllocsPerRun(100, func() {
		c, err := parseCredentials(value)
		if err != nil || !c.verify("INVITE", ha1) {
			t.Fatal("refused")
		}
		if _, ok := n.issued("vox.test", c.nonce); !ok {
			t.Fatal("nonce refused")
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("checking credentials: %v allocations", allocs)
	}
}
