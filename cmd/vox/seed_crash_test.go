package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"vox/controller"
	"vox/controller/history"
)

// serveChildEnv makes the test binary run vox with these arguments (one a
// line) instead of the tests: a vox serve the test can kill -9.
const serveChildEnv = "VOX_TEST_SERVE_ARGS"

// serveChild is a vox serve in a child process.
type serveChild struct {
	cmd       *exec.Cmd
	http, sip string
	stderr    *lockedBuffer
	done      chan struct{}
}

var startedLine = regexp.MustCompile(`msg="vox serve started" http=(\S+) sip=(\S+)`)

func startServeChild(t *testing.T, data string) *serveChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveChildEnv+"="+strings.Join([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"}, "\n"))
	c := &serveChild{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan []string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			c.stderr.Write(append(lines.Bytes(), '\n'))
			if m := startedLine.FindStringSubmatch(lines.Text()); m != nil {
				started <- m[1:]
			}
		}
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("vox serve (child):\n%s", c.stderr)
		}
	})
	select {
	case m := <-started:
		c.http, c.sip = strings.TrimPrefix(m[0], "http://"), m[1]
	case <-c.done:
		t.Fatalf("vox serve exited at start:\n%s", c.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("vox serve did not start:\n%s", c.stderr)
	}
	return c
}

func (c *serveChild) kill(sig syscall.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// A vox serve killed with SIGKILL while a carrier's call is answered: the
// next start records the call as failed, once (a third start adds
// nothing), and charges nothing again (the number's monthly fee included).
func TestSeedCallKilledServer(t *testing.T) {
	data := t.TempDir()
	trunks := trunksDoc{Trunks: []trunkDoc{{Name: "carrier", Account: demoAccount, Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}}}}
	b, _ := json.Marshal(trunks)
	if err := os.WriteFile(filepath.Join(data, trunksFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	first := startServeChild(t, data)
	s := &seedServer{callServer: &callServer{server: &server{}, data: data}}
	s.admin = []string{"--server", "http://" + first.http, "--data", data}
	addr, err := netip.ParseAddrPort(first.sip)
	if err != nil {
		t.Fatal(err)
	}
	s.sipAddr = addr
	// Nobody to ring: the caller is answered and leaves a long voicemail.
	s.configure(t, `{"noAnswer": {"rule": "voicemail"}, "voicemail": {"maxSeconds": 60}}`)
	ledgerBefore := ledger(t, s)

	media := startCarrierMedia(t, carrierTone)
	s.carrier(t, "carrier_hung_up.xml", carrierCaller, media)
	log := s.sessionLog(t, "Recording a voicemail")
	callID := sessionOf(t, log)
	first.kill(syscall.SIGKILL)

	for round := range 2 {
		again := startServeChild(t, data)
		s.admin = []string{"--server", "http://" + again.http, "--data", data}
		var page struct {
			Calls []history.Record `json:"calls"`
		}
		out := s.cli(t, "calls", demoAccount, "--json")
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("vox calls --json: %v\n%s", err, out)
		}
		if len(page.Calls) != 1 {
			t.Fatalf("start %d after the kill: %d call records, want the killed call's:\n%s", round+1, len(page.Calls), out)
		}
		rec := page.Calls[0]
		if rec.CallID != callID || rec.Status != history.Failed || rec.Code != 500 || rec.Direction != history.Incoming ||
			rec.From != carrierCaller || rec.To != demoNumber || rec.Cost != 0 {
			t.Errorf("start %d after the kill: the record %+v", round+1, rec)
		}
		if after := ledger(t, s); !equalEntries(after, ledgerBefore) {
			t.Errorf("start %d after the kill: the ledger changed:\nbefore %+v\nafter  %+v", round+1, ledgerBefore, after)
		}
		again.kill(syscall.SIGTERM)
	}
}

func ledger(t *testing.T, s *seedServer) []controller.Entry {
	t.Helper()
	var page struct {
		Entries []controller.Entry `json:"entries"`
	}
	out := s.cli(t, "account", "ledger", demoAccount, "--json")
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("vox account ledger --json: %v\n%s", err, out)
	}
	return page.Entries
}

func equalEntries(a, b []controller.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Amount != b[i].Amount || a[i].Balance != b[i].Balance {
			return false
		}
	}
	return true
}
