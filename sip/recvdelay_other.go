//go:build !linux

package sip

import (
	"net"
	"time"
)

// timeArrivals leaves conn as it is: only Linux times arrivals here.
func timeArrivals(conn net.PacketConn, _ func(time.Duration)) net.PacketConn { return conn }
