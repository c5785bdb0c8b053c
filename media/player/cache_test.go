package player

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// audioServer is a real HTTP server on 127.0.0.1 serving a WAV and an MP3 made
// with sox and lame, and misbehaving on the paths that say so. It counts what
// it answered, by path and status.
type audioServer struct {
	*httptest.Server
	wav, mp3 []byte
	hang     chan struct{} // closed when the test ends, releasing /hang
	hold     chan struct{} // /slow.wav waits for it

	mu      sync.Mutex
	answers map[string][]int // path -> statuses in order
	failing bool             // every answer a 503
}

func newAudioServer(t *testing.T) *audioServer {
	t.Helper()
	dir := t.TempDir()
	wavPath := filepath.Join(dir, "tone.wav")
	sox(t, "-n", "-r", "16000", "-b", "16", wavPath, "synth", "1", "sine", "1000", "vol", "0.5")
	s := &audioServer{answers: map[string][]int{}, hang: make(chan struct{}), hold: make(chan struct{})}
	var err error
	if s.wav, err = os.ReadFile(wavPath); err != nil {
		t.Fatal(err)
	}
	if s.mp3, err = os.ReadFile("testdata/sine1k-44100-stereo.mp3"); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.hang)
		s.Close()
	})
	return s
}

func (s *audioServer) serve(w http.ResponseWriter, r *http.Request) {
	status := s.answer(w, r)
	s.mu.Lock()
	s.answers[r.URL.Path] = append(s.answers[r.URL.Path], status)
	s.mu.Unlock()
}

func (s *audioServer) answer(w http.ResponseWriter, r *http.Request) int {
	s.mu.Lock()
	failing := s.failing
	s.mu.Unlock()
	if failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	etag := `"v1"`
	switch p := r.URL.Path; {
	case p == "/hang.wav":
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return 0
	case p == "/slow.wav":
		<-s.hold
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(s.wav)
		return http.StatusOK
	case p == "/page.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html>not found, but in a friendly way</html>")
		return http.StatusOK
	case p == "/garbage.wav":
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(bytes.Repeat([]byte("garbage!"), 100))
		return http.StatusOK
	case p == "/big.wav": // says so up front
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", "100000000")
		w.WriteHeader(http.StatusOK)
		w.Write(s.wav)
		return http.StatusOK
	case p == "/chunked.wav": // says nothing, and goes on and on
		w.Header().Set("Content-Type", "audio/wav")
		for range 20 {
			w.Write(s.wav)
			w.(http.Flusher).Flush()
		}
		return http.StatusOK
	case p == "/tone.mp3":
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(s.mp3)
		return http.StatusOK
	case p == "/noetag/tone.wav":
		etag = ""
		fallthrough
	case strings.HasPrefix(p, "/files/") || p == "/tone.wav" || p == "/noetag/tone.wav":
		if etag != "" {
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return http.StatusNotModified
			}
		}
		// No content type: the extension or the bytes decide.
		w.Header()["Content-Type"] = nil
		w.Write(s.wav)
		return http.StatusOK
	}
	http.NotFound(w, r)
	return http.StatusNotFound
}

func (s *audioServer) statuses(path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.answers[path]...)
}

// cacheFiles lists the cache directory.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// playURL plays url to its end through a Player on cache and returns the
// samples, or the error it finished with.
func playURL(t *testing.T, c *Cache, url string) ([]int16, error) {
	t.Helper()
	got := newPlayed()
	pb := New(Options{Cache: c}).Play(context.Background(), Media{URL: url}, got.finished)
	first, err := waitLoaded(t, pb)
	if err != nil {
		return nil, got.result(t)
	}
	return append(first, readAll(t, pb, 1000)...), got.result(t)
}

func TestCacheDownloadsOnceAndRevalidates(t *testing.T) {
	srv := newAudioServer(t)
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(t.Output(), nil))
	c, err := NewCache(dir, CacheOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		out, err := playURL(t, c, srv.URL+"/tone.wav")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 8000 || math.Abs(dB(amplitude(out[400:7600], 1000)/(0.5*32768))) > 0.3 {
			t.Fatalf("%d samples, 1 kHz at %.2f dB", len(out), dB(amplitude(out[400:7600], 1000)/(0.5*32768)))
		}
	}
	if got := srv.statuses("/tone.wav"); fmt.Sprint(got) != "[200 304 304]" {
		t.Errorf("server answered %v, want one download and two revalidations", got)
	}
	if files := cacheFiles(t, dir); len(files) != 2 {
		t.Errorf("cache holds %v, want one audio file and its JSON", files)
	}

	// A new cache on the same directory (a restart) knows the file.
	c2, err := NewCache(dir, CacheOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := playURL(t, c2, srv.URL+"/tone.wav"); err != nil {
		t.Fatal(err)
	}
	if got := srv.statuses("/tone.wav"); len(got) != 4 || got[3] != http.StatusNotModified {
		t.Errorf("after a restart the server answered %v, want a 304 last", got)
	}

	// When the server fails, the cached copy plays.
	srv.mu.Lock()
	srv.failing = true
	srv.mu.Unlock()
	if _, err := playURL(t, c2, srv.URL+"/tone.wav"); err != nil {
		t.Errorf("with the server failing: %v, want the cached copy", err)
	}
	if _, err := playURL(t, c2, srv.URL+"/tone.mp3"); !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "503") {
		t.Errorf("uncached URL with the server failing: %v, want a 503 error", err)
	}
}

