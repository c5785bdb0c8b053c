package rtp

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"vox/media/pcm"
)

const (
	headerLen = 12   // the header we write: no CSRC, no extension
	maxPacket = 1500 // what one UDP read takes; G.711 at 20 ms is 172 bytes
)

// timeline names the sequence and timestamp space of one writer: a relay
// from one endpoint's stream (owner = source endpoint, ssrc = its SSRC), a
// playback, or an event Writer.
type timeline struct {
	owner any
	ssrc  uint32
}

// outbound is an endpoint's one RTP stream to the far end (see the package
// comment). Everything in it but codec is guarded by mu: writers come from
// the pacer (playback), from other endpoints' receive goroutines (relay) and
// from media/dtmf (Writer). The fields a relayed packet touches come first,
// together, and the buffer last: at a thousand calls an endpoint's state is
// out of the CPU caches when its next packet comes, and each cache line a
// packet touches costs a miss.
type outbound struct {
	mu    sync.Mutex
	codec atomic.Uint32 // Codec sent: read before mu is taken, on its cache line

	// Who may write, by precedence: writer, playback, relayFrom.
	writer    *Writer
	playback  *Playback
	relayFrom *Endpoint

	// The current timeline and how it maps onto the stream.
	cur     timeline
	seqOff  uint16
	baseSeq uint16 // first sequence number of cur, before mapping
	tsOff   uint32
	mark    bool

	// muted holds the stream back: the far end asked for no audio (hold,
	// recvonly or inactive; RFC 3264 §5.1). RTCP goes on.
	muted bool

	started  bool
	seq      uint16 // highest sequence number sent
	ts       uint32 // highest timestamp sent
	anchorTs uint32 // the timestamp that was current at anchorAt
	ssrc     uint32
	anchorAt time.Time

	conn udpSocket      // nil on a Transport
	dst  netip.AddrPort // the SDP address or the latch; invalid: nowhere yet

	packets, octets uint64
	reported        uint64 // packets at the last RTCP report

	// filler sends silence while no writer does (FillSilence); lastSent is
	// when any writer last sent.
	filler   *filler
	lastSent time.Time

	clock Clock
	tx    Transport       // instead of conn; here, off the cache lines a UDP packet touches
	buf   [maxPacket]byte // where a playback or a Writer builds its packet
}

func (o *outbound) init(conn udpSocket, tx Transport, ssrc uint32, clock Clock) {
	o.conn, o.tx = conn, tx
	o.clock = clock
	o.ssrc = ssrc
	if o.ssrc == 0 {
		o.ssrc = rand.Uint32()
	}
}

// payload is where a writer puts the payload before emit.
func (o *outbound) payload() []byte { return o.buf[headerLen:] }

// packet is o.buf holding a header's room and n payload bytes.
func (o *outbound) packet(n int) []byte { return o.buf[:headerLen+n] }

// release forgets the current timeline: whatever writes next is rebased, so
// re-bridging the same source does not jump by what arrived in between.
func (o *outbound) release() { o.cur = timeline{} }

// leave is release for a writer that stops (a playback ending, a Writer
// closing, a relay stopping): only if its timeline is the stream's. Another
// writer that holds the stream meanwhile (an event Writer over a playback
// that ends) keeps its timeline, or its next packet would be rebased, and an
// RFC 4733 event would change timestamp in the middle.
func (o *outbound) leave(owner any) {
	if o.cur.owner == owner {
		o.release()
	}
}

// emit sends pkt, room for the header then the payload (o.packet, or a
// relayed packet in its receive buffer), with a header mapped from the
// writer's timeline onto the stream, at now. The caller holds mu.
func (o *outbound) emit(pkt []byte, tl timeline, pt uint8, marker bool, seq uint16, ts uint32, now time.Time) error {
	if o.muted {
		return nil
	}
	o.lastSent = now
	if tl != o.cur {
		o.rebase(tl, seq, ts, now)
	} else if int16(seq-o.baseSeq) < 0 {
		// From before this timeline took the stream: its number was
		// already given to another writer's packet.
		return nil
	}
	outSeq, outTs := seq+o.seqOff, ts+o.tsOff
	if o.mark {
		marker, o.mark = true, false
	}
	if int16(outSeq-o.seq) > 0 {
		o.seq = outSeq
	}
	if int32(outTs-o.ts) > 0 {
		o.ts, o.anchorTs, o.anchorAt = outTs, outTs, now
	}
	if !o.dst.IsValid() {
		return nil
	}
	// RFC 3550 §5.1: version 2, no padding, extension or CSRC.
	pkt[0] = 2 << 6
	pkt[1] = pt & 0x7f
	if marker {
		pkt[1] |= 0x80
	}
	binary.BigEndian.PutUint16(pkt[2:], outSeq)
	binary.BigEndian.PutUint32(pkt[4:], outTs)
	binary.BigEndian.PutUint32(pkt[8:], o.ssrc)
	var err error
	if o.conn != nil {
		_, err = o.conn.WriteToUDPAddrPort(pkt, o.dst)
	} else {
		err = o.tx.WriteRTP(pkt)
	}
	if err != nil {
		return err
	}
	o.packets++
	o.octets += uint64(len(pkt) - headerLen)
	return nil
}

// rebase maps a new timeline onto the stream: the next sequence number, and
// the timestamp where the stream's clock is now but never inside the last
// packet sent (RFC 3550 §5.1: timestamps follow the sampling clock, and
// random initial values).
func (o *outbound) rebase(tl timeline, seq uint16, ts uint32, now time.Time) {
	var next uint32
	if !o.started {
		o.started = true
		o.seq = uint16(rand.Uint32())
		next = rand.Uint32()
		o.ts, o.anchorTs, o.anchorAt = next, next, now
	} else {
		next = o.ts + pcm.FrameSamples
		if proj := o.now(now); int32(proj-next) > 0 {
			next = proj
		}
	}
	o.seqOff = o.seq + 1 - seq
	o.tsOff = next - ts
	o.baseSeq = seq
	o.cur = tl
	o.mark = true
}

// now is the stream's timestamp at t, projected from the anchor.
func (o *outbound) now(t time.Time) uint32 {
	return o.anchorTs + uint32(t.Sub(o.anchorAt)/(time.Second/ClockRate))
}
