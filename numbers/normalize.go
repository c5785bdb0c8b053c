// Package numbers owns turning what people type into international digits and back
// into what each trunk dials (S18).
//
// Numbers are stored and routed as international digits without a plus
// (74954451120). Normalize gets there from whatever a user typed, reading
// national and international prefixes the way the tenant's people dial, not the
// way the country a line is registered in would; DialFormat turns the stored
// digits into the form a trunk's carrier accepts. The number plan is
// github.com/nyaruka/phonenumbers (libphonenumber's metadata).
package numbers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Errors that Normalize and Parse wrap; test with errors.Is.
var (
	ErrEmpty          = errors.New("empty number")
	ErrTooLong        = errors.New("too long for a phone number")
	ErrTooShort       = errors.New("too short for a phone number")
	ErrInvalidChar    = errors.New("character not allowed in a phone number")
	ErrNotANumber     = errors.New("not a valid phone number")
	ErrUnknownCountry = errors.New("unknown country code")
)

const (
	// maxInput bounds the work done on one input; a typed number with all its
	// spaces and brackets is far shorter.
	maxInput = 64
	// maxDigits is E.164's 15 digits plus the longest prefix people type
	// before them (0011 in Australia, or 8 10).
	maxDigits = 20
	// maxExtensionDigits is the longest run of bare digits taken as an
	// extension (101, 2001) rather than as a phone number; the shortest
	// international numbers (+683 4002, Niue) have seven digits.
	maxExtensionDigits = 6
	minNumberDigits    = 7
)

// commonInternationalPrefixes are what people type before a country code
// wherever they are (S18: 007495…, 0117495…, 8-10-…); they are tried, longest
// first, after the tenant's own country has had its say, so a national number
// that happens to start with them (0117 is Bristol) keeps its meaning.
var commonInternationalPrefixes = []string{"0011", "011", "810", "00"}

// Kind says what an input turned out to be.
type Kind uint8

const (
	// Unknown is the kind of an input Parse refused.
	Unknown Kind = iota
	// International is a phone number; its value is international digits
	// without a plus: 74954451120.
	International
	// Extension is a name in the tenant's own namespace, an internal number
	// or a user (101, phone67, user67); its value is the input as typed.
	Extension
	// Service is a code for the carrier or a PBX feature (*21#, #31#,
	// *100#); its value is the input as typed.
	Service
)

func (k Kind) String() string {
	switch k {
	case Unknown:
		return "unknown"
	case International:
		return "international"
	case Extension:
		return "extension"
	case Service:
		return "service"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Preference is how a tenant's people dial. Its zero value reads only numbers
// with an explicit country code (+7…, 007…, 0117…, or already stored digits).
type Preference struct {
	// Country is the ISO 3166 code (RU) whose national prefix and number plan
	// read numbers typed without a country code. It is the tenant's choice and
	// wins over Registered (S18: a Russian abroad still dials 8 for Moscow).
	Country string
	// Registered is the country the calling line or number is registered in;
	// it is tried only when Country does not make a valid number of the input.
	Registered string
	// InternationalPrefixes are prefixes the tenant's people type before a
	// country code in addition to Country's own and the common ones (00,
	// 011, 810, 0011).
	InternationalPrefixes []string
	// NationalPrefixes are trunk prefixes in addition to Country's own, for
	// habits that outlived a numbering plan (8 before 044 in Ukraine).
	NationalPrefixes []string
}

// Validate reports whether p names known countries and digit-only prefixes.
func (p Preference) Validate() error {
	for _, c := range []string{p.Country, p.Registered} {
		if _, err := region(c); err != nil {
			return err
		}
	}
	for _, list := range [][]string{p.InternationalPrefixes, p.NationalPrefixes} {
		for _, prefix := range list {
			if prefix == "" || !allDigits(prefix) {
				return fmt.Errorf("prefix %q: %w", prefix, ErrInvalidChar)
			}
		}
	}
	return nil
}

// Number is a classified input.
type Number struct {
	// Value is international digits without a plus for International, the
	// trimmed input for Extension and Service.
	Value string
	Kind  Kind
}

// Normalize returns Parse's value: international digits without a plus
// (74954451120) for a phone number, the trimmed input for an extension, a
// user name or a service code.
func Normalize(input string, pref Preference) (string, error) {
	n, err := Parse(input, pref)
	return n.Value, err
}

// Parse classifies what a user typed and, for a phone number, reads it as
// international digits. Formatting (spaces, dashes, brackets, dots, slashes)
// is ignored; a leading plus means a country code follows. A number without
// one is read, in order and taking the first valid reading: in the preferred
// country (its national and international prefixes, then the preference's
// extra national prefixes), after one of the international prefixes people
// commonly type, in the registration country, and as digits that already start
// with a country code. A number whose country code is explicit needs only a
// possible length for its country, since the plan's metadata lags behind new
// ranges; any other reading must be a valid number.
func Parse(input string, pref Preference) (Number, error) {
	s := strings.TrimSpace(input)
	if s == "" {
		return Number{}, ErrEmpty
	}
	if len(s) > maxInput {
		return Number{}, fmt.Errorf("number of %d bytes: %w", len(s), ErrTooLong)
	}
	country, err := region(pref.Country)
	if err != nil {
		return Number{}, err
	}
	registered, err := region(pref.Registered)
	if err != nil {
		return Number{}, err
	}

	var buf [maxDigits]byte
	n, plus := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == maxDigits {
				return Number{}, fmt.Errorf("number %q: %w", s, ErrTooLong)
			}
			buf[n] = c
			n++
		case c == '+' && n == 0 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '/' || c == '\t':
		case c == '*' || c == '#':
			if isServiceCode(s) {
				return Number{Value: s, Kind: Service}, nil
			}
			return Number{}, fmt.Errorf("number %q: %w", s, ErrInvalidChar)
		default:
			if isUserName(s) {
				return Number{Value: s, Kind: Extension}, nil
			}
			return Number{}, fmt.Errorf("number %q: %w", s, ErrInvalidChar)
		}
	}
	if !plus && n == len(s) && n <= maxExtensionDigits {
		return Number{Value: s, Kind: Extension}, nil
	}
	if n < minNumberDigits {
		return Number{}, fmt.Errorf("number %q: %w", s, ErrTooShort)
	}

	r := reader{digits: string(buf[:n])}
	if plus {
		r.try("+"+r.digits, "", true)
	} else {
		r.readNational(country, pref.NationalPrefixes)
		r.readInternational(pref.InternationalPrefixes)
		r.readInternational(commonInternationalPrefixes)
		if registered != country {
			r.readNational(registered, nil)
		}
		r.try("+"+r.digits, "", false)
	}
	if r.best == "" {
		if plus {
			return Number{}, fmt.Errorf("number %q: %w", s, ErrNotANumber)
		}
		if country == "" {
			return Number{}, fmt.Errorf("number %q without a country code and no preferred country: %w", s, ErrNotANumber)
		}
		return Number{}, fmt.Errorf("number %q, neither in %s nor in international form: %w", s, country, ErrNotANumber)
	}
	return Number{Value: r.best, Kind: International}, nil
}

