//go:build !linux || 386

package rtp

import "net/netip"

// listenPair binds the RTP and RTCP sockets of a port pair.
func listenPair(addr netip.Addr, port int) (rtpConn, rtcpConn udpSocket, err error) {
	return listenUDPPair(addr, port)
}

// pairReader is a port pair read by one goroutine; there is none here.
type pairReader interface {
	ReadPair(rtpBuf, rtcpBuf []byte) (n int, from netip.AddrPort, isRTCP bool, err error)
}
