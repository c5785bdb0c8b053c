package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tariff is the price of calls to numbers starting with Prefix (international
// digits; "" matches every number), in one currency (S6). The longest
// matching prefix wins.
type Tariff struct {
	Prefix    string `json:"prefix"`
	Name      string `json:"name,omitempty"`
	PerMinute Amount `json:"per_minute"`
	// Increment is the billing step in seconds: 60 bills whole minutes, 1
	// per second. A call is billed in whole steps, rounded up.
	Increment     int    `json:"increment"`
	ConnectionFee Amount `json:"connection_fee,omitempty"`
}

func (t Tariff) validate() error {
	if strings.Trim(t.Prefix, "0123456789") != "" || len(t.Prefix) > 15 {
		return fmt.Errorf("tariff %q: %w: a prefix is up to 15 digits", t.Prefix, ErrInvalid)
	}
	if t.Increment < 1 || t.Increment > 3600 {
		return fmt.Errorf("tariff %q: %w: increment is 1 to 3600 seconds", t.Prefix, ErrInvalid)
	}
	if t.PerMinute < 0 || t.ConnectionFee < 0 {
		return fmt.Errorf("tariff %q: %w: prices are not negative", t.Prefix, ErrInvalid)
	}
	return nil
}

// stepCost is the price of one billing step, rounded up to a millionth.
func (t Tariff) stepCost() Amount {
	return (t.PerMinute*Amount(t.Increment) + 59) / 60
}

// cost is what a call of d costs: the connection fee and every step begun.
// An unanswered call (d == 0) costs nothing.
func (t Tariff) cost(d time.Duration) Amount {
	if d <= 0 {
		return 0
	}
	inc := time.Duration(t.Increment) * time.Second
	steps := (d + inc - 1) / inc
	return t.ConnectionFee + Amount(steps)*t.stepCost()
}

// SetTariffs replaces the tariffs of currency.
func (c *Controller) SetTariffs(ctx context.Context, currency string, tariffs []Tariff) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !slices.Contains(c.opts.Currencies, currency) {
		return fmt.Errorf("currency %q: %w", currency, ErrNotFound)
	}
	seen := map[string]bool{}
	for _, t := range tariffs {
		if err := t.validate(); err != nil {
			return err
		}
		if seen[t.Prefix] {
			return fmt.Errorf("tariff %q: %w: given twice", t.Prefix, ErrInvalid)
		}
		seen[t.Prefix] = true
	}
	data, err := json.Marshal(tariffs)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketTariffs).Put([]byte(currency), data) })
}

// Tariffs returns the tariffs of currency.
func (c *Controller) Tariffs(ctx context.Context, currency string) (out []Tariff, err error) {
	if !slices.Contains(c.opts.Currencies, currency) {
		return nil, fmt.Errorf("currency %q: %w", currency, ErrNotFound)
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		out, err = tariffs(tx, currency)
		return err
	})
	return out, err
}

func tariffs(tx *bolt.Tx, currency string) ([]Tariff, error) {
	out := []Tariff{}
	if data := bucket(tx, bucketTariffs).Get([]byte(currency)); data != nil {
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("tariffs of %s are damaged: %w", currency, err)
		}
	}
	return out, nil
}

