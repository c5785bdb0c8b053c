package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vox/controller"
	"vox/numbers"
	"vox/sip"
)

// Until the controller keeps trunks and numbers per tenant, vox serve reads
// them from DATA/trunks.json at start (the README shows the format): the
// accounts' SIP trunks (S2), and which account and application a number
// called through a trunk goes to (S8). The file holds the providers'
// passwords: keep it to its owner (0600).
const trunksFile = "trunks.json"

type trunksDoc struct {
	Trunks []trunkDoc `json:"trunks"`
	// Numbers maps a number, in any form the account's people write it,
	// to where its calls go.
	Numbers map[string]numberRoute `json:"numbers"`
}

type trunkDoc struct {
	Name      string `json:"name"`
	Account   string `json:"account"`
	Address   string `json:"address"`
	Transport string `json:"transport,omitempty"`
	Domain    string `json:"domain,omitempty"`
	// SRTP: calls out offer RTP/SAVP with a=crypto.
	SRTP bool `json:"srtp,omitempty"`
	// AllowFrom are addresses or CIDR prefixes.
	AllowFrom       []string `json:"allow_from,omitempty"`
	InboundUser     string   `json:"inbound_user,omitempty"`
	InboundPassword string   `json:"inbound_password,omitempty"`
	User            string   `json:"user,omitempty"`
	Password        string   `json:"password,omitempty"`
	Register        bool     `json:"register,omitempty"`
	// RegisterExpires is in seconds.
	RegisterExpires int    `json:"register_expires,omitempty"`
	CallerID        string `json:"caller_id,omitempty"`
	// DialFormat is numbers.ParseDialFormat's form:
	// "country=KZ domestic=national international-prefix=810".
	DialFormat string `json:"dial_format,omitempty"`
}

// numberRoute is where calls to a number go.
type numberRoute struct {
	Account string `json:"account"`
	App     string `json:"app"`
}

// fileTrunks are the trunks and numbers of DATA/trunks.json; they are a
// sip.Trunks.
type fileTrunks struct {
	trunks  []sip.Trunk
	numbers map[string]numberRoute // by international digits
}

// openTrunks reads dir's trunks file; no file means no trunks. countries
// are the accounts' dialling countries, which read the numbers.
func openTrunks(dir string, countries map[string]string, log *slog.Logger) (*fileTrunks, error) {
	path := filepath.Join(dir, trunksFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &fileTrunks{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trunks: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		log.Warn("the trunks file holds passwords and others may read it; chmod 600 it", "file", path)
	}
	var doc trunksDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("trunks: %s: %w", path, err)
	}
	ft := &fileTrunks{numbers: make(map[string]numberRoute, len(doc.Numbers))}
	for _, d := range doc.Trunks {
		t, err := d.trunk(countries)
		if err != nil {
			return nil, fmt.Errorf("trunks: %s: %w", path, err)
		}
		if slices.ContainsFunc(ft.trunks, func(o sip.Trunk) bool { return o.Name == t.Name }) {
			return nil, fmt.Errorf("trunks: %s: two trunks are called %q", path, t.Name)
		}
		ft.trunks = append(ft.trunks, t)
	}
	for typed, r := range doc.Numbers {
		if !accountName.MatchString(r.Account) || r.App == "" {
			return nil, fmt.Errorf("trunks: %s: number %q needs an account and an app", path, typed)
		}
		n, err := numbers.Parse(typed, numbers.Preference{Country: countries[r.Account]})
		if err != nil || n.Kind != numbers.International {
			return nil, fmt.Errorf("trunks: %s: %q is not a phone number", path, typed)
		}
		if _, dup := ft.numbers[n.Value]; dup {
			return nil, fmt.Errorf("trunks: %s: number %s is given twice", path, n.Value)
		}
		ft.numbers[n.Value] = r
	}
	log.Info("read the trunks", "file", path, "trunks", len(ft.trunks), "numbers", len(ft.numbers))
	return ft, nil
}

