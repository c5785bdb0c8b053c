package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Number is a phone number of the inventory (S6): free, or rented by a
// tenant, whose incoming calls then go to the tenant's application (S8).
type Number struct {
	Number     string `json:"number"` // international digits, no +
	Country    string `json:"country"`
	Currency   string `json:"currency"`
	MonthlyFee Amount `json:"monthly_fee"`
	Account    string `json:"account,omitempty"`
	// App is the application its calls run ("" : the server's default).
	App      string     `json:"app,omitempty"`
	RentedAt *time.Time `json:"rented_at,omitempty"`
}

var numberForm = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

// maxNumberConfig bounds a number's settings JSON.
const maxNumberConfig = 64 << 10

func getNumber(tx *bolt.Tx, number string) (Number, error) {
	var n Number
	data := bucket(tx, bucketNumbers).Get([]byte(number))
	if data == nil {
		return n, fmt.Errorf("number %s: %w", number, ErrNotFound)
	}
	if err := json.Unmarshal(data, &n); err != nil {
		return n, fmt.Errorf("number %s is damaged: %w", number, err)
	}
	return n, nil
}

func putNumber(tx *bolt.Tx, n Number) error {
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if old, err := getNumber(tx, n.Number); err == nil && old.Account != "" && old.Account != n.Account {
		if err := own(tx, old.Account, ownedNumber, n.Number, false); err != nil {
			return err
		}
	}
	if n.Account != "" {
		if err := own(tx, n.Account, ownedNumber, n.Number, true); err != nil {
			return err
		}
	}
	return bucket(tx, bucketNumbers).Put([]byte(n.Number), data)
}