func TestCacheFormats(t *testing.T) {
	srv := newAudioServer(t)
	c, err := NewCache(t.TempDir(), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/tone.mp3", "/noetag/tone.wav", "/files/no-extension"} {
		out, err := playURL(t, c, srv.URL+path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if a := amplitude(out[1200:7200], 1000); math.Abs(dB(a/(0.5*32768))) > 0.5 {
			t.Errorf("%s: 1 kHz at %.2f dB", path, dB(a/(0.5*32768)))
		}
	}
	// Without an ETag every play downloads again.
	playURL(t, c, srv.URL+"/noetag/tone.wav")
	if got := srv.statuses("/noetag/tone.wav"); fmt.Sprint(got) != "[200 200]" {
		t.Errorf("server answered %v", got)
	}
}

func TestCacheFailures(t *testing.T) {
	srv := newAudioServer(t)
	dir := t.TempDir()
	c, err := NewCache(dir, CacheOptions{MaxFileSize: 64 << 10, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url  string
		want error
		says string
	}{
		{srv.URL + "/missing.wav", ErrFetch, "404"},
		{srv.URL + "/hang.wav", ErrTimeout, "500ms"},
		{srv.URL + "/big.wav", ErrTooLarge, "100000000 bytes"},
		{srv.URL + "/chunked.wav", ErrTooLarge, "65536"},
		{srv.URL + "/page.html", ErrNotAudio, "text/html"},
		{srv.URL + "/garbage.wav", ErrNotAudio, "not a WAV file"},
		{"http://127.0.0.1:1/refused.wav", ErrFetch, "refused"},
		{"gopher://127.0.0.1/x.wav", ErrBadURL, "gopher"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := playURL(t, c, tt.url)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("finished with %v, want %v saying %q", err, tt.want, tt.says)
			} else {
				t.Log(err)
			}
		})
	}
	// Nothing half-written is left behind; only the garbage, which was a
	// complete download, is cached.
	for _, name := range cacheFiles(t, dir) {
		if strings.HasPrefix(name, tempPrefix) {
			t.Errorf("temporary file %s left in the cache", name)
		}
	}
	if files := cacheFiles(t, dir); len(files) != 2 {
		t.Errorf("cache holds %v", files)
	}
}

func TestCacheSharesOneDownload(t *testing.T) {
	srv := newAudioServer(t)
	c, err := NewCache(t.TempDir(), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	url := srv.URL + "/slow.wav"
	errs := make(chan error, n)
	for range n {
		go func() {
			f, err := c.Open(context.Background(), url)
			if err == nil {
				f.Close()
			}
			errs <- err
		}()
	}
	// Release the server once every Open is waiting on the one request.
	for {
		c.mu.Lock()
		f := c.flight[url]
		waiting := f != nil && f.waiters == n
		c.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(srv.hold)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := srv.statuses("/slow.wav"); len(got) != 1 {
		t.Errorf("server answered %v, want one request", got)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	srv := newAudioServer(t)
	dir := t.TempDir()
	size := int64(len(srv.wav))
	c, err := NewCache(dir, CacheOptions{MaxTotalSize: 3*size + size/2})
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string) {
		t.Helper()
		f, err := c.Open(context.Background(), srv.URL+"/files/"+name+".wav")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	open("a")
	open("b")
	open("c")
	open("a") // a is now the most recently used: b goes first
	open("d")
	open("e") // then c
	for name, cached := range map[string]bool{"a": true, "b": false, "c": false, "d": true, "e": true} {
		_, err := os.Stat(filepath.Join(dir, keyOf(srv.URL+"/files/"+name+".wav")+dataSuffix))
		if (err == nil) != cached {
			t.Errorf("%s cached: %v, want %v", name, err == nil, cached)
		}
	}
	if files := cacheFiles(t, dir); len(files) != 6 {
		t.Errorf("cache holds %v, want three files and their JSON", files)
	}
	// b comes back with a full download.
	open("b")
	if got := srv.statuses("/files/b.wav"); fmt.Sprint(got) != "[200 200]" {
		t.Errorf("server answered %v for b", got)
	}
}

func TestCacheCleansUpAtStart(t *testing.T) {
	dir := t.TempDir()
	// What a crash can leave: a temporary file, and a data file whose JSON was
	// never written. And a JSON whose data file does not match.
	os.WriteFile(filepath.Join(dir, tempPrefix+"123"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(dir, keyOf("http://x/a.wav")+dataSuffix), []byte("whole"), 0o644)
	os.WriteFile(filepath.Join(dir, keyOf("http://x/b.wav")+dataSuffix), []byte("short"), 0o644)
	os.WriteFile(filepath.Join(dir, keyOf("http://x/b.wav")+metaSuffix), []byte(`{"url":"http://x/b.wav","size":100}`), 0o644)
	if _, err := NewCache(dir, CacheOptions{}); err != nil {
		t.Fatal(err)
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cache holds %v after start, want nothing", files)
	}
}
