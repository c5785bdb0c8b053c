package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "vox.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var day0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// sample is the i-th call of a synthetic history: one every 7 hours, every
// third outgoing, every fourth busy.
func sample(account string, i int) Record {
	r := Record{
		CallID: fmt.Sprintf("call-%03d", i), Account: account, Direction: Incoming,
		From: "79112233444", To: "74951234567", Start: day0.Add(time.Duration(i) * 7 * time.Hour),
		Duration: int64(i), Status: Answered, Code: 200, Cost: int64(i) * 10_000, Device: Phone, Release: "demo@1",
	}
	if i%3 == 0 {
		r.Direction, r.From, r.To = Outgoing, "74951234567", "74954451120"
	}
	if i%4 == 0 {
		r.Status, r.Code, r.Duration, r.Cost = Busy, 486, 0, 0
	}
	return r
}

func TestCommitIsIdempotentByCallID(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	rec := sample("acme", 1)
	for i, want := range []bool{true, false, false} {
		again := rec
		again.Cost += int64(i) // a re-delivery may differ; the first one stands
		created, err := s.Commit(ctx, again)
		if err != nil || created != want {
			t.Fatalf("commit %d: created %v, %v; want %v", i, created, err, want)
		}
	}
	got, err := s.Get(ctx, "acme", rec.CallID)
	if err != nil || got.Cost != rec.Cost || got.Device != Phone {
		t.Errorf("stored %+v, %v", got, err)
	}
	totals, err := s.Stats(ctx, "acme", Day, time.Time{}, time.Time{})
	if err != nil || len(totals) != 1 || totals[0].Calls != 1 {
		t.Errorf("the record counted %+v times, %v", totals, err)
	}
	// Another tenant's id is not this tenant's call (S1).
	if _, err := s.Get(ctx, "other", rec.CallID); !errors.Is(err, ErrNotFound) {
		t.Errorf("other tenant's Get: %v", err)
	}
}

func TestCommitRefusesBadRecords(t *testing.T) {
	s := openStore(t)
	for name, change := range map[string]func(*Record){
		"bad account":   func(r *Record) { r.Account = "../etc" },
		"bad call id":   func(r *Record) { r.CallID = "a/b" },
		"bad direction": func(r *Record) { r.Direction = "sideways" },
		"bad status":    func(r *Record) { r.Status = "great" },
		"no start":      func(r *Record) { r.Start = time.Time{} },
		"negative cost": func(r *Record) { r.Cost = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			r := sample("acme", 1)
			change(&r)
			if _, err := s.Commit(context.Background(), r); !errors.Is(err, ErrInvalid) {
				t.Errorf("commit: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestQueryFiltersAndPages(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	var all []Record
	for i := 1; i <= 40; i++ {
		r := sample("acme", i)
		all = append(all, r)
		if _, err := s.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(ctx, sample("other", i)); err != nil {
			t.Fatal(err)
		}
	}
	// want is all records matching keep, newest first.
	want := func(keep func(Record) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].CallID)
			}
		}
		return ids
	}
	since, until := day0.Add(24*time.Hour), day0.Add(5*24*time.Hour)
	cases := []struct {
		name   string
		filter Filter
		keep   func(Record) bool
	}{
		{"everything", Filter{}, func(Record) bool { return true }},
		{"outgoing", Filter{Direction: Outgoing}, func(r Record) bool { return r.Direction == Outgoing }},
		{"busy", Filter{Status: Busy}, func(r Record) bool { return r.Status == Busy }},
		{"number", Filter{Number: "74954451120"}, func(r Record) bool { return r.To == "74954451120" }},
		{"date range", Filter{Since: since, Until: until}, func(r Record) bool {
			return !r.Start.Before(since) && r.Start.Before(until)
		}},
		{"range and status", Filter{Since: since, Until: until, Status: Answered}, func(r Record) bool {
			return !r.Start.Before(since) && r.Start.Before(until) && r.Status == Answered
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, 7, 100} {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatal("paging does not end")
					}
					page, next, err := s.Query(ctx, "acme", tc.filter, cursor, limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > limit {
						t.Fatalf("page of %d, limit %d", len(page), limit)
					}
					for _, r := range page {
						if r.Account != "acme" {
							t.Fatalf("another account's record: %+v", r)
						}
						got = append(got, r.CallID)
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if w := want(tc.keep); !reflect.DeepEqual(got, w) {
					t.Errorf("limit %d: got %v, want %v", limit, got, w)
				}
			}
		})
	}
	for _, bad := range []struct {
		f      Filter
		cursor string
	}{{Filter{Status: "great"}, ""}, {Filter{Direction: "up"}, ""}, {Filter{Since: until, Until: since}, ""}, {Filter{}, "!!"}} {
		if _, _, err := s.Query(ctx, "acme", bad.f, bad.cursor, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("Query(%+v, %q): %v, want ErrInvalid", bad.f, bad.cursor, err)
		}
	}
}