// accountNumbers are account's rented numbers in order.
func accountNumbers(tx *bolt.Tx, account string) ([]Number, error) {
	out := []Number{}
	err := owned(tx, account, ownedNumber, func(number string) error {
		n, err := getNumber(tx, number)
		if err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// tenantNumber is account's rented number; any other is not found.
func tenantNumber(tx *bolt.Tx, account, number string) (Number, error) {
	n, err := getNumber(tx, number)
	if err == nil && n.Account != account {
		return Number{}, fmt.Errorf("number %s: %w", number, ErrNotFound)
	}
	return n, err
}

// AddNumbers puts free numbers in the inventory.
func (c *Controller) AddNumbers(ctx context.Context, list []Number) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, n := range list {
		if !numberForm.MatchString(n.Number) {
			return fmt.Errorf("number %q: %w: want 7-15 international digits without +", n.Number, ErrInvalid)
		}
		if !slices.Contains(c.opts.Currencies, n.Currency) || len(n.Country) != 2 || n.MonthlyFee < 0 {
			return fmt.Errorf("number %s: %w: want a currency of the server, a two-letter country and a fee", n.Number, ErrInvalid)
		}
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		for _, n := range list {
			if bucket(tx, bucketNumbers).Get([]byte(n.Number)) != nil {
				return fmt.Errorf("number %s: %w: it is in the inventory", n.Number, ErrConflict)
			}
			n.Account, n.App, n.RentedAt = "", "", nil
			if err := putNumber(tx, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// Numbers lists the inventory's numbers for which keep says yes.
func (c *Controller) numbers(ctx context.Context, keep func(Number) bool) ([]Number, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []Number{}
	err := c.db.View(func(tx *bolt.Tx) error {
		return bucket(tx, bucketNumbers).ForEach(func(k, v []byte) error {
			var n Number
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("number %s is damaged: %w", k, err)
			}
			if keep(n) {
				out = append(out, n)
			}
			return nil
		})
	})
	return out, err
}

// AvailableNumbers lists free numbers, of country and currency when given.
func (c *Controller) AvailableNumbers(ctx context.Context, country, currency string) ([]Number, error) {
	return c.numbers(ctx, func(n Number) bool {
		return n.Account == "" && (country == "" || n.Country == country) && (currency == "" || n.Currency == currency)
	})
}

// AllNumbers lists the whole inventory.
func (c *Controller) AllNumbers(ctx context.Context) ([]Number, error) {
	return c.numbers(ctx, func(Number) bool { return true })
}

// AccountNumbers lists account's rented numbers.
func (c *Controller) AccountNumbers(ctx context.Context, account string) ([]Number, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Number
	err := c.db.View(func(tx *bolt.Tx) error {
		if _, err := tenant(tx, account); err != nil {
			return err
		}
		var err error
		out, err = accountNumbers(tx, account)
		return err
	})
	return out, err
}

// feeKey is the idempotency key of a number's fee for the month of t.
func feeKey(number string, t time.Time) string {
	return "fee:" + number + ":" + t.UTC().Format("2006-01")
}

// Rent gives a free number of the account's currency to account, charging
// this month's fee; it needs the balance to pay it. Another tenant's
// number is not found.
func (c *Controller) Rent(ctx context.Context, account, number, app string) (Number, error) {
	if err := ctx.Err(); err != nil {
		return Number{}, err
	}
	now := c.opts.Now().UTC()
	var n Number
	err := c.db.Update(func(tx *bolt.Tx) error {
		a, err := tenant(tx, account)
		if err != nil {
			return err
		}
		if n, err = getNumber(tx, number); err != nil {
			return err
		}
		switch {
		case n.Account == account:
			return nil // renting one's own number again changes nothing
		case n.Account != "":
			return fmt.Errorf("number %s: %w", number, ErrNotFound)
		case n.Currency != a.Currency:
			return fmt.Errorf("number %s is rented in %s: %w: the account pays in %s", number, n.Currency, ErrInvalid, a.Currency)
		case balance(tx, account) < n.MonthlyFee:
			return fmt.Errorf("number %s costs %s a month: %w", number, n.MonthlyFee, ErrInsufficientFunds)
		}
		n.Account, n.App, n.RentedAt = account, app, &now
		if n.MonthlyFee > 0 {
			if _, _, err := post(tx, account, Entry{Key: feeKey(number, now), Kind: KindNumberFee, Amount: -n.MonthlyFee, At: now, Note: "number " + number}); err != nil {
				return err
			}
		}
		return putNumber(tx, n)
	})
	if err != nil {
		return Number{}, fmt.Errorf("rent %s: %w", number, err)
	}
	return n, nil
}

// ReleaseNumber gives account's number back to the inventory, with its
// settings forgotten.
func (c *Controller) ReleaseNumber(ctx context.Context, account, number string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		n, err := tenantNumber(tx, account, number)
		if err != nil {
			return err
		}
		n.Account, n.App, n.RentedAt = "", "", nil
		if err := bucket(tx, bucketNumConfig).Delete([]byte(number)); err != nil {
			return err
		}
		return putNumber(tx, n)
	})
}

// AttachNumber sends account's number's calls to application app.
func (c *Controller) AttachNumber(ctx context.Context, account, number, app string) (Number, error) {
	if err := ctx.Err(); err != nil {
		return Number{}, err
	}
	var n Number
	err := c.db.Update(func(tx *bolt.Tx) error {
		var err error
		if n, err = tenantNumber(tx, account, number); err != nil {
			return err
		}
		n.App = app
		return putNumber(tx, n)
	})
	return n, err
}

// NumberConfig returns account's number's settings JSON (CONTRACTS C), or
// ErrNotFound when it has none.
func (c *Controller) NumberConfig(ctx context.Context, account, number string) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out json.RawMessage
	err := c.db.View(func(tx *bolt.Tx) error {
		if _, err := tenantNumber(tx, account, number); err != nil {
			return err
		}
		data := bucket(tx, bucketNumConfig).Get([]byte(number))
		if data == nil {
			return fmt.Errorf("settings of number %s: %w", number, ErrNotFound)
		}
		out = bytes.Clone(data)
		return nil
	})
	return out, err
}

// SetNumberConfig stores account's number's settings: a JSON object, kept as
// given (the standard scenario defines it).
func (c *Controller) SetNumberConfig(ctx context.Context, account, number string, config json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(config) > maxNumberConfig {
		return fmt.Errorf("settings of number %s: %w: over %d bytes", number, ErrInvalid, maxNumberConfig)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(config, &obj); err != nil || obj == nil {
		return fmt.Errorf("settings of number %s: %w: want a JSON object", number, ErrInvalid)
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		if _, err := tenantNumber(tx, account, number); err != nil {
			return err
		}
		return bucket(tx, bucketNumConfig).Put([]byte(number), bytes.Clone(config))
	})
}

// RouteNumber says whose a called number is (S8): its tenant and
// application, or ErrNotFound when nobody rents it.
func (c *Controller) RouteNumber(ctx context.Context, number string) (Number, error) {
	if err := ctx.Err(); err != nil {
		return Number{}, err
	}
	var n Number
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = getNumber(tx, number)
		if err == nil && n.Account == "" {
			err = fmt.Errorf("number %s is not rented: %w", number, ErrNotFound)
		}
		return err
	})
	return n, err
}

// ChargeMonthlyFees charges every rented number's fee for the month of now,
// once per number and month whenever it runs; vox serve runs it at start
// and hourly. A fee is charged even when the balance goes below zero: the
// number was kept.
func (c *Controller) ChargeMonthlyFees(ctx context.Context) (charged int, err error) {
	rented, err := c.numbers(ctx, func(n Number) bool { return n.Account != "" && n.MonthlyFee > 0 })
	if err != nil {
		return 0, err
	}
	now := c.opts.Now().UTC()
	for _, n := range rented {
		err := c.db.Update(func(tx *bolt.Tx) error {
			_, existed, err := post(tx, n.Account, Entry{Key: feeKey(n.Number, now), Kind: KindNumberFee, Amount: -n.MonthlyFee, At: now, Note: "number " + n.Number})
			if !existed && err == nil {
				charged++
			}
			return err
		})
		if err != nil {
			return charged, fmt.Errorf("monthly fee of %s: %w", n.Number, err)
		}
	}
	return charged, nil
}
