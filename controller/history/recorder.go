package history

import (
	"context"
	"fmt"
)

// Notifier tells the tenant's portal about a committed record (S21: the
// AddCallHistory webhook). It is told again when a record is delivered again,
// so it names its event after the call id and the portal drops the repeat.
type Notifier interface {
	CallRecorded(ctx context.Context, rec Record) error
}

// Recorder commits finished calls' records and tells the portal. Notifier
// may be nil.
type Recorder struct {
	Store    *Store
	Notifier Notifier
}

// Record commits rec (once per call id) and then tells the portal, also
// when rec was already stored: a crash between the two is mended by the next
// delivery.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
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
