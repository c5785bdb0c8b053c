package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"vox/sip"
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
	// The controller keeps the digest hashes, not the password.
	stored, err := srv.ctrl.SIPUser(context.Background(), "phone67")
	if err != nil || stored.Account != demoAccount || stored.HA1MD5 != sip.HA1(sip.MD5, "phone67", sipRealm, logins[0][2]) {
		t.Fatalf("phone67 in the controller: %+v %v", stored, err)
	}
	if db, err := os.ReadFile(filepath.Join(data, dbFile)); err != nil || strings.Contains(string(db), logins[0][2]) {
		t.Fatalf("the data file holds the password, or is missing: %v", err)
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

	// S7: a disabled user's phone is unregistered at once and refused; a
	// new password takes effect at once too.
	ctx := context.Background()
	if _, err := srv.ctrl.SetSIPDisabled(ctx, demoAccount, "phone68", true); err != nil {
		t.Fatal(err)
	}
	if bs := srv.sip.Registrar().Bindings(sipRealm, "phone68"); len(bs) != 0 {
		t.Errorf("a disabled user keeps its bindings: %+v", bs)
	}
	if code := registerAs(t, srv, "UDP", "phone68", logins[1][2]); code == 200 {
		t.Error("a disabled user registered")
	}
	if _, err := srv.ctrl.SetSIPDisabled(ctx, demoAccount, "phone68", false); err != nil {
		t.Fatal(err)
	}
	if code := registerAs(t, srv, "UDP", "phone68", logins[1][2]); code != 200 {
		t.Errorf("phone68 enabled again: %d", code)
	}
	if _, _, err := srv.ctrl.SetSIPPassword(ctx, demoAccount, "phone68", "a-new-password"); err != nil {
		t.Fatal(err)
	}
	if bs := srv.sip.Registrar().Bindings(sipRealm, "phone68"); len(bs) != 0 {
		t.Errorf("a new password keeps the old bindings: %+v", bs)
	}
	if code := registerAs(t, srv, "UDP", "phone68", logins[1][2]); code == 200 {
		t.Error("the old password still registers")
	}
	if code := registerAs(t, srv, "UDP", "phone68", "a-new-password"); code != 200 {
		t.Errorf("the new password: %d", code)
	}
}

// A data directory of a Vox before the controller has its SIP users in
// DATA/sip-users.json: they move into the controller with their hashes,
// register with their passwords, and the file is renamed so that it is read
// once.
func TestServeMigratesSIPUsersFile(t *testing.T) {
	data := t.TempDir()
	doc := sipUsersDoc{Realm: sipRealm}
	for _, u := range []sip.User{sip.NewUser(demoAccount, "phone67", sipRealm, "secret67"), sip.NewUser("branch", "desk9", sipRealm, "secret99")} {
		doc.Users = append(doc.Users, sipUserDoc{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256})
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(data, sipUsersFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", Out: &out, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, srv)
	if demoLine.MatchString(out.String()) {
		t.Errorf("demo users were made besides the file's:\n%s", out.String())
	}
	for name, password := range map[string]string{"phone67": "secret67", "desk9": "secret99"} {
		if code := registerAs(t, srv, "UDP", name, password); code != 200 {
			t.Errorf("%s after the move: %d", name, code)
		}
	}
	if bs := srv.sip.Registrar().Bindings(sipRealm, "desk9"); len(bs) != 1 || bs[0].Account != "branch" {
		t.Errorf("desk9's bindings %+v", bs)
	}
	if _, err := os.Stat(filepath.Join(data, sipUsersFile)); !os.IsNotExist(err) {
		t.Errorf("the file is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, sipUsersFile+".migrated")); err != nil {
		t.Errorf("the renamed file: %v", err)
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
