package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pionrtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"vox/media/pcm"
	"vox/media/rtp"
	"vox/webrtc"
)

// The WebRTC part of make bench (issue 7): calls between a browser-style leg
// (pion in the load generator child: ICE, DTLS, SRTP, G.711) and a plain RTP
// leg (a phone: one of the child's UDP sockets), bridged by vox, against the
// plain RTP bridge of the media section measured in the same run. The
// browsers run in the child so that the CPU figure is vox's alone; they
// share the machine's two cores with it, as the phones do.
//
// Each step opens n calls (n offers from the child's browsers, vox's
// answers, DTLS), waits until all are connected, then loads them for the
// window as the media section does: every leg sends a stamped packet every
// 20 ms, and loss and jitter are counted where they arrive.
var (
	webrtcStep = flag.Int("webrtc-step", 100, "calls added at each step of the WebRTC capacity search")
	webrtcMax  = flag.Int("webrtc-max", 1000, "most WebRTC calls the capacity search tries")
)

const goalWebRTCCalls = 500

func benchWebRTC(out io.Writer) error {
	raiseFileLimit()
	window := *mediaWindow
	fmt.Fprintf(out, "\nWebRTC benchmark: browser (pion, SRTP) ↔ vox ↔ RTP phone calls on loopback, 50 packets/s each way, %s per run, GOMAXPROCS=%d\n",
		window, goruntime.GOMAXPROCS(0))
	gen, err := startLoadgen()
	if err != nil {
		return err
	}
	defer gen.stop()
	plain, err := newVoxRelay()
	if err != nil {
		return err
	}
	web, err := newWebRTCRelay()
	if err != nil {
		return err
	}
	defer web.close()

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\ncalls\tWebRTC loss\tjitter p99\tCPU per call\tplain RTP loss\tjitter p99\tCPU per call\tCPU WebRTC/plain\tbrowsers' CPU per call\tbehind")
	webCap, plainCap := 0, 0
	var heldCPU float64
	var perCall callCost
	for n := *webrtcStep; n <= *webrtcMax; n += *webrtcStep {
		wr, cost, err := web.run(gen, n, window)
		if err != nil {
			return fmt.Errorf("webrtc, %d calls: %w", n, err)
		}
		pr, err := gen.run(plain, n, window, false)
		if err != nil {
			return fmt.Errorf("plain relay, %d calls: %w", n, err)
		}
		cpuRatio := wr.cpuPerCall(window) / pr.cpuPerCall(window)
		genCPU := float64(wr.res.GenCPU) / float64(time.Microsecond) / window.Seconds() / float64(n)
		fmt.Fprintf(w, "%d\t%.3f%%\t%.2f ms\t%.0f µs/s\t%.3f%%\t%.2f ms\t%.0f µs/s\t%.2f×\t%.0f µs/s\t%.1f ms\n", n,
			100*wr.res.loss(), ms(wr.res.JitterP99), wr.cpuPerCall(window),
			100*pr.res.loss(), ms(pr.res.JitterP99), pr.cpuPerCall(window), cpuRatio, genCPU, ms(wr.res.Behind))
		// Held means within the loss goal, as the issue counts calls; jitter
		// is printed beside it, since the generator's browsers, starved on
		// the shared cores, add their own (see behind).
		if wr.res.loss() <= goalMediaLoss && webCap == n-*webrtcStep {
			webCap, perCall = n, cost
			heldCPU = max(heldCPU, wr.cpuPerCall(window))
		}
		if pr.res.loss() <= goalMediaLoss && plainCap == n-*webrtcStep {
			plainCap = n
		}
		if webCap < n && plainCap < n {
			break
		}
	}
	w.Flush()
	fmt.Fprintf(out, "calls held at ≤ %.1f%% loss (≤ %d tried, steps of %d): WebRTC %s, plain RTP %s, ratio %.2f; goal ≥ %d WebRTC calls: %s\n",
		100*goalMediaLoss, *webrtcMax, *webrtcStep, calls(webCap), calls(plainCap),
		float64(webCap)/float64(max(plainCap, 1)), goalWebRTCCalls, met(webCap >= goalWebRTCCalls))
	if webCap > 0 {
		fmt.Fprintf(out, "per connected WebRTC call (at %d calls): %.1f goroutines, %.1f KiB of heap and stacks (both legs, the bridge and pion's session)\n",
			webCap, perCall.goroutines, perCall.kib)
	}
	if heldCPU > 0 {
		// The generator's browsers (pion's full ICE, SRTP both ways) take
		// their share of the same cores, so the capacity above is a floor
		// of what vox alone would carry. The estimate takes vox's highest
		// CPU per call among the held steps: on saturated cores the figure
		// drops, as work is left queued past the window.
		fmt.Fprintf(out, "vox's own CPU, at most %.0f µs/s per call in the held steps: about %.0f calls would fill %d cores (an estimate, not a measurement)\n",
			heldCPU, float64(goruntime.GOMAXPROCS(0))*1e6/heldCPU, goruntime.GOMAXPROCS(0))
	}
	fmt.Fprintln(out, "(CPU is vox's user+system time per call per second of call, DTLS handshakes excluded; the browsers and phones run in a child process on the same cores: its CPU is the browsers' column, and behind is how late its sends were at worst)")
	return nil
}

