package dtmf

import (
	"errors"
	"testing"
)

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		wire [4]byte
	}{
		{"start of 5", Event{Code: 5, Volume: 10}, [4]byte{5, 0x0a, 0, 0}},
		{"end of #", Event{Code: 11, End: true, Volume: 10, Duration: 0x08c0}, [4]byte{11, 0x8a, 0x08, 0xc0}},
		{"loudest D, longest", Event{Code: 15, Volume: 63, Duration: 0xffff}, [4]byte{15, 0x3f, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b [PayloadSize]byte
			if n, err := tt.ev.MarshalTo(b[:]); err != nil || n != PayloadSize {
				t.Fatalf("MarshalTo = %d, %v", n, err)
			}
			if b != tt.wire {
				t.Fatalf("wire = % x, want % x", b, tt.wire)
			}
			var got Event
			if err := got.Unmarshal(b[:]); err != nil || got != tt.ev {
				t.Fatalf("Unmarshal = %+v, %v; want %+v", got, err, tt.ev)
			}
		})
	}
}

func TestEventReservedBitIgnored(t *testing.T) {
	var ev Event
	if err := ev.Unmarshal([]byte{1, 0x40 | 0x80 | 7, 0, 160}); err != nil {
		t.Fatal(err)
	}
	if ev != (Event{Code: 1, End: true, Volume: 7, Duration: 160}) {
		t.Fatalf("got %+v", ev)
	}
}

func TestEventShort(t *testing.T) {
	var ev Event
	if err := ev.Unmarshal([]byte{1, 2, 3}); !errors.Is(err, ErrShortPayload) {
		t.Fatalf("Unmarshal short = %v", err)
	}
	if _, err := ev.MarshalTo(make([]byte, 3)); !errors.Is(err, ErrShortPayload) {
		t.Fatalf("MarshalTo short = %v", err)
	}
}

func TestDigitCodes(t *testing.T) {
	for code := range uint8(16) {
		d, ok := Digit(code)
		if !ok {
			t.Fatalf("Digit(%d) not ok", code)
		}
		back, err := Code(d)
		if err != nil || back != code {
			t.Fatalf("Code(%q) = %d, %v; want %d", d, back, err, code)
		}
	}
	if _, ok := Digit(16); ok {
		t.Fatal("event 16 (flash) taken as a digit")
	}
	if c, err := Code('b'); err != nil || c != 13 {
		t.Fatalf("Code('b') = %d, %v", c, err)
	}
	for _, bad := range []byte{'E', 'e', ' ', ',', 'p'} {
		if _, err := Code(bad); !errors.Is(err, ErrInvalidDigit) {
			t.Fatalf("Code(%q) = %v, want ErrInvalidDigit", bad, err)
		}
	}
}
