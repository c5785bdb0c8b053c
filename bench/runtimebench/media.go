package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"vox/media/pcm"
	"vox/media/rtp"
)

// The media part of make bench (issue 5): bridged G.711 calls on loopback,
// each two legs with a phone behind each sending 50 packets a second, against
// a bare Go UDP relay (a goroutine per socket copying datagrams to a fixed
// peer out of the other leg's socket, the same socket work as any relay)
// measured in the same run as the ceiling. The phones are a load
// generator in a child process (this binary again), so the CPU figure is the
// relay's alone; both sides face the same generator on the same two cores.
//
// Loss counts packets sent in the measured window and never received; jitter
// is the instantaneous packet delay variation |D(i-1,i)| of RFC 3550 §6.4.1
// between consecutive packets of a stream, from send and receive times the
// generator stamps with one clock. Capacity is the most calls (stepping up)
// that still meet the loss and jitter goals.
var (
	mediaCalls  = flag.Int("media-calls", 1000, "bridged calls for the media figures")
	mediaMax    = flag.Int("media-max", 3000, "most calls the media capacity search tries")
	mediaWindow = flag.Duration("media-window", 3*time.Second, "how long each media load run lasts")
)

// Goals from the media issue.
const (
	goalMediaLoss     = 0.001
	goalMediaJitter   = 5 * time.Millisecond
	goalMediaCapacity = 0.8
	goalMediaIdleKiB  = 1024
	mediaWarmup       = 500 * time.Millisecond // the latch's probation and start-up, not measured
	mediaCooldown     = 200 * time.Millisecond // packets still in flight at the end, not measured
	loadgenEnv        = "VOX_MEDIA_LOADGEN"
	loadgenSockets    = 8
)

