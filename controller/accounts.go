package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/signature"
)

// Account is a master account (one per currency) or a tenant's child account
// under it (S1).
type Account struct {
	ID       string    `json:"id"`
	Master   string    `json:"master,omitempty"` // the master account of a tenant
	IsMaster bool      `json:"is_master,omitempty"`
	Currency string    `json:"currency"`
	Country  string    `json:"country,omitempty"` // how its people write numbers (S18)
	Created  time.Time `json:"created"`
	// Keys are the licence keys its requests are signed with: the current
	// one first, the previous one during a rotation.
	Keys []string `json:"keys,omitempty"`
	// LegacyMD5 accepts the seed's weaker MD5 signatures (package signature).
	LegacyMD5 bool   `json:"legacy_md5,omitempty"`
	Limits    Limits `json:"limits"`
}

// masterID is the id of the master account of a currency.
func masterID(currency string) string { return "master-" + strings.ToLower(currency) }

// countryOf is a new account's dialling country when its licence names none.
var countryOf = map[string]string{"RUB": "RU", "UAH": "UA", "USD": "US"}

func (c *Controller) ensureMaster(tx *bolt.Tx, currency string) error {
	if len(currency) != 3 || strings.ToUpper(currency) != currency {
		return fmt.Errorf("currency %q: want three capital letters", currency)
	}
	id := masterID(currency)
	if bucket(tx, bucketAccounts).Get([]byte(id)) != nil {
		return nil
	}
	return putAccount(tx, Account{ID: id, IsMaster: true, Currency: currency, Created: c.opts.Now().UTC()})
}

func putAccount(tx *bolt.Tx, a Account) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return bucket(tx, bucketAccounts).Put([]byte(a.ID), data)
}

func getAccount(tx *bolt.Tx, id string) (Account, error) {
	var a Account
	data := bucket(tx, bucketAccounts).Get([]byte(id))
	if data == nil {
		return a, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("account %q is damaged: %w", id, err)
	}
	return a, nil
}

// tenant is getAccount for a child account: a master account is not a
// tenant and is not found as one.
func tenant(tx *bolt.Tx, id string) (Account, error) {
	a, err := getAccount(tx, id)
	if err == nil && a.IsMaster {
		return Account{}, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	return a, err
}

// NewAccount is what an operator gives to create a tenant.
type NewAccount struct {
	ID       string `json:"id"`
	Currency string `json:"currency"`
	Country  string `json:"country,omitempty"`
	// Key is its licence key; empty: a random one is made.
	Key       string `json:"key,omitempty"`
	LegacyMD5 bool   `json:"legacy_md5,omitempty"`
}

func (c *Controller) validNew(n *NewAccount) error {
	if !accountID.MatchString(n.ID) || strings.HasPrefix(n.ID, "master-") {
		return fmt.Errorf("account id %q: %w: want 1-64 of a-z 0-9 _ -, starting with a letter or digit, not master-", n.ID, ErrInvalid)
	}
	if !slices.Contains(c.opts.Currencies, n.Currency) {
		return fmt.Errorf("currency %q: %w: this server has master accounts in %s", n.Currency, ErrInvalid, strings.Join(c.opts.Currencies, ", "))
	}
	if n.Country == "" {
		n.Country = countryOf[n.Currency]
	}
	if n.Key == "" {
		n.Key = newKey()
	}
	if len(n.Key) < 16 {
		return fmt.Errorf("licence key: %w: want at least 16 characters", ErrInvalid)
	}
	return nil
}

// newKey makes a licence key: 130 random bits.
func newKey() string { return rand.Text() }

// CreateAccount creates a tenant's account under its currency's master.
func (c *Controller) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if err := c.validNew(&n); err != nil {
		return Account{}, err
	}
	var a Account
	err := c.db.Update(func(tx *bolt.Tx) error {
		if bucket(tx, bucketAccounts).Get([]byte(n.ID)) != nil {
			return fmt.Errorf("account %q: %w: it exists", n.ID, ErrConflict)
		}
		a = c.newAccount(n)
		return putAccount(tx, a)
	})
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

func (c *Controller) newAccount(n NewAccount) Account {
	return Account{
		ID: n.ID, Master: masterID(n.Currency), Currency: n.Currency, Country: n.Country,
		Created: c.opts.Now().UTC(), Keys: []string{n.Key}, LegacyMD5: n.LegacyMD5, Limits: c.opts.DefaultLimits,
	}
}

// Account returns a tenant's account.
func (c *Controller) Account(ctx context.Context, id string) (a Account, err error) {
	err = c.db.View(func(tx *bolt.Tx) error {
		a, err = tenant(tx, id)
		return err
	})
	return a, err
}

// Accounts lists accounts in id order after the id after, at most limit
// (default 100) of them; next is the after of the next page, "" at the end.
// Master accounts are listed too.
func (c *Controller) Accounts(ctx context.Context, after string, limit int) (list []Account, next string, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		cur := bucket(tx, bucketAccounts).Cursor()
		k, v := cur.First()
		if after != "" {
			k, v = cur.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = cur.Next()
			}
		}
		for ; k != nil; k, v = cur.Next() {
			if len(list) == limit {
				next = list[len(list)-1].ID
				return nil
			}
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q is damaged: %w", k, err)
			}
			list = append(list, a)
		}
		return nil
	})
	return list, next, err
}

