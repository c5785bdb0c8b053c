package history

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// An account's records move to another server in its export (S15), once
// however often the import runs, under the account's name there.
func TestSectionMovesTheHistory(t *testing.T) {
	from, to := openStore(t), openStore(t)
	ctx := context.Background()
	var want []Record
	for i := 1; i <= 1200; i++ { // more than a page
		r := sample("acme", i)
		if _, err := from.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Account = "acme2"
		want = append(want, r)
	}
	data, err := Section{from}.Export(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if empty, err := (Section{from}).Export(ctx, "nobody"); err != nil || empty != nil {
		t.Errorf("export of no history: %s, %v", empty, err)
	}
	for range 2 {
		if err := (Section{to}).Import(ctx, "acme2", data); err != nil {
			t.Fatal(err)
		}
	}
	var got []Record
	cursor := ""
	for {
		page, next, err := to.Query(ctx, "acme2", Filter{}, cursor, MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 { // newest first: turn it
		got[i], got[j] = got[j], got[i]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("imported %d records, want %d equal to the exported", len(got), len(want))
	}
	totals, _ := to.Stats(ctx, "acme2", Month, time.Time{}, time.Time{})
	fromTotals, _ := from.Stats(ctx, "acme", Month, time.Time{}, time.Time{})
	if !reflect.DeepEqual(totals, fromTotals) {
		t.Errorf("totals after import %+v, before %+v", totals, fromTotals)
	}
	if err := (Section{to}).Import(ctx, "acme2", json.RawMessage(`{"not":"a list"}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a bad section: %v", err)
	}
}