func init() {
	// The child: run the load generator and exit before main runs.
	if os.Getenv(loadgenEnv) != "" {
		if err := loadgen(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// loadResult is what the generator measured in one run.
type loadResult struct {
	Sent, Received int64
	JitterP50      time.Duration
	JitterP99      time.Duration
	JitterMax      time.Duration
	LatencyP99     time.Duration
	Behind         time.Duration // how late the generator's sends were, at worst
	GenCPU         time.Duration // the generator's own CPU in the window (WebRTC runs)
}

func (r loadResult) loss() float64 {
	if r.Sent == 0 {
		return 1
	}
	return max(0, float64(r.Sent-r.Received)/float64(r.Sent))
}

func (r loadResult) ok() bool { return r.loss() <= goalMediaLoss && r.JitterP99 <= goalMediaJitter }

type mediaRun struct {
	calls int
	res   loadResult
	cpu   time.Duration // the relay process's CPU in the window
}

// cpuPerCall is the relay's CPU per call, in microseconds per second of call.
func (m mediaRun) cpuPerCall(window time.Duration) float64 {
	return float64(m.cpu) / float64(time.Microsecond) / window.Seconds() / float64(m.calls)
}

// relay is one side under test: it opens calls legs whose far ends are the
// given phone addresses and returns the legs' RTP ports.
type relay interface {
	open(calls int, phones []netip.AddrPort, transcode bool) (ports []uint16, err error)
	close()
}

func benchMedia(out io.Writer) error {
	raiseFileLimit()
	window := *mediaWindow
	fmt.Fprintf(out, "\nmedia benchmark: bridged G.711 calls on loopback, 2 legs × 50 packets/s each way, %s per run, GOMAXPROCS=%d\n",
		window, goruntime.GOMAXPROCS(0))
	gen, err := startLoadgen()
	if err != nil {
		return err
	}
	defer gen.stop()

	vox, err := newVoxRelay()
	if err != nil {
		return err
	}
	bare := &bareRelay{}
	n := *mediaCalls
	runOne := func(r relay, calls int, transcode bool) (mediaRun, error) {
		return gen.run(r, calls, window, transcode)
	}
	v, err := runOne(vox, n, false)
	if err != nil {
		return fmt.Errorf("vox relay: %w", err)
	}
	b, err := runOne(bare, n, false)
	if err != nil {
		return fmt.Errorf("bare relay: %w", err)
	}
	tr, err := runOne(vox, n, true)
	if err != nil {
		return fmt.Errorf("vox transcoding: %w", err)
	}
	// Capacity: step up by a quarter of n (the run at n is already known)
	// until the goals fail or the limit is reached.
	capacity := func(r relay, atN mediaRun) (int, error) {
		best := 0
		for c := n / 4; c <= *mediaMax; c += n / 4 {
			if c == n {
				if !atN.res.ok() {
					break
				}
				best = c
				continue
			}
			m, err := runOne(r, c, false)
			if err != nil {
				return 0, err
			}
			if !m.res.ok() {
				break
			}
			best = c
		}
		return best, nil
	}
	vCap, err := capacity(vox, v)
	if err != nil {
		return err
	}
	bCap, err := capacity(bare, b)
	if err != nil {
		return err
	}
	idle, err := idleMemory(n)
	if err != nil {
		return err
	}

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nname\tvox\tbare relay\tvox/bare\tgoal\tmet")
	lossRow := func(name string, vr, br mediaRun) {
		fmt.Fprintf(w, "%s\t%.3f%%\t%.3f%%\t—\t≤ %.1f%%\t%s\n", name, 100*vr.res.loss(), 100*br.res.loss(), 100*goalMediaLoss, met(vr.res.loss() <= goalMediaLoss))
	}
	lossRow(fmt.Sprintf("packet loss (%d calls)", n), v, b)
	fmt.Fprintf(w, "jitter p99 (%d calls)\t%.2f ms\t%.2f ms\t%.2f×\t≤ %d ms\t%s\n", n, ms(v.res.JitterP99), ms(b.res.JitterP99),
		ratio(v.res.JitterP99, b.res.JitterP99), goalMediaJitter/time.Millisecond, met(v.res.JitterP99 <= goalMediaJitter))
	fmt.Fprintf(w, "CPU per call (%d calls)\t%.0f µs/s\t%.0f µs/s\t%.2f×\t—\t—\n", n, v.cpuPerCall(window), b.cpuPerCall(window), v.cpuPerCall(window)/b.cpuPerCall(window))
	fmt.Fprintf(w, "capacity within the goals (≤ %d tried)\t%s\t%s\t%.2f×\t≥ %.1f× bare, ≥ %d calls\t%s\n", *mediaMax, calls(vCap), calls(bCap),
		float64(vCap)/float64(max(bCap, 1)), goalMediaCapacity, n, met(vCap >= n && float64(vCap) >= goalMediaCapacity*float64(bCap)))
	fmt.Fprintf(w, "memory per idle bridged call (%d calls)\t%.1f KiB\t—\t—\t≤ %d KiB\t%s\n", n, idle, goalMediaIdleKiB, met(idle <= goalMediaIdleKiB))
	fmt.Fprintf(w, "PCMU↔PCMA transcoding (%d calls): loss, jitter p99, CPU\t%.3f%%, %.2f ms, %.0f µs/s\t—\t%.2f× CPU of same-codec\t≤ %.1f%%, ≤ %d ms\t%s\n", n,
		100*tr.res.loss(), ms(tr.res.JitterP99), tr.cpuPerCall(window), tr.cpuPerCall(window)/v.cpuPerCall(window),
		100*goalMediaLoss, goalMediaJitter/time.Millisecond, met(tr.res.ok()))
	w.Flush()
	fmt.Fprintf(out, "jitter p50 / max: vox %.2f / %.1f ms, bare %.2f / %.1f ms; one-way latency p99: vox %.2f ms, bare %.2f ms\n",
		ms(v.res.JitterP50), ms(v.res.JitterMax), ms(b.res.JitterP50), ms(b.res.JitterMax), ms(v.res.LatencyP99), ms(b.res.LatencyP99))
	fmt.Fprintf(out, "(CPU is the relay process's user+system time per call per second of call; the generator runs in a child process; its sends were at worst %.1f ms late)\n",
		ms(max(v.res.Behind, b.res.Behind)))
	return nil
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func calls(n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d calls", n)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// voxRelay is the code under test: two rtp.Endpoints per call, bridged.
type voxRelay struct {
	pool *rtp.PortPool
	eps  []*rtp.Endpoint
}

func newVoxRelay() (*voxRelay, error) {
	pool, err := rtp.NewPortPool(rtp.PortPoolConfig{MinPort: 20000, MaxPort: 60000})
	if err != nil {
		return nil, err
	}
	return &voxRelay{pool: pool}, nil
}

func (v *voxRelay) open(calls int, phones []netip.AddrPort, transcode bool) ([]uint16, error) {
	ports := make([]uint16, 0, 2*calls)
	for i := range calls {
		cb := rtp.PCMU
		if transcode {
			cb = rtp.PCMA
		}
		a, err := rtp.NewEndpoint(rtp.Config{Pool: v.pool, Codec: rtp.PCMU})
		if err != nil {
			return nil, err
		}
		v.eps = append(v.eps, a)
		b, err := rtp.NewEndpoint(rtp.Config{Pool: v.pool, Codec: cb})
		if err != nil {
			return nil, err
		}
		v.eps = append(v.eps, b)
		a.SetRemote(phones[2*i])
		b.SetRemote(phones[2*i+1])
		if err := rtp.SendMediaBetween(a, b); err != nil {
			return nil, err
		}
		ports = append(ports, a.LocalAddr().Port(), b.LocalAddr().Port())
	}
	return ports, nil
}

func (v *voxRelay) close() {
	for _, e := range v.eps {
		e.Close()
	}
	v.eps = nil
}

// bareRelay is the ceiling: per call two sockets, each with a goroutine that
// copies every datagram to the other leg's phone, out of the other leg's
// socket as any relay must (a phone expects media from the address its SDP
// gave it).
type bareRelay struct {
	conns []*net.UDPConn
	wg    sync.WaitGroup
}

func (r *bareRelay) open(calls int, phones []netip.AddrPort, _ bool) ([]uint16, error) {
	ports := make([]uint16, 0, 2*calls)
	for i := range calls {
		var legs [2]*net.UDPConn
		for k := range legs {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return nil, err
			}
			legs[k] = c
			r.conns = append(r.conns, c)
			ports = append(ports, c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		}
		for k, c := range legs {
			out, to := legs[1-k], phones[2*i+1-k]
			r.wg.Go(func() {
				buf := make([]byte, 1500)
				for {
					n, _, err := c.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					out.WriteToUDPAddrPort(buf[:n], to)
				}
			})
		}
	}
	return ports, nil
}

func (r *bareRelay) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
	r.conns = nil
}

// idleMemory is the Go heap and stacks per bridged call with no traffic.
func idleMemory(n int) (float64, error) {
	v, err := newVoxRelay()
	if err != nil {
		return 0, err
	}
	defer v.close()
	phones := make([]netip.AddrPort, 2*n)
	for i := range phones {
		phones[i] = netip.MustParseAddrPort("127.0.0.1:9") // discard; nothing is sent while idle
	}
	// One call first, so that what all calls share (codec tables) is not
	// counted against the n.
	if _, err := v.open(1, phones, false); err != nil {
		return 0, err
	}
	heap0, stacks0 := heapInUse()
	if _, err := v.open(n, phones, false); err != nil {
		return 0, err
	}
	heap1, stacks1 := heapInUse()
	return kibPer(heap1+stacks1, heap0+stacks0, n), nil
}

// loadgenProc is the generator child and its pipes.
type loadgenProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	phones []netip.AddrPort // its sockets
}

func startLoadgen() (*loadgenProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), loadgenEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &loadgenProc{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	g.out.Buffer(make([]byte, 1<<20), 1<<20)
	if !g.out.Scan() {
		g.stop()
		return nil, fmt.Errorf("load generator did not start: %v", g.out.Err())
	}
	for _, f := range strings.Fields(g.out.Text()) {
		ap, err := netip.ParseAddrPort(f)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.phones = append(g.phones, ap)
	}
	return g, nil
}

func (g *loadgenProc) stop() {
	g.in.Close()
	g.cmd.Wait()
}

// run opens calls on r with the generator's sockets as phones, has the
// generator load them for the window, and closes them.
func (g *loadgenProc) run(r relay, calls int, window time.Duration, transcode bool) (mediaRun, error) {
	phones := make([]netip.AddrPort, 2*calls)
	for i := range phones {
		phones[i] = g.phones[i%len(g.phones)]
	}
	ports, err := r.open(calls, phones, transcode)
	defer r.close()
	if err != nil {
		return mediaRun{}, err
	}
	job := []string{"run", strconv.FormatInt(int64(window), 10), strconv.FormatBool(transcode)}
	for _, p := range ports {
		job = append(job, strconv.Itoa(int(p)))
	}
	goruntime.GC()
	cpu0 := processCPU()
	if _, err := fmt.Fprintln(g.in, strings.Join(job, " ")); err != nil {
		return mediaRun{}, err
	}
	if !g.out.Scan() {
		return mediaRun{}, fmt.Errorf("load generator ended: %v", g.out.Err())
	}
	cpu := processCPU() - cpu0
	var res loadResult
	if err := json.Unmarshal(g.out.Bytes(), &res); err != nil {
		return mediaRun{}, err
	}
	// The CPU was spent over the whole run, warm-up and drain included.
	cpu = time.Duration(float64(cpu) * float64(window) / float64(mediaWarmup+window+mediaCooldown))
	return mediaRun{calls: calls, res: res, cpu: cpu}, nil
}

// The generator. Each packet's payload carries the time it was sent and its
// index in the stream, written in 24 G.711 bytes that survive PCMU↔PCMA
// transcoding unchanged (a nibble per byte, from codes whose µ→A→µ round trip
// is exact), so the same stamp works for relayed and transcoded calls.
const stampBytes = 24

// The tables are variables, not built by an init function: the generator
// child runs from an init function, and package variables are ready before
// any of those.
var stampU, stampA, unstampU, unstampA = stampTables() // nibble → µ-law, A-law code; code → nibble or -1

func stampTables() (u2, a2 [16]byte, unU, unA [256]int8) {
	for i := range unU {
		unU[i], unA[i] = -1, -1
	}
	u, a, back := make([]byte, 1), make([]byte, 1), make([]byte, 1)
	n := 0
	for code := 0xf0; code >= 0x80 && n < 16; code-- { // loud positive codes: far from the small ones A-law cannot hold
		u[0] = byte(code)
		rtp.Transcode(a, rtp.PCMA, rtp.PCMU, u)
		rtp.Transcode(back, rtp.PCMU, rtp.PCMA, a)
		if back[0] != u[0] || unA[a[0]] != -1 {
			continue
		}
		u2[n], a2[n] = u[0], a[0]
		unU[u[0]], unA[a[0]] = int8(n), int8(n)
		n++
	}
	return u2, a2, unU, unA
}

func stamp(dst []byte, table *[16]byte, sent int64, index uint32) {
	v := uint64(sent)
	for i := range 16 {
		dst[i] = table[v>>(4*i)&15]
	}
	for i := range 8 {
		dst[16+i] = table[index>>(4*i)&15]
	}
}

// sendBatch is packets waiting for one sendmmsg(2) per socket: the
// generator must cost less than what it measures.
type sendBatch struct {
	socks []*net.UDPConn
	per   [][]batched // by socket
}

type batched struct {
	buf   [12 + pcm.FrameSamples]byte
	to    unix.RawSockaddrInet4
	iov   unix.Iovec
	index uint32
	table *[16]byte
}

const maxBatch = 64

func newSendBatch(socks []*net.UDPConn) *sendBatch {
	b := &sendBatch{socks: socks, per: make([][]batched, len(socks))}
	for i := range b.per {
		b.per[i] = make([]batched, 0, maxBatch)
	}
	return b
}

// add queues a packet; it reports whether the socket's batch is full.
func (b *sendBatch) add(sock int, port uint16, pt byte, table *[16]byte, index, ssrc uint32) bool {
	q := &b.per[sock]
	*q = (*q)[:len(*q)+1]
	m := &(*q)[len(*q)-1]
	m.buf[0], m.buf[1] = 0x80, pt
	binary.BigEndian.PutUint16(m.buf[2:], uint16(index))
	binary.BigEndian.PutUint32(m.buf[4:], index*pcm.FrameSamples)
	binary.BigEndian.PutUint32(m.buf[8:], ssrc)
	for i := 12 + stampBytes; i < len(m.buf); i++ {
		m.buf[i] = table[0]
	}
	m.to = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&m.to.Port))[:], port)
	m.index, m.table = index, table
	return len(*q) == maxBatch
}