// AccountChange changes a tenant's settings; nil fields stay.
type AccountChange struct {
	Limits    *Limits `json:"limits,omitempty"`
	LegacyMD5 *bool   `json:"legacy_md5,omitempty"`
	Country   *string `json:"country,omitempty"`
}

// ChangeAccount applies change to a tenant's account.
func (c *Controller) ChangeAccount(ctx context.Context, id string, change AccountChange) (Account, error) {
	if change.Limits != nil {
		if err := change.Limits.validate(); err != nil {
			return Account{}, err
		}
	}
	return c.updateAccount(ctx, id, func(a *Account) error {
		if change.Limits != nil {
			a.Limits = *change.Limits
		}
		if change.LegacyMD5 != nil {
			a.LegacyMD5 = *change.LegacyMD5
		}
		if change.Country != nil {
			a.Country = *change.Country
		}
		return nil
	})
}

// RotateKey makes key (or a new random key) the tenant's current licence key;
// the current one stays valid as the previous until the next rotation, so
// that requests signed by a portal not yet told still pass.
func (c *Controller) RotateKey(ctx context.Context, id, key string) (Account, error) {
	if key == "" {
		key = newKey()
	}
	if len(key) < 16 {
		return Account{}, fmt.Errorf("licence key: %w: want at least 16 characters", ErrInvalid)
	}
	return c.updateAccount(ctx, id, func(a *Account) error {
		a.Keys = []string{key, a.Keys[0]}
		return nil
	})
}

func (c *Controller) updateAccount(ctx context.Context, id string, change func(*Account) error) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	var a Account
	err := c.db.Update(func(tx *bolt.Tx) error {
		var err error
		if a, err = tenant(tx, id); err != nil {
			return err
		}
		if err := change(&a); err != nil {
			return err
		}
		return putAccount(tx, a)
	})
	return a, err
}

// SigningKeys are the credentials a tenant's requests are checked with
// (signature.KeyLookup). A tenant without an account yet is checked against
// its licence, so that its first request, the one that creates the
// account, is signed like every other (S4, S9).
func (c *Controller) SigningKeys(ctx context.Context, id string) (signature.Credentials, error) {
	a, err := c.Account(ctx, id)
	if errors.Is(err, ErrNotFound) && c.opts.Licences != nil && accountID.MatchString(id) {
		lic, lerr := c.opts.Licences.Licence(ctx, id)
		if errors.Is(lerr, ErrNoLicence) {
			return signature.Credentials{}, signature.ErrUnknownAccount
		}
		if lerr != nil {
			return signature.Credentials{}, lerr
		}
		return signature.Credentials{Keys: [][]byte{[]byte(lic.Key)}, Legacy: lic.LegacyMD5}, nil
	}
	if errors.Is(err, ErrNotFound) {
		return signature.Credentials{}, signature.ErrUnknownAccount
	}
	if err != nil {
		return signature.Credentials{}, err
	}
	creds := signature.Credentials{Legacy: a.LegacyMD5}
	for _, k := range a.Keys {
		creds.Keys = append(creds.Keys, []byte(k))
	}
	return creds, nil
}

// Credentials are what a portal gets for a tenant at its first use: the SIP
// login its phones register with. The password is shown only when the user
// is made (or its password reset), as the registrar keeps only hashes.
type Credentials struct {
	Account  string `json:"account"`
	Created  bool   `json:"created"`
	SIPUser  string `json:"sip_user"`
	Password string `json:"password,omitempty"`
}

