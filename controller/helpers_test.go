package controller

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const testAdmin = "admin-token-for-tests"

// testHA1 is the registrar's HA1 in realm "vox" (sip.HA1), written out so
// the controller's tests need no SIP package.
func testHA1(name, password string) (string, string) {
	m := md5.Sum([]byte(name + ":vox:" + password))
	s := sha256.Sum256([]byte(name + ":vox:" + password))
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

type placements struct{ placed chan string }

func (p *placements) Place(_ context.Context, account, trigger string) error {
	select {
	case p.placed <- account + "/" + trigger:
	default:
	}
	return nil
}

type fixture struct {
	c      *Controller
	db     *bolt.DB
	srv    *httptest.Server
	admin  *Client
	keys   map[string]string
	placed chan string
}

// newFixture opens a controller in a fresh file with licences for the
// tenants, a RUB tariff for Russia and a 127.0.0.1 server of its API.
func newFixture(t *testing.T, licensed ...string) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, keys: map[string]string{}, placed: make(chan string, 1000)}
	var lics StaticLicences
	for _, id := range licensed {
		key := "key-of-" + id + "-0123456789"
		f.keys[id] = key
		lics = append(lics, Licence{Account: id, Key: key, Currency: "RUB"})
	}
	f.c, err = Open(db, Options{Licences: lics, HA1: testHA1, Rollouts: &placements{f.placed}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetTariffs(context.Background(), "RUB", []Tariff{
		{Prefix: "7", Name: "Russia", PerMinute: 1_500_000, Increment: 60},
		{Prefix: "7495", Name: "Moscow", PerMinute: 600_000, Increment: 1, ConnectionFee: 100_000},
		{Prefix: "44", Name: "UK", PerMinute: 12_000_000, Increment: 60},
	}); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(NewHandler(f.c, HandlerOptions{AdminToken: testAdmin, MaxBody: 4096}))
	t.Cleanup(f.srv.Close)
	f.admin = NewClient(f.srv.URL, testAdmin, nil)
	return f
}

// tenant is a client signing as id, whose account exists after its first use.
func (f *fixture) tenant(t *testing.T, id string) *Client {
	t.Helper()
	cl := f.admin.AsTenant(id, []byte(f.keys[id]), "")
	var creds Credentials
	if err := cl.Do(context.Background(), "POST", "/credentials", nil, &creds); err != nil {
		t.Fatalf("first use of %s: %v", id, err)
	}
	return cl
}

func apiCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// state is what a refused request must leave as it was.
func (f *fixture) state(t *testing.T, account string) string {
	t.Helper()
	ctx := context.Background()
	b, err := f.c.Balance(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := f.c.Ledger(ctx, account, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.c.SIPUsers(ctx, account)
	n, _ := f.c.AccountNumbers(ctx, account)
	data, _ := json.Marshal([]any{b, l, u, n})
	return string(data)
}
