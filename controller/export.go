package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// An account's export (S15) is one versioned JSON document of named
// sections, so that the parts kept elsewhere (call history, scenario pins)
// travel in it without this package knowing their form:
//
//	{"format": "vox-account", "version": 1, "account": "acme", "exported_at": "...",
//	 "sections": {"account": {...}, "sip_users": [...], "numbers": [...], "ledger": [...],
//	              "scenarios": {...}, "history": [...]}}
const (
	ExportFormat  = "vox-account"
	ExportVersion = 1
)

// Export is an account's export document.
type Export struct {
	Format     string                     `json:"format"`
	Version    int                        `json:"version"`
	Account    string                     `json:"account"`
	ExportedAt time.Time                  `json:"exported_at"`
	Sections   map[string]json.RawMessage `json:"sections"`
}

// Section is a part of an account kept outside the controller's buckets,
// exported and imported with it. Names are unique; the controller's own are
// account, sip_users, numbers and ledger.
type Section interface {
	Name() string
	// Export returns the section's JSON for account; nil leaves it out.
	Export(ctx context.Context, account string) (json.RawMessage, error)
	// Import stores the section into the account, which exists by then.
	Import(ctx context.Context, account string, data json.RawMessage) error
}

// The controller's own sections.
const (
	SectionAccount  = "account"
	SectionSIPUsers = "sip_users"
	SectionNumbers  = "numbers"
	SectionLedger   = "ledger"
)

// exportedNumber is a rented number with its settings.
type exportedNumber struct {
	Number
	Config json.RawMessage `json:"config,omitempty"`
}

