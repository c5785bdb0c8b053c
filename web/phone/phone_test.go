package phone

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()
	// The page and its script answer 503 with how to build them in a
	// binary built without the bundle.
	page, script := http.StatusOK, http.StatusOK
	if !Built() {
		page, script = http.StatusServiceUnavailable, http.StatusServiceUnavailable
	}
	for _, tc := range []struct {
		name, method, path string
		code               int
		contentType        string
		location           string
	}{
		{name: "no slash", method: "GET", path: "/phone", code: http.StatusMovedPermanently, location: "/phone/"},
		{name: "page", method: "GET", path: "/phone/", code: page, contentType: "text/html"},
		{name: "one name for the page", method: "GET", path: "/phone/index.html", code: http.StatusNotFound},
		{name: "style", method: "GET", path: "/phone/phone.css", code: http.StatusOK, contentType: "text/css"},
		{name: "script", method: "GET", path: "/phone/phone.js", code: script},
		{name: "head", method: "HEAD", path: "/phone/phone.css", code: http.StatusOK, contentType: "text/css"},
		{name: "unknown file", method: "GET", path: "/phone/secret.txt", code: http.StatusNotFound},
		{name: "not above", method: "GET", path: "/phone/../phone.go", code: http.StatusNotFound},
		{name: "post", method: "POST", path: "/phone/", code: http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("%s %s: %d, want %d\n%s", tc.method, tc.path, rec.Code, tc.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			if loc := rec.Header().Get("Location"); loc != tc.location {
				t.Errorf("Location %q, want %q", loc, tc.location)
			}
			if rec.Code == http.StatusServiceUnavailable && !strings.Contains(rec.Body.String(), "make build") {
				t.Errorf("the not-built page does not say how to build:\n%s", rec.Body)
			}
		})
	}
}
