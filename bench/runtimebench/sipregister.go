package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The registration part of make bench (issue 6): 1,000 SIP users registered
// at once, each refreshing its binding every 60 s. Time is compressed, so
// that the run stays short and every binding is refreshed several times: the
// users refresh every -reg-refresh (3 s, twenty times as often) and ask for
// -reg-expires (6 s, twice that, as Expires 120 s would be for a 60 s
// refresh; vox's MinExpires is lowered for the bench to allow it). The
// registrar's bindings are counted twice a second: a refresh that failed or
// came late shows as a user missing.
var (
	regUsers     = flag.Int("reg-users", 1000, "SIP users registered at once in the registration benchmark")
	regExpires   = flag.Duration("reg-expires", 6*time.Second, "the Expires the users ask for")
	regRefresh   = flag.Duration("reg-refresh", 3*time.Second, "how often each user refreshes its binding")
	regRefreshes = flag.Int("reg-refreshes", 4, "refreshes per user after its first registration")
)

func registerBench(out io.Writer) error {
	if err := sippInstalled(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "vox-bench-reg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	users := make(map[string]string, *regUsers)
	var csv strings.Builder
	csv.WriteString("SEQUENTIAL\n")
	for i := range *regUsers {
		name, password := fmt.Sprintf("user%04d", i), fmt.Sprintf("pw-%04d", i)
		users[name] = password
		fmt.Fprintf(&csv, "%s;[authentication username=%s password=%s]\n", name, name, password)
	}
	inf := filepath.Join(work, "users.csv")
	if err := os.WriteFile(inf, []byte(csv.String()), 0o600); err != nil {
		return err
	}
	scenario, err := sippScenario("bench_register.xml")
	if err != nil {
		return err
	}
	v, err := startSIPVox(users, time.Second, withMinExpires(time.Second))
	if err != nil {
		return fmt.Errorf("start vox: %w", err)
	}
	defer v.close()
	port, err := freeUDPPorts(1)
	if err != nil {
		return err
	}
	// The users' first registrations come over a second (-r users per
	// second); then each user refreshes on its own clock.
	args := []string{v.addr.String(), "-sf", scenario, "-inf", inf, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-r", strconv.Itoa(*regUsers), "-m", strconv.Itoa(*regUsers), "-l", strconv.Itoa(*regUsers),
		"-d", strconv.FormatInt(regRefresh.Milliseconds(), 10), "-set", "refreshes", strconv.Itoa(*regRefreshes),
		"-key", "domain", benchRealm, "-key", "expires", strconv.Itoa(int(regExpires.Seconds())),
		"-recv_timeout", sipRecvWait, "-buff_size", sipBufferSize}

	// Count the users with a live binding twice a second.
	names := make([]string, 0, len(users))
	for name := range users {
		names = append(names, name)
	}
	registered := func() (withBinding, bindings int) {
		for _, name := range names {
			if n := len(v.srv.Registrar().Bindings(benchRealm, name)); n > 0 {
				withBinding++
				bindings += n
			}
		}
		return withBinding, bindings
	}
	ctx, cancel := context.WithCancel(context.Background())
	var allAt atomic.Int64 // when every user was first registered, since t0
	var least, most atomic.Int64
	least.Store(int64(*regUsers))
	t0 := time.Now()
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			u, b := registered()
			most.Store(max(most.Load(), int64(b)))
			if allAt.Load() == 0 {
				if u == *regUsers {
					allAt.Store(int64(time.Since(t0)))
				}
				continue
			}
			least.Store(min(least.Load(), int64(u)))
		}
	}()
	cpu0 := processCPU()
	st, err := runSIPp(ctx, work, args...)
	cpu := processCPU() - cpu0
	cancel()
	<-sampled
	if err != nil {
		return err
	}
	endUsers, _ := registered()
	requests := 2 * *regUsers * (1 + *regRefreshes) // each REGISTER is challenged once
	perRequest := cpu / time.Duration(requests)
	fmt.Fprintf(out, "\nregistration benchmark: %d SIP users on SIPp register with digest, then refresh %d times, every %s with Expires %s:\n",
		*regUsers, *regRefreshes, *regRefresh, *regExpires)
	fmt.Fprintf(out, "refreshing every 60 s compressed %.0f× (vox's MinExpires lowered to 1 s for it)\n", time.Minute.Seconds()/regRefresh.Seconds())
	fmt.Fprintf(out, "  SIPp: %d users, %d failed, %d retransmissions, %.1f s; %d REGISTERs (each challenged once, then authenticated)\n",
		st.Created, st.Failed, st.Retrans, st.Elapsed.Seconds(), requests)
	if all := time.Duration(allAt.Load()); all > 0 {
		fmt.Fprintf(out, "  all %d registered %.1f s after the start; after that at least %d of %d had a live binding at every check; %d at the end; at most %d bindings (one per user)\n",
			*regUsers, all.Seconds(), least.Load(), *regUsers, endUsers, most.Load())
	} else {
		fmt.Fprintf(out, "  NOT all %d ever registered at once; %d at the end\n", *regUsers, endUsers)
	}
	fmt.Fprintf(out, "  vox CPU: %.0f µs per REGISTER, %.0f µs per refresh; %d users refreshing every 60 s would take %.2f%% of one core\n",
		micros(perRequest), micros(2*perRequest), *regUsers, 100*float64(*regUsers)/60*(2*perRequest).Seconds())
	if w := v.log.String(); w != "" {
		fmt.Fprintln(out, "  "+w)
	}
	return nil
}
