package numbers

import (
	"errors"
	"strings"
	"testing"
)

var (
	ru = Preference{Country: "RU"}
	kz = Preference{Country: "KZ"}
	ua = Preference{Country: "UA"}
	us = Preference{Country: "US"}
	gb = Preference{Country: "GB"}
	de = Preference{Country: "DE"}
	au = Preference{Country: "AU"}
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		pref  Preference
		want  string
		kind  Kind
		err   error
	}{
		// S18: what the seed's users type.
		{"seed national with 8", "8 (495) 445-11-20", ru, "74954451120", International, nil},
		{"seed plus", "+7 495 445-11-20", ru, "74954451120", International, nil},
		{"seed 00", "007495 445 11 20", ru, "74954451120", International, nil},
		{"seed 011", "0117495 445 11 20", ru, "74954451120", International, nil},
		{"seed 8-10", "8-10-1-212-555-0100", ru, "12125550100", International, nil},
		{"seed stored digits", "74954451120", ru, "74954451120", International, nil},
		{"RU mobile", "8(916)1234567", ru, "79161234567", International, nil},
		{"RU mobile plus brackets", "+7 (916) 123-45-67", ru, "79161234567", International, nil},
		{"RU toll free", "8 800 555-35-35", ru, "78005553535", International, nil},
		{"RU dots and tabs", "8.495.445.11.20\t", ru, "74954451120", International, nil},
		{"RU without area code", "445-11-20", ru, "", Unknown, ErrNotANumber},
		{"RU 0011 typed anyway", "0011 7 495 445 11 20", ru, "74954451120", International, nil},

		// Kazakhstan: 8 and 810 as in Russia; Russian numbers are +7 too.
		{"KZ Almaty", "8 727 258 12 34", kz, "77272581234", International, nil},
		{"KZ mobile", "8 701 123 45 67", kz, "77011234567", International, nil},
		{"KZ dials Moscow", "8 495 445 11 20", kz, "74954451120", International, nil},
		{"KZ 810 Germany", "810 49 30 1234567", kz, "49301234567", International, nil},
		{"KZ plus", "+7 727 258 12 34", Preference{}, "77272581234", International, nil},

		// Ukraine: trunk prefix 0, IDD 00; an old 8 only when the tenant says so.
		{"UA Kyiv", "044 123 45 67", ua, "380441234567", International, nil},
		{"UA mobile", "067 123 45 67", ua, "380671234567", International, nil},
		{"UA plus", "+380 44 123 4567", Preference{}, "380441234567", International, nil},
		{"UA old 8 unknown", "8 044 123 45 67", ua, "", Unknown, ErrNotANumber},
		{"UA old 8 preferred", "8 044 123 45 67", Preference{Country: "UA", NationalPrefixes: []string{"8"}}, "380441234567", International, nil},

		// NANP.
		{"US brackets", "(212) 736-5000", us, "12127365000", International, nil},
		{"US trunk prefix 1", "1-212-736-5000", us, "12127365000", International, nil},
		{"US dots", "212.736.5000", us, "12127365000", International, nil},
		{"US 011 to Moscow", "011 7 495 445 11 20", us, "74954451120", International, nil},
		{"US area code 810 is not 8-10", "810 555 0134", us, "18105550134", International, nil},

		// UK: 0117 is Bristol, not 011 + 7.
		{"GB London", "020 7946 0000", gb, "442079460000", International, nil},
		{"GB Bristol", "0117 496 0000", gb, "441174960000", International, nil},
		{"GB 011 to Moscow", "011 7 495 445 11 20", gb, "74954451120", International, nil},
		{"GB mobile", "07911 123456", gb, "447911123456", International, nil},
		{"GB plus (0)", "+44 (0) 20 7946 0000", Preference{}, "442079460000", International, nil},
		{"GB 00 to Moscow", "00 7 495 445 11 20", gb, "74954451120", International, nil},

		// Germany.
		{"DE Berlin", "030 1234567", de, "49301234567", International, nil},
		{"DE 0049", "0049 30 1234567", de, "49301234567", International, nil},
		{"DE mobile slash", "0151/23456789", de, "4915123456789", International, nil},
		{"DE plus (0)", "+49 (0)30 1234567", Preference{}, "49301234567", International, nil},

		// Australia: 0011.
		{"AU 0011", "0011 7 495 445 11 20", au, "74954451120", International, nil},

		// The tenant's preference wins over the registration country (S18).
		{"RU tenant in DE dials 8", "8 916 123-45-67", Preference{Country: "RU", Registered: "DE"}, "79161234567", International, nil},
		{"registration alone", "8 916 123-45-67", Preference{Registered: "DE"}, "4989161234567", International, nil},
		{"GB tenant registered in DE", "030 1234 5678", Preference{Country: "GB", Registered: "DE"}, "443012345678", International, nil},
		{"DE tenant registered in GB", "030 1234 5678", Preference{Country: "DE", Registered: "GB"}, "493012345678", International, nil},
		{"registration when preference fails", "030 1234567", Preference{Country: "RU", Registered: "DE"}, "49301234567", International, nil},
		{"extra international prefix", "99 7 495 445 11 20", Preference{Country: "RU", InternationalPrefixes: []string{"99"}}, "74954451120", International, nil},
		{"lower-case country", "8 495 445 11 20", Preference{Country: "ru"}, "74954451120", International, nil},

		// Extensions, users and service codes pass through.
		{"extension", "101", ru, "101", Extension, nil},
		{"extension six digits", "200100", ru, "200100", Extension, nil},
		{"extension trimmed", " 101 ", ru, "101", Extension, nil},
		{"sip user", "phone67", ru, "phone67", Extension, nil},
		{"web user", "user67", Preference{}, "user67", Extension, nil},
		{"user with dot", "anna.k", ru, "anna.k", Extension, nil},
		{"ussd", "*100#", ru, "*100#", Service, nil},
		{"forwarding", "*21#", ru, "*21#", Service, nil},
		{"hide caller id", "#31#", ru, "#31#", Service, nil},
		{"forwarding to a number", "*21*+79161234567#", ru, "*21*+79161234567#", Service, nil},

		// Garbage.
		{"empty", "", ru, "", Unknown, ErrEmpty},
		{"blank", "   ", ru, "", Unknown, ErrEmpty},
		{"too short", "+7 495", ru, "", Unknown, ErrTooShort},
		{"formatted short", "12-34", ru, "", Unknown, ErrTooShort},
		{"too long", "+7 495 445 11 20 12345", ru, "", Unknown, ErrNotANumber},
		{"too many digits", "8 495 445 11 20 445 11 20 445 11", ru, "", Unknown, ErrTooLong},
		{"too long input", strings.Repeat(" ", 30) + "8" + strings.Repeat("-", 70), ru, "", Unknown, ErrTooLong},
		{"letters", "8 (495) ABC-11-20", ru, "", Unknown, ErrInvalidChar},
		{"vanity", "1-800-FLOWERS", us, "", Unknown, ErrInvalidChar},
		{"plus inside", "8 495 +445 11 20", ru, "", Unknown, ErrInvalidChar},
		{"two pluses", "++7 495 445 11 20", ru, "", Unknown, ErrInvalidChar},
		{"star inside number", "8 495 445*11 20", ru, "", Unknown, ErrInvalidChar},
		{"non-ASCII digits", "８ ４９５ ４４５ １１ ２０", ru, "", Unknown, ErrInvalidChar},
		{"unknown country code", "+999 1234567", ru, "", Unknown, ErrNotANumber},
		{"no country to read it in", "1234567", Preference{}, "", Unknown, ErrNotANumber},
		{"unknown preferred country", "8 495 445 11 20", Preference{Country: "XX"}, "", Unknown, ErrUnknownCountry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input, tt.pref)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.input, err, tt.err)
			}
			if got.Value != tt.want || got.Kind != tt.kind {
				t.Errorf("Parse(%q) = %q %v, want %q %v", tt.input, got.Value, got.Kind, tt.want, tt.kind)
			}
			if s, _ := Normalize(tt.input, tt.pref); s != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.input, s, tt.want)
			}
		})
	}
}

