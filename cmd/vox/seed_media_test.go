package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// carrierMedia is the audio end of a carrier's call in the end-to-end tests:
// SIPp does the signalling and puts this socket's port in its SDP. It plays
// a tone made with sox (PCMU) to vox's port from the SDP answer (or to where
// vox's first packet came from, if that is sooner), sends RFC 4733
// digits when asked, and keeps what it hears, so sox can check both.
type carrierMedia struct {
	conn *net.UDPConn
	tone []byte // μ-law samples, played in a loop
	done chan struct{}

	mu     sync.Mutex
	peer   *net.UDPAddr
	heard  []byte // μ-law payloads vox sent, in arrival order
	digits []byte // digits to send before more audio
	wg     sync.WaitGroup
}

const (
	pcmuType  = 0
	eventType = 101 // telephone-event, as carrier_*.xml offer it
	frame     = 160 // samples of 20 ms at 8 kHz
)

// startCarrierMedia listens on a free UDP port of 127.0.0.1 and plays hz.
func startCarrierMedia(t *testing.T, hz float64) *carrierMedia {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "tone.ul")
	out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-t", "ul", raw,
		"synth", "30", "sine", strconv.FormatFloat(hz, 'f', -1, 64), "vol", "0.5").CombinedOutput()
	if err != nil {
		t.Fatalf("sox (make test installs it): %v\n%s", err, out)
	}
	tone, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	m := &carrierMedia{conn: conn, tone: tone, done: make(chan struct{})}
	m.wg.Add(2)
	go m.receive()
	go m.send()
	t.Cleanup(m.close)
	return m
}

func (m *carrierMedia) port() string { return strconv.Itoa(m.conn.LocalAddr().(*net.UDPAddr).Port) }

func (m *carrierMedia) close() {
	select {
	case <-m.done:
		return
	default:
	}
	close(m.done)
	m.conn.Close()
	m.wg.Wait()
}

func (m *carrierMedia) receive() {
	defer m.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := m.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		m.mu.Lock()
		if m.peer == nil {
			m.peer = from
		}
		if p.PayloadType == pcmuType {
			m.heard = append(m.heard, p.Payload...)
		}
		m.mu.Unlock()
	}
}

// send paces 20 ms packets to whoever sent the first one: the tone, or a
// digit's events (RFC 4733: the same timestamp, growing durations, the
// end three times) instead of audio while one is pending.
func (m *carrierMedia) send() {
	defer m.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	pos := 0
	packet := func(pt uint8, marker bool, stamp uint32, payload []byte) {
		seq++
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: seq, Timestamp: stamp, SSRC: 0x5eed0001}, Payload: payload}
		b, _ := p.Marshal()
		m.mu.Lock()
		peer := m.peer
		m.mu.Unlock()
		m.conn.WriteToUDP(b, peer)
	}
	for {
		select {
		case <-m.done:
			return
		case <-tick.C:
		}
		m.mu.Lock()
		peer := m.peer
		var digit byte
		if len(m.digits) > 0 {
			digit, m.digits = m.digits[0], m.digits[1:]
		}
		m.mu.Unlock()
		if peer == nil {
			continue
		}
		if digit != 0 {
			// 100 ms of the digit, then its end three times, in time.
			start := ts
			for i := 1; i <= 8; i++ {
				flags := byte(10) // the volume, -10 dBm0
				if i >= 6 {
					flags |= 0x80 // the end
				}
				dur := uint16(min(i, 5) * frame)
				packet(eventType, i == 1, start, []byte{digitEvent(digit), flags, byte(dur >> 8), byte(dur)})
				ts += frame
				if i < 8 {
					select {
					case <-m.done:
						return
					case <-tick.C:
					}
				}
			}
			continue
		}
		if pos+frame > len(m.tone) {
			pos = 0
		}
		packet(pcmuType, false, ts, m.tone[pos:pos+frame])
		pos += frame
		ts += frame
	}
}

func digitEvent(d byte) byte {
	switch d {
	case '*':
		return 10
	case '#':
		return 11
	}
	return d - '0'
}

// dial sends digits as RFC 4733 events, one after the other.
func (m *carrierMedia) dial(digits string) {
	m.mu.Lock()
	m.digits = append(m.digits, digits...)
	m.mu.Unlock()
}

// wav writes what the carrier heard as a WAV file (sox converts).
func (m *carrierMedia) wav(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m.mu.Lock()
	heard := append([]byte(nil), m.heard...)
	m.mu.Unlock()
	raw, wav := filepath.Join(dir, "heard.ul"), filepath.Join(dir, "heard.wav")
	if err := os.WriteFile(raw, heard, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sox", "-r", "8000", "-c", "1", "-t", "ul", raw, "-b", "16", "-e", "signed-integer", wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	return wav
}

var voxRTPLine = regexp.MustCompile(`vox rtp (\d+)`)

// learnPeer reads where vox wants the audio from the log of the SIPp run in
// dir (carrier_*.xml log the answer's m= port): vox sends nothing while it
// has nothing to play, so the first packet cannot be waited for.
func (m *carrierMedia) learnPeer(dir string) {
	for range 2000 { // 20 s
		files, _ := filepath.Glob(filepath.Join(dir, "*_logs.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if p := voxRTPLine.FindSubmatch(data); p != nil {
				port, _ := strconv.Atoi(string(p[1]))
				m.mu.Lock()
				if m.peer == nil {
					m.peer = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
				}
				m.mu.Unlock()
				return
			}
		}
		select {
		case <-m.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
