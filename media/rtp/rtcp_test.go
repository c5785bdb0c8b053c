package rtp

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestRTCPReportsBothWays: two endpoints in a call on the real clock report
// to each other every 20 ms; each learns how the other receives it.
func TestRTCPReportsBothWays(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	a := newEndpoint(t, Config{Pool: pool, RTCPInterval: 20 * time.Millisecond})
	b := newEndpoint(t, Config{Pool: pool, RTCPInterval: 20 * time.Millisecond, Codec: PCMA})
	a.SetRemote(b.LocalAddr())
	b.SetRemote(a.LocalAddr())
	a.Play(context.Background(), &frames{n: 1 << 20, gen: ramp})
	b.Play(context.Background(), &frames{n: 1 << 20, gen: ramp})
	for _, e := range []*Endpoint{a, b} {
		waitFor(t, "a report with a round trip", func() bool {
			e.rmu.Lock()
			defer e.rmu.Unlock()
			return e.rtcp.remote && e.rtcp.lsr != 0 && e.rtcp.packets > 2
		})
	}
	st := a.Stats()
	if !st.RemoteReport || st.RemoteLost != 0 || st.RTT < 0 || st.RTT > time.Second {
		t.Fatalf("a's view of b's reports: %+v", st)
	}
	if st.Quality < 90 {
		t.Fatalf("quality %d on loopback", st.Quality)
	}
}

// TestRTCPRoundTrip checks RFC 3550 §6.4.1's A − LSR − DLSR on a report
// built by hand: our SR left at T, the far end held it 30 ms and its report
// arrives at T+100 ms, so the round trip took 70 ms.
func TestRTCPRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEndpoint(t, Config{Clock: clock})
	e.rmu.Lock()
	e.stats.start(42, 1)
	e.stats.update(1)
	e.rmu.Unlock()
	sent := clock.Now()
	clock.Advance(100 * time.Millisecond)
	lsr := uint32(ntpTime(sent) >> 16)
	from := e.LocalAddr() // any address: the SSRC is the proof
	e.handleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{
		SSRC: e.SSRC(), FractionLost: 64, TotalLost: 0xfffffe, Jitter: 80, LastSenderReport: lsr, Delay: 65536 * 30 / 1000,
	}}}}, from)
	st := e.Stats()
	if d := st.RTT - 70*time.Millisecond; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("RTT %v, want 70ms", st.RTT)
	}
	if st.RemoteLost != -2 || st.RemoteFraction != 0.25 || st.RemoteJitter != 10*time.Millisecond {
		t.Fatalf("remote report %+v", st)
	}
	// Reports from another SSRC are not ours to believe.
	e.handleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 43, Reports: []rtcp.ReceptionReport{{SSRC: e.SSRC(), FractionLost: 255}}}}, from)
	if st := e.Stats(); st.RemoteFraction != 0.25 {
		t.Fatalf("a stranger's report was taken: %+v", st)
	}
}

// TestRTCPReportsOnTheClock: reports follow the endpoint's clock, one per
// interval and none before, and after Close only the BYE comes.
func TestRTCPReportsOnTheClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEndpoint(t, Config{Clock: clock, RTCPInterval: time.Second})
	far := newPhone(t)
	e.SetRemoteRTCP(far.addr())
	report := func() []rtcp.Packet {
		t.Helper()
		far.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := far.conn.ReadFromUDPAddrPort(far.buf)
		if err != nil {
			t.Fatalf("no report: %v", err)
		}
		pkts, err := rtcp.Unmarshal(far.buf[:n])
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		return pkts
	}
	isBye := func(pkts []rtcp.Packet) bool {
		_, ok := pkts[len(pkts)-1].(*rtcp.Goodbye)
		return ok
	}

	clock.Advance(time.Second - time.Millisecond)
	if !far.silent() {
		t.Fatal("a report before its interval")
	}
	for i := range 3 {
		clock.Advance(time.Millisecond)
		pkts := report()
		rr, ok := pkts[0].(*rtcp.ReceiverReport)
		if !ok || rr.SSRC != e.SSRC() || isBye(pkts) {
			t.Fatalf("report %d: %v", i, pkts)
		}
		if sdes, ok := pkts[1].(*rtcp.SourceDescription); !ok || len(sdes.Chunks) != 1 ||
			sdes.Chunks[0].Items[0].Text != "vox@"+e.LocalAddr().String() {
			t.Fatalf("report %d: SDES %v", i, pkts[1])
		}
		clock.Advance(time.Second - time.Millisecond)
	}
	e.Close()
	if pkts := report(); !isBye(pkts) {
		t.Fatalf("no BYE at Close: %v", pkts)
	}
	clock.Advance(2 * time.Second)
	if !far.silent() {
		t.Fatal("a report after Close")
	}
}

// TestReportMarshal: the reports an endpoint writes by hand are what
// rtcp.Marshal makes of the same packets, for every CNAME padding.
func TestReportMarshal(t *testing.T) {
	block := &rtcp.ReceptionReport{SSRC: 7, FractionLost: 3, TotalLost: 0xfffffe, LastSequenceNumber: 0x10203,
		Jitter: 99, LastSenderReport: 0xabcdef01, Delay: 65536}
	for _, sender := range []bool{false, true} {
		for _, b := range []*rtcp.ReceptionReport{nil, block} {
			for _, bye := range []bool{false, true} {
				for n := range 9 {
					r := report{ssrc: 0xdeadbeef, sender: sender, ntp: 0x0102030405060708, rtpTime: 11,
						packets: 12, octets: 13, block: b, cname: []byte("vox@127.0.0.1:20000"[:11+n]), bye: bye}
					got, err := r.append(nil)
					if err != nil {
						t.Fatal(err)
					}
					var blocks []rtcp.ReceptionReport
					if b != nil {
						blocks = []rtcp.ReceptionReport{*b}
					}
					var pkts []rtcp.Packet
					if sender {
						pkts = append(pkts, &rtcp.SenderReport{SSRC: r.ssrc, NTPTime: r.ntp, RTPTime: r.rtpTime,
							PacketCount: r.packets, OctetCount: r.octets, Reports: blocks})
					} else {
						pkts = append(pkts, &rtcp.ReceiverReport{SSRC: r.ssrc, Reports: blocks})
					}
					pkts = append(pkts, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
						Source: r.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: string(r.cname)}}}}})
					if bye {
						pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{r.ssrc}})
					}
					want, err := rtcp.Marshal(pkts)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("sender %v block %v bye %v cname %q:\n got %x\nwant %x", sender, b != nil, bye, r.cname, got, want)
					}
				}
			}
		}
	}
	r := report{sender: true, block: block, bye: true, cname: bytes.Repeat([]byte("x"), 255)}
	if b, err := r.append(nil); err != nil || len(b) != reportBuf {
		t.Fatalf("longest report: %d bytes, %v", len(b), err)
	}
	r.cname = append(r.cname, 'x')
	if _, err := r.append(nil); err == nil {
		t.Fatal("a CNAME of 256 bytes")
	}
}