func (d trunkDoc) trunk(countries map[string]string) (sip.Trunk, error) {
	if !accountName.MatchString(d.Account) {
		return sip.Trunk{}, fmt.Errorf("trunk %q: account %q", d.Name, d.Account)
	}
	dial, err := numbers.ParseDialFormat(d.DialFormat)
	if err != nil {
		return sip.Trunk{}, fmt.Errorf("trunk %q: %w", d.Name, err)
	}
	t := sip.Trunk{
		Name: d.Name, Account: d.Account, Address: d.Address, Transport: d.Transport, Domain: d.Domain, SRTP: d.SRTP,
		InboundUser: d.InboundUser, InboundPassword: d.InboundPassword,
		User: d.User, Password: d.Password, Register: d.Register,
		RegisterExpires: time.Duration(d.RegisterExpires) * time.Second,
		CallerID:        d.CallerID, Dial: dial,
		Numbers: numbers.Preference{Country: countries[d.Account]},
	}
	for _, s := range d.AllowFrom {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return sip.Trunk{}, fmt.Errorf("trunk %q: allow_from %q is neither an address nor a prefix", d.Name, s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		t.AllowFrom = append(t.AllowFrom, p.Masked())
	}
	return t, t.Validate()
}

func (f *fileTrunks) Inbound(_ context.Context, src netip.Addr) ([]sip.Trunk, error) {
	var out []sip.Trunk
	for _, t := range f.trunks {
		allowed := slices.ContainsFunc(t.AllowFrom, func(p netip.Prefix) bool { return p.Contains(src) })
		if allowed || len(t.AllowFrom) == 0 && t.InboundUser != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// Outbound returns the account's trunks in the file's order: CallPSTN takes
// the first.
func (f *fileTrunks) Outbound(_ context.Context, account string) ([]sip.Trunk, error) {
	var out []sip.Trunk
	for _, t := range f.trunks {
		if t.Account == account {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkUsers refuses a trunk whose inbound user is also a SIP user's name:
// its INVITEs would be taken for the trunk's and fail.
// checkTLS refuses trunks over TLS on a server without SIP over TLS: the
// provider could not reach the Contact of Vox's calls.
func (f *fileTrunks) checkTLS(sipTLS string) error {
	for _, t := range f.trunks {
		if strings.EqualFold(t.Transport, "tls") && sipTLS == "" {
			return fmt.Errorf("trunks: trunk %q uses TLS: give vox serve --sip-tls (and --tls-cert, --tls-key) so that the provider reaches Vox over TLS too", t.Name)
		}
	}
	return nil
}

func (f *fileTrunks) checkUsers(ctx context.Context, users sip.Directory) error {
	for _, t := range f.trunks {
		if t.InboundUser == "" {
			continue
		}
		_, err := users.User(ctx, sipRealm, t.InboundUser)
		switch {
		case err == nil:
			return fmt.Errorf("trunks: trunk %q: inbound_user %q is a SIP user's name", t.Name, t.InboundUser)
		case !errors.Is(err, sip.ErrUnknownUser):
			return fmt.Errorf("trunks: trunk %q: %w", t.Name, err)
		}
	}
	return nil
}

// allowed are the sources of the trunks' allow-lists: a trunk carries many
// calls from one address, so the per-source request rate does not apply.
func (f *fileTrunks) allowed() []netip.Prefix {
	var out []netip.Prefix
	for _, t := range f.trunks {
		out = append(out, t.AllowFrom...)
	}
	return out
}

// register starts the registrations of the trunks that register.
func (f *fileTrunks) register(srv *sip.Server) error {
	for _, t := range f.trunks {
		if t.Register {
			if err := srv.RegisterTrunk(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// routeNumber routes a trunk's call by the number dialled, read the way the
// trunk's account writes numbers: a number rented from the controller goes
// to its tenant (S8), whichever trunk brought it; a number of the trunks
// file goes to its account only through that account's trunks, and a number
// of another account is not found, as one nobody has.
func (r userRouter) routeNumber(ctx context.Context, call sip.CallInfo) (sip.Route, error) {
	pref := numbers.Preference{Country: r.country(ctx, call.Account)}
	n, err := numbers.Parse(call.Dialled, pref)
	if err != nil || n.Kind != numbers.International {
		return sip.Route{}, fmt.Errorf("%q is not a number: %w", call.Dialled, sip.ErrNoRoute)
	}
	if r.rented != nil {
		rented, err := r.rented.RouteNumber(ctx, n.Value)
		switch {
		case err == nil:
			app := rented.App
			if app == "" {
				app = r.app
			}
			return sip.Route{Account: rented.Account, App: app, Numbers: numbers.Preference{Country: r.country(ctx, rented.Account)}}, nil
		case !errors.Is(err, controller.ErrNotFound):
			return sip.Route{}, fmt.Errorf("number %s: %w", n.Value, err)
		}
	}
	to, ok := r.numbers[n.Value]
	if !ok || to.Account != call.Account {
		return sip.Route{}, fmt.Errorf("number %s on trunk %s: %w", n.Value, call.Trunk, sip.ErrNoRoute)
	}
	return sip.Route{Account: to.Account, App: to.App, Numbers: pref}, nil
}