// flush sends every queued packet, stamped now, and returns how many of
// those in the measured window left.
func (b *sendBatch) flush(since func() int64, first, last uint32) int64 {
	var counted int64
	var msgs [maxBatch]unix.Mmsghdr
	for s, q := range b.per {
		if len(q) == 0 {
			continue
		}
		now := since()
		for i := range q {
			m := &q[i]
			stamp(m.buf[12:], m.table, now, m.index)
			m.iov = unix.Iovec{Base: &m.buf[0]}
			m.iov.SetLen(len(m.buf))
			msgs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&m.to)), Namelen: unix.SizeofSockaddrInet4, Iov: &m.iov}}
			msgs[i].Hdr.SetIovlen(1)
		}
		rc, err := b.socks[s].SyscallConn()
		if err != nil {
			continue
		}
		for off := 0; off < len(q); {
			var n int
			rc.Write(func(fd uintptr) bool {
				r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[off])), uintptr(len(q)-off), 0, 0, 0)
				if e == unix.EAGAIN {
					return false
				}
				n = int(r)
				if e != 0 || n <= 0 {
					n = len(q) - off // give up on this batch
				}
				return true
			})
			for _, m := range q[off : off+n] {
				if m.index >= first && m.index < last {
					counted++
				}
			}
			off += n
		}
		b.per[s] = q[:0]
	}
	return counted
}

