package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// readPcapUDP returns the UDP payloads of a classic pcap file (not pcapng)
// whose link layer is Ethernet (VLAN tags allowed) or raw IPv4, IPv4 only.
func readPcapUDP(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, errors.New("pcap: short global header")
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d: // microsecond and nanosecond timestamps
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, errors.New("pcap: not a classic pcap file")
	}
	link := order.Uint32(data[20:])
	var out [][]byte
	for rest := data[24:]; len(rest) > 0; {
		if len(rest) < 16 {
			return nil, errors.New("pcap: short record header")
		}
		n := int(order.Uint32(rest[8:]))
		if len(rest) < 16+n {
			return nil, errors.New("pcap: short record")
		}
		frame := rest[16 : 16+n]
		rest = rest[16+n:]
		var ip []byte
		switch link {
		case 1: // Ethernet
			if len(frame) < 14 {
				continue
			}
			etherType, off := binary.BigEndian.Uint16(frame[12:]), 14
			for etherType == 0x8100 && len(frame) >= off+4 { // 802.1Q
				etherType, off = binary.BigEndian.Uint16(frame[off+2:]), off+4
			}
			if etherType != 0x0800 {
				continue
			}
			ip = frame[off:]
		case 101, 228: // raw IP, raw IPv4
			ip = frame
		default:
			return nil, fmt.Errorf("pcap: link type %d not supported", link)
		}
		if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 || len(ip) < ihl+8 {
			continue // a later fragment, or truncated
		}
		udp := ip[ihl:]
		ulen := int(binary.BigEndian.Uint16(udp[4:]))
		if ulen < 8 || ulen > len(udp) {
			continue
		}
		out = append(out, udp[8:ulen])
	}
	return out, nil
}

// TestSIPpCaptures replays the RFC 4733 packets that SIPp ships (Debian
// sip-tester, installed by make test) into a Receiver: each file holds one
// key press, named after it.
func TestSIPpCaptures(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/sip-tester/dtmf_2833_*.pcap")
	if len(files) == 0 {
		t.Fatal("SIPp's captures are not installed (make test installs sip-tester)")
	}
	names := map[string]string{"pound": "#", "star": "*"}
	seen := map[string]bool{}
	for _, f := range files {
		key := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "dtmf_2833_"), ".pcap")
		want, ok := names[key]
		if !ok {
			want = key
		}
		t.Run(key, func(t *testing.T) {
			payloads, err := readPcapUDP(f)
			if err != nil {
				t.Fatal(err)
			}
			var r Receiver
			var got []byte
			events := 0
			for _, b := range payloads {
				var p rtp.Packet
				// SIPp's scenarios offer telephone-event as payload type 101.
				if p.Unmarshal(b) != nil || p.PayloadType != 101 {
					continue
				}
				events++
				if d, ok := r.Receive(&p); ok {
					got = append(got, d)
				}
			}
			if events < 4 {
				t.Fatalf("only %d telephone-event packets in %s", events, f)
			}
			if string(got) != want {
				t.Fatalf("%s: digits %q from %d packets, want %q", f, got, events, want)
			}
			seen[want] = true
		})
	}
	for _, d := range strings.Split("0 1 2 3 4 5 6 7 8 9 # *", " ") {
		if !seen[d] {
			t.Errorf("no capture gave %q", d)
		}
	}
}
