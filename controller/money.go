package controller

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Amount is money in millionths of a currency unit: per-second tariffs of
// fractions of a kopeck add up exactly, with no float rounding in a ledger.
type Amount int64

// amountScale is how many Amount make one unit of the currency.
const amountScale = 1_000_000

// ParseAmount reads a decimal amount such as "12", "12.5" or "-0.015".
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(digits, ".")
	if whole == "" && frac == "" || len(frac) > 6 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("amount %q: want a decimal number with up to 6 decimals", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 63)
	if err != nil || w > 1<<40 {
		return 0, fmt.Errorf("amount %q: want a decimal number of reasonable size", s)
	}
	f := uint64(0)
	if frac != "" {
		if f, err = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 63); err != nil {
			return 0, fmt.Errorf("amount %q: want a decimal number", s)
		}
	}
	a := Amount(w*amountScale + f)
	if neg {
		a = -a
	}
	return a, nil
}

// String writes the amount with at least two decimals: "12.50", "-0.015".
func (a Amount) String() string {
	sign := ""
	u := int64(a)
	if u < 0 {
		sign, u = "-", -u
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", u%amountScale), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, u/amountScale, frac)
}

// MarshalJSON writes the amount as a decimal string, which no JSON reader
// turns into a float.
func (a Amount) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// UnmarshalJSON reads a decimal string or a JSON number.
func (a *Amount) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("amount: want a decimal string like \"12.50\"")
		}
		s = n.String()
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
