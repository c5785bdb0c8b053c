package numbers

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Errors that Dial, Validate and ParseDialFormat wrap; test with errors.Is.
var (
	ErrNotInternational = errors.New("not international digits")
	ErrDialFormat       = errors.New("bad dial format")
)

// Domestic is how a trunk dials numbers of its own country.
type Domestic uint8

const (
	// DialInternational dials them like any other number, country code first
	// (7495…).
	DialInternational Domestic = iota
	// DialNational dials the national prefix, then the national significant
	// number (8495… on a Kazakh trunk, 020… on a British one).
	DialNational
	// DialSignificant dials the national significant number alone, with
	// neither country code nor prefix (495…, or ten digits in the NANP).
	DialSignificant
)

var domesticNames = [...]string{"international", "national", "significant"}

func (d Domestic) String() string {
	if int(d) < len(domesticNames) {
		return domesticNames[d]
	}
	return fmt.Sprintf("Domestic(%d)", uint8(d))
}

// DialFormat is the form a trunk's carrier wants numbers in (S18: one knows
// 7495, one wants a leading +, one no country code; a Kazakh one wants 8495
// for 7495 and 810 before every number outside Kazakhstan and Russia). Its
// zero value dials the stored digits as they are (74954451120).
//
// Numbers of the trunk's country are those with its calling code, so a trunk
// in KZ treats Russian numbers (+7) as its own, and one in US the whole NANP.
type DialFormat struct {
	// Country is the trunk's ISO 3166 code; required unless Domestic is
	// DialInternational.
	Country string
	// Domestic is how numbers of Country are dialled.
	Domestic Domestic
	// NationalPrefix, with DialNational, replaces Country's own trunk prefix
	// (8 in RU and KZ, 0 in GB, DE and UA, 1 in the NANP).
	NationalPrefix string
	// Plus puts a + before numbers dialled in international form.
	Plus bool
	// InternationalPrefix goes before numbers dialled in international form
	// instead of a plus (810 on Kazakh trunks, 00, 011).
	InternationalPrefix string
}

// Validate reports whether f can dial: a known country where one is needed,
// digit-only prefixes, and no prefix that would be ignored.
func (f DialFormat) Validate() error {
	country, err := region(f.Country)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDialFormat, err)
	}
	switch {
	case int(f.Domestic) >= len(domesticNames):
		return fmt.Errorf("%w: domestic form %d", ErrDialFormat, f.Domestic)
	case f.Domestic != DialInternational && country == "":
		return fmt.Errorf("%w: domestic=%s needs a country", ErrDialFormat, f.Domestic)
	case f.NationalPrefix != "" && f.Domestic != DialNational:
		return fmt.Errorf("%w: national prefix without domestic=national", ErrDialFormat)
	case !allDigits(f.NationalPrefix) || !allDigits(f.InternationalPrefix):
		return fmt.Errorf("%w: prefixes are digits", ErrDialFormat)
	case f.Plus && f.InternationalPrefix != "":
		return fmt.Errorf("%w: both a plus and international prefix %s", ErrDialFormat, f.InternationalPrefix)
	}
	return nil
}

// Dial returns what the trunk dials for a number stored as international
// digits (Normalize's value for an International number).
func (f DialFormat) Dial(international string) (string, error) {
	if len(international) < minNumberDigits || len(international) > maxDigits || !allDigits(international) {
		return "", fmt.Errorf("dial %q: %w", international, ErrNotInternational)
	}
	cc, n := callingCode(international)
	if n == 0 {
		return "", fmt.Errorf("dial %q: unknown country code: %w", international, ErrNotInternational)
	}
	if f.Domestic != DialInternational && f.Country != "" &&
		cc == phonenumbers.GetCountryCodeForRegion(strings.ToUpper(f.Country)) {
		significant := international[n:]
		if f.Domestic == DialSignificant {
			return significant, nil
		}
		prefix := f.NationalPrefix
		if prefix == "" {
			prefix = phonenumbers.GetNddPrefixForRegion(strings.ToUpper(f.Country), true)
		}
		return prefix + significant, nil
	}
	switch {
	case f.Plus:
		return "+" + international, nil
	case f.InternationalPrefix != "":
		return f.InternationalPrefix + international, nil
	}
	return international, nil
}

// callingCode returns the country calling code that digits start with and its
// length, or 0, 0. Calling codes are a prefix code (ITU-T E.164), so at most
// one of the first one, two or three digits is assigned.
func callingCode(digits string) (code, length int) {
	if digits == "" || digits[0] == '0' {
		return 0, 0
	}
	for i := 0; i < 3 && i < len(digits); i++ {
		code = code*10 + int(digits[i]-'0')
		if phonenumbers.GetRegionCodeForCountryCode(code) != phonenumbers.UNKNOWN_REGION {
			return code, i + 1
		}
	}
	return 0, 0
}

// ParseDialFormat reads the compact form that String writes: space-separated
// settings in any order, each at most once, the empty string being the zero
// DialFormat.
//
//	country=KZ                 the trunk's country
//	domestic=national          or significant, or international
//	national-prefix=8          with domestic=national
//	+                          a plus before numbers in international form
//	international-prefix=810   or this prefix instead
//
// The seed's Kazakh trunk is "country=KZ domestic=national
// international-prefix=810".
func ParseDialFormat(s string) (DialFormat, error) {
	var f DialFormat
	seen := map[string]bool{}
	for _, field := range strings.Fields(s) {
		key, value, hasValue := strings.Cut(field, "=")
		if (key == "+") == hasValue || hasValue && value == "" {
			return DialFormat{}, fmt.Errorf("%w: setting %q", ErrDialFormat, field)
		}
		if seen[key] {
			return DialFormat{}, fmt.Errorf("%w: %s given twice in %q", ErrDialFormat, key, s)
		}
		seen[key] = true
		switch key {
		case "+":
			f.Plus = true
		case "country":
			f.Country = value
		case "domestic":
			d := slices.Index(domesticNames[:], value)
			if d < 0 {
				return DialFormat{}, fmt.Errorf("%w: domestic=%s, want international, national or significant", ErrDialFormat, value)
			}
			f.Domestic = Domestic(d)
		case "national-prefix":
			f.NationalPrefix = value
		case "international-prefix":
			f.InternationalPrefix = value
		default:
			return DialFormat{}, fmt.Errorf("%w: unknown setting %q", ErrDialFormat, field)
		}
	}
	if err := f.Validate(); err != nil {
		return DialFormat{}, err
	}
	return f, nil
}

// String returns f in the form ParseDialFormat reads.
func (f DialFormat) String() string {
	var parts []string
	if f.Country != "" {
		parts = append(parts, "country="+f.Country)
	}
	if f.Domestic != DialInternational {
		parts = append(parts, "domestic="+f.Domestic.String())
	}
	if f.NationalPrefix != "" {
		parts = append(parts, "national-prefix="+f.NationalPrefix)
	}
	if f.Plus {
		parts = append(parts, "+")
	}
	if f.InternationalPrefix != "" {
		parts = append(parts, "international-prefix="+f.InternationalPrefix)
	}
	return strings.Join(parts, " ")
}
