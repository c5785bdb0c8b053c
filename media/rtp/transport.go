package rtp

import "net/netip"

// Transport carries an endpoint's packets when signalling gave the leg a
// secure media session instead of a port pair: a WebRTC leg's SRTP, set up
// by package webrtc. The endpoint builds and parses the same RTP and RTCP as
// on UDP; the transport encrypts and decrypts them.
//
// A transport authenticates where its packets come from (SRTP's
// authentication tag), so its endpoint latches nothing: the symmetric RTP
// rule of the package comment is for plain UDP.
type Transport interface {
	// ReadRTP blocks until the next RTP packet arrives, decrypted, and
	// copies it into b. It returns an error once the transport is closed.
	// Only the endpoint's receive goroutine calls it.
	ReadRTP(b []byte) (int, error)
	// ReadRTCP is ReadRTP for compound RTCP packets, from the endpoint's
	// RTCP goroutine.
	ReadRTCP(b []byte) (int, error)
	// WriteRTP sends one RTP packet, header included. The endpoint calls it
	// one packet at a time, with its outbound stream's lock held, so it
	// must not block on the network longer than a UDP send does; pkt may be
	// another endpoint's receive buffer and must not be kept.
	WriteRTP(pkt []byte) error
	// WriteRTCP sends one compound RTCP packet.
	WriteRTCP(pkt []byte) error
	// Close ends the session and unblocks the readers.
	Close() error
}

// secureSource stands for the far end of a Transport wherever the endpoint
// keeps an address: latching, the outbound destination, RTCP. It is valid
// (so the stream is sent) and matches no UDP source.
var secureSource = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
