package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vox/scenarios"
)

// testClock starts at a fixed time and moves one minute each time it is read,
// so that releases and placements have times a golden file can hold.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// startTestServer runs vox serve in-process on a free port of 127.0.0.1 with a
// fresh data directory, and stops it when the test ends. Tenants may reach
// 127.0.0.1, where the tests' portals listen.
func startTestServer(t *testing.T, data string) *server {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler), Now: clock.now,
		TenantNetAllow: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// TestCLIGolden runs the scenario, rule and token commands against one
// in-process vox serve, in the order of the table: each case sees what the cases
// before it stored. A case's command line, stdout, stderr and exit status must
// equal testdata/cli/NAME.golden, with the server's URL, the data directory and
// the token written as $SERVER, $DATA and $TOKEN. Scenario files are under
// testdata/cli/src.
func TestCLIGolden(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/cli")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	srv := startTestServer(t, data)
	server := "http://" + srv.addr.String()
	// An address nothing listens on: a port that was free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()

	t.Chdir(dir)
	t.Setenv("VOX_SERVER", server)
	t.Setenv("VOX_TOKEN", srv.token)
	t.Setenv("VOX_AUTHOR", "ann")
	client := scenarios.NewClient(server, srv.token, nil)
	calls := func(trigger string, accounts ...string) func(t *testing.T) {
		return func(t *testing.T) {
			for _, a := range accounts {
				if _, err := client.Resolve(context.Background(), a, "crm", scenarios.ResolveRequest{Trigger: trigger}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	tests := []struct {
		name   string
		before func(t *testing.T)
		args   []string
	}{
		{"token", nil, []string{"token", "--data", "$DATA"}},
		{"token_missing", nil, []string{"token", "--data", "$DATA/nope"}},
		{"list_apps_token_from_data", func(t *testing.T) { t.Setenv("VOX_TOKEN", "not-this-one") }, []string{"scenario", "list", "--data", "$DATA"}},
		{"list_apps_no_token", func(t *testing.T) { t.Setenv("VOX_TOKEN", "") }, []string{"scenario", "list"}},
		{"push_file", nil, []string{"scenario", "push", "--app", "crm", "-m", "first version", "src/v1/main.js"}},
		{"push_dir", nil, []string{"scenario", "push", "--app", "crm", "-m", "office line", "src/v2"}},
		{"push_json", nil, []string{"scenario", "push", "--app", "crm", "-m", "same again", "--json", "src/v2"}},
		{"push_warnings", nil, []string{"scenario", "push", "src/conference", "-m", "written for Voximplant"}},
		{"push_refused", nil, []string{"scenario", "push", "--app", "crm", "src/broken"}},
		{"push_missing_file", nil, []string{"scenario", "push", "--app", "crm", "src/nope.js"}},
		{"push_bad_canary", nil, []string{"scenario", "push", "--app", "crm", "--canary", "ten", "src/v1/main.js"}},
		{"list_apps", nil, []string{"scenario", "list"}},
		{"list_releases", nil, []string{"scenario", "list", "crm"}},
		{"list_releases_page", nil, []string{"scenario", "list", "crm", "--limit", "2"}},
		{"list_releases_next_page", nil, []string{"scenario", "list", "crm", "--limit", "2", "--before", "2"}},
		{"list_unknown_app", nil, []string{"scenario", "list", "nope"}},
		{"show_release", nil, []string{"scenario", "show", "crm@1"}},
		{"show_latest", nil, []string{"scenario", "show", "crm"}},
		{"show_json", nil, []string{"scenario", "show", "crm@1", "--json"}},
		{"show_bad_ref", nil, []string{"scenario", "show", "crm@first"}},
		{"diff", nil, []string{"scenario", "diff", "crm", "1", "2"}},
		{"diff_same", nil, []string{"scenario", "diff", "crm", "2", "latest"}},
		{"rule_list", nil, []string{"rule", "list", "crm"}},
		{"rule_set_new_first", nil, []string{"rule", "set", "crm", "moscow", "7495[0-9]{7}", "main.js", "--at", "1", "-m", "Moscow numbers"}},
		{"rule_set_change", nil, []string{"rule", "set", "crm", "office", "7495123456[78]", "office.js"}},
		{"rule_set_unchanged", nil, []string{"rule", "set", "crm", "office", "7495123456[78]", "office.js"}},
		{"rule_set_missing_scenario", nil, []string{"rule", "set", "crm", "night", ".*", "night.js"}},
		{"rule_delete", nil, []string{"rule", "delete", "crm", "moscow"}},
		{"rule_list_json", nil, []string{"rule", "list", "crm", "--json"}},
		{"rollout_untouched", nil, []string{"scenario", "rollout", "crm"}},
		{"rollout", calls(scenarios.TriggerIncoming, "acme", "globex", "initech", "umbrella"), []string{"scenario", "rollout", "crm"}},
		{"canary", nil, []string{"scenario", "canary", "crm", "50%"}},
		{"canary_out_of_range", nil, []string{"scenario", "canary", "crm", "150"}},
		{"pin", nil, []string{"scenario", "pin", "acme", "crm", "1"}},
		{"pin_unknown_release", nil, []string{"scenario", "pin", "acme", "crm", "99"}},
		{"pin_usage", nil, []string{"scenario", "pin", "acme", "crm"}},
		{"rollout_canary", calls(scenarios.TriggerBalance, "acme", "globex", "initech", "umbrella", "hooli"), []string{"scenario", "rollout", "crm"}},
		{"unpin", nil, []string{"scenario", "unpin", "acme", "crm"}},
		{"rollback", nil, []string{"scenario", "rollback", "crm", "2"}},
		{"rollback_json", nil, []string{"scenario", "rollback", "crm", "2", "--json"}},
		{"rollback_unknown", nil, []string{"scenario", "rollback", "crm", "99"}},
		{"rollout_json", calls(scenarios.TriggerOutgoing, "acme"), []string{"scenario", "rollout", "crm", "--json"}},
		{"wrong_token", nil, []string{"scenario", "list", "--token", "guess"}},
		{"server_down", nil, []string{"scenario", "list", "--server", "http://$GONE"}},
		{"unknown_flag", nil, []string{"scenario", "list", "--verbose"}},
		{"unknown_command", nil, []string{"scenario", "promote", "crm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before(t)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.NewReplacer("$DATA", data, "$GONE", gone).Replace(a)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			got := "$ vox " + quoteArgs(tt.args) + "\n" + stdout.String()
			if stderr.Len() > 0 {
				got += "--- stderr ---\n" + stderr.String()
			}
			got += fmt.Sprintf("--- exit %d ---\n", code)
			got = strings.NewReplacer(server, "$SERVER", data, "$DATA", srv.token, "$TOKEN", gone, "$GONE").Replace(got)

			golden := filepath.Join(dir, tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/vox -run TestCLIGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("vox %s\n%s", quoteArgs(tt.args), lineDiff(string(want), got))
			}
		})
	}
}

// quoteArgs writes a command line as a shell would need it.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " []{}*?'\"\\") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