func unstamp(src []byte, table *[256]int8) (sent int64, index uint32, ok bool) {
	var v uint64
	for i := range 16 {
		n := table[src[i]]
		if n < 0 {
			return 0, 0, false
		}
		v |= uint64(n) << (4 * i)
	}
	for i := range 8 {
		n := table[src[16+i]]
		if n < 0 {
			return 0, 0, false
		}
		index |= uint32(n) << (4 * i)
	}
	return int64(v), index, true
}

func loadgen(in io.Reader, out io.Writer) error {
	raiseFileLimit()
	socks := make([]*net.UDPConn, loadgenSockets)
	var addrs []string
	for i := range socks {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
		socks[i] = c
		addrs = append(addrs, c.LocalAddr().String())
	}
	fmt.Fprintln(out, strings.Join(addrs, " "))
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "webrtc" {
			if err := webrtcJob(sc, out, socks, f); err != nil {
				return err
			}
			continue
		}
		if len(f) < 3 || f[0] != "run" {
			return fmt.Errorf("bad job %q", sc.Text())
		}
		window, _ := strconv.ParseInt(f[1], 10, 64)
		transcode := f[2] == "true"
		var ports []uint16
		for _, p := range f[3:] {
			n, err := strconv.Atoi(p)
			if err != nil {
				return err
			}
			ports = append(ports, uint16(n))
		}
		res := generate(socks, ports, time.Duration(window), transcode)
		b, _ := json.Marshal(res)
		fmt.Fprintln(out, string(b))
	}
	return sc.Err()
}

