package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vox/controller"
)

// TestControllerCLI drives the account, sipuser, number and tariff commands
// against one in-process vox serve, in the table's order, as the operator
// (admin token) and as the demo tenant (signed with its licence key); then
// moves the account to a second server with export and import.
func TestControllerCLI(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	server := "http://" + srv.addr.String()
	var lic licencesDoc
	raw, err := os.ReadFile(filepath.Join(data, licencesFile))
	if err != nil || json.Unmarshal(raw, &lic) != nil || len(lic.Licences) != 1 {
		t.Fatalf("licences file: %v\n%s", err, raw)
	}
	demoKey := lic.Licences[0].Key
	settings := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(settings, []byte(`{"greeting":"hello"}`), 0o600)
	export := filepath.Join(t.TempDir(), "acme.json")

	admin := []string{"--server", server, "--data", data}
	tenant := func(account, key string) []string {
		return []string{"--server", server, "--key", key, "--account", account}
	}
	cases := []struct {
		name   string
		args   []string
		auth   []string
		code   int
		stdout []string // substrings of stdout
		stderr string
	}{
		{"list", []string{"account", "list"}, admin, 0, []string{"demo        RUB       master-rub  700.00", "master-usd"}, ""},
		{"the demo number", []string{"number", "config", demoNumber}, tenant("demo", demoKey), 0, []string{`"extensions"`}, ""},
		{"create", []string{"account", "create", "acme", "--currency", "RUB", "--licence-key", "acme-licence-key-0001"}, admin, 0, []string{"created account acme in RUB under master-rub"}, ""},
		{"create twice", []string{"account", "create", "acme", "--currency", "RUB"}, admin, 1, nil, "(conflict)"},
		{"bad currency", []string{"account", "create", "zed", "--currency", "XYZ"}, admin, 1, nil, "(invalid_argument)"},
		{"topup", []string{"account", "topup", "acme", "400", "--idempotency-key", "inv-1"}, admin, 0, []string{"credited 400.00 to acme: balance 400.00"}, ""},
		{"topup retried", []string{"account", "topup", "acme", "400", "--idempotency-key", "inv-1"}, admin, 0, []string{"balance 400.00 (entry 1"}, ""},
		{"master", []string{"account", "show", "master-rub"}, admin, 0, []string{"master account master-rub (RUB): 2 tenants, holding 1100.00 RUB"}, ""},
		{"topup bad amount", []string{"account", "topup", "acme", "lots"}, admin, 2, nil, "decimal"},
		{"tenant shows itself", []string{"account", "show", "acme", "--json"}, tenant("acme", "acme-licence-key-0001"), 0, []string{`"balance": "400.00"`}, ""},
		{"tenant tops up", []string{"account", "topup", "acme", "100", "--idempotency-key", "portal-1"}, tenant("acme", "acme-licence-key-0001"), 0, []string{"balance 500.00"}, ""},
		{"tenant, wrong key", []string{"account", "show", "acme"}, tenant("acme", "not-the-licence-key"), 1, nil, "(bad_signature)"},
		{"tenant asks of another", []string{"account", "show", "demo"}, tenant("acme", "acme-licence-key-0001"), 1, nil, "(not_found)"},
		{"demo first use", []string{"account", "credentials", "demo"}, tenant("demo", demoKey), 0, []string{"SIP user"}, ""},
		{"sipuser create", []string{"sipuser", "create", "acme", "acme-desk", "--password", "desk-secret-1"}, admin, 0, []string{"created SIP user acme-desk of acme", "password desk-secret-1"}, ""},
		{"sipuser taken", []string{"sipuser", "create", "demo", "acme-desk"}, tenant("demo", demoKey), 1, nil, "(conflict)"},
		{"sipuser disable", []string{"sipuser", "disable", "acme", "acme-desk"}, tenant("acme", "acme-licence-key-0001"), 0, []string{"disabled SIP user acme-desk"}, ""},
		{"sipuser of another", []string{"sipuser", "enable", "demo", "acme-desk"}, tenant("demo", demoKey), 1, nil, "(not_found)"},
		{"sipuser list", []string{"sipuser", "list", "acme"}, admin, 0, []string{"acme-desk  disabled"}, ""},
		{"sipuser password", []string{"sipuser", "password", "acme", "acme-desk"}, admin, 0, []string{"new password for SIP user acme-desk", "password "}, ""},
		{"numbers available", []string{"number", "available", "--country", "RU"}, admin, 0, []string{"74950000101", "78120000100"}, ""},
		{"number add", []string{"number", "add", "+74950000200", "--fee", "100"}, admin, 0, []string{"added 74950000200"}, ""},
		{"tenant rents", []string{"number", "rent", "acme", "74950000200", "--app", "demo"}, tenant("acme", "acme-licence-key-0001"), 0, []string{"acme rents 74950000200 (100.00 RUB a month)"}, ""},
		{"another rents it", []string{"number", "rent", "demo", "74950000200"}, tenant("demo", demoKey), 1, nil, "(not_found)"},
		{"number config set", []string{"number", "config", "74950000200", "--set", settings}, tenant("acme", "acme-licence-key-0001"), 0, []string{"stored the settings of 74950000200"}, ""},
		{"number config (operator finds the renter)", []string{"number", "config", "74950000200"}, admin, 0, []string{`"greeting": "hello"`}, ""},
		{"number config of another", []string{"number", "config", "74950000200"}, tenant("demo", demoKey), 1, nil, "(not_found)"},
		{"number list", []string{"number", "list", "acme"}, admin, 0, []string{"74950000200  RU       100.00 RUB  acme     demo"}, ""},
		{"ledger", []string{"account", "ledger", "acme"}, admin, 0, []string{"number_fee  -100.00  400.00"}, ""},
		{"tariffs", []string{"tariff", "show", "RUB"}, tenant("acme", "acme-licence-key-0001"), 0, []string{"7495    Moscow  0.90"}, ""},
		{"tariffs of another currency", []string{"tariff", "show", "USD"}, tenant("acme", "acme-licence-key-0001"), 1, nil, "(not_found)"},
		{"limits", []string{"account", "limits", "acme", "--max-calls", "2", "--allow", "7"}, tenant("acme", "acme-licence-key-0001"), 0, []string{"limits of acme changed"}, ""},
		{"export", []string{"account", "export", "acme", "-o", export}, admin, 0, []string{"exported acme"}, ""},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append(tc.args, tc.auth...), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", tc.name, code, tc.code, stdout.String(), stderr.String())
			continue
		}
		for _, want := range tc.stdout {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.name, want, stdout.String())
			}
		}
		if !strings.Contains(stderr.String(), tc.stderr) || (tc.stderr == "") != (stderr.Len() == 0) {
			t.Errorf("%s: stderr %q, want %q", tc.name, stderr.String(), tc.stderr)
		}
	}

	// The demo tenant's first use placed it on the default application's
	// release (S11); acme, made by the operator and never used, is not.
	if ro, err := srv.store.Rollout(context.Background(), demoApp); err != nil || ro.Accounts != 1 {
		t.Errorf("placements after the first use: %+v %v", ro, err)
	}

	// The account moves to another server, where its key still signs.
	other := startTestServer(t, t.TempDir())
	otherServer := "http://" + other.addr.String()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"account", "import", export, "--server", otherServer, "--token", other.token, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("import: %d %s", code, stderr.String())
	}
	var res controller.ImportResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Balance != 400_000_000 || res.SIPUsers != 1 || res.Numbers != 1 {
		t.Errorf("import: %+v %v", res, err)
	}
	stdout.Reset()
	if code := run([]string{"number", "config", "74950000200", "--server", otherServer, "--key", "acme-licence-key-0001", "--account", "acme"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "hello") {
		t.Errorf("the number's settings on the other server: %d %s %s", code, stdout.String(), stderr.String())
	}
}