// FirstUse gives a tenant its credentials, creating its account, its first
// SIP user and its scenario placement if it has none and its licence is
// valid (S4). Concurrent first uses of one tenant create it once: the
// existence check and the creation are one transaction.
func (c *Controller) FirstUse(ctx context.Context, id string) (Credentials, error) {
	creds := Credentials{Account: id}
	_, err := c.Account(ctx, id)
	if errors.Is(err, ErrNotFound) {
		creds, err = c.createLazily(ctx, id)
	}
	if err != nil {
		return Credentials{}, err
	}
	if creds.SIPUser == "" {
		// An account the operator made has no SIP user until its first use.
		if creds, err = c.ensureFirstUser(id); err != nil {
			return Credentials{}, err
		}
	}
	// Placing is idempotent: a first use that failed after the account was
	// made is completed by the next.
	if c.opts.Rollouts != nil {
		if err := c.opts.Rollouts.Place(ctx, id, TriggerFirstUse); err != nil {
			return Credentials{}, fmt.Errorf("place %s on its scenario: %w", id, err)
		}
	}
	return creds, nil
}

// TriggerFirstUse is the scenario placement's trigger of a new account.
const TriggerFirstUse = "first use"

func (c *Controller) createLazily(ctx context.Context, id string) (Credentials, error) {
	if c.opts.Licences == nil || !accountID.MatchString(id) {
		return Credentials{}, fmt.Errorf("account %q: %w", id, ErrNoLicence)
	}
	lic, err := c.opts.Licences.Licence(ctx, id)
	if err != nil {
		return Credentials{}, fmt.Errorf("licence of %s: %w", id, err)
	}
	n := NewAccount{ID: id, Currency: lic.Currency, Country: lic.Country, Key: lic.Key, LegacyMD5: lic.LegacyMD5}
	if err := c.validNew(&n); err != nil {
		return Credentials{}, fmt.Errorf("licence of %s: %w", id, err)
	}
	password := newPassword()
	creds := Credentials{Account: id}
	err = c.db.Update(func(tx *bolt.Tx) error {
		creds = Credentials{Account: id}
		if bucket(tx, bucketAccounts).Get([]byte(id)) != nil {
			return nil // a concurrent first use made it
		}
		if err := putAccount(tx, c.newAccount(n)); err != nil {
			return err
		}
		u, err := c.addSIPUser(tx, id, firstUserName(tx, id), password)
		if err != nil {
			return err
		}
		creds = Credentials{Account: id, Created: true, SIPUser: u.Name, Password: password}
		return nil
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("create account %s: %w", id, err)
	}
	return creds, nil
}

// ensureFirstUser returns the login of id's first SIP user, making it (and
// returning its password) when the account has none; one transaction, so
// concurrent first uses make one.
func (c *Controller) ensureFirstUser(id string) (Credentials, error) {
	password := newPassword()
	creds := Credentials{Account: id}
	err := c.db.Update(func(tx *bolt.Tx) error {
		creds = Credentials{Account: id}
		if _, err := tenant(tx, id); err != nil {
			return err
		}
		users, err := accountUsers(tx, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			first := users[0]
			for _, u := range users[1:] {
				if u.Created.Before(first.Created) {
					first = u
				}
			}
			creds.SIPUser = first.Name
			return nil
		}
		u, err := c.addSIPUser(tx, id, firstUserName(tx, id), password)
		if err != nil {
			return err
		}
		creds.SIPUser, creds.Password = u.Name, password
		return nil
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("first SIP user of %s: %w", id, err)
	}
	return creds, nil
}

// firstUserName is the login of a new tenant's first SIP user: its id, or
// its id and a random suffix if another tenant took that name.
func firstUserName(tx *bolt.Tx, id string) string {
	name := id
	for bucket(tx, bucketSIPUsers).Get([]byte(name)) != nil {
		name = id + "-" + strings.ToLower(rand.Text()[:6])
	}
	return name
}

// MasterSummary is a master account with what its children hold (S1).
type MasterSummary struct {
	Account
	Children int    `json:"children"`
	Balance  Amount `json:"balance"` // the sum of the children's balances
}

// Master returns the master account id with its children's count and
// balances.
func (c *Controller) Master(ctx context.Context, id string) (MasterSummary, error) {
	if err := ctx.Err(); err != nil {
		return MasterSummary{}, err
	}
	var m MasterSummary
	err := c.db.View(func(tx *bolt.Tx) error {
		a, err := getAccount(tx, id)
		if err != nil {
			return err
		}
		if !a.IsMaster {
			return fmt.Errorf("account %q is not a master account: %w", id, ErrNotFound)
		}
		m.Account = a
		return bucket(tx, bucketAccounts).ForEach(func(k, v []byte) error {
			var child Account
			if err := json.Unmarshal(v, &child); err != nil {
				return fmt.Errorf("account %q is damaged: %w", k, err)
			}
			if child.Master == id {
				m.Children++
				m.Balance += balance(tx, child.ID)
			}
			return nil
		})
	})
	return m, err
}
