package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vox/controller"
	"vox/controller/signature"
	"vox/scenarios"
)

// egressScenario requests HIDDEN, then its own access URL, and logs both
// outcomes.
const egressScenario = `
VoxEngine.addEventListener(AppEvents.Started, (e) => { globalThis.accessURL = e.accessURL; });
VoxEngine.addEventListener(AppEvents.CallAlerting, async (e) => {
	const other = await Net.httpRequestAsync("HIDDEN");
	Logger.write("other: " + other.code + " " + (other.error || other.text));
	const own = await Net.httpRequestAsync(accessURL + "/nothing-here");
	Logger.write("own: " + own.code);
	e.call.reject(486);
});
`

// A scenario cannot reach what only the server can (here a service on its
// loopback) unless the operator allows the range; its own access URL it
// always can.
func TestScenarioNetworkPolicy(t *testing.T) {
	hidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("internal secret")) }))
	defer hidden.Close()
	for _, c := range []struct {
		name  string
		allow []string
		want  []string
	}{
		{"default", nil, []string{"other: -4 ", "is a loopback address, closed to tenants", "own: 404"}},
		{"allowed", []string{"127.0.0.0/8"}, []string{"other: 200 internal secret", "own: 404"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startCallServerWith(t, func(cfg *serveConfig) { cfg.TenantNetAllow = c.allow })
			src := strings.Replace(egressScenario, "HIDDEN", hidden.URL, 1)
			if _, err := s.store.Push(t.Context(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "egress.js", Source: src}}}); err != nil {
				t.Fatal(err)
			}
			s.call(t, "call_refused.xml", "100")
			s.sessionLog(t, c.want...)
		})
	}
}

// A tenant cannot make Vox post its webhooks inside the operator's network:
// a portal URL on the server's loopback gets nothing, and the outbox says
// why as it keeps the event for a retry.
func TestWebhooksToClosedAddressesRefused(t *testing.T) {
	data := t.TempDir()
	logs := &lockedBuffer{}
	srv, err := startServer(serveConfig{Data: data, Addr: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown(context.Background())
	posted := make(chan struct{}, 4)
	portal := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posted <- struct{}{} }))
	defer portal.Close()

	key := demoLicenceKey(t, data)
	tenant := controller.NewClient("http://"+srv.addr.String(), "", nil).AsTenant(demoAccount, []byte(key), signature.HMACSHA256)
	ctx := context.Background()
	if err := tenant.Do(ctx, "PUT", "/accounts/demo/portal", map[string]string{"url": portal.URL + "/vox"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tenant.Do(ctx, "PUT", "/accounts/demo/alerts", json.RawMessage(`{"threshold":"100000.00","days":3}`), nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "closed to tenants"); {
		if time.Now().After(deadline) {
			t.Fatalf("no refused webhook in the log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-posted:
		t.Fatal("the webhook reached a loopback portal")
	default:
	}
}
