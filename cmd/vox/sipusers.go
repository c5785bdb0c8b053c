package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"vox/controller"
)

// SIP users live in the controller (S7). Before it, vox serve kept them in
// DATA/sip-users.json; a start that finds that file moves its users into the
// controller with their digest hashes (their passwords keep working) and
// renames it, so that a user deleted later does not come back.
const (
	sipUsersFile = "sip-users.json"
	// sipRealm is the realm of the digest challenges and of the HA1s kept.
	sipRealm    = "vox"
	demoAccount = "demo"
)

// demoSIPUsers are made at the first start; phone67 is the phone the seed's
// scenario rings (S22).
var demoSIPUsers = []string{"phone67", "phone68"}

// sipUsersDoc is the form of the old users file.
type sipUsersDoc struct {
	Realm string       `json:"realm"`
	Users []sipUserDoc `json:"users"`
}

type sipUserDoc struct {
	Account   string `json:"account"`
	Name      string `json:"name"`
	HA1MD5    string `json:"ha1_md5"`
	HA1SHA256 string `json:"ha1_sha256"`
	Disabled  bool   `json:"disabled,omitempty"`
}

// demoLogin is a demo user made now, with its password.
type demoLogin struct{ name, password string }

// prepareSIPUsers migrates DATA/sip-users.json when there is one, and makes
// the demo users when the demo tenant has no SIP user yet; made lists them
// with their passwords then.
func prepareSIPUsers(c *controller.Controller, dir string, log *slog.Logger) (made []demoLogin, err error) {
	ctx := context.Background()
	migrated, err := migrateSIPUsers(ctx, c, dir, log)
	if err != nil || migrated {
		return nil, err
	}
	users, err := c.SIPUsers(ctx, demoAccount)
	if errors.Is(err, controller.ErrNotFound) {
		return nil, nil // no demo tenant on this server
	}
	if err != nil || len(users) > 0 {
		return nil, err
	}
	for _, name := range demoSIPUsers {
		_, password, err := c.CreateSIPUser(ctx, demoAccount, name, "")
		if err != nil {
			return nil, fmt.Errorf("demo SIP user %s: %w", name, err)
		}
		made = append(made, demoLogin{name, password})
	}
	return made, nil
}

// migrateSIPUsers moves the users of the old file into the controller,
// making the accounts it names that do not exist (in RUB, with a new
// licence key an operator rotates to the portal's).
func migrateSIPUsers(ctx context.Context, c *controller.Controller, dir string, log *slog.Logger) (bool, error) {
	path := filepath.Join(dir, sipUsersFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("SIP users: %w", err)
	}
	var doc sipUsersDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return false, fmt.Errorf("SIP users: %s: %w", path, err)
	}
	if doc.Realm != sipRealm {
		return false, fmt.Errorf("SIP users: %s has realm %q; its hashes work only in realm %q", path, doc.Realm, sipRealm)
	}
	var users []controller.SIPUser
	for _, u := range doc.Users {
		if _, err := c.Account(ctx, u.Account); errors.Is(err, controller.ErrNotFound) {
			if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: u.Account, Currency: "RUB"}); err != nil && !errors.Is(err, controller.ErrConflict) {
				return false, fmt.Errorf("SIP users: %s: account of %s: %w", path, u.Name, err)
			}
		}
		users = append(users, controller.SIPUser{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256, Disabled: u.Disabled})
	}
	added, err := c.ImportSIPUsers(ctx, users)
	if err != nil {
		return false, fmt.Errorf("SIP users: %s: %w", path, err)
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return false, fmt.Errorf("SIP users: %w", err)
	}
	log.Info("moved the SIP users file into the controller", "file", path, "users", added, "renamed to", path+".migrated")
	return true, nil
}