// generate runs one load: stream j goes from socket j%len(socks) to leg port
// ports[j]; legs 2i and 2i+1 are one call, and in a transcoding run the odd
// legs speak PCMA.
func generate(socks []*net.UDPConn, ports []uint16, window time.Duration, transcode bool) loadResult {
	streams := len(ports)
	frames := int((mediaWarmup + window + mediaCooldown) / pcm.FrameDuration)
	first := uint32(mediaWarmup / pcm.FrameDuration)
	last := uint32((mediaWarmup + window) / pcm.FrameDuration) // measured: [first, last)
	epoch := time.Now()
	since := func() int64 { return int64(time.Since(epoch)) }

	var sent atomic.Int64
	var behind atomic.Int64
	var senders sync.WaitGroup
	const workers = 2
	for w := range workers {
		senders.Go(func() {
			var mine []int
			for j := w; j < streams; j += workers {
				mine = append(mine, j)
			}
			// Stream j's phase within the 20 ms frame spreads the load.
			phase := func(j int) time.Duration { return time.Duration(j) * pcm.FrameDuration / time.Duration(streams) }
			slices.SortFunc(mine, func(a, b int) int { return int(phase(a) - phase(b)) })
			batch := newSendBatch(socks)
			var localSent int64
			for k := range frames {
				base := time.Duration(k) * pcm.FrameDuration
				for _, j := range mine {
					// Packets due within half a millisecond leave together in
					// one sendmmsg; the stamp is the real send time.
					due := base + phase(j)
					if d := due - time.Duration(since()); d > 500*time.Microsecond {
						localSent += batch.flush(since, first, last)
						time.Sleep(d)
					} else if -d > time.Duration(behind.Load()) {
						behind.Store(int64(-d))
					}
					pt, table := byte(rtp.PCMU), &stampU
					if transcode && j%2 == 1 {
						pt, table = byte(rtp.PCMA), &stampA
					}
					if batch.add(j%len(socks), ports[j], pt, table, uint32(k), uint32(j+1)) {
						localSent += batch.flush(since, first, last)
					}
				}
			}
			localSent += batch.flush(since, first, last)
			sent.Add(localSent)
		})
	}

	readers := readPhones(socks, ports, since, first, last, unstampByPayloadType)
	senders.Wait()
	got := readers.stop()
	return got.result(sent.Load(), time.Duration(behind.Load()))
}

