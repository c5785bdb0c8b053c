package rtp

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"vox/media/pcm"
)

// pipeEnd is one end of an in-memory Transport pair: what one end writes,
// the other reads, as SRTP would deliver it once decrypted.
type pipeEnd struct {
	rtp, rtcp chan []byte // what this end reads
	peer      *pipeEnd
	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	lastRTCP []byte // the last RTCP packet this end wrote
}

func transportPair() (*pipeEnd, *pipeEnd) {
	a := &pipeEnd{rtp: make(chan []byte, 256), rtcp: make(chan []byte, 16), closed: make(chan struct{})}
	b := &pipeEnd{rtp: make(chan []byte, 256), rtcp: make(chan []byte, 16), closed: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

var errPipeClosed = errors.New("pipe closed")

func (p *pipeEnd) read(ch chan []byte, b []byte) (int, error) {
	select {
	case pkt := <-ch:
		return copy(b, pkt), nil
	case <-p.closed:
		return 0, errPipeClosed
	}
}

func (p *pipeEnd) write(ch chan []byte, pkt []byte) error {
	select {
	case ch <- append([]byte(nil), pkt...):
	default: // a full queue drops, as a network does
	}
	return nil
}

func (p *pipeEnd) ReadRTP(b []byte) (int, error)  { return p.read(p.rtp, b) }
func (p *pipeEnd) ReadRTCP(b []byte) (int, error) { return p.read(p.rtcp, b) }
func (p *pipeEnd) WriteRTP(pkt []byte) error      { return p.write(p.peer.rtp, pkt) }
func (p *pipeEnd) WriteRTCP(pkt []byte) error {
	p.mu.Lock()
	p.lastRTCP = append([]byte(nil), pkt...)
	p.mu.Unlock()
	return p.write(p.peer.rtcp, pkt)
}
func (p *pipeEnd) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

// TestTransportEndpoint runs an endpoint over a Transport: its stream has the
// SSRC signalling chose, the first packet counts (the transport
// authenticated it: no latching probation), a bridge to a UDP endpoint relays
// it, and Close sends BYE on the transport and closes it.
func TestTransportEndpoint(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	near, far := transportPair()
	const ssrc = 0x1234abcd
	a, err := NewEndpoint(Config{Transport: near, SSRC: ssrc, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if a.LocalAddr().IsValid() {
		t.Errorf("LocalAddr %v on a transport", a.LocalAddr())
	}
	b := newEndpoint(t, Config{Transport: far, Clock: clock})
	got := &collector{}
	b.AddSink(got)

	const n = 10
	a.Play(context.Background(), &frames{n: n, gen: ramp})
	for i := 1; i < n; i++ {
		waitFor(t, "frame at the sink", func() bool { return got.frames() >= i })
		clock.Tick(t)
	}
	waitFor(t, "all frames", func() bool { return got.frames() == n })
	if st := b.Stats(); st.PacketsReceived != n || st.Rejected != 0 || st.Lost != 0 {
		t.Errorf("stats %+v, want %d received and none rejected", st, n)
	}

	// far's peer speaks to a through the transport; a relays to a UDP leg.
	pool := testPool(t)
	udp := newEndpoint(t, Config{Pool: pool, Clock: clock})
	ph := newPhone(t)
	udp.SetRemote(ph.addr())
	if err := a.SendMediaTo(udp); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, pcm.FrameSamples)
	for i := range 3 {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(PCMU), SequenceNumber: uint16(7 + i),
			Timestamp: uint32(i * pcm.FrameSamples), SSRC: 99}, Payload: payload}
		raw, _ := pkt.Marshal()
		far.peer.rtp <- raw
	}
	for range 3 {
		if p, _ := ph.read(); p.SSRC != udp.SSRC() || p.PayloadType != uint8(PCMU) {
			t.Fatalf("relayed packet: SSRC %x PT %d", p.SSRC, p.PayloadType)
		}
	}

	// SSRC chosen by signalling, and BYE on Close through the transport.
	if a.SSRC() != ssrc {
		t.Errorf("SSRC %x, want %x", a.SSRC(), ssrc)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-near.closed:
	default:
		t.Error("Close left the transport open")
	}
	near.mu.Lock()
	pkts, err := rtcp.Unmarshal(near.lastRTCP)
	near.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if bye, ok := pkts[len(pkts)-1].(*rtcp.Goodbye); !ok || bye.Sources[0] != ssrc {
		t.Errorf("last RTCP on Close: %v, want BYE for %x", pkts, ssrc)
	}
}