func TestPreferenceValidate(t *testing.T) {
	tests := []struct {
		name string
		pref Preference
		err  error
	}{
		{"zero", Preference{}, nil},
		{"full", Preference{Country: "UA", Registered: "DE", InternationalPrefixes: []string{"810"}, NationalPrefixes: []string{"8"}}, nil},
		{"unknown country", Preference{Country: "SU"}, ErrUnknownCountry},
		{"unknown registration", Preference{Registered: "Russia"}, ErrUnknownCountry},
		{"empty prefix", Preference{NationalPrefixes: []string{""}}, ErrInvalidChar},
		{"prefix with a plus", Preference{InternationalPrefixes: []string{"+"}}, ErrInvalidChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.pref.Validate(); !errors.Is(err, tt.err) {
				t.Errorf("Validate() = %v, want %v", err, tt.err)
			}
		})
	}
}

// FuzzNormalize checks that Normalize never panics, that a number comes out
// as digits and reads back the same with a plus, and that anything else is
// the trimmed input.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"8 (495) 445-11-20", "+7 495 445-11-20", "0074954451120", "01174954451120",
		"8-10-1-212-555-0100", "101", "phone67", "*21#", "+44 (0) 20 7946 0000",
		"0011 7 495 445 11 20", "", "+", "1-800-FLOWERS",
	} {
		f.Add(s, "RU")
	}
	f.Add("(212) 736-5000", "US")
	f.Add("0117 496 0000", "GB")
	f.Add("8 727 258 12 34", "KZ")
	f.Fuzz(func(t *testing.T, input, country string) {
		pref := Preference{Country: country, Registered: "DE"}
		n, err := Parse(input, pref)
		if err != nil {
			if n != (Number{}) {
				t.Fatalf("Parse(%q) = %+v with error %v", input, n, err)
			}
			return
		}
		switch n.Kind {
		case International:
			if n.Value == "" || !allDigits(n.Value) {
				t.Fatalf("Parse(%q) = %q, not digits", input, n.Value)
			}
			again, err := Normalize("+"+n.Value, pref)
			if err != nil || again != n.Value {
				t.Fatalf("Normalize(+%s) = %q, %v; want it back from Parse(%q)", n.Value, again, err, input)
			}
		case Extension, Service:
			if n.Value != strings.TrimSpace(input) {
				t.Fatalf("Parse(%q) = %q %v, want the trimmed input", input, n.Value, n.Kind)
			}
		default:
			t.Fatalf("Parse(%q) kind %v", input, n.Kind)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bb := range []struct {
		name, input string
		pref        Preference
	}{
		{"stored", "74954451120", ru},
		{"national", "8 (495) 445-11-20", ru},
		{"plus", "+7 495 445-11-20", ru},
		{"011", "0117495 445 11 20", ru},
		{"extension", "101", ru},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(bb.input, bb.pref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