// unstampByPayloadType is the table for a packet of payload type pt: in a
// transcoding run half the legs send A-law.
func unstampByPayloadType(pt byte) *[256]int8 {
	if pt == byte(rtp.PCMA) {
		return &unstampA
	}
	return &unstampU
}

// streamDelay is one stream's last measured frame: IPDV is defined between
// consecutive frames only, so a frame lost or out of order restarts it.
type streamDelay struct {
	prevIndex   uint32
	prevTransit int64
	have        bool
}

// arrivals is what a receiver measured: the frames of the window that
// arrived, their transit times and the IPDVs between consecutive frames.
type arrivals struct {
	got           int64
	ipdv, latency []int64
}

// add counts frame idx of stream s, which took transit to arrive.
func (a *arrivals) add(s *streamDelay, idx uint32, transit int64) {
	a.got++
	a.latency = append(a.latency, transit)
	if s.have && idx == s.prevIndex+1 {
		d := transit - s.prevTransit
		a.ipdv = append(a.ipdv, max(d, -d))
	}
	s.prevIndex, s.prevTransit, s.have = idx, transit, true
}

func (a *arrivals) merge(b *arrivals) {
	a.got += b.got
	a.ipdv = append(a.ipdv, b.ipdv...)
	a.latency = append(a.latency, b.latency...)
}

// result sorts the measurements and reads the run's figures from them.
func (a *arrivals) result(sent int64, behind time.Duration) loadResult {
	slices.Sort(a.ipdv)
	slices.Sort(a.latency)
	at := func(s []int64, q float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return time.Duration(s[min(len(s)-1, int(q*float64(len(s))))])
	}
	return loadResult{Sent: sent, Received: a.got, JitterP50: at(a.ipdv, 0.5), JitterP99: at(a.ipdv, 0.99),
		JitterMax: at(a.ipdv, 1), LatencyP99: at(a.latency, 0.99), Behind: behind}
}

// phoneReaders measure the frames of the window arriving at the phones'
// sockets, a goroutine per socket, until stop.
type phoneReaders struct {
	socks []*net.UDPConn
	wg    sync.WaitGroup
	mu    sync.Mutex
	all   arrivals
}

// readPhones starts the readers: stream j is the one from vox's port
// ports[j], its frames stamped with the table unstampFor gives for their
// payload type.
func readPhones(socks []*net.UDPConn, ports []uint16, since func() int64, first, last uint32, unstampFor func(pt byte) *[256]int8) *phoneReaders {
	streamOfPort := make([]int32, 1<<16)
	for i := range streamOfPort {
		streamOfPort[i] = -1
	}
	for j, p := range ports {
		streamOfPort[p] = int32(j)
	}
	delays := make([]streamDelay, len(ports))
	r := &phoneReaders{socks: socks}
	for _, c := range socks {
		r.wg.Go(func() {
			buf := make([]byte, 1500)
			var mine arrivals
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					break
				}
				now := since()
				stream := streamOfPort[from.Port()]
				if stream < 0 || n < 12+stampBytes {
					continue
				}
				sentAt, idx, ok := unstamp(buf[12:], unstampFor(buf[1]&0x7f))
				if !ok || idx < first || idx >= last {
					continue
				}
				// Every stream arrives on one socket, so its delay is this
				// goroutine's alone.
				mine.add(&delays[stream], idx, now-sentAt)
			}
			r.mu.Lock()
			r.all.merge(&mine)
			r.mu.Unlock()
		})
	}
	return r
}

// stop waits out the cooldown for the packets still in flight, then ends the
// reads and returns what they measured.
func (r *phoneReaders) stop() arrivals {
	time.Sleep(mediaCooldown)
	for _, c := range r.socks {
		c.SetReadDeadline(time.Now())
	}
	r.wg.Wait()
	for _, c := range r.socks {
		c.SetReadDeadline(time.Time{})
	}
	return r.all
}
