package media_test

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"vox/media"
	"vox/media/player"
	"vox/media/rtp"
)

// BenchmarkCallMedia is the media of a call-setup benchmark's call, as SIP
// sets it up: an endpoint and its channel, the Russian ringback played for
// 500 ms, then Close. Calls start at 1,000 a second on the real clock, about
// 500 at once, sending to a socket nobody reads. It reports the process's CPU
// time per call; ns/op is mostly the waiting between starts.
func BenchmarkCallMedia(b *testing.B) {
	const (
		interval = time.Millisecond
		hold     = 500 * time.Millisecond
	)
	pool, err := rtp.NewPortPool(rtp.PortPoolConfig{Addr: netip.MustParseAddr("127.0.0.1"), MinPort: 30000, MaxPort: 60000})
	if err != nil {
		b.Fatal(err)
	}
	far, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer far.Close()
	p := player.New(player.Options{})
	ctx := context.Background()
	type call struct {
		ch    *media.Channel
		until time.Time
	}
	var calls []call
	hangUp := func(now time.Time) {
		for len(calls) > 0 && !calls[0].until.After(now) {
			calls[0].ch.Close()
			calls = calls[1:]
		}
	}
	b.ReportAllocs()
	before := cpuTime(b)
	next := time.Now()
	n := 0
	for b.Loop() {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		ep, err := rtp.NewEndpoint(rtp.Config{Pool: pool})
		if err != nil {
			b.Fatal(err)
		}
		ep.SetRemote(far.LocalAddr().(*net.UDPAddr).AddrPort())
		ch, err := media.NewChannel(ep, media.ChannelOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := ch.Play(ctx, p.Play(ctx, player.Media{ToneScript: "425@-19;*(1/4/1)"}, nil)); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		calls = append(calls, call{ch, now.Add(hold)})
		hangUp(now)
		n++
	}
	hangUp(time.Now().Add(hold))
	b.ReportMetric(float64((cpuTime(b)-before)/time.Microsecond)/float64(n), "cpu-µs/call")
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
