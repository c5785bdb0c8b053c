package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		{"default", nil, []string{"other: -4 ", "is a loopback address, not reachable from scenarios", "own: 404"}},
		{"allowed", []string{"127.0.0.0/8"}, []string{"other: 200 internal secret", "own: 404"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startCallServerWith(t, func(cfg *serveConfig) { cfg.ScenarioNetAllow = c.allow })
			src := strings.Replace(egressScenario, "HIDDEN", hidden.URL, 1)
			if _, err := s.store.Push(t.Context(), scenarios.Push{App: demoApp, Files: []scenarios.File{{Name: "egress.js", Source: src}}}); err != nil {
				t.Fatal(err)
			}
			s.call(t, "call_refused.xml", "100")
			s.sessionLog(t, c.want...)
		})
	}
}
