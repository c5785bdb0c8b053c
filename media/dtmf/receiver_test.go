package dtmf

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pion/rtp"
)

// pkt builds a telephone-event packet.
func pkt(ssrc, ts uint32, code uint8, end bool, dur uint16) *rtp.Packet {
	b := make([]byte, PayloadSize)
	if _, err := (Event{Code: code, End: end, Volume: 10, Duration: dur}).MarshalTo(b); err != nil {
		panic(err)
	}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: ssrc, Timestamp: ts}, Payload: b}
}

// event is the packets of one digit as a phone sends them: start, updates,
// three ends.
func event(ssrc, ts uint32, code uint8) []*rtp.Packet {
	return []*rtp.Packet{
		pkt(ssrc, ts, code, false, 0),
		pkt(ssrc, ts, code, false, 400),
		pkt(ssrc, ts, code, false, 800),
		pkt(ssrc, ts, code, true, 1120),
		pkt(ssrc, ts, code, true, 1120),
		pkt(ssrc, ts, code, true, 1120),
	}
}

func receiveAll(r *Receiver, ps []*rtp.Packet) string {
	var got []byte
	for _, p := range ps {
		if d, ok := r.Receive(p); ok {
			got = append(got, d)
		}
	}
	return string(got)
}

func cat(parts ...[]*rtp.Packet) []*rtp.Packet {
	var out []*rtp.Packet
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestReceiver(t *testing.T) {
	const s = 0x1234
	one, two, three := event(s, 1000, 1), event(s, 3000, 2), event(s, 5000, 3)
	tests := []struct {
		name    string
		packets []*rtp.Packet
		want    string
	}{
		{"three digits", cat(one, two, three), "123"},
		{"same digit twice is two presses", cat(event(s, 1000, 5), event(s, 3000, 5)), "55"},
		{"start lost", cat(one[1:], two[2:], three[3:]), "123"},
		{"only one end packet arrives", cat(one[5:], two[4:5], three[3:4]), "123"},
		{"retransmitted start", cat(one[:1], one[:1], one, one[:1]), "1"},
		{"end of the previous digit arrives late", cat(one[:4], two[:2], one[4:], two[2:]), "12"},
		{"an earlier digit's only packet arrives after a later one", cat(two[:1], one[5:], two[1:]), "21"},
		{"packet older than every remembered event", cat(event(s, 20000, 1), event(s, 30000, 2), event(s, 40000, 3), event(s, 50000, 4), event(s, 60000, 5), event(s, 70000, 6), event(s, 80000, 7), event(s, 90000, 8), event(s, 100000, 9), event(s, 20000, 1)), "123456789"},
		{"reordered inside an event", cat([]*rtp.Packet{one[3], one[0], one[2], one[1]}), "1"},
		{"non-DTMF event (flash) ignored", cat([]*rtp.Packet{pkt(s, 900, 16, false, 0)}, one), "1"},
		{"malformed payload ignored", cat([]*rtp.Packet{{Header: rtp.Header{SSRC: s, Timestamp: 800}, Payload: []byte{1}}}, one), "1"},
		{"new SSRC starts afresh", cat(one, event(s+1, 1000, 1)), "11"},
		{
			// RFC 4733 §2.5.1.3: a long event continues in a segment whose
			// timestamp is the previous one plus 0xFFFF.
			"long event in two segments",
			cat([]*rtp.Packet{pkt(s, 1000, 9, false, 0), pkt(s, 1000, 9, false, 0xffff), pkt(s, 1000+0xffff, 9, false, 400), pkt(s, 1000+0xffff, 9, true, 800)}),
			"9",
		},
		{"timestamps wrap", cat(event(s, 0xffffff00, 7), event(s, 0x100, 8)), "78"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Receiver
			if got := receiveAll(&r, tt.packets); got != tt.want {
				t.Fatalf("digits = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSenderToReceiver sends a digit string through a lossy, reordering,
// duplicating path: as long as one packet of each event gets through, every
// digit arrives once (in order, unless all that was left of an event came
// after the next one's first packet).
func TestSenderToReceiver(t *testing.T) {
	const digits = "0123456789*#ABCD11"
	s, err := NewSender(SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := s.Packets(digits)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var path []*rtp.Packet
		kept := map[uint32]bool{}
		for _, p := range sched {
			b := make([]byte, PayloadSize)
			if _, err := p.Event.MarshalTo(b); err != nil {
				t.Fatal(err)
			}
			rp := &rtp.Packet{Header: rtp.Header{SSRC: 7, Timestamp: 0xfffff000 + p.Timestamp, Marker: p.Marker}, Payload: b}
			if rng.IntN(3) == 0 { // a third is lost
				continue
			}
			kept[p.Timestamp] = true
			path = append(path, rp)
			if rng.IntN(10) == 0 {
				path = append(path, rp) // duplicated
			}
		}
		// Swap some neighbours: reordering by one place, as on a real path.
		for i := 1; i < len(path); i++ {
			if rng.IntN(4) == 0 {
				path[i-1], path[i] = path[i], path[i-1]
				i++
			}
		}
		var want []byte
		for _, p := range sched {
			if p.Marker {
				d, _ := Digit(p.Event.Code)
				if kept[p.Timestamp] {
					want = append(want, d)
				}
			}
		}
		var r Receiver
		got := []byte(receiveAll(&r, path))
		slices.Sort(got)
		slices.Sort(want)
		if string(got) != string(want) {
			t.Fatalf("trial %d: digits = %q, want %q", trial, got, want)
		}
	}
}

func TestSenderSchedule(t *testing.T) {
	s, err := NewSender(SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Packets("1#")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		atMS   int
		ts     uint32
		marker bool
		code   uint8
		end    bool
		dur    uint16
	}
	want := []row{
		{0, 0, true, 1, false, 0},
		{50, 0, false, 1, false, 400},
		{100, 0, false, 1, true, 800},
		{120, 0, false, 1, true, 800},
		{140, 0, false, 1, true, 800},
		{170, 1360, true, 11, false, 0},
		{220, 1360, false, 11, false, 400},
		{270, 1360, false, 11, true, 800},
		{290, 1360, false, 11, true, 800},
		{310, 1360, false, 11, true, 800},
	}
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d: %+v", len(got), len(want), got)
	}
	for i, p := range got {
		r := row{int(p.At.Milliseconds()), p.Timestamp, p.Marker, p.Event.Code, p.Event.End, p.Event.Duration}
		if r != want[i] || p.Event.Volume != DefaultVolume {
			t.Errorf("packet %d = %+v (volume %d), want %+v", i, r, p.Event.Volume, want[i])
		}
	}
}

func TestSenderOptions(t *testing.T) {
	s, err := NewSender(SendOptions{Tone: 60_000_000, Gap: 20_000_000, Update: 20_000_000, Volume: 20, ClockRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Packets("23")
	if err != nil {
		t.Fatal(err)
	}
	// Each digit: starts at 0, updates at 20 and 40 ms, ends at 60, 80, 100 ms;
	// the second digit starts at 80 ms, while the first is still ending.
	if len(got) != 12 {
		t.Fatalf("%d packets: %+v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].At < got[i-1].At {
			t.Fatalf("packet %d at %v before packet %d at %v", i, got[i].At, i-1, got[i-1].At)
		}
	}
	last := got[len(got)-1]
	if last.Timestamp != 80*48 || last.Event.Duration != 60*48 || !last.Event.End || last.Event.Volume != 20 {
		t.Fatalf("last packet %+v", last)
	}
	for _, bad := range []SendOptions{{Volume: 64}, {Tone: -1}, {Tone: 9_000_000_000}} {
		if _, err := NewSender(bad); err == nil {
			t.Errorf("NewSender(%+v) accepted", bad)
		}
	}
	if _, err := s.Packets("12x"); err == nil {
		t.Error("digit x accepted")
	}
}
