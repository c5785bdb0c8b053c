package record

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	r, err := Start(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 50 {
		write(t, r.Caller(), sine(1000, 8000, k))
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Things a client must not reach: a file outside the directory, through a
	// symlink named like a recording, and a directory named like one.
	outside := filepath.Join(t.TempDir(), "secret.wav")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	linked := strings.Repeat("ab", 16)
	if err := os.Symlink(outside, filepath.Join(dir, linked+".wav")); err != nil {
		t.Fatal(err)
	}
	subdir := strings.Repeat("cd", 16)
	if err := os.Mkdir(filepath.Join(dir, subdir+".wav"), 0o750); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(http.StripPrefix("/recordings", Handler(dir)))
	defer srv.Close()
	base := srv.URL + "/recordings/"

	do := func(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	t.Run("GET", func(t *testing.T) {
		for _, name := range []string{r.Token() + ".wav", r.Token()} {
			resp, body := do(t, http.MethodGet, base+name, nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(body, file) {
				t.Fatalf("GET %s: %s %q, %d bytes", name, resp.Status, resp.Header.Get("Content-Type"), len(body))
			}
		}
	})
	t.Run("Range", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, base+r.Token()+".wav", map[string]string{"Range": "bytes=44-143"})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, file[44:144]) {
			t.Fatalf("range: %s, %d bytes", resp.Status, len(body))
		}
		if cr := resp.Header.Get("Content-Range"); cr != "bytes 44-143/"+strconv.Itoa(len(file)) {
			t.Fatalf("Content-Range %q", cr)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, body := do(t, http.MethodHead, base+r.Token()+".wav", nil)
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(file)) {
			t.Fatalf("HEAD: %s, length %d, %d bytes of body", resp.Status, resp.ContentLength, len(body))
		}
	})
	t.Run("other methods", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			resp, _ := do(t, m, base+r.Token()+".wav", nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s: %s, Allow %q", m, resp.Status, resp.Header.Get("Allow"))
			}
		}
		if _, err := os.Stat(r.Path()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{
			"",                                   // no listing
			"..",                                 // the parent
			"../" + filepath.Base(outside),       // traversal
			"%2e%2e%2f" + filepath.Base(outside), // encoded traversal
			strings.ToUpper(r.Token()) + ".wav",  // tokens are lowercase
			r.Token()[:31] + ".wav",              // too short
			r.Token() + "0.wav",                  // too long
			r.Token() + ".mp3",
			r.Token() + "/../" + r.Token() + ".wav",
			strings.Repeat("0", 32) + ".wav", // no such recording
			linked + ".wav",                  // a symlink out of the directory
			subdir + ".wav",                  // a directory
		} {
			resp, body := do(t, http.MethodGet, base+path, nil)
			if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("secret")) {
				t.Errorf("GET %q: %s %q", path, resp.Status, body)
			}
		}
	})
	t.Run("directory missing", func(t *testing.T) {
		srv := httptest.NewServer(Handler(filepath.Join(dir, "none")))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL + "/" + r.Token() + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s", resp.Status)
		}
	})
}
