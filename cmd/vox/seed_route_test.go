package main

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/sip"
)

// A tenant's phone that dials a number its account rents reaches the
// number's application (the demo's phones calling 74950000100 hear the
// standard scenario); anything else it dials, another tenant's number
// included, runs the account's phone application.
func TestRoutePhonesToTheirOwnNumbers(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := controller.Open(db, controller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"acme", demoAccount} {
		if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: id, Currency: "RUB", Country: "RU"}); err != nil {
			t.Fatal(err)
		}
	}
	nums := []controller.Number{{Number: "74950000100", Country: "RU", Currency: "RUB"}, {Number: "74950000101", Country: "RU", Currency: "RUB"}, {Number: "74950000102", Country: "RU", Currency: "RUB"}}
	if err := c.AddNumbers(ctx, nums); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ account, number, app string }{{demoAccount, "74950000100", "standard"}, {"acme", "74950000101", "sales"}} {
		if _, err := c.Rent(ctx, r.account, r.number, r.app); err != nil {
			t.Fatal(err)
		}
	}
	r := userRouter{app: demoApp, rented: c}
	cases := []struct {
		name, dialled, app string
	}{
		{"its own number, international", "74950000100", "standard"},
		{"its own number, as dialled in Russia", "8 (495) 000-01-00", "standard"},
		{"another tenant's number", "74950000101", demoApp},
		{"a number nobody rents", "74950000102", demoApp},
		{"an extension", "100", demoApp},
		{"a login", "phone68", demoApp},
	}
	for _, tc := range cases {
		got, err := r.Route(ctx, sip.CallInfo{Account: demoAccount, User: "phone67", Dialled: tc.dialled})
		if err != nil || got.Account != demoAccount || got.App != tc.app {
			t.Errorf("%s: %+v %v, want app %s", tc.name, got, err, tc.app)
		}
	}
}
