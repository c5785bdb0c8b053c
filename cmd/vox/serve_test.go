package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"vox/scenarios"
	"vox/scenarios/standard"
)

// The first start creates the token (printed once, readable by its owner only)
// and stores the demo and the standard scenario; a restart keeps them and
// prints nothing.
func TestServeFirstStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var out bytes.Buffer
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", Out: &out, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	token := srv.token
	if !strings.Contains(out.String(), "the admin token is "+token) {
		t.Errorf("first start printed %q", out.String())
	}
	info, err := os.Stat(filepath.Join(data, tokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v", info, err)
	}
	c := scenarios.NewClient("http://"+srv.addr.String(), token, nil)
	ctx := context.Background()
	demo, err := c.Release(ctx, demoApp, 0)
	if err != nil || demo.Number != 1 || len(demo.Files) != 1 || demo.Files[0].Name != "demo.js" {
		t.Fatalf("demo: %+v, %v", demo, err)
	}
	std, err := c.Release(ctx, standard.App, 0)
	if err != nil || std.Number != 1 || len(std.Files) < 2 || len(std.Rules) != 1 {
		t.Fatalf("standard: %+v, %v", std, err)
	}
	stop(t, srv)

	out.Reset()
	srv, err = startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", Out: &out, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, srv)
	if srv.token != token || out.Len() != 0 {
		t.Errorf("restart: token %q (was %q), printed %q", srv.token, token, out.String())
	}
	c = scenarios.NewClient("http://"+srv.addr.String(), token, nil)
	if list, _, err := c.Releases(ctx, demoApp, 0, 0); err != nil || len(list) != 1 {
		t.Errorf("the demo is stored once: %+v, %v", list, err)
	}
}

func TestServeAuth(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	base := "http://" + srv.addr.String()
	tests := []struct {
		name, path, auth string
		status           int
	}{
		{"health needs no token", "/healthz", "", 200},
		{"no token", "/api/v1/apps", "", 401},
		{"wrong token", "/api/v1/apps", "Bearer " + strings.ToLower(srv.token), 401},
		{"not a bearer token", "/api/v1/apps", "Basic " + srv.token, 401},
		{"unknown path without a token", "/api/v1/nope", "", 401},
		{"the admin token", "/api/v1/apps", "Bearer " + srv.token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %s, want %d", resp.Status, tt.status)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	_, err := scenarios.NewClient(base, "guess", nil).Apps(context.Background())
	var apiErr *scenarios.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != scenarios.CodeUnauthorized {
		t.Fatalf("client with a wrong token: %#v", err)
	}
}

// A second vox serve on a data directory in use fails at once with a message
// that says so, and leaves the first one running.
func TestServeRefusesADataDirectoryInUse(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--sip", ""}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "is in use by another vox serve") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if err := scenarios.NewClient("http://"+srv.addr.String(), "", nil).Health(context.Background()); err != nil {
		t.Fatalf("the first server: %v", err)
	}
}

// vox serve ends when its context does (SIGINT or SIGTERM in vox serve), after
// the HTTP server and the data file are closed: the directory opens again at once.
func TestServeShutsDownCleanly(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := runContext(ctx, []string{"serve", "--data", data, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "the admin token is") || !strings.Contains(stdout.String(), "user phone67  password ") ||
		!strings.Contains(stderr.String(), "vox serve stopped") {
		t.Errorf("stdout %q\nstderr %q", stdout.String(), stderr.String())
	}
	srv := startTestServer(t, data)
	if _, err := scenarios.NewClient("http://"+srv.addr.String(), srv.token, nil).Release(context.Background(), demoApp, 1); err != nil {
		t.Fatal(err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func stop(t *testing.T, srv *server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.shutdown(ctx); err != nil {
		// What is still running says why.
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("%v\n%s", err, stacks.String())
	}
}

func TestPublicURL(t *testing.T) {
	listener := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	cases := []struct {
		flag, want string
		bad        bool
	}{
		{"", "http://127.0.0.1:8080", false},
		{"", "https://127.0.0.1:8080", false}, // with --tls-cert
		{"https://vox.example.com", "https://vox.example.com", false},
		{"https://vox.example.com/", "https://vox.example.com", false},
		{"http://192.0.2.10:8080/vox/", "http://192.0.2.10:8080/vox", false},
		{"vox.example.com", "", true},
		{"ftp://vox.example.com", "", true},
		{"https://", "", true},
		{"https://vox.example.com/?a=1", "", true},
		{"https://admin:secret@vox.example.com", "", true},
	}
	for _, c := range cases {
		scheme := "http"
		if strings.HasPrefix(c.want, "https://127.") {
			scheme = "https"
		}
		got, err := publicURL(c.flag, scheme, listener)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("publicURL(%q) = %q, %v; want %q, error %v", c.flag, got, err, c.want, c.bad)
		}
	}
	if !unspecified(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}) || unspecified(listener) {
		t.Error("unspecified mistakes [::] or 127.0.0.1")
	}
}

// Scenarios reach the server's own HTTP listener, wherever they are told it
// is, and the ranges the operator allows.
func TestEgressPolicy(t *testing.T) {
	listener := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	p, err := egressPolicy([]string{"10.1.2.3/16"}, listener, "https://127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	for addr, reachable := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:443": true, "10.1.200.200:80": true,
		"127.0.0.1:8081": false, "127.0.0.2:80": false, "10.2.0.1:80": false,
	} {
		if err := p.Check(netip.MustParseAddrPort(addr)); (err == nil) != reachable {
			t.Errorf("%s: %v, want reachable %v", addr, err, reachable)
		}
	}
	// Listening on all addresses: every address of the host, loopback
	// included, at the listener's port.
	all, err := egressPolicy(nil, &net.TCPAddr{IP: net.IPv4zero, Port: 8090}, "http://0.0.0.0:8090")
	if err != nil || all.Check(netip.MustParseAddrPort("127.0.0.1:8090")) != nil {
		t.Errorf("listening on 0.0.0.0: %+v, %v", all, err)
	}
	if _, err := egressPolicy([]string{"office"}, listener, ""); err == nil || !strings.Contains(err.Error(), "--tenant-net-allow") {
		t.Errorf("a bad range: err = %v", err)
	}
}
