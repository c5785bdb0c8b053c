package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller"
	"vox/scenarios"
	"vox/scenarios/standard"
	"vox/sip"
)

// vox serve's telephony controller (issue 8): the tenants, their SIP users,
// numbers and balances live in the controller's buckets of DATA/vox.db; the
// portal's licences in DATA/licences.json.
const licencesFile = "licences.json"

// licencesDoc is DATA/licences.json: the licences of the embedded default,
// and where a real portal vendor answers for the others.
type licencesDoc struct {
	// Licences are checked first: the first start writes the demo portal's
	// licence for the demo tenant here.
	Licences []controller.Licence `json:"licences"`
	// Vendor, when set, is asked about tenants not listed (S4).
	Vendor *vendorDoc `json:"vendor,omitempty"`
}

type vendorDoc struct {
	URL  string `json:"url"`
	Name string `json:"name"` // the X-Vox-Account of our requests to it
	Key  string `json:"key"`  // what we sign them with
}

// licences reads DATA/licences.json, writing it with a demo licence for the
// demo tenant at the first start; created says it was written now.
func licences(dir string) (controller.LicenceVerifier, []controller.Licence, bool, error) {
	path := filepath.Join(dir, licencesFile)
	data, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		doc := licencesDoc{Licences: []controller.Licence{{Account: demoAccount, Key: rand.Text(), Currency: "RUB", Country: "RU"}}}
		data, _ = json.MarshalIndent(doc, "", "  ")
		data = append(data, '\n')
		err, created = writeNew(path, data), true
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("licences: %w", err)
	}
	var doc licencesDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, false, fmt.Errorf("licences: %s: %w", path, err)
	}
	static := controller.StaticLicences(doc.Licences)
	if doc.Vendor == nil {
		return static, doc.Licences, created, nil
	}
	vendor := &controller.HTTPLicences{URL: doc.Vendor.URL, Name: doc.Vendor.Name, Key: []byte(doc.Vendor.Key)}
	return chainedLicences{static, vendor}, doc.Licences, created, nil
}

// chainedLicences asks each verifier in turn until one knows the tenant.
type chainedLicences []controller.LicenceVerifier

func (c chainedLicences) Licence(ctx context.Context, account string) (controller.Licence, error) {
	var err error
	for _, v := range c {
		var lic controller.Licence
		if lic, err = v.Licence(ctx, account); !errors.Is(err, controller.ErrNoLicence) {
			return lic, err
		}
	}
	return controller.Licence{}, err
}

// writeNew writes a file that must not exist, readable by its owner only.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// userRevoker tells the registrar of a changed SIP user once SIP runs.
type userRevoker struct{ reg atomic.Pointer[sip.Registrar] }

func (u *userRevoker) changed(name string) {
	if r := u.reg.Load(); r != nil {
		r.Revoke(sipRealm, name)
	}
}

// openController opens the controller's buckets with the data directory's
// licences, and at the first start makes the demo tenant (the demo
// licence's account), its tariffs and a welcome balance. sections are more
// parts of an account's export (the call history).
func openController(cfg serveConfig, db *bolt.DB, store *scenarios.Store, revoker *userRevoker, sections ...controller.Section) (*controller.Controller, error) {
	verifier, listed, created, err := licences(cfg.Data)
	if err != nil {
		return nil, err
	}
	c, err := controller.Open(db, controller.Options{
		Licences: verifier,
		Rollouts: rollouts{store: store, log: cfg.Log},
		HA1: func(name, password string) (string, string) {
			return sip.HA1(sip.MD5, name, sipRealm, password), sip.HA1(sip.SHA256, name, sipRealm, password)
		},
		UserChanged: revoker.changed,
		Sections:    append([]controller.Section{scenarioSection{store}}, sections...),
	})
	if err != nil {
		return nil, err
	}
	if err := seedDemoTenant(c, listed, cfg.Log); err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(cfg.Out, "vox: the demo portal's licence key for tenant %q is %s\nvox: it is kept in %s; sign requests with it (see the README)\n",
			demoAccount, listed[0].Key, filepath.Join(cfg.Data, licencesFile))
	}
	return c, nil
}

// demoTariffs are the RUB tariffs of the embedded default: calls within
// Russia by the minute, Moscow by the second, the rest of the world dear.
var demoTariffs = []controller.Tariff{
	{Prefix: "7", Name: "Russia", PerMinute: 1_500_000, Increment: 60},
	{Prefix: "7495", Name: "Moscow", PerMinute: 900_000, Increment: 1},
	{Prefix: "", Name: "World", PerMinute: 25_000_000, Increment: 60, ConnectionFee: 1_000_000},
}

// demoNumbers are the embedded default's inventory, to rent from.
var demoNumbers = []controller.Number{
	{Number: "74950000100", Country: "RU", Currency: "RUB", MonthlyFee: 300_000_000},
	{Number: "74950000101", Country: "RU", Currency: "RUB", MonthlyFee: 300_000_000},
	{Number: "78120000100", Country: "RU", Currency: "RUB", MonthlyFee: 200_000_000},
}

