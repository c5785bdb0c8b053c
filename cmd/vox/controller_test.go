package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/sip"
)

// A call through a trunk to a number rented from the controller goes to the
// renter's application whichever trunk brought it (S8); a number of the
// trunks file still goes to its account through that account's trunks only.
func TestRouteRentedNumbers(t *testing.T) {
	t.Parallel()
	c := openTestController(t)
	ctx := context.Background()
	for _, id := range []string{"acme", demoAccount} {
		if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: id, Currency: "RUB"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddNumbers(ctx, []controller.Number{{Number: "74950000100", Country: "RU", Currency: "RUB"}, {Number: "74950000101", Country: "RU", Currency: "RUB"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rent(ctx, "acme", "74950000100", "sales"); err != nil {
		t.Fatal(err)
	}
	r := userRouter{app: demoApp, countries: map[string]string{demoAccount: "RU"}, rented: c,
		numbers: map[string]numberRoute{"74951234567": {Account: demoAccount, App: demoApp}}}
	cases := []struct {
		name, trunkAccount, dialled string
		want                        sip.Route
		noRoute                     bool
	}{
		{name: "rented, through the demo's trunk", trunkAccount: demoAccount, dialled: "8 (495) 000-01-00", want: sip.Route{Account: "acme", App: "sales"}},
		{name: "rented, through acme's trunk", trunkAccount: "acme", dialled: "+74950000100", want: sip.Route{Account: "acme", App: "sales"}},
		{name: "in the inventory, not rented", trunkAccount: demoAccount, dialled: "74950000101", noRoute: true},
		{name: "the trunks file's", trunkAccount: demoAccount, dialled: "84951234567", want: sip.Route{Account: demoAccount, App: demoApp}},
		{name: "the trunks file's, through another account's trunk", trunkAccount: "acme", dialled: "74951234567", noRoute: true},
		{name: "not a number", trunkAccount: demoAccount, dialled: "reception", noRoute: true},
	}
	for _, tc := range cases {
		got, err := r.Route(ctx, sip.CallInfo{Trunk: "t", Account: tc.trunkAccount, Dialled: tc.dialled})
		if tc.noRoute {
			if !errors.Is(err, sip.ErrNoRoute) {
				t.Errorf("%s: %+v %v, want no route", tc.name, got, err)
			}
			continue
		}
		if err != nil || got.Account != tc.want.Account || got.App != tc.want.App || got.Numbers.Country != "RU" {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

// S8 end to end: a carrier's call through the demo's trunk to a number a
// tenant rented from the controller starts a session of that tenant, whose
// log lands in its own directory.
func TestTrunkCallToARentedNumber(t *testing.T) {
	s := startTrunkServer(t, trunksDoc{
		Trunks: []trunkDoc{{Name: "carrier", Account: demoAccount, Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}}},
	}, "127.0.0.1:0")
	ctx := context.Background()
	if _, err := s.ctrl.CreateAccount(ctx, controller.NewAccount{ID: "acme", Currency: "RUB"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ctrl.TopUp(ctx, "acme", 500_000_000, "topup:1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ctrl.Rent(ctx, "acme", "74950000101", demoApp); err != nil {
		t.Fatal(err)
	}
	s.provider(t, "trunk_in.xml", "84950000101")
	var last string
	for range 300 {
		files, _ := filepath.Glob(filepath.Join(s.data, logsDir, "acme", "*.log"))
		if len(files) == 1 {
			data, _ := os.ReadFile(files[0])
			if last = string(data); strings.Contains(last, "alerting 74950000101 from 74950000001 on a trunk") && strings.Contains(last, "answered the trunk's call") {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(last, "answered the trunk's call") {
		t.Fatalf("no session of acme answered the call; its log:\n%s", last)
	}
	if files := s.sessionLogs(t); len(files) != 0 {
		t.Errorf("the demo account, whose trunk brought the call, got sessions: %v", files)
	}
}

// openTestController is a controller on a bbolt file of its own, closed
// when the test ends.
func openTestController(t *testing.T) *controller.Controller {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := controller.Open(db, controller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
