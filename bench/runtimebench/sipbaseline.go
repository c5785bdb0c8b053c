package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// A baseline for the call-setup benchmark: the carrier's call handled in Go
// with the SIP library vox is built on and nothing of vox. A plain sipgo
// UAS answers the INVITE with 100 and a 200 with SDP, waits for the ACK,
// sends the 0.5 s of G.711 RTP that the scenario's tone is (a packet per
// 20 ms from a UDP socket of the call's own, as vox's media endpoint has)
// and hangs up. What vox spends over it is, roughly, the price of the
// scenario's JS session; it is not a bound (a cleverer server might beat
// it), but it shows how much of the goal's budget is gone before a
// scenario runs. The SIPp uas is the same call in C++, without RTP.

const sipBaselineEnv = "VOX_BENCH_SIP_BASELINE"

func init() { childStep(sipBaselineEnv, baselineStepChild) }

// baselineStepProcess runs one rate against a fresh baseline UAS in a
// child process, as voxStepProcess does for vox.
func baselineStepProcess(req stepRequest) (rateStep, error) {
	s, err := stepInChild(sipBaselineEnv, req)
	if err != nil {
		return s, fmt.Errorf("sipgo baseline at %d calls/s: %w", req.Rate, err)
	}
	return s, nil
}

// baselineStepChild is a step of a carrier's calls against the baseline;
// the request's settings for vox (GCPercent, Overload) have no use here.
func baselineStepChild(req stepRequest) (rateStep, error) {
	raiseFileLimit()
	f, err := startBaseline(req.Hold)
	if err != nil {
		return rateStep{}, err
	}
	defer f.close()
	args, err := uacArgs(f.addr.String(), req.Caller, req.Rate, req.Calls, req.Hold)
	if err != nil {
		return rateStep{}, err
	}
	cpu0 := processCPU()
	st, err := runSIPp(context.Background(), req.Work, args...)
	cpu := processCPU() - cpu0
	if err != nil {
		return rateStep{}, err
	}
	s := rateStep{Rate: req.Rate, Stats: st, CPU: cpu}
	// Past its capacity the UAS misses ACKs as vox would; SIPp counts
	// those calls as failed, and the note says what the UAS saw.
	if n := f.failed.Load(); n > 0 {
		s.Note = fmt.Sprintf("the sipgo UAS failed %d calls, the first: %v", n, f.firstErr())
	}
	return s, nil
}

// baselineUAS is the sipgo server of the baseline.
type baselineUAS struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cache  *sipgo.DialogServerCache
	conn   net.PacketConn
	addr   netip.AddrPort
	hold   time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	calls  sync.WaitGroup

	failed atomic.Int64
	errMu  sync.Mutex
	err    error
}

func startBaseline(hold time.Duration) (*baselineUAS, error) {
	// sipgo logs each transaction's end at debug level; the baseline, like
	// vox in the bench, formats nothing it does not show.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("vox-bench-baseline"))
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &baselineUAS{ua: ua, srv: srv, conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), hold: hold}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	contact := sipmsg.ContactHeader{Address: sipmsg.Uri{User: "baseline", Host: "127.0.0.1", Port: int(f.addr.Port())}}
	f.cache = sipgo.NewDialogServerCache(client, contact)
	srv.OnInvite(f.invite)
	srv.OnAck(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) { f.cache.ReadAck(req, tx) })
	srv.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) { f.cache.ReadBye(req, tx) })
	go srv.ServeUDP(conn)
	return f, nil
}

func (f *baselineUAS) close() {
	f.cancel()
	f.calls.Wait()
	f.srv.Close()
	f.ua.Close()
	f.conn.Close()
}

func (f *baselineUAS) fail(err error) {
	f.failed.Add(1)
	f.errMu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.errMu.Unlock()
}

func (f *baselineUAS) firstErr() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// invite answers a call, then plays and hangs up on a goroutine of its own,
// as vox's session does.
func (f *baselineUAS) invite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	d, err := f.cache.ReadInvite(req, tx)
	if err != nil {
		f.fail(fmt.Errorf("read INVITE: %w", err))
		return
	}
	remote, err := baselineRemote(req.Body())
	if err != nil {
		d.Respond(488, "Not Acceptable Here", nil)
		f.fail(err)
		return
	}
	rtpConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		d.Respond(503, "Service Unavailable", nil)
		f.fail(err)
		return
	}
	d.Respond(100, "Trying", nil)
	local := rtpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := d.RespondSDP(baselineAnswer(local)); err != nil {
		rtpConn.Close()
		f.fail(fmt.Errorf("200: %w", err))
		return
	}
	f.calls.Add(1)
	go func() {
		defer f.calls.Done()
		defer rtpConn.Close()
		defer d.Close()
		if err := f.talk(d, rtpConn, remote); err != nil {
			f.fail(err)
		}
	}()
}

// talk waits for the ACK, sends the hold's RTP and hangs up.
func (f *baselineUAS) talk(d *sipgo.DialogServerSession, conn *net.UDPConn, remote netip.AddrPort) error {
	confirmed := d.StateRead()
	if d.LoadState() != sipmsg.DialogStateConfirmed {
		select {
		case s := <-confirmed:
			if s != sipmsg.DialogStateConfirmed {
				return fmt.Errorf("the call went %v before its ACK", s)
			}
		case <-time.After(32 * time.Second):
			return errors.New("no ACK")
		case <-f.ctx.Done():
			return nil
		}
	}
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80 // RTP version 2, PCMU
	binary.BigEndian.PutUint32(pkt[8:], 0x766f7821)
	for i := 12; i < len(pkt); i++ {
		pkt[i] = 0xff // G.711 µ-law silence
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := range int(f.hold / (20 * time.Millisecond)) {
		binary.BigEndian.PutUint16(pkt[2:], uint16(seq))
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq*160))
		if _, err := conn.WriteToUDPAddrPort(pkt, remote); err != nil {
			return fmt.Errorf("RTP: %w", err)
		}
		select {
		case <-tick.C:
		case <-f.ctx.Done():
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(f.ctx, 32*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil && f.ctx.Err() == nil {
		return fmt.Errorf("BYE: %w", err)
	}
	return nil
}

// baselineRemote is where the caller's SDP says it takes RTP: the c= address
// and the m=audio port. The bench's caller is SIPp, whose SDP is simple.
func baselineRemote(body []byte) (netip.AddrPort, error) {
	var addr netip.Addr
	var port uint16
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			addr, _ = netip.ParseAddr(v)
		}
		if v, ok := strings.CutPrefix(line, "m=audio "); ok {
			p, _, _ := strings.Cut(v, " ")
			n, _ := strconv.ParseUint(p, 10, 16)
			port = uint16(n)
		}
	}
	if !addr.IsValid() || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("no RTP address in the offer:\n%s", body)
	}
	return netip.AddrPortFrom(addr, port), nil
}

func baselineAnswer(local netip.AddrPort) []byte {
	return []byte("v=0\r\no=baseline 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(int(local.Port())) + " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")
}
