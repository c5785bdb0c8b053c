package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

var demoLine = regexp.MustCompile(`user (\S+)  password (\S+)  \(sip:\S+@(\S+)\)`)

// The first start makes the demo SIP users and prints their passwords and the
// SIP address once; a softphone registers with them, on this start and the
// next, and a wrong password is refused.
func TestServeSIPDemoUsers(t *testing.T) {
	data := t.TempDir()
	var out bytes.Buffer
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Out: &out, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	logins := demoLine.FindAllStringSubmatch(out.String(), -1)
	if len(logins) != 2 || logins[0][1] != "phone67" || logins[1][1] != "phone68" || logins[0][3] != srv.sipAddr.String() {
		t.Fatalf("first start printed\n%s", out.String())
	}
	file, err := os.ReadFile(filepath.Join(data, sipUsersFile))
	if err != nil || strings.Contains(string(file), logins[0][2]) {
		t.Fatalf("the users file holds the password, or is missing: %v\n%s", err, file)
	}
	for _, transport := range []string{"UDP", "TCP"} {
		if code := registerAs(t, srv, transport, "phone67", logins[0][2]); code != 200 {
			t.Fatalf("phone67 over %s: %d", transport, code)
		}
	}
	if code := registerAs(t, srv, "UDP", "phone68", "wrong"); code != 401 {
		t.Fatalf("a wrong password: %d", code)
	}
	if bs := srv.sip.Registrar().Bindings(sipRealm, "phone67"); len(bs) != 1 || bs[0].Account != demoAccount {
		t.Fatalf("bindings %+v", bs)
	}
	stop(t, srv)

	out.Reset()
	srv, err = startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Out: &out, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, srv)
	if out.Len() != 0 {
		t.Errorf("restart printed %q", out.String())
	}
	if code := registerAs(t, srv, "UDP", "phone68", logins[1][2]); code != 200 {
		t.Fatalf("phone68 after a restart: %d", code)
	}
}

// --sip "" starts no SIP.
func TestServeWithoutSIP(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	if srv.sip != nil {
		t.Fatal("SIP started")
	}
}

// registerAs registers name with password the way a softphone does and
// returns the final status code.
func registerAs(t *testing.T, srv *server, transport, name, password string) int {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-softphone"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientNAT())
	if err != nil {
		t.Fatal(err)
	}
	aor := sipmsg.Uri{Scheme: "sip", User: name, Host: srv.sipAddr.Addr().String()}
	req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: aor.Host, Port: int(srv.sipAddr.Port())})
	req.SetTransport(transport)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor})
	from := &sipmsg.FromHeader{Address: aor}
	from.Params.Add("tag", sipmsg.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sipmsg.NewHeader("Contact", "<sip:"+name+"@192.168.1.20:5060>"))
	req.AppendHeader(sipmsg.NewHeader("Expires", "300"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 {
		return res.StatusCode
	}
	res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: name, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}
