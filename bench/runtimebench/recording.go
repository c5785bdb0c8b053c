package main

import (
	"fmt"
	"io"
	"math"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"vox/media/pcm"
	"vox/media/record"
)

// benchRecording measures what recording costs: calls recorded at once, each fed
// both directions as fast as the recorder takes them, with the WAV files on
// disk. The figure is CPU time per second of recorded call, and from it how many
// calls two cores could record in real time; writing a raw PCM file of the same
// audio with os.File is the ceiling.
func benchRecording(out io.Writer) error {
	const (
		calls   = 200
		seconds = 10 // of audio per call
		frames  = seconds * int(time.Second/pcm.FrameDuration)
	)
	dir, err := os.MkdirTemp("", "vox-bench-rec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var tone pcm.Frame
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/pcm.SampleRate))
	}

	record := func(stereo bool) (time.Duration, error) {
		start := processCPU()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for c := 0; c < calls; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Frames are placed by their own clock, as in a call: 20 ms apart.
				var at atomic.Int64
				r, err := record.Start(dir, record.Options{Stereo: stereo, Clock: func() time.Time { return time.Unix(0, at.Load()) }})
				if err != nil {
					errs <- err
					return
				}
				for f := 0; f < frames; f++ {
					at.Add(int64(pcm.FrameDuration))
					if err := r.Caller().WriteFrame(&tone); err != nil {
						errs <- err
						return
					}
					if err := r.Callee().WriteFrame(&tone); err != nil {
						errs <- err
						return
					}
				}
				if _, err := r.Close(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return 0, err
		}
		return processCPU() - start, nil
	}
	raw := func() (time.Duration, error) {
		start := processCPU()
		var wg sync.WaitGroup
		buf := make([]byte, pcm.FrameSamples*2*2)
		for c := 0; c < calls; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				f, err := os.Create(fmt.Sprintf("%s/raw-%d.pcm", dir, c))
				if err != nil {
					return
				}
				defer f.Close()
				for i := 0; i < frames; i++ {
					f.Write(buf)
				}
			}(c)
		}
		wg.Wait()
		return processCPU() - start, nil
	}

	mono, err := record(false)
	if err != nil {
		return fmt.Errorf("recording mono: %w", err)
	}
	stereo, err := record(true)
	if err != nil {
		return fmt.Errorf("recording stereo: %w", err)
	}
	ceiling, err := raw()
	if err != nil {
		return err
	}
	perCallSecond := func(d time.Duration) time.Duration { return d / time.Duration(calls*seconds) }
	atOnce := func(d time.Duration) int {
		return int(float64(goruntime.GOMAXPROCS(0)) * float64(time.Second) / float64(perCallSecond(d)))
	}
	fmt.Fprintf(out, "\nrecording benchmark: %d calls × %d s of 8 kHz audio, both directions, WAV on disk\n", calls, seconds)
	fmt.Fprintf(out, "%-34s %-14s %-14s %s\n", "name", "CPU per call-s", "raw file write", "calls recordable at once (CPU bound)")
	fmt.Fprintf(out, "%-34s %-14s %-14s %d\n", "mono (both directions mixed)", perCallSecond(mono), perCallSecond(ceiling), atOnce(mono))
	fmt.Fprintf(out, "%-34s %-14s %-14s %d\n", "stereo (one leg per channel)", perCallSecond(stereo), perCallSecond(ceiling), atOnce(stereo))
	return nil
}
