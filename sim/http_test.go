package sim

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"vox/runtime"
)

func TestParseHTTPRoute(t *testing.T) {
	const file = "../testdata/sim/settings.json"
	tests := []struct {
		name    string
		spec    string
		want    HTTPRoute
		wantErr string
	}{
		{name: "file", spec: "https://portal.example/*=" + file, want: HTTPRoute{Pattern: "https://portal.example/*", File: file}},
		{name: "status and file", spec: "http://127.0.0.1:8080/calls/*/*/route=504:" + file, want: HTTPRoute{Pattern: "http://127.0.0.1:8080/calls/*/*/route", File: file, Status: 504}},
		{name: "query in pattern", spec: "https://p.example/config?number=1=" + file, want: HTTPRoute{Pattern: "https://p.example/config?number=1", File: file}},
		{name: "status out of range", spec: "https://p.example/*=999:" + file, wantErr: `status "999" is not an HTTP status`},
		{name: "missing file", spec: "https://p.example/*=202:nothing.json", wantErr: "nothing.json"},
		{name: "no file", spec: "https://p.example/*", wantErr: "want URL_PATTERN=FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHTTPRoute(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseHTTPRoute = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// A route's status is what both the scenario's requests and the audio cache's
// downloads get: the scenario's error paths are simulated with it.
func TestHTTPFilesAnswerWithTheRouteStatus(t *testing.T) {
	files := &HTTPFiles{Routes: []HTTPRoute{
		{Pattern: "http://127.0.0.1:8080/calls/*/*/route", File: "../testdata/sim/settings.json", Status: 504},
		{Pattern: "http://127.0.0.1:8080/calls/*/*/config", File: "../testdata/sim/settings.json"},
	}}
	for _, tt := range []struct {
		url  string
		want int
	}{
		{"http://127.0.0.1:8080/calls/1/t/route", 504},
		{"http://127.0.0.1:8080/calls/1/t/config", 200},
	} {
		resp, err := files.Do(context.Background(), &runtime.HTTPRequest{Method: "POST", URL: tt.url})
		if err != nil || resp.Code != tt.want || !strings.Contains(string(resp.Body), "greeting") {
			t.Errorf("Do(%s) = %+v, %v; want %d with the file", tt.url, resp, err, tt.want)
		}
		req, _ := http.NewRequest("GET", tt.url, nil)
		hr, err := files.RoundTrip(req)
		if err != nil || hr.StatusCode != tt.want {
			t.Fatalf("RoundTrip(%s) = %v, %v; want %d", tt.url, hr, err, tt.want)
		}
		body, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		if !strings.Contains(string(body), "greeting") {
			t.Errorf("RoundTrip(%s) body = %q", tt.url, body)
		}
	}
}
