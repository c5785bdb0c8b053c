package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SIPUser is a login a tenant's phones register with (S7). Only the digest
// hashes are kept: a password is shown once, when it is made.
type SIPUser struct {
	Account   string    `json:"account"`
	Name      string    `json:"name"`
	HA1MD5    string    `json:"ha1_md5"`
	HA1SHA256 string    `json:"ha1_sha256"`
	Disabled  bool      `json:"disabled,omitempty"`
	Created   time.Time `json:"created"`
}

// sipLogin is what a SIP user's name may look like: the user part of its
// address, unique on the server (the registrar has one realm).
var sipLogin = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// newPassword makes a SIP password: 80 random bits a person can type.
func newPassword() string { return rand.Text()[:16] }

func (c *Controller) hashes(name, password string) (string, string, error) {
	if c.opts.HA1 == nil {
		return "", "", errors.New("the controller has no HA1 function to make SIP users with")
	}
	md5, sha := c.opts.HA1(name, password)
	return md5, sha, nil
}

func (c *Controller) addSIPUser(tx *bolt.Tx, account, name, password string) (SIPUser, error) {
	if !sipLogin.MatchString(name) {
		return SIPUser{}, fmt.Errorf("SIP user %q: %w: want 1-64 of letters, digits, . _ -", name, ErrInvalid)
	}
	if bucket(tx, bucketSIPUsers).Get([]byte(name)) != nil {
		return SIPUser{}, fmt.Errorf("SIP user %q: %w: the login is taken, choose another", name, ErrConflict)
	}
	md5, sha, err := c.hashes(name, password)
	if err != nil {
		return SIPUser{}, err
	}
	u := SIPUser{Account: account, Name: name, HA1MD5: md5, HA1SHA256: sha, Created: c.opts.Now().UTC()}
	return u, putSIPUser(tx, u)
}

func putSIPUser(tx *bolt.Tx, u SIPUser) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := own(tx, u.Account, ownedUser, u.Name, true); err != nil {
		return err
	}
	return bucket(tx, bucketSIPUsers).Put([]byte(u.Name), data)
}

// accountUsers are account's SIP users in login order.
func accountUsers(tx *bolt.Tx, account string) ([]SIPUser, error) {
	out := []SIPUser{}
	err := owned(tx, account, ownedUser, func(name string) error {
		u, err := getSIPUser(tx, name)
		if err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

func getSIPUser(tx *bolt.Tx, name string) (SIPUser, error) {
	var u SIPUser
	data := bucket(tx, bucketSIPUsers).Get([]byte(name))
	if data == nil {
		return u, fmt.Errorf("SIP user %q: %w", name, ErrNotFound)
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return u, fmt.Errorf("SIP user %q is damaged: %w", name, err)
	}
	return u, nil
}

// CreateSIPUser makes a SIP user of account; an empty password makes a
// random one. It returns the password.
func (c *Controller) CreateSIPUser(ctx context.Context, account, name, password string) (SIPUser, string, error) {
	if err := ctx.Err(); err != nil {
		return SIPUser{}, "", err
	}
	if password == "" {
		password = newPassword()
	}
	if len(password) < 8 {
		return SIPUser{}, "", fmt.Errorf("password: %w: want at least 8 characters", ErrInvalid)
	}
	var u SIPUser
	err := c.db.Update(func(tx *bolt.Tx) error {
		if _, err := tenant(tx, account); err != nil {
			return err
		}
		var err error
		u, err = c.addSIPUser(tx, account, name, password)
		return err
	})
	if err != nil {
		return SIPUser{}, "", err
	}
	return u, password, nil
}

// SIPUsers lists account's SIP users.
func (c *Controller) SIPUsers(ctx context.Context, account string) ([]SIPUser, error) {
	var out []SIPUser
	err := c.db.View(func(tx *bolt.Tx) error {
		if _, err := tenant(tx, account); err != nil {
			return err
		}
		var err error
		out, err = accountUsers(tx, account)
		return err
	})
	return out, err
}

// SIPUser returns the SIP user called name, whoever's it is: the registrar
// asks by login alone.
func (c *Controller) SIPUser(ctx context.Context, name string) (u SIPUser, err error) {
	if err := ctx.Err(); err != nil {
		return SIPUser{}, err
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		u, err = getSIPUser(tx, name)
		return err
	})
	return u, err
}

// changeSIPUser changes account's user name; another account's user is not
// found. The registrar is told after the change is committed.
func (c *Controller) changeSIPUser(ctx context.Context, account, name string, change func(*SIPUser) error) (SIPUser, error) {
	if err := ctx.Err(); err != nil {
		return SIPUser{}, err
	}
	var u SIPUser
	err := c.db.Update(func(tx *bolt.Tx) error {
		var err error
		u, err = getSIPUser(tx, name)
		if err != nil {
			return err
		}
		if u.Account != account {
			return fmt.Errorf("SIP user %q: %w", name, ErrNotFound)
		}
		if err := change(&u); err != nil {
			return err
		}
		return putSIPUser(tx, u)
	})
	if err != nil {
		return SIPUser{}, err
	}
	if c.opts.UserChanged != nil {
		c.opts.UserChanged(name)
	}
	return u, nil
}

// SetSIPPassword gives account's user name a new password (random when
// empty), which it returns; its registrations are dropped at once.
func (c *Controller) SetSIPPassword(ctx context.Context, account, name, password string) (SIPUser, string, error) {
	if password == "" {
		password = newPassword()
	}
	if len(password) < 8 {
		return SIPUser{}, "", fmt.Errorf("password: %w: want at least 8 characters", ErrInvalid)
	}
	u, err := c.changeSIPUser(ctx, account, name, func(u *SIPUser) error {
		var err error
		u.HA1MD5, u.HA1SHA256, err = c.hashes(u.Name, password)
		return err
	})
	return u, password, err
}

// SetSIPDisabled disables or enables account's user name; a disabled user's
// registrations are dropped at once.
func (c *Controller) SetSIPDisabled(ctx context.Context, account, name string, disabled bool) (SIPUser, error) {
	return c.changeSIPUser(ctx, account, name, func(u *SIPUser) error {
		u.Disabled = disabled
		return nil
	})
}

// ImportSIPUsers stores users with their hashes as they are (the SIP users
// file vox serve kept before the controller, an account's export). Users
// already there are left alone; accounts must exist.
func (c *Controller) ImportSIPUsers(ctx context.Context, users []SIPUser) (added int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		added = 0
		for _, u := range users {
			if !sipLogin.MatchString(u.Name) {
				return fmt.Errorf("SIP user %q: %w", u.Name, ErrInvalid)
			}
			if _, err := tenant(tx, u.Account); err != nil {
				return fmt.Errorf("SIP user %q: %w", u.Name, err)
			}
			if bucket(tx, bucketSIPUsers).Get([]byte(u.Name)) != nil {
				continue
			}
			if u.Created.IsZero() {
				u.Created = c.opts.Now().UTC()
			}
			if err := putSIPUser(tx, u); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	return added, err
}
