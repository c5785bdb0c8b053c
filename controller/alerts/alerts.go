// Package alerts owns low-balance warnings (S14): a fixed threshold per
// account, and an adaptive one learned from the last week's spending (warn
// when the balance covers fewer than N days of it). Each warning is sent
// once per crossing, as a LowBalance webhook, and re-armed when the balance
// is above the threshold again.
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"vox/controller/webhook"
)

// ErrInvalid marks settings that cannot be used.
var ErrInvalid = errors.New("invalid")

// Ledger is what the alerts read of an account's money, in millionths of its
// currency (the controller's Amount).
type Ledger interface {
	Balance(ctx context.Context, account string) (int64, error)
	// Spent is what the account was charged since then (a positive sum).
	Spent(ctx context.Context, account string, since time.Time) (int64, error)
}

// Sender queues a webhook to the account's portal (*webhook.Outbox).
type Sender interface {
	Enqueue(ctx context.Context, ev webhook.Event) (string, error)
}

// Settings are an account's thresholds; zero turns one off.
type Settings struct {
	// Threshold warns when the balance falls below it (millionths).
	Threshold int64 `json:"threshold"`
	// Days warns when the balance covers fewer days than this at the last
	// Window's average daily spending.
	Days int `json:"days"`
}

// Window is the spending the adaptive threshold learns from.
const Window = 7 * 24 * time.Hour

// The rules, as the webhook names them.
const (
	RuleFixed    = "fixed"
	RuleAdaptive = "adaptive"
)

// state is what the monitor remembers of an account: its settings and, per
// rule, whether the balance is below (a warning was sent) and how many
// crossings there were (the event id of the next warning).
type state struct {
	Settings  Settings        `json:"settings"`
	Below     map[string]bool `json:"below,omitempty"`
	Crossings map[string]int  `json:"crossings,omitempty"`
}

// Layout: alerts/accounts  account -> state JSON.
var (
	bucketRoot     = []byte("alerts")
	bucketAccounts = []byte("accounts")
)

// Options configure a Monitor.
type Options struct {
	Ledger Ledger
	Sender Sender
	Now    func() time.Time
	Logger *slog.Logger
}

// Monitor checks accounts' balances against their thresholds.
type Monitor struct {
	db   *bolt.DB
	opts Options
}

// Open makes the monitor's buckets in db when missing.
func Open(db *bolt.DB, opts Options) (*Monitor, error) {
	if opts.Ledger == nil || opts.Sender == nil {
		return nil, errors.New("open alerts: Ledger and Sender are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err == nil {
			_, err = root.CreateBucketIfNotExists(bucketAccounts)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return &Monitor{db: db, opts: opts}, nil
}

func (m *Monitor) load(account string) (state, error) {
	var st state
	err := m.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRoot).Bucket(bucketAccounts).Get([]byte(account))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &st)
	})
	return st, err
}

func (m *Monitor) save(account string, st state) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketAccounts).Put([]byte(account), v)
	})
}

// Settings returns the account's thresholds (zero when none were set).
func (m *Monitor) Settings(ctx context.Context, account string) (Settings, error) {
	st, err := m.load(account)
	if err != nil {
		return Settings{}, fmt.Errorf("alert settings of %s: %w", account, err)
	}
	return st.Settings, nil
}

// SetSettings changes the account's thresholds and checks its balance
// against them at once.
func (m *Monitor) SetSettings(ctx context.Context, account string, s Settings) error {
	if s.Threshold < 0 || s.Days < 0 || s.Days > 365 {
		return fmt.Errorf("%w: threshold must not be negative, days 0 to 365", ErrInvalid)
	}
	st, err := m.load(account)
	if err != nil {
		return fmt.Errorf("alert settings of %s: %w", account, err)
	}
	st.Settings = s
	if err := m.save(account, st); err != nil {
		return fmt.Errorf("alert settings of %s: %w", account, err)
	}
	_, err = m.Check(ctx, account)
	return err
}

// Check compares the account's balance with its thresholds and sends a
// warning for each rule the balance has just fallen below; it returns the
// rules it warned about now.
func (m *Monitor) Check(ctx context.Context, account string) ([]string, error) {
	st, err := m.load(account)
	if err != nil {
		return nil, fmt.Errorf("check the balance of %s: %w", account, err)
	}
	if st.Settings == (Settings{}) {
		return nil, nil
	}
	balance, err := m.opts.Ledger.Balance(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("check the balance of %s: %w", account, err)
	}
	now := m.opts.Now()
	below := map[string]bool{}
	data := map[string]any{"balance": balance}
	if t := st.Settings.Threshold; t > 0 {
		below[RuleFixed] = balance < t
		data["threshold"] = t
	}
	if days := st.Settings.Days; days > 0 {
		spent, err := m.opts.Ledger.Spent(ctx, account, now.Add(-Window))
		if err != nil {
			return nil, fmt.Errorf("check the balance of %s: %w", account, err)
		}
		perDay := spent / int64(Window/(24*time.Hour))
		// Nothing spent: any balance covers it, however small.
		below[RuleAdaptive] = perDay > 0 && balance < perDay*int64(days)
		data["dailySpending"], data["days"] = perDay, days
		if perDay > 0 {
			data["daysLeft"] = float64(balance) / float64(perDay)
		}
	}
	var warned []string
	changed := false
	if st.Below == nil {
		st.Below, st.Crossings = map[string]bool{}, map[string]int{}
	}
	for _, rule := range []string{RuleFixed, RuleAdaptive} {
		isBelow, known := below[rule]
		if !known || isBelow == st.Below[rule] {
			continue
		}
		changed = true
		if !isBelow {
			st.Below[rule] = false // above again: the next crossing warns
			continue
		}
		st.Crossings[rule]++
		payload := map[string]any{"rule": rule}
		for k, v := range data {
			payload[k] = v
		}
		raw, err := json.Marshal(payload)
		if err != nil {
			return warned, err
		}
		// The id is the crossing's: a warning queued again after a crash
		// before the state was saved is the same event to the portal.
		id := webhook.LowBalance + ":" + account + ":" + rule + ":" + strconv.Itoa(st.Crossings[rule])
		if _, err := m.opts.Sender.Enqueue(ctx, webhook.Event{ID: id, Type: webhook.LowBalance, Account: account, Data: raw}); err != nil {
			return warned, fmt.Errorf("warn %s of a low balance: %w", account, err)
		}
		st.Below[rule] = true
		warned = append(warned, rule)
	}
	if changed {
		if err := m.save(account, st); err != nil {
			return warned, fmt.Errorf("check the balance of %s: %w", account, err)
		}
	}
	return warned, nil
}

// CheckAll checks every account with thresholds; an account that fails is
// logged and the others go on.
func (m *Monitor) CheckAll(ctx context.Context) {
	var accounts []string
	m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketAccounts).ForEach(func(k, _ []byte) error {
			accounts = append(accounts, string(k))
			return nil
		})
	})
	for _, a := range accounts {
		if ctx.Err() != nil {
			return
		}
		if _, err := m.Check(ctx, a); err != nil {
			m.opts.Logger.Warn("low-balance check", "account", a, "err", err)
		}
	}
}

// Run checks every account every interval until ctx ends: spending ages out
// of the window and balances change without a call (top-ups).
func (m *Monitor) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.CheckAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
