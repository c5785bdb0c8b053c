package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/controller/signature"
)

// TestTenantsSeeOnlyTheirOwn asks every endpoint, as bob, about alice's
// things: each answers 404 as if they did not exist (S1), and alice's
// account is unchanged.
func TestTenantsSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	ctx := context.Background()
	alice, bob := f.tenant(t, "alice"), f.tenant(t, "bob")
	if err := f.c.AddNumbers(ctx, []Number{{Number: "74950000001", Country: "RU", Currency: "RUB", MonthlyFee: 100_000_000}}); err != nil {
		t.Fatal(err)
	}
	if err := alice.Do(ctx, "POST", "/accounts/alice/topups", TopUpRequest{Amount: 500_000_000, IdempotencyKey: "pay-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Do(ctx, "POST", "/accounts/alice/numbers", map[string]string{"number": "74950000001"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Do(ctx, "PUT", "/accounts/alice/numbers/74950000001/config", json.RawMessage(`{"greeting":"hi"}`), nil); err != nil {
		t.Fatal(err)
	}
	before := f.state(t, "alice")
	cases := []struct{ method, path, body string }{
		{"GET", "/accounts/alice", ""},
		{"PATCH", "/accounts/alice", `{"limits":{"max_concurrent_calls":99}}`},
		{"POST", "/accounts/alice/keys", `{}`},
		{"GET", "/accounts/alice/balance", ""},
		{"POST", "/accounts/alice/topups", `{"amount":"1","idempotency_key":"x"}`},
		{"GET", "/accounts/alice/ledger", ""},
		{"GET", "/accounts/alice/export", ""},
		{"GET", "/accounts/alice/sipusers", ""},
		{"POST", "/accounts/alice/sipusers", `{"name":"intruder","password":"password1"}`},
		{"POST", "/accounts/alice/sipusers/alice/password", `{}`},
		{"POST", "/accounts/alice/sipusers/alice/disable", ""},
		{"POST", "/accounts/alice/sipusers/alice/enable", ""},
		// bob's own account, alice's SIP user and number
		{"POST", "/accounts/bob/sipusers/alice/password", `{}`},
		{"POST", "/accounts/bob/sipusers/alice/disable", ""},
		{"POST", "/accounts/bob/sipusers/alice/enable", ""},
		{"POST", "/accounts/bob/numbers", `{"number":"74950000001"}`},
		{"DELETE", "/accounts/bob/numbers/74950000001", ""},
		{"PUT", "/accounts/bob/numbers/74950000001/app", `{"app":"x"}`},
		{"GET", "/accounts/bob/numbers/74950000001/config", ""},
		{"PUT", "/accounts/bob/numbers/74950000001/config", `{"a":1}`},
		{"GET", "/accounts/alice/numbers", ""},
		{"DELETE", "/accounts/alice/numbers/74950000001", ""},
		{"PUT", "/accounts/alice/numbers/74950000001/app", `{"app":"x"}`},
		{"GET", "/accounts/alice/numbers/74950000001/config", ""},
		{"PUT", "/accounts/alice/numbers/74950000001/config", `{"a":1}`},
		// the operator's endpoints
		{"POST", "/accounts", `{"id":"mallory","currency":"RUB"}`},
		{"POST", "/import", `{}`},
		{"POST", "/numbers", `{"numbers":[]}`},
		{"PUT", "/tariffs/RUB", `{"tariffs":[]}`},
		{"GET", "/tariffs/USD", ""},
	}
	for _, tc := range cases {
		var body any
		if tc.body != "" {
			body = json.RawMessage(tc.body)
		}
		err := bob.Do(ctx, tc.method, tc.path, body, nil)
		var ae *APIError
		if !asAPIError(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != CodeNotFound {
			t.Errorf("bob %s %s: %v, want 404 not_found", tc.method, tc.path, err)
		}
	}
	var list struct{ Accounts []AccountView }
	if err := bob.Do(ctx, "GET", "/accounts", nil, &list); err != nil || len(list.Accounts) != 1 || list.Accounts[0].ID != "bob" {
		t.Errorf("bob's account list: %+v %v", list, err)
	}
	if after := f.state(t, "alice"); after != before {
		t.Errorf("alice's account changed:\n%s\n%s", before, after)
	}
	// and alice can do what bob could not
	if err := alice.Do(ctx, "GET", "/accounts/alice/numbers/74950000001/config", nil, nil); err != nil {
		t.Errorf("alice reads her number's settings: %v", err)
	}
}

func asAPIError(err error, target **APIError) bool {
	ae, ok := err.(*APIError)
	if ok {
		*target = ae
	}
	return ok
}

// TestRefusedRequestsChangeNothing sends a top-up that is replayed, altered,
// stale, signed with a wrong key, too large, or malformed: each is refused
// with a JSON error and a stable code, and the balance does not move.
func TestRefusedRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme")
	f.tenant(t, "acme")
	key := []byte(f.keys["acme"])
	path := APIPrefix + "/accounts/acme/topups"
	good := `{"amount":"10","idempotency_key":"pay-1"}`
	newReq := func(body string, sign func(*http.Request, []byte)) *http.Request {
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
		req.Header.Set(signature.HeaderAccount, "acme")
		sign(req, []byte(body))
		return req
	}
	signNow := func(req *http.Request, body []byte) { signature.Sign(req, body, key) }
	send := func(req *http.Request) (int, ErrorBody) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb ErrorBody
		data, _ := io.ReadAll(resp.Body)
		json.Unmarshal(data, &eb)
		if resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, eb
	}
	// One good top-up, captured for the replay.
	captured := newReq(good, signNow)
	replay := captured.Clone(context.Background())
	if status, _ := send(captured); status != http.StatusOK {
		t.Fatalf("the good top-up: %d", status)
	}
	replay.Body = io.NopCloser(strings.NewReader(good))
	before := f.state(t, "acme")

	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"replay", func() *http.Request { return replay }, 401, signature.CodeReplayed},
		{"body tampered", func() *http.Request {
			r := newReq(good, signNow)
			r.Body = io.NopCloser(strings.NewReader(`{"amount":"9999","idempotency_key":"pay-2"}`))
			r.ContentLength = -1
			return r
		}, 401, signature.CodeBadSignature},
		{"stale timestamp", func() *http.Request {
			return newReq(`{"amount":"10","idempotency_key":"pay-3"}`, func(r *http.Request, b []byte) {
				signature.SignWith(r, b, key, signature.Options{Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }})
			})
		}, 401, signature.CodeStale},
		{"wrong key", func() *http.Request {
			return newReq(`{"amount":"10","idempotency_key":"pay-4"}`, func(r *http.Request, b []byte) {
				signature.Sign(r, b, []byte("not-the-key-of-acme"))
			})
		}, 401, signature.CodeBadSignature},
		{"oversized body", func() *http.Request {
			return newReq(`{"amount":"10","idempotency_key":"pay-5","note":"`+strings.Repeat("x", 5000)+`"}`, signNow)
		}, 413, signature.CodeTooLarge},
		{"malformed JSON", func() *http.Request { return newReq(`{"amount":"10",`, signNow) }, 400, CodeInvalidRequest},
		{"unknown field", func() *http.Request { return newReq(`{"amount":"10","idempotency_key":"k","bonus":1}`, signNow) }, 400, CodeInvalidRequest},
		{"two values", func() *http.Request { return newReq(`{"amount":"10","idempotency_key":"k"}{}`, signNow) }, 400, CodeInvalidRequest},
		{"bad amount", func() *http.Request { return newReq(`{"amount":"-5","idempotency_key":"k"}`, signNow) }, 422, CodeInvalid},
		{"no idempotency key", func() *http.Request { return newReq(`{"amount":"5"}`, signNow) }, 422, CodeInvalid},
		{"same key, other amount", func() *http.Request { return newReq(`{"amount":"11","idempotency_key":"pay-1"}`, signNow) }, 409, CodeIdempotency},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(good))
			return r
		}, 401, signature.CodeUnsigned},
		{"md5 not enabled", func() *http.Request {
			return newReq(`{"amount":"10","idempotency_key":"pay-6"}`, func(r *http.Request, b []byte) {
				signature.SignWith(r, b, key, signature.Options{Scheme: signature.LegacyMD5})
			})
		}, 401, signature.CodeScheme},
		{"wrong admin token", func() *http.Request {
			r, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(good))
			r.Header.Set("Authorization", "Bearer guess")
			return r
		}, 401, CodeUnauthorized},
	}
	for _, tc := range cases {
		status, eb := send(tc.req())
		if status != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, status, eb, tc.status, tc.code)
		}
	}
	if after := f.state(t, "acme"); after != before {
		t.Errorf("a refused request changed the account:\n%s\n%s", before, after)
	}
	// The same top-up retried with a new signature is accepted and credits nothing more.
	if status, _ := send(newReq(good, signNow)); status != http.StatusOK {
		t.Errorf("a retried top-up: %d", status)
	}
	if after := f.state(t, "acme"); after != before {
		t.Errorf("a retried top-up changed the account:\n%s\n%s", before, after)
	}
}

