package rtp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/srtp/v3"
)

// SDES is SRTP over a UDP port pair with keys exchanged in SDP (RFC 4568,
// a=crypto), as phones, PBXs and carriers encrypt media: a Transport for an
// Endpoint.
//
// Authentication stands in for the symmetric RTP rule of plain UDP: a packet
// that decrypts was sent by whoever holds the far end's key, so the transport
// sends to the source of the last RTP packet that decrypted (and RTCP to that
// of the last RTCP packet), and until one has, to the addresses from SDP.
// Packets that do not decrypt, and replayed ones, are dropped.
type SDES struct {
	pool          *PortPool
	port          int
	rtpConn       *net.UDPConn
	rtcpConn      *net.UDPConn
	profile       srtp.ProtectionProfile
	local         []byte // our master key and salt
	closeOnce     sync.Once
	rtpBuf, rtcpB []byte // ciphertext read before it is decrypted into the caller's buffer

	smu  sync.Mutex // the sending context and its scratch buffer
	send *srtp.Context
	sbuf []byte

	rmu             sync.Mutex // the receiving context, its key, and the destinations
	recv            *srtp.Context
	remote          []byte
	dst, rtcpDst    netip.AddrPort
	latched, rtcpLt bool
}

// SDESSuites are the crypto suites SDES takes, by their SDP names, in our order
// of preference.
var SDESSuites = []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}

var suiteProfiles = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
}

// ErrSuite is a crypto suite SDES does not take.
var ErrSuite = errors.New("rtp: unsupported SRTP crypto suite")

// replayWindow is how many packets back a late one may still be taken (the
// RFC 3711 minimum is 64).
const replayWindow = 128

// SDESKeyLen is the length of a master key and salt of the suites SDES takes:
// the inline key of a=crypto, before base64.
const SDESKeyLen = 30

// NewSDESKey draws a master key and salt.
func NewSDESKey() []byte {
	k := make([]byte, SDESKeyLen)
	rand.Read(k)
	return k
}

// OpenSDES binds a port pair from pool for SRTP with suite, sending with the
// master key and salt local and taking what is sent with remote. When we
// offer, remote is nil until the answer gives it (Rekey); what arrives
// before is dropped.
func OpenSDES(pool *PortPool, suite string, local, remote []byte) (*SDES, error) {
	profile, ok := suiteProfiles[suite]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrSuite, suite)
	}
	s := &SDES{pool: pool, profile: profile, local: local, rtpBuf: make([]byte, maxPacket), rtcpB: make([]byte, maxPacket)}
	var err error
	if s.send, err = newContext(local, profile); err != nil {
		return nil, fmt.Errorf("rtp: our SRTP key: %w", err)
	}
	if remote != nil {
		if s.recv, err = newContext(remote, profile); err != nil {
			return nil, fmt.Errorf("rtp: the far end's SRTP key: %w", err)
		}
		s.remote = remote
	}
	r, c, port, err := pool.openUDP()
	if err != nil {
		return nil, fmt.Errorf("open SRTP endpoint: %w", err)
	}
	s.port, s.rtpConn, s.rtcpConn = port, r, c
	return s, nil
}

func newContext(key []byte, profile srtp.ProtectionProfile) (*srtp.Context, error) {
	if len(key) != SDESKeyLen {
		return nil, fmt.Errorf("%d bytes of master key and salt, want %d", len(key), SDESKeyLen)
	}
	return srtp.CreateContext(key[:16], key[16:], profile,
		srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
}

// LocalAddr is the address and RTP port to put in SDP.
func (s *SDES) LocalAddr() netip.AddrPort {
	return netip.AddrPortFrom(s.pool.addr, uint16(s.port))
}

// LocalKey is our master key and salt, for a=crypto.
func (s *SDES) LocalKey() []byte { return s.local }

// SetRemote sets where SDP says the far end takes RTP and RTCP; what is
// latched since is forgotten.
func (s *SDES) SetRemote(rtp, rtcp netip.AddrPort) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.dst, s.rtcpDst, s.latched, s.rtcpLt = rtp, rtcp, false, false
}