// tariffFor is the longest-prefix tariff of destination in currency.
func tariffFor(tx *bolt.Tx, currency, destination string) (Tariff, error) {
	list, err := tariffs(tx, currency)
	if err != nil {
		return Tariff{}, err
	}
	best := -1
	for i, t := range list {
		if strings.HasPrefix(destination, t.Prefix) && (best < 0 || len(t.Prefix) > len(list[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return Tariff{}, fmt.Errorf("%s in %s: %w", destination, currency, ErrNoTariff)
	}
	return list[best], nil
}

// Limits protect a tenant from toll fraud: a stolen SIP password cannot run
// up more than these.
type Limits struct {
	MaxConcurrentCalls int    `json:"max_concurrent_calls"`
	MaxCostPerCall     Amount `json:"max_cost_per_call"` // 0: no cap
	// AllowedPrefixes are the destinations outgoing calls may reach
	// (international digits); empty: every destination with a tariff.
	AllowedPrefixes []string `json:"allowed_prefixes,omitempty"`
}

// DefaultLimits are a new account's limits unless Options say otherwise.
var DefaultLimits = Limits{MaxConcurrentCalls: 10, MaxCostPerCall: 1000 * amountScale}

func (l Limits) validate() error {
	if l.MaxConcurrentCalls < 1 || l.MaxConcurrentCalls > 10000 {
		return fmt.Errorf("limits: %w: max_concurrent_calls is 1 to 10000", ErrInvalid)
	}
	if l.MaxCostPerCall < 0 {
		return fmt.Errorf("limits: %w: max_cost_per_call is not negative", ErrInvalid)
	}
	for _, p := range l.AllowedPrefixes {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return fmt.Errorf("limits: %w: allowed prefix %q is not digits", ErrInvalid, p)
		}
	}
	return nil
}

// activeCall is an authorized call not yet charged: it counts against the
// concurrent calls and holds what it may cost, so that two calls of one
// account cannot both spend the same balance.
type activeCall struct {
	account  string
	reserved Amount
}

// Grant is a call allowed to run, and for how long at most: the scenario's
// call is cut when MaxDuration is reached (S6, prepaid).
type Grant struct {
	Call        string        `json:"call"`
	Account     string        `json:"account"`
	Destination string        `json:"destination"`
	MaxDuration time.Duration `json:"max_duration"`
	Tariff      Tariff        `json:"tariff"`
}

// maxCallDuration bounds a grant even with a large balance and no cost cap.
const maxCallDuration = 4 * time.Hour

// Authorize decides whether account may call destination (international
// digits) now, as call callID, and for how long. It reserves the call's
// maximum cost until Charge or Release. Refusals wrap ErrInsufficientFunds,
// ErrNotAllowed, ErrTooManyCalls, ErrNoTariff or ErrNotFound.
func (c *Controller) Authorize(ctx context.Context, callID, account, destination string) (Grant, error) {
	if err := ctx.Err(); err != nil {
		return Grant{}, err
	}
	var (
		a   Account
		t   Tariff
		bal Amount
	)
	// Held across the read too, so that a charge committed meanwhile is
	// either in the balance read or still reserved, never neither.
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		if a, err = tenant(tx, account); err != nil {
			return err
		}
		bal = balance(tx, account)
		t, err = tariffFor(tx, a.Currency, destination)
		return err
	})
	if err != nil {
		return Grant{}, fmt.Errorf("authorize %s to %s: %w", account, destination, err)
	}
	if len(a.Limits.AllowedPrefixes) > 0 && !slices.ContainsFunc(a.Limits.AllowedPrefixes, func(p string) bool { return strings.HasPrefix(destination, p) }) {
		return Grant{}, fmt.Errorf("authorize %s to %s: %w", account, destination, ErrNotAllowed)
	}
	if _, dup := c.calls[callID]; dup {
		return Grant{}, fmt.Errorf("authorize call %s: %w: already authorized", callID, ErrConflict)
	}
	running := 0
	for _, ac := range c.calls {
		if ac.account == account {
			running++
			bal -= ac.reserved
		}
	}
	if running >= a.Limits.MaxConcurrentCalls {
		return Grant{}, fmt.Errorf("authorize %s: %w: %d running", account, ErrTooManyCalls, running)
	}
	budget := bal
	if a.Limits.MaxCostPerCall > 0 {
		budget = min(budget, a.Limits.MaxCostPerCall)
	}
	step := t.stepCost()
	inc := time.Duration(t.Increment) * time.Second
	maxSteps := int64(maxCallDuration / inc)
	steps := maxSteps
	if step > 0 {
		steps = min(int64((budget-t.ConnectionFee)/step), maxSteps)
	}
	if budget-t.ConnectionFee < 0 || steps < 1 {
		return Grant{}, fmt.Errorf("authorize %s to %s: %w: balance %s, a call costs %s to connect and %s per %ds",
			account, destination, ErrInsufficientFunds, bal, t.ConnectionFee, step, t.Increment)
	}
	g := Grant{Call: callID, Account: account, Destination: destination, MaxDuration: time.Duration(steps) * inc, Tariff: t}
	c.calls[callID] = &activeCall{account: account, reserved: t.cost(g.MaxDuration)}
	return g, nil
}

// Release ends an authorized call's reservation without charging (a call
// that failed before it was answered).
func (c *Controller) Release(callID string) {
	c.mu.Lock()
	delete(c.calls, callID)
	c.mu.Unlock()
}

// Cost is what a call of account to destination lasting d costs by the
// tariffs now (history records it, CONTRACTS D).
func (c *Controller) Cost(ctx context.Context, account, destination string, d time.Duration) (Amount, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var cost Amount
	err := c.db.View(func(tx *bolt.Tx) error {
		a, err := tenant(tx, account)
		if err != nil {
			return err
		}
		t, err := tariffFor(tx, a.Currency, destination)
		cost = t.cost(d)
		return err
	})
	return cost, err
}

// Charge debits call callID of account to destination lasting d, once: a
// charge delivered again (a retry, a replayed call record) finds its entry by
// the call id and charges nothing more. It ends the call's reservation.
// Calls that cost nothing (unanswered) write no entry.
func (c *Controller) Charge(ctx context.Context, callID, account, destination string, d time.Duration) (Entry, error) {
	defer c.Release(callID)
	if callID == "" {
		return Entry{}, fmt.Errorf("charge: %w: no call id", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := c.db.Update(func(tx *bolt.Tx) error {
		a, err := tenant(tx, account)
		if err != nil {
			return err
		}
		t, err := tariffFor(tx, a.Currency, destination)
		if err != nil {
			return err
		}
		cost := t.cost(d)
		if cost == 0 {
			return nil
		}
		e, _, err = post(tx, account, Entry{
			Key: "call:" + callID, Kind: KindCall, Amount: -cost, At: c.opts.Now().UTC(),
			Call: callID, Destination: destination, Seconds: int((d + time.Second - 1) / time.Second),
		})
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("charge call %s of %s: %w", callID, account, err)
	}
	return e, nil
}

// IsRefusal says whether err is Authorize refusing a call rather than
// failing.
func IsRefusal(err error) bool {
	for _, r := range []error{ErrInsufficientFunds, ErrNotAllowed, ErrTooManyCalls, ErrNoTariff, ErrNotFound} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}
