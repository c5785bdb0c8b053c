package record

import (
	"net/http"
	"os"
	"strings"
)

// Handler serves the recordings of dir by token, at "/TOKEN.wav" or "/TOKEN"
// below wherever it is mounted (use http.StripPrefix): GET and HEAD only,
// Range requests answered (players seek), nothing listed. Anything that is not
// exactly a token, 32 lowercase hex digits, is 404, so no path can leave dir;
// the directory is opened as an os.Root as well.
func Handler(dir string) http.Handler {
	return recordings{dir: dir}
}

type recordings struct{ dir string }

func (h recordings) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/"), ".wav")
	if !validToken(token) {
		http.NotFound(w, req)
		return
	}
	root, err := os.OpenRoot(h.dir)
	if err != nil {
		http.NotFound(w, req)
		return
	}
	defer root.Close()
	// Whatever the reason (missing, a link out of dir), the answer is the
	// same: a client learns nothing from trying names.
	f, err := root.Open(token + ".wav")
	if err != nil {
		http.NotFound(w, req)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private")
	http.ServeContent(w, req, token+".wav", st.ModTime(), f)
}

func validToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
