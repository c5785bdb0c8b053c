//go:build !linux

package rtp

import (
	"net"
	"net/netip"
)

// listenUDP binds one socket of a port pair.
func listenUDP(addr netip.AddrPort) (udpSocket, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
}