// ExportAccount writes the whole of account: its own buckets read in one
// transaction, then the other sections.
func (c *Controller) ExportAccount(ctx context.Context, account string) (*Export, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc := &Export{Format: ExportFormat, Version: ExportVersion, Account: account, ExportedAt: c.opts.Now().UTC(), Sections: map[string]json.RawMessage{}}
	err := c.db.View(func(tx *bolt.Tx) error {
		a, err := tenant(tx, account)
		if err != nil {
			return err
		}
		users, err := accountUsers(tx, account)
		if err != nil {
			return fmt.Errorf("SIP users: %w", err)
		}
		rented, err := accountNumbers(tx, account)
		if err != nil {
			return fmt.Errorf("numbers: %w", err)
		}
		nums := []exportedNumber{}
		for _, n := range rented {
			nums = append(nums, exportedNumber{Number: n, Config: bucket(tx, bucketNumConfig).Get([]byte(n.Number))})
		}
		entries := []Entry{}
		if ledger := bucket(tx, bucketLedger).Bucket([]byte(account)); ledger != nil {
			err = ledger.ForEach(func(_, v []byte) error {
				var e Entry
				if err := json.Unmarshal(v, &e); err != nil {
					return err
				}
				entries = append(entries, e)
				return nil
			})
			if err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
		}
		for name, v := range map[string]any{SectionAccount: a, SectionSIPUsers: users, SectionNumbers: nums, SectionLedger: entries} {
			if doc.Sections[name], err = json.Marshal(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", account, err)
	}
	for _, s := range c.opts.Sections {
		data, err := s.Export(ctx, account)
		if err != nil {
			return nil, fmt.Errorf("export %s: section %s: %w", account, s.Name(), err)
		}
		if data != nil {
			doc.Sections[s.Name()] = data
		}
	}
	return doc, nil
}

// ImportResult says what an import stored.
type ImportResult struct {
	Account  string   `json:"account"`
	SIPUsers int      `json:"sip_users"`
	Numbers  int      `json:"numbers"`
	Entries  int      `json:"ledger_entries"`
	Balance  Amount   `json:"balance"`
	Sections []string `json:"sections"`
	// Skipped are sections this server has nothing to import them with.
	Skipped []string `json:"skipped,omitempty"`
}

// ImportAccount stores an exported account on this server. The account must
// not exist here, nor its SIP logins; its numbers are taken from the
// inventory when free there, or added to it. The controller's sections are
// one transaction: an import that fails leaves nothing of them.
func (c *Controller) ImportAccount(ctx context.Context, doc *Export) (*ImportResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if doc.Format != ExportFormat || doc.Version < 1 || doc.Version > ExportVersion {
		return nil, fmt.Errorf("import: %w: not a %s document of version 1 to %d", ErrInvalid, ExportFormat, ExportVersion)
	}
	var (
		a       Account
		users   []SIPUser
		nums    []exportedNumber
		entries []Entry
	)
	for name, v := range map[string]any{SectionAccount: &a, SectionSIPUsers: &users, SectionNumbers: &nums, SectionLedger: &entries} {
		data, ok := doc.Sections[name]
		if !ok {
			return nil, fmt.Errorf("import: %w: section %q is missing", ErrInvalid, name)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return nil, fmt.Errorf("import: %w: section %q: %v", ErrInvalid, name, err)
		}
	}
	if a.ID != doc.Account || !accountID.MatchString(a.ID) || a.IsMaster || !slices.Contains(c.opts.Currencies, a.Currency) || len(a.Keys) == 0 {
		return nil, fmt.Errorf("import: %w: the account section is not a tenant of this server's currencies", ErrInvalid)
	}
	a.Master = masterID(a.Currency)
	res := &ImportResult{Account: a.ID}
	err := c.db.Update(func(tx *bolt.Tx) error {
		if bucket(tx, bucketAccounts).Get([]byte(a.ID)) != nil {
			return fmt.Errorf("account %q: %w: it exists on this server", a.ID, ErrConflict)
		}
		if err := putAccount(tx, a); err != nil {
			return err
		}
		for _, u := range users {
			if !sipLogin.MatchString(u.Name) {
				return fmt.Errorf("SIP user %q: %w", u.Name, ErrInvalid)
			}
			if bucket(tx, bucketSIPUsers).Get([]byte(u.Name)) != nil {
				return fmt.Errorf("SIP user %q: %w: the login is taken on this server", u.Name, ErrConflict)
			}
			u.Account = a.ID
			if err := putSIPUser(tx, u); err != nil {
				return err
			}
			res.SIPUsers++
		}
		for _, n := range nums {
			if err := importNumber(tx, a, n); err != nil {
				return err
			}
			res.Numbers++
		}
		// Entries keep their keys, so a charge re-delivered after the move
		// is still recognised; the balance is their sum again.
		sort.Slice(entries, func(i, j int) bool { return entries[i].Seq < entries[j].Seq })
		for _, e := range entries {
			if _, existed, err := post(tx, a.ID, e); err != nil || existed {
				return fmt.Errorf("ledger entry %d: %w", e.Seq, errOr(err, ErrInvalid))
			}
			res.Entries++
		}
		res.Balance = balance(tx, a.ID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", a.ID, err)
	}
	res.Sections = []string{SectionAccount, SectionSIPUsers, SectionNumbers, SectionLedger}
	known := map[string]bool{SectionAccount: true, SectionSIPUsers: true, SectionNumbers: true, SectionLedger: true}
	for _, s := range c.opts.Sections {
		known[s.Name()] = true
		data, ok := doc.Sections[s.Name()]
		if !ok {
			continue
		}
		if err := s.Import(ctx, a.ID, data); err != nil {
			return res, fmt.Errorf("import %s: section %s: %w", a.ID, s.Name(), err)
		}
		res.Sections = append(res.Sections, s.Name())
	}
	for name := range doc.Sections {
		if !known[name] {
			res.Skipped = append(res.Skipped, name)
		}
	}
	sort.Strings(res.Skipped)
	return res, nil
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func importNumber(tx *bolt.Tx, a Account, n exportedNumber) error {
	if !numberForm.MatchString(n.Number.Number) {
		return fmt.Errorf("number %q: %w", n.Number.Number, ErrInvalid)
	}
	here, err := getNumber(tx, n.Number.Number)
	switch {
	case err == nil && here.Account != "":
		return fmt.Errorf("number %s: %w: it is rented on this server", here.Number, ErrConflict)
	case err == nil:
		here.Account, here.App, here.RentedAt = a.ID, n.App, n.RentedAt
	default:
		here = n.Number
		here.Account = a.ID
	}
	if err := putNumber(tx, here); err != nil {
		return err
	}
	if len(n.Config) > 0 {
		return bucket(tx, bucketNumConfig).Put([]byte(here.Number), n.Config)
	}
	return nil
}