// webrtcRelay is vox's side: per call a webrtc.Media answering the child's
// browser and a plain endpoint towards its phone, bridged.
type webrtcRelay struct {
	eng   *webrtc.Engine
	pool  *rtp.PortPool
	media []*webrtc.Media
	eps   []*rtp.Endpoint
}

func newWebRTCRelay() (*webrtcRelay, error) {
	eng, err := webrtc.NewEngine(webrtc.Config{Addr: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		return nil, err
	}
	pool, err := rtp.NewPortPool(rtp.PortPoolConfig{MinPort: 20000, MaxPort: 60000})
	if err != nil {
		eng.Close()
		return nil, err
	}
	return &webrtcRelay{eng: eng, pool: pool}, nil
}

// webrtcCalls is vox's reply to the child's offers.
type webrtcCalls struct {
	Answers []string
	Ports   []uint16 // the plain legs' RTP ports, by call
}

// callCost is what one connected call holds in vox.
type callCost struct {
	goroutines, kib float64
}

func (r *webrtcRelay) run(g *loadgenProc, n int, window time.Duration) (mediaRun, callCost, error) {
	defer r.hangUp()
	g0 := goruntime.NumGoroutine()
	heap0, stacks0 := heapInUse()
	if _, err := fmt.Fprintf(g.in, "webrtc %d %d\n", n, int64(window)); err != nil {
		return mediaRun{}, callCost{}, err
	}
	var offers []string
	if err := g.readJSON(&offers); err != nil {
		return mediaRun{}, callCost{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var reply webrtcCalls
	for i, offer := range offers {
		m, answer, err := r.eng.Answer(ctx, []byte(offer))
		if err != nil {
			return mediaRun{}, callCost{}, err
		}
		r.media = append(r.media, m)
		b, err := rtp.NewEndpoint(rtp.Config{Pool: r.pool, Codec: rtp.PCMU})
		if err != nil {
			return mediaRun{}, callCost{}, err
		}
		r.eps = append(r.eps, b)
		b.SetRemote(g.phones[i%len(g.phones)])
		if err := rtp.SendMediaBetween(m.Endpoint(), b); err != nil {
			return mediaRun{}, callCost{}, err
		}
		reply.Answers = append(reply.Answers, string(answer))
		reply.Ports = append(reply.Ports, b.LocalAddr().Port())
	}
	js, err := json.Marshal(reply)
	if err != nil {
		return mediaRun{}, callCost{}, err
	}
	if _, err := fmt.Fprintf(g.in, "%s\n", js); err != nil {
		return mediaRun{}, callCost{}, err
	}
	if !g.out.Scan() || g.out.Text() != "ready" {
		return mediaRun{}, callCost{}, fmt.Errorf("browsers did not connect: %q %v", g.out.Text(), g.out.Err())
	}
	heap1, stacks1 := heapInUse()
	cost := callCost{goroutines: float64(goruntime.NumGoroutine()-g0) / float64(n), kib: kibPer(heap1+stacks1, heap0+stacks0, n)}
	goruntime.GC()
	cpu0 := processCPU()
	if _, err := fmt.Fprintln(g.in, "go"); err != nil {
		return mediaRun{}, callCost{}, err
	}
	var res loadResult
	if err := g.readJSON(&res); err != nil {
		return mediaRun{}, callCost{}, err
	}
	cpu := processCPU() - cpu0
	cpu = time.Duration(float64(cpu) * float64(window) / float64(mediaWarmup+window+mediaCooldown))
	return mediaRun{calls: n, res: res, cpu: cpu}, cost, nil
}

func (r *webrtcRelay) hangUp() {
	var wg sync.WaitGroup
	for _, m := range r.media {
		wg.Go(func() { m.Close() })
	}
	for _, e := range r.eps {
		wg.Go(func() { e.Close() })
	}
	wg.Wait()
	r.media, r.eps = nil, nil
}

func (r *webrtcRelay) close() {
	r.hangUp()
	r.eng.Close()
}

func (g *loadgenProc) readJSON(v any) error {
	if !g.out.Scan() {
		return fmt.Errorf("load generator ended: %v", g.out.Err())
	}
	return json.Unmarshal(g.out.Bytes(), v)
}

// The child's side.

// benchBrowser is one browser of the child: a PeerConnection whose track
// writes stamped packets as built, and what it received.
type benchBrowser struct {
	pc    *pion.PeerConnection
	track *benchTrack

	mu      sync.Mutex
	arrived arrivals // from vox's side of the call
}

type benchTrack struct {
	w    atomic.Pointer[pion.TrackLocalWriter]
	ssrc atomic.Uint32
}

func (t *benchTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	w := ctx.WriteStream()
	t.ssrc.Store(uint32(ctx.SSRC()))
	t.w.Store(&w)
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == pion.MimeTypePCMU {
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, errors.New("no PCMU")
}
func (t *benchTrack) Unbind(pion.TrackLocalContext) error { t.w.Store(nil); return nil }
func (t *benchTrack) ID() string                          { return "mic" }
func (t *benchTrack) RID() string                         { return "" }
func (t *benchTrack) StreamID() string                    { return "bench" }
func (t *benchTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

func browserAPI() (*pion.API, error) {
	var me pion.MediaEngine
	if err := me.RegisterCodec(pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0,
	}, pion.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return pion.NewAPI(pion.WithMediaEngine(&me), pion.WithSettingEngine(se),
		pion.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// webrtcJob runs one WebRTC step in the child: "webrtc n window" opens n
// browsers and prints their offers; vox's answers and plain ports come back
// as one line; "ready" when all are connected; "go" starts the load, whose
// result is printed as for "run".
func webrtcJob(sc *bufio.Scanner, out io.Writer, socks []*net.UDPConn, f []string) error {
	if len(f) != 3 {
		return fmt.Errorf("bad webrtc job %q", f)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return err
	}
	window, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return err
	}
	api, err := browserAPI()
	if err != nil {
		return err
	}
	browsers := make([]*benchBrowser, n)
	defer func() {
		var wg sync.WaitGroup
		for _, b := range browsers {
			if b != nil {
				wg.Go(func() { b.pc.Close() })
			}
		}
		wg.Wait()
	}()
	offers := make([]string, n)
	for i := range browsers {
		pc, err := api.NewPeerConnection(pion.Configuration{})
		if err != nil {
			return err
		}
		b := &benchBrowser{pc: pc, track: &benchTrack{}}
		browsers[i] = b
		if _, err := pc.AddTransceiverFromTrack(b.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
			return err
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			return err
		}
		gathered := pion.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(o); err != nil {
			return err
		}
		<-gathered
		offers[i] = pc.LocalDescription().SDP
	}
	js, _ := json.Marshal(offers)
	fmt.Fprintf(out, "%s\n", js)
	if !sc.Scan() {
		return sc.Err()
	}
	var calls webrtcCalls
	if err := json.Unmarshal(sc.Bytes(), &calls); err != nil {
		return err
	}
	if len(calls.Answers) != n || len(calls.Ports) != n {
		return fmt.Errorf("%d answers and %d ports for %d offers", len(calls.Answers), len(calls.Ports), n)
	}

	first := uint32(mediaWarmup / pcm.FrameDuration)
	last := uint32((mediaWarmup + time.Duration(window)) / pcm.FrameDuration)
	var epoch atomic.Pointer[time.Time] // set when the load starts
	since := func() int64 { return int64(time.Since(*epoch.Load())) }
	for i, b := range browsers {
		b.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
			var delay streamDelay
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if epoch.Load() == nil || len(p.Payload) < stampBytes {
					continue
				}
				sentAt, idx, ok := unstamp(p.Payload, &unstampU)
				if !ok || idx < first || idx >= last {
					continue
				}
				transit := since() - sentAt
				b.mu.Lock()
				b.arrived.add(&delay, idx, transit)
				b.mu.Unlock()
			}
		})
		if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: calls.Answers[i]}); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, b := range browsers {
		for b.pc.ConnectionState() != pion.PeerConnectionStateConnected || b.track.w.Load() == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("browser not connected: %s", b.pc.ConnectionState())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Fprintln(out, "ready")
	if !sc.Scan() || sc.Text() != "go" {
		return fmt.Errorf("expected go, got %q", sc.Text())
	}
	now := time.Now()
	epoch.Store(&now)
	cpu0 := processCPU()
	res := generateWebRTC(browsers, socks, calls.Ports, time.Duration(window), since, first, last)
	res.GenCPU = time.Duration(float64(processCPU()-cpu0) * float64(window) / float64(mediaWarmup+time.Duration(window)+mediaCooldown))
	js, _ = json.Marshal(res)
	fmt.Fprintf(out, "%s\n", js)
	return nil
}

// generateWebRTC is generate's load for browser-to-phone calls: call i's
// browser sends through SRTP, its phone (socket i%len(socks)) to vox's plain
// leg on ports[i].
func generateWebRTC(browsers []*benchBrowser, socks []*net.UDPConn, ports []uint16, window time.Duration, since func() int64, first, last uint32) loadResult {
	n := len(browsers)
	frames := int((mediaWarmup + window + mediaCooldown) / pcm.FrameDuration)
	var sent, behind atomic.Int64
	var senders sync.WaitGroup
	const workers = 2
	for w := range workers {
		senders.Go(func() {
			var mine []int
			for i := w; i < n; i += workers {
				mine = append(mine, i)
			}
			phase := func(i int) time.Duration { return time.Duration(i) * pcm.FrameDuration / time.Duration(n) }
			batch := newSendBatch(socks)
			var h pionrtp.Header
			payload := make([]byte, pcm.FrameSamples)
			for i := stampBytes; i < len(payload); i++ {
				payload[i] = stampU[0]
			}
			var localSent int64
			for k := range frames {
				base := time.Duration(k) * pcm.FrameDuration
				for _, i := range mine {
					due := base + phase(i)
					if d := due - time.Duration(since()); d > 500*time.Microsecond {
						localSent += batch.flush(since, first, last)
						time.Sleep(d)
					} else if -d > time.Duration(behind.Load()) {
						behind.Store(int64(-d))
					}
					if batch.add(i%len(socks), ports[i], byte(rtp.PCMU), &stampU, uint32(k), uint32(i+1)) {
						localSent += batch.flush(since, first, last)
					}
					b := browsers[i]
					if wp := b.track.w.Load(); wp != nil {
						h = pionrtp.Header{Version: 2, PayloadType: uint8(rtp.PCMU), SequenceNumber: uint16(k),
							Timestamp: uint32(k) * pcm.FrameSamples, SSRC: b.track.ssrc.Load()}
						stamp(payload, &stampU, since(), uint32(k))
						if _, err := (*wp).WriteRTP(&h, payload); err == nil && uint32(k) >= first && uint32(k) < last {
							localSent++
						}
					}
				}
			}
			localSent += batch.flush(since, first, last)
			sent.Add(localSent)
		})
	}

	readers := readPhones(socks, ports, since, first, last, func(byte) *[256]int8 { return &unstampU })
	senders.Wait()
	got := readers.stop()
	for _, b := range browsers {
		b.mu.Lock()
		got.merge(&b.arrived)
		b.mu.Unlock()
	}
	return got.result(sent.Load(), time.Duration(behind.Load()))
}