// TestConcurrentFirstUse: 200 first requests at once for 50 new tenants make
// exactly 50 accounts, each with one SIP user and one placement.
func TestConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	const tenants, perTenant = 50, 4
	var ids []string
	for i := range tenants {
		ids = append(ids, fmt.Sprintf("tenant-%02d", i))
	}
	f := newFixture(t, ids...)
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]int{}
		errs    []error
	)
	start := make(chan struct{})
	for i := range tenants * perTenant {
		id := ids[i%tenants]
		cl := f.admin.AsTenant(id, []byte(f.keys[id]), "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var creds Credentials
			err := cl.Do(ctx, "POST", "/credentials", nil, &creds)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case creds.Created:
				if creds.Password == "" || creds.SIPUser != id {
					errs = append(errs, fmt.Errorf("%s created without credentials: %+v", id, creds))
				}
				created[id]++
			case creds.SIPUser != id || creds.Password != "":
				errs = append(errs, fmt.Errorf("%s again: %+v", id, creds))
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	list, _, err := f.c.Accounts(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	tenantsFound := 0
	for _, a := range list {
		if !a.IsMaster {
			tenantsFound++
			users, _ := f.c.SIPUsers(ctx, a.ID)
			if len(users) != 1 || created[a.ID] != 1 {
				t.Errorf("%s: %d SIP users, created %d times", a.ID, len(users), created[a.ID])
			}
		}
	}
	if tenantsFound != tenants || len(list) != tenants+len(DefaultCurrencies) {
		t.Errorf("%d tenants (%d accounts), want %d", tenantsFound, len(list), tenants)
	}
	if n := len(f.placed); n != tenants*perTenant {
		t.Errorf("%d placements, want one per request (%d)", n, tenants*perTenant)
	}
}

func TestFirstUseNeedsALicence(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "licensed")
	ctx := context.Background()
	err := f.admin.AsTenant("pirate", []byte("key-of-pirate-0123456789"), "").Do(ctx, "POST", "/credentials", nil, nil)
	if apiCode(err) != signature.CodeBadSignature {
		t.Errorf("an unlicensed tenant: %v", err)
	}
	// The licence's key is the one that signs.
	err = f.admin.AsTenant("licensed", []byte("key-of-pirate-0123456789"), "").Do(ctx, "POST", "/credentials", nil, nil)
	if apiCode(err) != signature.CodeBadSignature {
		t.Errorf("a licensed tenant, wrong key: %v", err)
	}
	if list, _, _ := f.c.Accounts(ctx, "", 100); len(list) != len(DefaultCurrencies) {
		t.Errorf("%d accounts after refused first uses", len(list))
	}
	// The operator may not conjure one either.
	if err := f.admin.Do(ctx, "POST", "/credentials", map[string]string{"account": "pirate"}, nil); apiCode(err) != CodeNoLicence {
		t.Errorf("operator's first use without a licence: %v", err)
	}
}

// An account the operator made gets its first SIP user at its first use,
// once.
func TestFirstUseOfAnOperatorsAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.CreateAccount(ctx, NewAccount{ID: "made", Currency: "USD", Key: "made-by-the-operator-01"}); err != nil {
		t.Fatal(err)
	}
	cl := f.admin.AsTenant("made", []byte("made-by-the-operator-01"), "")
	var first, again Credentials
	if err := cl.Do(ctx, "POST", "/credentials", nil, &first); err != nil || first.Created || first.SIPUser != "made" || first.Password == "" {
		t.Fatalf("first use: %+v %v", first, err)
	}
	if err := cl.Do(ctx, "POST", "/credentials", nil, &again); err != nil || again.SIPUser != "made" || again.Password != "" {
		t.Fatalf("again: %+v %v", again, err)
	}
	if users, _ := f.c.SIPUsers(ctx, "made"); len(users) != 1 {
		t.Errorf("%d SIP users", len(users))
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme")
	ctx := context.Background()
	old := f.tenant(t, "acme")
	var rotated struct{ Key string }
	if err := old.Do(ctx, "POST", "/accounts/acme/keys", nil, &rotated); err != nil || len(rotated.Key) < 16 {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	cur := f.admin.AsTenant("acme", []byte(rotated.Key), "")
	for name, cl := range map[string]*Client{"previous": old, "current": cur} {
		if err := cl.Do(ctx, "GET", "/accounts/acme/balance", nil, nil); err != nil {
			t.Errorf("%s key during the rotation: %v", name, err)
		}
	}
	if err := cur.Do(ctx, "POST", "/accounts/acme/keys", nil, &rotated); err != nil {
		t.Fatal(err)
	}
	if err := old.Do(ctx, "GET", "/accounts/acme/balance", nil, nil); apiCode(err) != signature.CodeBadSignature {
		t.Errorf("the key of two rotations ago: %v", err)
	}
}

func TestLegacyMD5PerTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var made struct{ Key string }
	if err := f.admin.Do(ctx, "POST", "/accounts", NewAccount{ID: "oldportal", Currency: "RUB"}, &made); err != nil {
		t.Fatal(err)
	}
	md5 := f.admin.AsTenant("oldportal", []byte(made.Key), signature.LegacyMD5)
	if err := md5.Do(ctx, "GET", "/accounts/oldportal", nil, nil); apiCode(err) != signature.CodeScheme {
		t.Fatalf("md5 before it is switched on: %v", err)
	}
	on := true
	if err := f.admin.Do(ctx, "PATCH", "/accounts/oldportal", AccountChange{LegacyMD5: &on}, nil); err != nil {
		t.Fatal(err)
	}
	if err := md5.Do(ctx, "GET", "/accounts/oldportal", nil, nil); err != nil {
		t.Errorf("md5 once switched on: %v", err)
	}
	// A tenant cannot switch itself to the weaker scheme.
	err := md5.Do(ctx, "PATCH", "/accounts/oldportal", json.RawMessage(`{"legacy_md5":true}`), nil)
	if apiCode(err) != CodeInvalid {
		t.Errorf("tenant switching md5: %v", err)
	}
}

func TestMasterAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	ctx := context.Background()
	f.tenant(t, "alice")
	f.tenant(t, "bob")
	f.c.TopUp(ctx, "alice", 5_000_000, "topup:1", "")
	f.c.TopUp(ctx, "bob", 7_000_000, "topup:1", "")
	f.c.CreateAccount(ctx, NewAccount{ID: "carol", Currency: "USD"})
	var m MasterSummary
	if err := f.admin.Do(ctx, "GET", "/accounts/master-rub", nil, &m); err != nil || m.Children != 2 || m.Balance != 12_000_000 || !m.IsMaster {
		t.Errorf("master-rub: %+v %v", m, err)
	}
	if err := f.admin.Do(ctx, "GET", "/accounts/master-usd", nil, &m); err != nil || m.Children != 1 || m.Balance != 0 {
		t.Errorf("master-usd: %+v %v", m, err)
	}
	// A tenant does not see its master.
	if err := f.admin.AsTenant("alice", []byte(f.keys["alice"]), "").Do(ctx, "GET", "/accounts/master-rub", nil, nil); apiCode(err) != CodeNotFound {
		t.Errorf("a tenant asking for its master: %v", err)
	}
}

func TestOperatorBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, _ := http.NewRequest("POST", f.srv.URL+APIPrefix+"/import", bytes.NewReader(make([]byte, maxAdminBody+1)))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d", resp.StatusCode)
	}
}
