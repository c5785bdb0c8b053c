package rtp

import (
	"net/netip"
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
	var blocks []rtcp.ReceptionReport
	e.rmu.Lock()
	if s := &e.stats; s.started {
		fraction := s.interval()
		var dlsr uint32
		if e.rtcp.lsr != 0 {
			dlsr = uint32(now.Sub(e.rtcp.lsrAt).Seconds() * 65536)
		}
		blocks = append(blocks, rtcp.ReceptionReport{
			SSRC:               s.ssrc,
			FractionLost:       fraction,
			TotalLost:          cumulativeLost(int64(s.expected()) - int64(s.received)),
			LastSequenceNumber: s.extendedMax(),
			Jitter:             s.jitter >> 4,
			LastSenderReport:   e.rtcp.lsr,
			Delay:              dlsr,
		})
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
	sent := o.packets > o.reported
	o.reported = o.packets
	rtpTime := o.now(now)
	packets, octets := o.packets, o.octets
	o.mu.Unlock()

	ssrc := e.out.ssrc
	var pkts []rtcp.Packet
	if sent {
		pkts = append(pkts, &rtcp.SenderReport{SSRC: ssrc, NTPTime: ntpTime(now), RTPTime: rtpTime,
			PacketCount: uint32(packets), OctetCount: uint32(octets), Reports: blocks})
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: ssrc, Reports: blocks})
	}
	pkts = append(pkts, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: e.cname}}}}})
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{ssrc}})
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		e.log.Debug("rtcp marshal", "err", err)
		return
	}
	if e.tx != nil {
		err = e.tx.WriteRTCP(b)
	} else {
		_, err = e.rtcpConn.WriteToUDPAddrPort(b, dst)
	}
	if err != nil {
		e.log.Debug("rtcp send", "err", err)
	}
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
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
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
	return e.rtcpConn.ReadFromUDPAddrPort(buf)
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