// seedDemoTenant makes the demo tenant from its licence when it is missing,
// with a welcome balance; and RUB tariffs and numbers when there are none,
// one of which it rents to the demo tenant.
func seedDemoTenant(c *controller.Controller, listed []controller.Licence, log *slog.Logger) error {
	ctx := context.Background()
	if _, err := c.Account(ctx, demoAccount); errors.Is(err, controller.ErrNotFound) {
		for _, lic := range listed {
			if lic.Account != demoAccount {
				continue
			}
			if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: demoAccount, Currency: lic.Currency, Country: lic.Country, Key: lic.Key}); err != nil {
				return fmt.Errorf("demo tenant: %w", err)
			}
			if _, err := c.TopUp(ctx, demoAccount, 1000*1_000_000, "topup:demo-welcome", "welcome balance of the demo"); err != nil {
				return fmt.Errorf("demo tenant: %w", err)
			}
			log.Info("made the demo tenant", "account", demoAccount)
		}
	} else if err != nil {
		return err
	}
	if t, err := c.Tariffs(ctx, "RUB"); err == nil && len(t) == 0 {
		if err := c.SetTariffs(ctx, "RUB", demoTariffs); err != nil {
			return fmt.Errorf("demo tariffs: %w", err)
		}
		if err := c.AddNumbers(ctx, demoNumbers); err != nil && !errors.Is(err, controller.ErrConflict) {
			return fmt.Errorf("demo numbers: %w", err)
		}
		return rentDemoNumber(ctx, c)
	}
	return nil
}

// demoNumber is rented to the demo tenant at the first start, with the
// standard scenario's demo settings: a trunk's call to it runs the
// standard scenario for the demo tenant.
const demoNumber = "74950000100"

func rentDemoNumber(ctx context.Context, c *controller.Controller) error {
	_, err := c.Rent(ctx, demoAccount, demoNumber, standard.App)
	if errors.Is(err, controller.ErrNotFound) {
		return nil // no demo tenant, or the number is someone else's
	}
	if err == nil {
		err = c.SetNumberConfig(ctx, demoAccount, demoNumber, standard.DemoSettings)
	}
	if err != nil {
		return fmt.Errorf("demo number: %w", err)
	}
	return nil
}

// rollouts places accounts on the default application's release (S11).
type rollouts struct {
	store *scenarios.Store
	log   *slog.Logger
}

func (r rollouts) Place(ctx context.Context, account, trigger string) error {
	_, _, err := r.store.Resolve(ctx, account, demoApp, trigger)
	if errors.Is(err, scenarios.ErrNotFound) {
		// No application to place it on yet: the first call will.
		r.log.Debug("no default application to place the account on", "account", account, "app", demoApp)
		return nil
	}
	return err
}

// scenarioSection exports an account's pins: which release of each
// application it is held on. Rules and releases are the applications', not
// the account's: they move with vox scenario push.
type scenarioSection struct{ store *scenarios.Store }

type exportedPin struct {
	App     string `json:"app"`
	Release int    `json:"release"`
}

func (scenarioSection) Name() string { return "scenarios" }

func (s scenarioSection) Export(ctx context.Context, account string) (json.RawMessage, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	pins := []exportedPin{}
	for _, a := range apps {
		ro, err := s.store.Rollout(ctx, a.Name)
		if err != nil {
			continue // an application with no release yet pins nobody
		}
		if n, ok := ro.Policy.Pins[account]; ok {
			pins = append(pins, exportedPin{App: a.Name, Release: n})
		}
	}
	return json.Marshal(map[string]any{"pins": pins})
}

func (s scenarioSection) Import(ctx context.Context, account string, data json.RawMessage) error {
	var doc struct {
		Pins []exportedPin `json:"pins"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	for _, p := range doc.Pins {
		if _, err := s.store.Pin(ctx, account, p.App, p.Release); err != nil {
			return fmt.Errorf("pin %s to %s@%d: %w", account, p.App, p.Release, err)
		}
	}
	return nil
}

// controllerDirectory is the registrar's sip.Directory over the controller's
// SIP users (S7): a change is seen on the user's next request.
type controllerDirectory struct{ c *controller.Controller }

func (d controllerDirectory) User(ctx context.Context, realm, name string) (sip.User, error) {
	if realm != sipRealm {
		return sip.User{}, fmt.Errorf("%s in realm %q: %w", name, realm, sip.ErrUnknownUser)
	}
	u, err := d.c.SIPUser(ctx, name)
	if errors.Is(err, controller.ErrNotFound) {
		return sip.User{}, fmt.Errorf("%s: %w", name, sip.ErrUnknownUser)
	}
	if err != nil {
		return sip.User{}, err
	}
	return sip.User{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256, Disabled: u.Disabled}, nil
}

// feesEvery is how often rented numbers' monthly fees are looked at: each
// is charged once a month, whenever the first look of the month comes.
const feesEvery = time.Hour

// chargeFees charges the monthly fees of rented numbers now and every
// feesEvery until ctx ends.
func chargeFees(ctx context.Context, c *controller.Controller, log *slog.Logger) {
	t := time.NewTicker(feesEvery)
	defer t.Stop()
	for {
		if n, err := c.ChargeMonthlyFees(ctx); err != nil && ctx.Err() == nil {
			log.Error("controller: monthly fees of numbers", "charged", n, "err", err)
		} else if n > 0 {
			log.Info("controller: charged the monthly fees of numbers", "numbers", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
