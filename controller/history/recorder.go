package history

import (
	"context"
	"fmt"
	"log/slog"
)

// Pricer prices a finished call and charges it to its account, once per call
// id however often it is asked (controller-core's tariffs and ledger
// implement it). It returns the cost in millionths of the account's currency.
type Pricer interface {
	Charge(ctx context.Context, rec Record) (int64, error)
}

// Notifier tells the tenant's portal about a committed record (S21: the
// AddCallHistory webhook). It is told again when a record is delivered again,
// so it names its event after the call id and the portal drops the repeat.
type Notifier interface {
	CallRecorded(ctx context.Context, rec Record) error
}

// Recorder turns finished calls into records: it prices the call, commits
// the record, and tells the portal. Pricer and Notifier may be nil.
type Recorder struct {
	Store    *Store
	Pricer   Pricer
	Notifier Notifier
	Logger   *slog.Logger
}

// Record charges and commits rec. A call that cannot be priced (no tariff
// for it) is recorded at no cost and the failure logged: the record matters
// more than the charge, which the operator can settle. Charging first keeps a
// crash between the two safe: the charge is idempotent by call id, the record
// is written when the call is delivered again.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if r.Pricer != nil {
		cost, err := r.Pricer.Charge(ctx, rec)
		if err != nil {
			logger.Warn("call not charged", "call", rec.CallID, "account", rec.Account, "err", err)
		} else {
			rec.Cost = cost
		}
	}
	if _, err := r.Store.Commit(ctx, rec); err != nil {
		return fmt.Errorf("record call %s: %w", rec.CallID, err)
	}
	if r.Notifier != nil {
		if err := r.Notifier.CallRecorded(ctx, rec); err != nil {
			return fmt.Errorf("record call %s: notify the portal: %w", rec.CallID, err)
		}
	}
	return nil
}
