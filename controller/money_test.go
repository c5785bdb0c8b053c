package controller

import (
	"encoding/json"
	"testing"
)

func TestAmount(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    Amount
		printed string
		bad     bool
	}{
		{in: "12", want: 12_000_000, printed: "12.00"},
		{in: "12.5", want: 12_500_000, printed: "12.50"},
		{in: "-0.015", want: -15_000, printed: "-0.015"},
		{in: ".25", want: 250_000, printed: "0.25"},
		{in: "0.000001", want: 1, printed: "0.000001"},
		{in: "1.0000001", bad: true},
		{in: "abc", bad: true},
		{in: "", bad: true},
		{in: "1.-2", bad: true},
		{in: "99999999999999999999", bad: true},
	}
	for _, tc := range cases {
		got, err := ParseAmount(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.printed {
			t.Errorf("%q: %d %q %v, want %d %q", tc.in, got, got, err, tc.want, tc.printed)
		}
	}
	var a struct{ A, B Amount }
	if err := json.Unmarshal([]byte(`{"A":"1.5","B":2}`), &a); err != nil || a.A != 1_500_000 || a.B != 2_000_000 {
		t.Errorf("JSON: %+v %v", a, err)
	}
	if data, _ := json.Marshal(a); string(data) != `{"A":"1.50","B":"2.00"}` {
		t.Errorf("JSON out: %s", data)
	}
}
