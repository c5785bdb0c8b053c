package controller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"vox/controller/signature"
)

// The portal vendor's licence service, a real HTTP server: it checks our
// signature and answers licences of the tenants it knows.
func TestHTTPLicences(t *testing.T) {
	t.Parallel()
	vendorKey := []byte("vendor-shared-secret-0001")
	verifier := signature.NewVerifier(func(_ context.Context, account string) (signature.Credentials, error) {
		if account != "vox-cloud" {
			return signature.Credentials{}, signature.ErrUnknownAccount
		}
		return signature.Credentials{Keys: [][]byte{vendorKey}}, nil
	}, signature.VerifierOptions{})
	var asked atomic.Int32
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		_, body, err := verifier.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var req struct{ Account string }
		json.Unmarshal(body, &req)
		switch req.Account {
		case "acme":
			json.NewEncoder(w).Encode(Licence{Account: "acme", Key: "acme-key-from-the-vendor", Currency: "EUR", Country: "DE"})
		case "liar":
			json.NewEncoder(w).Encode(Licence{Account: "someone-else", Key: "k"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer vendor.Close()
	ctx := context.Background()
	good := &HTTPLicences{URL: vendor.URL, Name: "vox-cloud", Key: vendorKey, Client: &http.Client{Timeout: 5 * time.Second}}
	lic, err := good.Licence(ctx, "acme")
	if err != nil || lic.Key != "acme-key-from-the-vendor" || lic.Currency != "EUR" {
		t.Fatalf("acme: %+v %v", lic, err)
	}
	for _, account := range []string{"nobody", "liar"} {
		if _, err := good.Licence(ctx, account); !errors.Is(err, ErrNoLicence) {
			t.Errorf("%s: %v", account, err)
		}
	}
	// Answers are remembered: asking again does not reach the vendor.
	before := asked.Load()
	for _, account := range []string{"acme", "nobody", "nobody"} {
		good.Licence(ctx, account)
	}
	if n := asked.Load() - before; n != 0 {
		t.Errorf("the vendor was asked %d more times", n)
	}
	badKey := &HTTPLicences{URL: vendor.URL, Name: "vox-cloud", Key: []byte("wrong")}
	if _, err := badKey.Licence(ctx, "acme"); err == nil || errors.Is(err, ErrNoLicence) {
		t.Errorf("refused by the vendor: %v (a failure, not an answer)", err)
	}

	// Through the controller: the first use is signed with the vendor's key
	// for the tenant, and makes an EUR account.
	f := newFixture(t)
	f.c.opts.Licences = good
	cl := f.admin.AsTenant("acme", []byte("acme-key-from-the-vendor"), "")
	var creds Credentials
	if err := cl.Do(ctx, "POST", "/credentials", nil, &creds); err != nil || !creds.Created {
		t.Fatalf("first use: %+v %v", creds, err)
	}
	if a, err := f.c.Account(ctx, "acme"); err != nil || a.Currency != "EUR" || a.Master != "master-eur" || a.Country != "DE" {
		t.Errorf("account %+v %v", a, err)
	}
}
