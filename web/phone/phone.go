// Package phone serves the softphone page of vox serve (/phone, S5): a page
// that signs in with a SIP user's login and password, registers over the
// server's SIP over WebSocket (/ws) with JsSIP, and calls over WebRTC. The
// page is embedded in the binary; its script is the bundle make builds into
// dist/ (npm ci and esbuild), so a vox built without it says how to build it.
package phone

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// dist holds dist/phone.js once make built it; in a fresh clone only .keep,
// which all: lets go:embed take so that go build works without the bundle.
//
//go:embed all:dist
var dist embed.FS

// bundle is the path of the script under dist, what Built looks for.
const bundle = "dist/phone.js"

// Built says whether the binary carries the page's script.
func Built() bool {
	_, err := fs.Stat(dist, bundle)
	return err == nil
}

// Handler serves the page at /phone/ (and /phone, which it redirects
// there): index.html, phone.css and the bundle.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/phone")
		if name == "" {
			http.Redirect(w, r, "/phone/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		h.Set("Cache-Control", "no-cache")
		switch name {
		case "/":
			if !Built() {
				notBuilt(w)
				return
			}
			http.ServeFileFS(w, r, static, "static/index.html")
		case "/phone.css":
			http.ServeFileFS(w, r, static, "static/phone.css")
		case "/phone.js":
			if !Built() {
				notBuilt(w)
				return
			}
			http.ServeFileFS(w, r, dist, bundle)
		default:
			http.NotFound(w, r)
		}
	})
}

// notBuilt is the page of a binary built without the bundle.
func notBuilt(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`<!doctype html><title>Vox phone: not built</title>
<h1>The softphone page is not built into this vox</h1>
<p>Its script is bundled from npm packages. Build it and vox again from the repository:</p>
<pre>make build</pre>
<p>That runs <code>npm ci</code> and esbuild in web/phone, then <code>go build</code>; <code>make run</code> does it too.</p>
`))
}
