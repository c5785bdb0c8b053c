package rtp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// rtcpState is what an endpoint knows from and for RTCP; guarded by the
// endpoint's rmu.
type rtcpState struct {
	dst     netip.AddrPort // from SDP: a=rtcp, or the RTP port + 1
	latched netip.AddrPort // where the far end's reports come from
	lsr     uint32         // middle 32 bits of the NTP time of its last SR
	lsrAt   time.Time
	packets uint64 // compound packets accepted

	remote         bool
	remoteLost     int64
	remoteFraction uint8
	remoteJitter   uint32
	rtt            time.Duration
}

func (r *rtcpState) fill(st *Stats) {
	st.RemoteReport = r.remote
	st.RemoteLost = r.remoteLost
	st.RemoteFraction = float64(r.remoteFraction) / 256
	st.RemoteJitter = tsDuration(r.remoteJitter)
	st.RTT = r.rtt
}

// ntpTime is t in the 64-bit NTP format of RFC 3550 §4.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix()) + unixToNTP
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// startReports sends a report every interval (RFC 3550 §6.2; with two
// participants the interval is the fixed minimum, not randomised) from a
// timer rather than a goroutine of its own: most calls end before their
// first report, and a goroutine and a ticker per endpoint cost a call more
// than its reports do.
func (e *Endpoint) startReports() {
	e.reportMu.Lock()
	defer e.reportMu.Unlock()
	e.reports = e.clock.AfterFunc(e.interval, e.reportDue)
}

func (e *Endpoint) reportDue() {
	e.reportMu.Lock()
	defer e.reportMu.Unlock()
	if e.reportsStopped {
		return
	}
	// The next one is due an interval after this one was, not after this
	// one was sent.
	e.reports.Reset(e.interval)
	e.sendReport(false)
}

// stopReports returns once no report is being sent or will be.
func (e *Endpoint) stopReports() {
	e.reportMu.Lock()
	defer e.reportMu.Unlock()
	e.reportsStopped = true
	e.reports.Stop()
}

func (e *Endpoint) sendBye() { e.sendReport(true) }

// sendReport sends a compound packet (RFC 3550 §6.1): an SR when the endpoint
// sent RTP since the last report, else an RR, with a report block about the
// stream it receives; then SDES CNAME, and BYE when closing.
func (e *Endpoint) sendReport(bye bool) {
	now := e.clock.Now()
	var name [64]byte
	r := report{ssrc: e.out.ssrc, cname: e.appendCNAME(name[:0]), bye: bye}
	e.rmu.Lock()
	if s := &e.stats; s.started {
		var dlsr uint32
		if e.rtcp.lsr != 0 {
			dlsr = uint32(now.Sub(e.rtcp.lsrAt).Seconds() * 65536)
		}
		r.block = &rtcp.ReceptionReport{
			SSRC:               s.ssrc,
			FractionLost:       s.interval(),
			TotalLost:          cumulativeLost(int64(s.expected()) - int64(s.received)),
			LastSequenceNumber: s.extendedMax(),
			Jitter:             s.jitter >> 4,
			LastSenderReport:   e.rtcp.lsr,
			Delay:              dlsr,
		}
	}
	dst := e.rtcp.dst
	if e.rtcp.latched.IsValid() {
		dst = e.rtcp.latched
	}
	e.rmu.Unlock()
	if !dst.IsValid() {
		return
	}

	o := &e.out
	o.mu.Lock()
	r.sender = o.packets > o.reported
	o.reported = o.packets
	r.rtpTime = o.now(now)
	r.packets, r.octets = uint32(o.packets), uint32(o.octets)
	o.mu.Unlock()
	r.ntp = ntpTime(now)

	buf := reportBufs.Get().(*[reportBuf]byte)
	defer reportBufs.Put(buf)
	b, err := r.append(buf[:0])
	if err != nil {
		e.debug("rtcp marshal", "err", err)
		return
	}
	if e.tx != nil {
		err = e.tx.WriteRTCP(b)
	} else {
		_, err = e.rtcpConn.WriteToUDPAddrPort(b, dst)
	}
	if err != nil {
		e.debug("rtcp send", "err", err)
	}
}

// report is the compound packet an endpoint sends, written by hand rather
// than through rtcp.Marshal: every call leg sends one at least (its BYE), and
// the packets and slices of the general encoder made it a dozen allocations.
type report struct {
	ssrc            uint32
	sender          bool // an SR, else an RR
	ntp             uint64
	rtpTime         uint32
	packets, octets uint32
	block           *rtcp.ReceptionReport // about the stream received; nil: none yet
	cname           []byte
	bye             bool
}

// reportBuf holds the largest report: SR with a block (52 bytes), SDES with
// a CNAME of 255 bytes (268), BYE (8).
const reportBuf = 52 + 268 + 8

var reportBufs = sync.Pool{New: func() any { return new([reportBuf]byte) }}

var errCNAME = errors.New("rtcp: CNAME longer than 255 bytes")

