package controller

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTariffCost(t *testing.T) {
	t.Parallel()
	perMinute := Tariff{PerMinute: 1_500_000, Increment: 60}
	perSecond := Tariff{PerMinute: 600_000, Increment: 1, ConnectionFee: 100_000}
	cases := []struct {
		name string
		t    Tariff
		d    time.Duration
		want Amount
	}{
		{"unanswered", perMinute, 0, 0},
		{"one second bills a minute", perMinute, time.Second, 1_500_000},
		{"61 seconds bill two", perMinute, 61 * time.Second, 3_000_000},
		{"per second with a fee", perSecond, 30 * time.Second, 100_000 + 30*10_000},
		{"a part of a second is a second", perSecond, 1500 * time.Millisecond, 100_000 + 2*10_000},
	}
	for _, tc := range cases {
		if got := tc.t.cost(tc.d); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestAuthorizeAndCharge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme")
	ctx := context.Background()
	f.tenant(t, "acme")
	if _, err := f.c.Authorize(ctx, "c0", "acme", "74951112233"); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("no money: %v", err)
	}
	if _, err := f.c.TopUp(ctx, "acme", 10_000_000, "topup:1", ""); err != nil {
		t.Fatal(err)
	}
	// 10.00 at 0.01/s after a 0.10 fee: 990 seconds, capped by nothing else.
	g, err := f.c.Authorize(ctx, "c1", "acme", "74951112233")
	if err != nil || g.MaxDuration != 990*time.Second || g.Tariff.Name != "Moscow" {
		t.Fatalf("grant %+v %v", g, err)
	}
	// The first call holds its maximum: nothing is left for a second.
	if _, err := f.c.Authorize(ctx, "c2", "acme", "78121112233"); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("second call on a reserved balance: %v", err)
	}
	e, err := f.c.Charge(ctx, "c1", "acme", "74951112233", 100*time.Second)
	if err != nil || e.Amount != -1_100_000 || e.Balance != 8_900_000 {
		t.Fatalf("charge %+v %v", e, err)
	}
	// Delivered again: the same entry, no second debit.
	again, err := f.c.Charge(ctx, "c1", "acme", "74951112233", 100*time.Second)
	if err != nil || again.Seq != e.Seq {
		t.Errorf("charge again: %+v %v", again, err)
	}
	if b, _ := f.c.Balance(ctx, "acme"); b.Balance != 8_900_000 {
		t.Errorf("balance %s", b.Balance)
	}
	// Per-minute Russia: 8.90 buys 5 minutes at 1.50.
	g, err = f.c.Authorize(ctx, "c2", "acme", "78121112233")
	if err != nil || g.MaxDuration != 5*time.Minute {
		t.Errorf("second grant %+v %v", g, err)
	}
	f.c.Release("c2")
	if _, err := f.c.Authorize(ctx, "c3", "acme", "15551234567"); !errors.Is(err, ErrNoTariff) {
		t.Errorf("no tariff: %v", err)
	}
	// Toll fraud limits.
	if _, err := f.c.ChangeAccount(ctx, "acme", AccountChange{Limits: &Limits{MaxConcurrentCalls: 1, MaxCostPerCall: 3_000_000, AllowedPrefixes: []string{"7"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Authorize(ctx, "c4", "acme", "442071234567"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("UK not allowed: %v", err)
	}
	g, err = f.c.Authorize(ctx, "c5", "acme", "78121112233")
	if err != nil || g.MaxDuration != 2*time.Minute {
		t.Errorf("cost cap 3.00 at 1.50/min: %+v %v", g, err)
	}
	if _, err := f.c.Authorize(ctx, "c6", "acme", "78121112233"); !errors.Is(err, ErrTooManyCalls) {
		t.Errorf("second concurrent call: %v", err)
	}
	if _, err := f.c.Charge(ctx, "c5", "acme", "78121112233", 0); err != nil {
		t.Errorf("unanswered: %v", err)
	}
	if _, err := f.c.Authorize(ctx, "c6", "acme", "78121112233"); err != nil {
		t.Errorf("after the first ended: %v", err)
	}
	if cost, err := f.c.Cost(ctx, "acme", "78121112233", 90*time.Second); err != nil || cost != 3_000_000 {
		t.Errorf("cost %s %v", cost, err)
	}
	// The ledger sums to the balance.
	checkLedgerSum(t, f.c, "acme")
}

func checkLedgerSum(t *testing.T, c *Controller, account string) {
	t.Helper()
	ctx := context.Background()
	entries, _, err := c.Ledger(ctx, account, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var sum Amount
	for _, e := range entries {
		sum += e.Amount
		if e.Balance != sum {
			t.Errorf("entry %d says balance %s, the sum is %s", e.Seq, e.Balance, sum)
		}
	}
	if b, _ := c.Balance(ctx, account); b.Balance != sum {
		t.Errorf("balance %s, ledger sum %s", b.Balance, sum)
	}
}

func TestNumbers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme")
	ctx := context.Background()
	f.tenant(t, "acme")
	if err := f.c.AddNumbers(ctx, []Number{
		{Number: "74950000001", Country: "RU", Currency: "RUB", MonthlyFee: 300_000_000},
		{Number: "12125550000", Country: "US", Currency: "USD", MonthlyFee: 1_000_000},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.AddNumbers(ctx, []Number{{Number: "+7495", Country: "RU", Currency: "RUB"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a malformed number: %v", err)
	}
	if _, err := f.c.Rent(ctx, "acme", "74950000001", ""); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("rent without the fee: %v", err)
	}
	if _, err := f.c.Rent(ctx, "acme", "12125550000", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("rent in another currency: %v", err)
	}
	f.c.TopUp(ctx, "acme", 500_000_000, "topup:1", "")
	n, err := f.c.Rent(ctx, "acme", "74950000001", "sales")
	if err != nil || n.Account != "acme" || n.App != "sales" {
		t.Fatalf("rent: %+v %v", n, err)
	}
	if charged, err := f.c.ChargeMonthlyFees(ctx); err != nil || charged != 0 {
		t.Errorf("this month's fee again: %d %v", charged, err)
	}
	if b, _ := f.c.Balance(ctx, "acme"); b.Balance != 200_000_000 {
		t.Errorf("balance after the fee %s", b.Balance)
	}
	if r, err := f.c.RouteNumber(ctx, "74950000001"); err != nil || r.Account != "acme" || r.App != "sales" {
		t.Errorf("route %+v %v", r, err)
	}
	if _, err := f.c.NumberConfig(ctx, "acme", "74950000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no settings yet: %v", err)
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `null`, `{"a":`} {
		if err := f.c.SetNumberConfig(ctx, "acme", "74950000001", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("settings %s: %v", bad, err)
		}
	}
	if err := f.c.SetNumberConfig(ctx, "acme", "74950000001", []byte(`{"night":{"from":"20:00"}}`)); err != nil {
		t.Fatal(err)
	}
	if cfg, err := f.c.NumberConfig(ctx, "acme", "74950000001"); err != nil || string(cfg) != `{"night":{"from":"20:00"}}` {
		t.Errorf("settings %s %v", cfg, err)
	}
	if mine, err := f.c.AccountNumbers(ctx, "acme"); err != nil || len(mine) != 1 || mine[0].Number != "74950000001" {
		t.Errorf("acme's numbers: %+v %v", mine, err)
	}
	if err := f.c.ReleaseNumber(ctx, "acme", "74950000001"); err != nil {
		t.Fatal(err)
	}
	if mine, err := f.c.AccountNumbers(ctx, "acme"); err != nil || len(mine) != 0 {
		t.Errorf("acme's numbers after the release: %+v %v", mine, err)
	}
	if _, err := f.c.RouteNumber(ctx, "74950000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a released number routes: %v", err)
	}
	if free, _ := f.c.AvailableNumbers(ctx, "RU", "RUB"); len(free) != 1 {
		t.Errorf("free numbers %+v", free)
	}
	checkLedgerSum(t, f.c, "acme")
}

func TestSIPUsers(t *testing.T) {
	t.Parallel()
	changed := make(chan string, 10)
	f := newFixture(t, "acme", "other")
	f.c.opts.UserChanged = func(name string) { changed <- name }
	ctx := context.Background()
	f.tenant(t, "acme")
	f.tenant(t, "other")
	u, password, err := f.c.CreateSIPUser(ctx, "acme", "desk1", "")
	if err != nil || len(password) < 8 {
		t.Fatal(u, err)
	}
	md5, _ := testHA1("desk1", password)
	if got, _ := f.c.SIPUser(ctx, "desk1"); got.HA1MD5 != md5 || got.Account != "acme" {
		t.Errorf("stored %+v", got)
	}
	if _, _, err := f.c.CreateSIPUser(ctx, "other", "desk1", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("a taken login: %v", err)
	}
	if _, _, err := f.c.SetSIPPassword(ctx, "other", "desk1", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's user: %v", err)
	}
	if _, err := f.c.SetSIPDisabled(ctx, "acme", "desk1", true); err != nil {
		t.Fatal(err)
	}
	if got := <-changed; got != "desk1" {
		t.Errorf("registrar told of %q", got)
	}
	if got, _ := f.c.SIPUser(ctx, "desk1"); !got.Disabled {
		t.Errorf("not disabled: %+v", got)
	}
	_, p2, err := f.c.SetSIPPassword(ctx, "acme", "desk1", "")
	md5b, _ := testHA1("desk1", p2)
	if got, _ := f.c.SIPUser(ctx, "desk1"); err != nil || got.HA1MD5 != md5b || p2 == password {
		t.Errorf("password change: %+v %v", got, err)
	}
	if got := <-changed; got != "desk1" {
		t.Errorf("registrar told of %q", got)
	}
}

func TestExportImport(t *testing.T) {
	t.Parallel()
	from, to := newFixture(t, "acme"), newFixture(t)
	ctx := context.Background()
	from.tenant(t, "acme")
	from.c.AddNumbers(ctx, []Number{{Number: "74950000001", Country: "RU", Currency: "RUB", MonthlyFee: 1_000_000}})
	from.c.TopUp(ctx, "acme", 50_000_000, "topup:a", "")
	from.c.Rent(ctx, "acme", "74950000001", "sales")
	from.c.SetNumberConfig(ctx, "acme", "74950000001", []byte(`{"k":1}`))
	from.c.Authorize(ctx, "call-1", "acme", "74951234567")
	from.c.Charge(ctx, "call-1", "acme", "74951234567", 42*time.Second)
	var doc Export
	if err := from.admin.Do(ctx, "GET", "/accounts/acme/export", nil, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Sections["history"] = []byte(`[{"call":"call-1"}]`)
	var res ImportResult
	if err := to.admin.Do(ctx, "POST", "/import", doc, &res); err != nil {
		t.Fatal(err)
	}
	want, _ := from.c.Balance(ctx, "acme")
	if res.Balance != want.Balance || res.SIPUsers != 1 || res.Numbers != 1 || res.Entries != 3 || len(res.Skipped) != 1 {
		t.Errorf("import %+v, balance want %s", res, want.Balance)
	}
	// The moved account signs with the same key, and a charge re-delivered
	// after the move is recognised.
	cl := to.admin.AsTenant("acme", []byte(from.keys["acme"]), "")
	var b Balance
	if err := cl.Do(ctx, "GET", "/accounts/acme/balance", nil, &b); err != nil || b.Balance != want.Balance {
		t.Errorf("balance there %+v %v", b, err)
	}
	if _, err := to.c.Charge(ctx, "call-1", "acme", "74951234567", 42*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, _ := to.c.Balance(ctx, "acme"); b.Balance != want.Balance {
		t.Errorf("a re-delivered charge after the move: %s", b.Balance)
	}
	if cfg, err := to.c.NumberConfig(ctx, "acme", "74950000001"); err != nil || string(cfg) != `{"k":1}` {
		t.Errorf("number settings %s %v", cfg, err)
	}
	checkLedgerSum(t, to.c, "acme")
	// Twice is refused, and changes nothing.
	before := to.state(t, "acme")
	if err := to.admin.Do(ctx, "POST", "/import", doc, nil); apiCode(err) != CodeConflict {
		t.Errorf("import twice: %v", err)
	}
	if to.state(t, "acme") != before {
		t.Error("a refused import changed the account")
	}
	doc.Version = 99
	if err := to.admin.Do(ctx, "POST", "/import", doc, nil); apiCode(err) != CodeInvalid {
		t.Errorf("a future version: %v", err)
	}
}

// A rented number's fee is charged once per month, however often the fees
// are looked at.
func TestMonthlyFees(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	f.c.opts.Now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := f.c.CreateAccount(ctx, NewAccount{ID: "acme", Currency: "RUB"}); err != nil {
		t.Fatal(err)
	}
	f.c.TopUp(ctx, "acme", 1000_000_000, "topup:1", "")
	f.c.AddNumbers(ctx, []Number{{Number: "74950000001", Country: "RU", Currency: "RUB", MonthlyFee: 300_000_000}})
	if _, err := f.c.Rent(ctx, "acme", "74950000001", ""); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at      time.Time
		charged int
	}{
		{now, 0},
		{time.Date(2026, 2, 1, 0, 30, 0, 0, time.UTC), 1},
		{time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
	} {
		now = step.at
		if n, err := f.c.ChargeMonthlyFees(ctx); err != nil || n != step.charged {
			t.Errorf("%s: charged %d %v, want %d", step.at, n, err, step.charged)
		}
	}
	if b, _ := f.c.Balance(ctx, "acme"); b.Balance != 100_000_000 {
		t.Errorf("balance after three months' fees: %s", b.Balance)
	}
	checkLedgerSum(t, f.c, "acme")
}
