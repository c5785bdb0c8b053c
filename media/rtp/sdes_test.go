package rtp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"vox/media/pcm"
)

// srtpPhone is a phone that encrypts with its own key, as SDES has it.
type srtpPhone struct {
	*phone
	send, recv *srtp.Context
}

func newSRTPPhone(t *testing.T, own, ours []byte) *srtpPhone {
	t.Helper()
	send, err := newContext(own, srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	recv, err := newContext(ours, srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	return &srtpPhone{phone: newPhone(t), send: send, recv: recv}
}

// sendSRTP sends the phone's next packet encrypted and returns what went.
func (p *srtpPhone) sendSRTP(to netip.AddrPort) []byte {
	p.t.Helper()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: make([]byte, 160)}
	plain, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	enc, err := p.send.EncryptRTP(nil, plain, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(enc, to); err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	p.ts += pcm.FrameSamples
	return enc
}

// readSRTP waits for a packet and decrypts it.
func (p *srtpPhone) readSRTP() (*rtp.Packet, error) {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		p.t.Fatalf("phone read: %v", err)
	}
	plain, err := p.recv.DecryptRTP(nil, p.buf[:n], nil)
	if err != nil {
		return nil, err
	}
	var pkt rtp.Packet
	return &pkt, pkt.Unmarshal(plain)
}

func TestSDES(t *testing.T) {
	ours, theirs := NewSDESKey(), NewSDESKey()
	tx, err := OpenSDES(testPool(t), "AES_CM_128_HMAC_SHA1_80", ours, theirs)
	if err != nil {
		t.Fatal(err)
	}
	e := newEndpoint(t, Config{Transport: tx})
	ph := newSRTPPhone(t, theirs, ours)
	// The SDP says the phone takes media where it does not: behind NAT, its
	// packets' source is the address that reaches it.
	tx.SetRemote(netip.MustParseAddrPort("127.0.0.1:9"), netip.MustParseAddrPort("127.0.0.1:10"))

	first := ph.sendSRTP(tx.LocalAddr())
	ph.sendSRTP(tx.LocalAddr())
	waitFor(t, "the phone's packets", func() bool { return e.Stats().PacketsReceived == 2 })

	// Plain RTP, a packet under another key and a replay are dropped.
	intruder := newPhone(t)
	intruder.send(tx.LocalAddr(), 0, make([]byte, 160))
	forger := newSRTPPhone(t, NewSDESKey(), ours)
	forger.sendSRTP(tx.LocalAddr())
	if _, err := ph.conn.WriteToUDPAddrPort(first, tx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	ph.sendSRTP(tx.LocalAddr())
	waitFor(t, "the phone's third packet", func() bool { return e.Stats().PacketsReceived == 3 })
	if st := e.Stats(); st.PacketsReceived != 3 || st.Duplicates != 0 {
		t.Fatalf("stats %+v: the intruders' packets were taken", st)
	}

	// What the endpoint sends goes, encrypted with our key, to the source of
	// the packets that decrypted, not to the intruders.
	pb := e.Play(context.Background(), &frames{n: 3, gen: ramp})
	for range 3 {
		pkt, err := ph.readSRTP()
		if err != nil {
			t.Fatalf("what the endpoint sent does not decrypt with our key: %v", err)
		}
		if pkt.SSRC != e.SSRC() || len(pkt.Payload) != 160 {
			t.Fatalf("got %+v", pkt.Header)
		}
	}
	if err := pb.Err(); err != nil {
		t.Fatal(err)
	}
	if !intruder.silent() || !forger.silent() {
		t.Fatal("an intruder got media")
	}

	// A re-INVITE with the same key keeps the context (its rollover count
	// and replay window): the first packet is still a replay.
	if err := tx.Rekey(theirs); err != nil {
		t.Fatal(err)
	}
	if _, err := ph.conn.WriteToUDPAddrPort(first, tx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	ph.sendSRTP(tx.LocalAddr())
	waitFor(t, "the phone's fourth packet", func() bool { return e.Stats().PacketsReceived >= 4 })
	if st := e.Stats(); st.PacketsReceived != 4 || st.Duplicates != 0 {
		t.Fatalf("stats %+v: a replay was taken after a rekey with the same key", st)
	}

	// A re-INVITE's new key: packets under it are taken, the old one's not.
	newKey := NewSDESKey()
	if err := tx.Rekey(newKey); err != nil {
		t.Fatal(err)
	}
	ph.sendSRTP(tx.LocalAddr())
	rekeyed := newSRTPPhone(t, newKey, ours)
	rekeyed.sendSRTP(tx.LocalAddr())
	waitFor(t, "the packet under the new key", func() bool { return e.Stats().PacketsReceived == 5 })
}

func TestSDESRefusesBadKeys(t *testing.T) {
	pool := testPool(t)
	if _, err := OpenSDES(pool, "F8_128_HMAC_SHA1_80", NewSDESKey(), NewSDESKey()); err == nil {
		t.Error("an unsupported suite was taken")
	}
	if _, err := OpenSDES(pool, "AES_CM_128_HMAC_SHA1_80", NewSDESKey(), make([]byte, 12)); err == nil {
		t.Error("a short key was taken")
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d port pairs held after refusals", n)
	}
}

// Two SDES transports joined (an attended transfer's two calls) send to each
// other, and each decrypts what the other encrypts; suites that differ
// cannot be joined.
func TestSDESJoin(t *testing.T) {
	pool := testPool(t)
	open := func(suite string) (*SDES, *Endpoint) {
		tx, err := OpenSDES(pool, suite, NewSDESKey(), NewSDESKey())
		if err != nil {
			t.Fatal(err)
		}
		return tx, newEndpoint(t, Config{Transport: tx})
	}
	a, ea := open("AES_CM_128_HMAC_SHA1_80")
	b, eb := open("AES_CM_128_HMAC_SHA1_80")
	other, _ := open("AES_CM_128_HMAC_SHA1_32")
	if err := a.Join(other, netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Fatal("SRTP of different suites joined")
	}
	if err := a.Join(b, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []struct {
		name     string
		from, to *Endpoint
	}{{"a to b", ea, eb}, {"b to a", eb, ea}} {
		pb := dir.from.Play(context.Background(), &frames{n: 3, gen: ramp})
		waitFor(t, dir.name, func() bool { return dir.to.Stats().PacketsReceived == 3 })
		if err := pb.Err(); err != nil {
			t.Fatal(err)
		}
	}
}