// append appends the report to b (RFC 3550 §6.4.1, §6.4.2, §6.5, §6.6).
func (r *report) append(b []byte) ([]byte, error) {
	if len(r.cname) > 255 {
		return b, errCNAME
	}
	count, blockWords := 0, 0
	if r.block != nil {
		count, blockWords = 1, 6
	}
	if r.sender {
		b = rtcpHeader(b, count, rtcp.TypeSenderReport, 6+blockWords)
		b = binary.BigEndian.AppendUint32(b, r.ssrc)
		b = binary.BigEndian.AppendUint64(b, r.ntp)
		b = binary.BigEndian.AppendUint32(b, r.rtpTime)
		b = binary.BigEndian.AppendUint32(b, r.packets)
		b = binary.BigEndian.AppendUint32(b, r.octets)
	} else {
		b = rtcpHeader(b, count, rtcp.TypeReceiverReport, 1+blockWords)
		b = binary.BigEndian.AppendUint32(b, r.ssrc)
	}
	if rb := r.block; rb != nil {
		b = binary.BigEndian.AppendUint32(b, rb.SSRC)
		b = binary.BigEndian.AppendUint32(b, uint32(rb.FractionLost)<<24|rb.TotalLost&0xffffff)
		b = binary.BigEndian.AppendUint32(b, rb.LastSequenceNumber)
		b = binary.BigEndian.AppendUint32(b, rb.Jitter)
		b = binary.BigEndian.AppendUint32(b, rb.LastSenderReport)
		b = binary.BigEndian.AppendUint32(b, rb.Delay)
	}
	// One chunk: the SSRC, the CNAME item, and the null octets that end
	// the item list and pad the chunk to a word (at least one).
	chunk := 4 + 2 + len(r.cname) + 1
	pad := (4 - chunk%4) % 4
	b = rtcpHeader(b, 1, rtcp.TypeSourceDescription, (chunk+pad)/4)
	b = binary.BigEndian.AppendUint32(b, r.ssrc)
	b = append(b, byte(rtcp.SDESCNAME), byte(len(r.cname)))
	b = append(b, r.cname...)
	b = append(b, make([]byte, 1+pad)...)
	if r.bye {
		b = rtcpHeader(b, 1, rtcp.TypeGoodbye, 1)
		b = binary.BigEndian.AppendUint32(b, r.ssrc)
	}
	return b, nil
}

// rtcpHeader appends the common header of a packet of words 32-bit words
// after the header: version 2, no padding, count in the 5-bit field.
func rtcpHeader(b []byte, count int, pt rtcp.PacketType, words int) []byte {
	b = append(b, 2<<6|byte(count), byte(pt))
	return binary.BigEndian.AppendUint16(b, uint16(words))
}

func (e *Endpoint) receiveRTCP() {
	defer e.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := e.readRTCP(buf)
		if err != nil {
			if e.isClosed() {
				return
			}
			continue
		}
		e.receiveReport(buf[:n], from)
	}
}

// receiveReport handles one RTCP datagram.
func (e *Endpoint) receiveReport(b []byte, from netip.AddrPort) {
	if pkts, err := rtcp.Unmarshal(b); err == nil {
		e.handleRTCP(pkts, from)
	}
}

func (e *Endpoint) readRTCP(buf []byte) (int, netip.AddrPort, error) {
	if e.tx != nil {
		n, err := e.tx.ReadRTCP(buf)
		if err != nil && !e.isClosed() {
			// As in receiveSecure: the transport is over, Close follows.
			<-e.closed
		}
		return n, secureSource, err
	}
	return e.rtcpConn.(datagramReader).ReadFromUDPAddrPort(buf)
}

// handleRTCP takes reports from the source the endpoint receives RTP from
// (its SSRC is the proof, as for the RTP latch) and latches their address.
func (e *Endpoint) handleRTCP(pkts []rtcp.Packet, from netip.AddrPort) {
	now := e.clock.Now()
	e.rmu.Lock()
	defer e.rmu.Unlock()
	if !e.stats.started {
		return
	}
	accepted := false
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch r := p.(type) {
		case *rtcp.SenderReport:
			if r.SSRC != e.stats.ssrc {
				continue
			}
			e.rtcp.lsr = uint32(r.NTPTime >> 16)
			e.rtcp.lsrAt = now
			reports = r.Reports
		case *rtcp.ReceiverReport:
			// Over a Transport the packet is authenticated and the SSRC
			// proves nothing; browsers send receiver reports from an SSRC
			// of their own, not their stream's.
			if r.SSRC != e.stats.ssrc && e.tx == nil {
				continue
			}
			reports = r.Reports
		default:
			continue
		}
		accepted = true
		for _, rb := range reports {
			if rb.SSRC != e.out.ssrc {
				continue
			}
			e.rtcp.remote = true
			e.rtcp.remoteLost = int64(int32(rb.TotalLost<<8) >> 8) // 24-bit signed
			e.rtcp.remoteFraction = rb.FractionLost
			e.rtcp.remoteJitter = rb.Jitter
			if rb.LastSenderReport != 0 {
				// RFC 3550 §6.4.1: A - LSR - DLSR, in 1/65536 s.
				if rtt := int32(uint32(ntpTime(now)>>16) - rb.LastSenderReport - rb.Delay); rtt >= 0 {
					e.rtcp.rtt = time.Duration(rtt) * time.Second / 65536
				}
			}
		}
	}
	if accepted {
		e.rtcp.packets++
		e.rtcp.latched = from
	}
}
