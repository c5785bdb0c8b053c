package numbers

import (
	"errors"
	"testing"
)

const (
	moscow  = "74954451120"
	almaty  = "77272581234"
	newYork = "12127365000"
	toronto = "14169795000"
	london  = "442079460000"
	berlin  = "49301234567"
	kyiv    = "380441234567"
)

// The seed's formats (S18): one trunk knows 7495, one wants a plus, one no
// country code; a Kazakh one wants 8495 for 7495 and 810 before the rest.
var (
	bare       = DialFormat{}
	plus       = DialFormat{Plus: true}
	kazakh     = DialFormat{Country: "KZ", Domestic: DialNational, InternationalPrefix: "810"}
	russian    = DialFormat{Country: "RU", Domestic: DialSignificant, Plus: true}
	american   = DialFormat{Country: "US", Domestic: DialSignificant, InternationalPrefix: "011"}
	american11 = DialFormat{Country: "US", Domestic: DialNational, InternationalPrefix: "011"}
	british    = DialFormat{Country: "GB", Domestic: DialNational, InternationalPrefix: "00"}
	german     = DialFormat{Country: "DE", Domestic: DialNational, Plus: true}
	ukrainian  = DialFormat{Country: "UA", Domestic: DialNational, NationalPrefix: "80", InternationalPrefix: "810"}
	plusInKZ   = DialFormat{Country: "KZ", Plus: true}
)

func TestDial(t *testing.T) {
	tests := []struct {
		name   string
		format DialFormat
		number string
		want   string
	}{
		{"bare Moscow", bare, moscow, "74954451120"},
		{"bare New York", bare, newYork, "12127365000"},
		{"plus Moscow", plus, moscow, "+74954451120"},
		{"plus London", plus, london, "+442079460000"},
		{"kazakh Moscow", kazakh, moscow, "84954451120"},
		{"kazakh Almaty", kazakh, almaty, "87272581234"},
		{"kazakh New York", kazakh, newYork, "81012127365000"},
		{"kazakh Berlin", kazakh, berlin, "81049301234567"},
		{"kazakh Kyiv", kazakh, kyiv, "810380441234567"},
		{"russian Moscow without country code", russian, moscow, "4954451120"},
		{"russian London", russian, london, "+442079460000"},
		{"american ten digits", american, newYork, "2127365000"},
		{"american Toronto is domestic", american, toronto, "4169795000"},
		{"american Moscow", american, moscow, "01174954451120"},
		{"american with 1", american11, newYork, "12127365000"},
		{"british London", british, london, "02079460000"},
		{"british Moscow", british, moscow, "0074954451120"},
		{"german Berlin", german, berlin, "0301234567"},
		{"german Moscow", german, moscow, "+74954451120"},
		{"ukrainian old habits", ukrainian, kyiv, "80441234567"},
		{"ukrainian Moscow", ukrainian, moscow, "81074954451120"},
		{"country without domestic form", plusInKZ, almaty, "+77272581234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.format.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			got, err := tt.format.Dial(tt.number)
			if err != nil || got != tt.want {
				t.Fatalf("Dial(%s) = %q, %v; want %q", tt.number, got, err, tt.want)
			}
			// What a trunk dials reads back as the stored number in the
			// trunk's country, with its prefixes.
			pref := Preference{Country: tt.format.Country}
			if tt.format.NationalPrefix != "" {
				pref.NationalPrefixes = []string{tt.format.NationalPrefix}
			}
			if back, err := Normalize(got, pref); err != nil || back != tt.number {
				t.Errorf("Normalize(%q, %+v) = %q, %v; want %s back", got, pref, back, err, tt.number)
			}
		})
	}
}

func TestDialRejects(t *testing.T) {
	for _, number := range []string{"", "101", "phone67", "+74954451120", "8 495 445 11 20", "012345678", "123456789012345678901"} {
		if got, err := kazakh.Dial(number); !errors.Is(err, ErrNotInternational) {
			t.Errorf("Dial(%q) = %q, %v; want ErrNotInternational", number, got, err)
		}
	}
}

func TestDialFormatValidate(t *testing.T) {
	tests := []struct {
		name   string
		format DialFormat
		err    error
	}{
		{"zero", DialFormat{}, nil},
		{"kazakh", kazakh, nil},
		{"unknown country", DialFormat{Country: "XX"}, ErrUnknownCountry},
		{"domestic without country", DialFormat{Domestic: DialNational}, ErrDialFormat},
		{"unknown domestic form", DialFormat{Country: "RU", Domestic: 7}, ErrDialFormat},
		{"national prefix unused", DialFormat{Country: "RU", Domestic: DialSignificant, NationalPrefix: "8"}, ErrDialFormat},
		{"plus and prefix", DialFormat{Plus: true, InternationalPrefix: "00"}, ErrDialFormat},
		{"prefix not digits", DialFormat{InternationalPrefix: "+00"}, ErrDialFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.format.Validate(); !errors.Is(err, tt.err) {
				t.Errorf("Validate() = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestParseDialFormat(t *testing.T) {
	tests := []struct {
		text string
		want DialFormat
	}{
		{"", bare},
		{"+", plus},
		{"country=KZ domestic=national international-prefix=810", kazakh},
		{"country=RU domestic=significant +", russian},
		{"country=US domestic=significant international-prefix=011", american},
		{"country=UA domestic=national national-prefix=80 international-prefix=810", ukrainian},
		{"country=KZ +", plusInKZ},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseDialFormat(tt.text)
			if err != nil || got != tt.want {
				t.Fatalf("ParseDialFormat(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			}
			if s := got.String(); s != tt.text {
				t.Errorf("String() = %q, want %q", s, tt.text)
			}
		})
	}
	// Order does not matter, spacing is free.
	if got, err := ParseDialFormat("  international-prefix=810   domestic=national country=KZ "); err != nil || got != kazakh {
		t.Errorf("reordered: %+v, %v", got, err)
	}
	for _, bad := range []string{
		"plus", "+=1", "country", "country=", "country=KZ country=RU", "domestic=local country=RU",
		"speed=fast", "country=XX", "domestic=national", "+ international-prefix=00",
	} {
		if got, err := ParseDialFormat(bad); !errors.Is(err, ErrDialFormat) && !errors.Is(err, ErrUnknownCountry) {
			t.Errorf("ParseDialFormat(%q) = %+v, %v; want an error", bad, got, err)
		}
	}
}

func BenchmarkDial(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kazakh.Dial(newYork); err != nil {
			b.Fatal(err)
		}
	}
}