// reader tries readings of one run of digits until one makes a valid number.
type reader struct {
	digits string
	best   string // the first valid reading, else the first possible explicit one
	valid  bool
	pn     phonenumbers.PhoneNumber // reused by every reading
}

// readNational reads the digits in country: its own prefixes as
// libphonenumber knows them, then after each extra national prefix.
func (r *reader) readNational(country string, extra []string) {
	if country == "" {
		return
	}
	r.try(r.digits, country, false)
	for _, p := range extra {
		if rest, ok := strings.CutPrefix(r.digits, p); ok {
			r.try(rest, country, false)
		}
	}
}

func (r *reader) readInternational(prefixes []string) {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(r.digits, p); ok && rest != "" {
			r.try("+"+rest, "", true)
		}
	}
}

// try parses one reading and keeps it if it is valid, or possible with an
// explicit country code and nothing better has been found yet.
func (r *reader) try(number, country string, explicit bool) {
	if r.valid {
		return
	}
	if country == "" {
		country = "ZZ" // libphonenumber's unknown region: only +… parses
	}
	pn := &r.pn
	pn.Reset()
	if err := phonenumbers.ParseToNumber(number, country, pn); err != nil {
		return
	}
	switch {
	case phonenumbers.IsValidNumber(pn):
		r.valid = true
		r.best = phonenumbers.Format(pn, phonenumbers.E164)[1:]
	case explicit && r.best == "" && phonenumbers.IsPossibleNumber(pn):
		// Outside the plan libphonenumber may strip a national prefix it
		// finds after the country code (+84 0…); keep the number only if
		// it reads back the same, so that stored numbers stay stable.
		e164 := phonenumbers.Format(pn, phonenumbers.E164)
		pn.Reset()
		if phonenumbers.ParseToNumber(e164, "ZZ", pn) == nil && phonenumbers.Format(pn, phonenumbers.E164) == e164 {
			r.best = e164[1:]
		}
	}
}

// region returns code as libphonenumber spells it, or an error if it is not a
// country libphonenumber knows; "" stays "".
func region(code string) (string, error) {
	if code == "" {
		return "", nil
	}
	code = strings.ToUpper(code)
	if phonenumbers.GetCountryCodeForRegion(code) == 0 {
		return "", fmt.Errorf("country %q: %w", code, ErrUnknownCountry)
	}
	return code, nil
}

// isServiceCode reports whether s is digits, *, # and + with a * or # first or
// last, as carrier USSD and PBX feature codes are (*21*+79161234567#, #31#).
func isServiceCode(s string) bool {
	if len(s) < 2 || !(s[0] == '*' || s[0] == '#' || s[len(s)-1] == '#') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#' || c == '+') {
			return false
		}
	}
	return true
}

// isUserName reports whether s looks like a SIP user (phone67, user67,
// anna.k): a letter, then letters, digits, dots, dashes and underscores.
func isUserName(s string) bool {
	if !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
