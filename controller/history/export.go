package history

import (
	"context"
	"encoding/json"
	"fmt"
)

// Section carries an account's call records in its export document (S15:
// an account moves with its history); it has the method set the
// controller's export takes (controller.Section).
type Section struct{ Store *Store }

// SectionName names the records' section of the export.
const SectionName = "history"

// Name is the section's name in the export document.
func (Section) Name() string { return SectionName }

// Export returns every record of the account, oldest first; nil when it has
// none.
func (s Section) Export(ctx context.Context, account string) (json.RawMessage, error) {
	var all []Record
	cursor := ""
	for {
		page, next, err := s.Store.Query(ctx, account, Filter{}, cursor, MaxLimit)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) == 0 {
		return nil, nil
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return json.Marshal(all)
}

// Import stores the exported records into the account; records already
// there (an import run twice) are kept once.
func (s Section) Import(ctx context.Context, account string, data json.RawMessage) error {
	var records []Record
	if err := json.Unmarshal(data, &records); err != nil {
		return fmt.Errorf("%w: the history section: %v", ErrInvalid, err)
	}
	for i := range records {
		records[i].Account = account
	}
	if _, err := s.Store.CommitAll(ctx, records); err != nil {
		return fmt.Errorf("import the history of %s: %w", account, err)
	}
	return nil
}
