package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vox/internal/porttest"
)

// TestSvwarFindsNoUser runs SIPVicious' svwar, the usual tool for enumerating
// the users of a SIP server, against vox with a dictionary holding the two
// real demo users among made-up names, by REGISTER and by INVITE. An unknown
// user gets exactly the answers a known user with a wrong password gets, so it
// must find nothing (S7), even forced past its own sanity check.
func TestSvwarFindsNoUser(t *testing.T) {
	svwar, err := exec.LookPath("svwar")
	if err != nil {
		t.Fatal("svwar is not installed (make test installs sipvicious)")
	}
	srv := startCallServer(t)
	dict := filepath.Join(t.TempDir(), "users.txt")
	names := append([]string{"admin", "100", "101", "alice", "test", "operator"}, demoSIPUsers...)
	if err := os.WriteFile(dict, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"REGISTER", "INVITE"} {
		t.Run(method, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, svwar, "--force", "-d", dict, "-m", method,
				"-b", "127.0.0.1", "-P", strconv.Itoa(porttest.FreeUDP(t)), "-t", "0.2",
				"udp://"+srv.sipAddr.String())
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("svwar did not finish: %v\n%s", ctx.Err(), out)
			}
			if err != nil {
				t.Fatalf("svwar: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "found nothing") {
				t.Errorf("svwar found users by %s:\n%s", method, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				for _, user := range demoSIPUsers {
					// svwar prints what it found as a table of extensions; an
					// error line quoting our challenge is not a finding.
					if strings.Contains(line, "| "+user+" ") {
						t.Errorf("svwar listed %s:\n%s", user, out)
					}
				}
			}
		})
	}
}

// TestSvcrackIsBanned runs SIPVicious' svcrack, which guesses a user's
// password from a dictionary. With the password first it finds it, as it
// would on any server; with ten wrong guesses first, vox stops answering the
// address (S7: a ban in the application, with a log line), and svcrack finds
// nothing although the password comes next.
func TestSvcrackIsBanned(t *testing.T) {
	svcrack, err := exec.LookPath("svcrack")
	if err != nil {
		t.Fatal("svcrack is not installed (make test installs sipvicious)")
	}
	srv := startCallServer(t)
	password := testPasswords["phone67"]
	crack := func(t *testing.T, guesses []string) string {
		t.Helper()
		dict := filepath.Join(t.TempDir(), "passwords.txt")
		if err := os.WriteFile(dict, []byte(strings.Join(guesses, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, svcrack, "-u", "phone67", "-d", dict,
			"-b", "127.0.0.1", "-P", strconv.Itoa(porttest.FreeUDP(t)), "-t", "0.2", "--maximumtime=3",
			"udp://"+srv.sipAddr.String()).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("svcrack did not finish: %v\n%s", ctx.Err(), out)
		}
		if err != nil {
			t.Fatalf("svcrack: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := crack(t, []string{password, "wrong"}); !strings.Contains(out, password) {
		t.Fatalf("svcrack did not find the password it was given first; the attack below proves nothing:\n%s", out)
	}
	var guesses []string
	for i := range 15 {
		guesses = append(guesses, fmt.Sprintf("guess%d", i))
	}
	out := crack(t, append(guesses, password))
	if strings.Contains(out, password) || !strings.Contains(out, "found nothing") {
		t.Errorf("svcrack found the password after 15 wrong guesses:\n%s", out)
	}
	if logs := srv.logs.String(); !strings.Contains(logs, "source banned after failed authentications") {
		t.Errorf("vox logged no ban:\n%s", logs)
	}
}
