package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vox/runtime"
)

// With a fallback client (--allow-net), requests no route answers reach a real
// HTTP server; routes still win where they match.
func TestRunReachesTheNetworkWhenAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "test")
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Sign"))
	}))
	defer srv.Close()

	scenario := `
VoxEngine.addEventListener(AppEvents.CallAlerting, async (e) => {
	const live = await Net.httpRequestAsync("` + srv.URL + `/settings", {method: "POST", headers: {"X-Sign": "s1"}, postData: "a=1"});
	Logger.write("live: " + live.code + " " + live.text);
	const routed = await Net.httpRequestAsync("https://portal.example/routed");
	Logger.write("routed: " + routed.code + " " + routed.text.trim());
	VoxEngine.terminate();
});`
	var out bytes.Buffer
	opts := Options{
		Start: time.Date(2015, 7, 24, 8, 50, 8, 0, time.UTC),
		HTTP: &HTTPFiles{
			Routes:   []HTTPRoute{{Pattern: "https://portal.example/*", File: "../testdata/sim/settings.json"}},
			Fallback: &runtime.NetHTTP{},
		},
	}
	if err := Run(context.Background(), opts, []Source{{Name: "net.js", Code: scenario}}, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	log := out.String()
	for _, want := range []string{
		"live: 200 POST /settings s1",
		`routed: 200 {"greeting": "Hello", "queue": ["user67", "user68"]}`,
		"X-Served-By = test",
		"Session terminated",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestRunReportsSyntaxErrorsBeforeStarting(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{}, []Source{
		{Name: "ok.js", Code: "var a = 1;"},
		{Name: "bad.js", Code: "var b = ;"},
	}, &out)
	var se *runtime.SyntaxError
	if !errors.As(err, &se) || se.File != "bad.js" || se.Line != 1 || se.Column != 9 {
		t.Fatalf("err = %v, want bad.js:1:9", err)
	}
	if out.Len() != 0 {
		t.Errorf("a session started despite the syntax error:\n%s", out.String())
	}
}

func TestReadSources(t *testing.T) {
	if _, err := ReadSources(nil); err == nil {
		t.Error("no files accepted")
	}
	srcs, err := ReadSources([]string{"../testdata/sim/lib.js"})
	if err != nil || len(srcs) != 1 || !strings.Contains(srcs[0].Code, "greetingFor") {
		t.Errorf("ReadSources = %v, %v", srcs, err)
	}
}