// Rekey takes the far end's key from a new offer or answer (a re-INVITE's
// a=crypto). The same key changes nothing: a new context would forget the
// rollover count, and a call past 65,536 packets would no longer decrypt.
func (s *SDES) Rekey(remote []byte) error {
	s.rmu.Lock()
	same := bytes.Equal(remote, s.remote)
	s.rmu.Unlock()
	if same {
		return nil
	}
	ctx, err := newContext(remote, s.profile)
	if err != nil {
		return fmt.Errorf("rtp: the far end's SRTP key: %w", err)
	}
	s.rmu.Lock()
	s.recv, s.remote = ctx, remote
	s.rmu.Unlock()
	return nil
}

// CanJoin tells whether Join can join s and o: their suites are the same.
func (s *SDES) CanJoin(o *SDES) bool { return s.profile == o.profile }

// Join makes s and o each other's far end, both on this host: each sends to
// the other's ports, at addr (the pool's address, or another of the host's
// when that one is unspecified), and decrypts with the key the other
// encrypts with. An attended transfer joins two calls so (package sip).
func (s *SDES) Join(o *SDES, addr netip.Addr) error {
	if !s.CanJoin(o) {
		return fmt.Errorf("rtp: the two calls' SRTP suites differ (%s, %s)", s.profile, o.profile)
	}
	if err := s.Rekey(o.local); err != nil {
		return err
	}
	if err := o.Rekey(s.local); err != nil {
		return err
	}
	s.SetRemote(netip.AddrPortFrom(addr, uint16(o.port)), netip.AddrPortFrom(addr, uint16(o.port+1)))
	o.SetRemote(netip.AddrPortFrom(addr, uint16(s.port)), netip.AddrPortFrom(addr, uint16(s.port+1)))
	return nil
}

// ReadRTP implements Transport.
func (s *SDES) ReadRTP(b []byte) (int, error) {
	return s.read(s.rtpConn, s.rtpBuf, b, false)
}

// ReadRTCP implements Transport.
func (s *SDES) ReadRTCP(b []byte) (int, error) {
	return s.read(s.rtcpConn, s.rtcpB, b, true)
}

func (s *SDES) read(conn *net.UDPConn, in, b []byte, isRTCP bool) (int, error) {
	for {
		n, from, err := conn.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return 0, err
			}
			continue
		}
		s.rmu.Lock()
		if s.recv == nil {
			s.rmu.Unlock()
			continue
		}
		var out []byte
		if isRTCP {
			out, err = s.recv.DecryptRTCP(b[:0], in[:n], nil)
		} else {
			out, err = s.recv.DecryptRTP(b[:0], in[:n], nil)
		}
		if err == nil {
			if isRTCP {
				s.rtcpDst, s.rtcpLt = from, true
			} else {
				s.dst, s.latched = from, true
				if !s.rtcpLt {
					s.rtcpDst = netip.AddrPortFrom(from.Addr(), from.Port()+1)
				}
			}
		}
		s.rmu.Unlock()
		if err == nil {
			// out is b's own array, which holds any packet read; pion
			// would make another for one that did not fit.
			return copy(b, out), nil
		}
	}
}

// WriteRTP implements Transport.
func (s *SDES) WriteRTP(pkt []byte) error {
	return s.write(s.rtpConn, pkt, false)
}

// WriteRTCP implements Transport.
func (s *SDES) WriteRTCP(pkt []byte) error {
	return s.write(s.rtcpConn, pkt, true)
}

func (s *SDES) write(conn *net.UDPConn, pkt []byte, isRTCP bool) error {
	s.rmu.Lock()
	dst := s.dst
	if isRTCP {
		dst = s.rtcpDst
	}
	s.rmu.Unlock()
	if !dst.IsValid() {
		return nil
	}
	s.smu.Lock()
	var out []byte
	var err error
	if isRTCP {
		out, err = s.send.EncryptRTCP(s.sbuf[:0], pkt, nil)
	} else {
		out, err = s.send.EncryptRTP(s.sbuf[:0], pkt, nil)
	}
	if err == nil {
		s.sbuf = out[:0]
		_, err = conn.WriteToUDPAddrPort(out, dst)
	}
	s.smu.Unlock()
	return err
}

// Close implements Transport: it closes the sockets, which ends the reads,
// and gives the port pair back.
func (s *SDES) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = errors.Join(s.rtpConn.Close(), s.rtcpConn.Close())
		s.pool.release(s.port)
	})
	return err
}