func TestStatsPerDayAndMonth(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	// Calls 1..150, one every 7 hours from 1 November: into December.
	var wantDays, wantMonths []Totals
	for i := 1; i <= 150; i++ {
		r := sample("acme", i)
		if _, err := s.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
		wantDays = addTo(wantDays, r.Start.Format(time.DateOnly), r)
		wantMonths = addTo(wantMonths, r.Start.Format("2006-01"), r)
	}
	days, err := s.Stats(ctx, "acme", Day, time.Time{}, time.Time{})
	if err != nil || !reflect.DeepEqual(days, wantDays) {
		t.Errorf("days %v, %v\nwant %v", days, err, wantDays)
	}
	months, err := s.Stats(ctx, "acme", Month, time.Time{}, time.Time{})
	if err != nil || !reflect.DeepEqual(months, wantMonths) || len(months) != 2 {
		t.Errorf("months %v, %v\nwant %v", months, err, wantMonths)
	}
	some, err := s.Stats(ctx, "acme", Day, day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 4))
	if err != nil || len(some) != 2 || some[0].Period != "2026-11-03" || some[1].Period != "2026-11-04" {
		t.Errorf("two days: %v, %v", some, err)
	}
	if _, err := s.Stats(ctx, "acme", "week", time.Time{}, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("week: %v", err)
	}
}

func addTo(list []Totals, period string, r Record) []Totals {
	if n := len(list); n == 0 || list[n-1].Period != period {
		list = append(list, Totals{Period: period})
	}
	list[len(list)-1].add(r)
	return list
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	r := sample("acme", 3)
	r.RecordURL, r.Quality, r.Cost = "http://vox/records/acme/x.wav", 4.2, 1_500_000
	if err := w.Write([]Record{r, sample("acme", 4)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "call_id,account,direction,from,to,start,duration,status,code,cost,device,quality,record_url,release\n" +
		"call-003,acme,outgoing,74951234567,74954451120,2026-11-02T07:00:00Z,3,answered,200,1.5,PHONE,4.2,http://vox/records/acme/x.wav,demo@1\n" +
		"call-004,acme,incoming,79112233444,74951234567,2026-11-02T14:00:00Z,0,busy,486,0,PHONE,,,demo@1\n"
	if buf.String() != want {
		t.Errorf("CSV\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestStatusOf(t *testing.T) {
	for code, want := range map[int]string{200: Answered, 486: Busy, 600: Busy, 487: NoAnswer, 480: NoAnswer, 408: NoAnswer, 603: Rejected, 404: Failed, 500: Failed} {
		if got := StatusOf(code); got != want {
			t.Errorf("StatusOf(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestFormatCost(t *testing.T) {
	for c, want := range map[int64]string{0: "0", 1_500_000: "1.5", 125: "0.000125", 12_000_000: "12", -250_000: "-0.25"} {
		if got := FormatCost(c); got != want {
			t.Errorf("FormatCost(%d) = %s, want %s", c, got, want)
		}
	}
}
