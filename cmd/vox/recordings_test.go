package main

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"vox/media/pcm"
	"vox/media/record"
)

// A recording is served by its token under its account, and nothing else is.
func TestServeRecordings(t *testing.T) {
	data := t.TempDir()
	srv := startTestServer(t, data)
	rec, err := record.Start(filepath.Join(data, recordingsDir, "demo"), record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		rec.Caller().WriteFrame(&pcm.Silence)
		rec.Callee().WriteFrame(&pcm.Silence)
	}
	if _, err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.addr.String() + "/records/"
	tests := []struct {
		path string
		code int
	}{
		{"demo/" + rec.Token() + ".wav", http.StatusOK},
		{"demo/" + rec.Token(), http.StatusOK},
		{"other/" + rec.Token() + ".wav", http.StatusNotFound},
		{"demo/" + otherToken(rec.Token()) + ".wav", http.StatusNotFound},
		{"demo/", http.StatusNotFound},
		{"../demo/" + rec.Token() + ".wav", http.StatusNotFound},
		{"..%2fdemo/" + rec.Token() + ".wav", http.StatusNotFound},
		{"demo/..%2f..%2fvox.db", http.StatusNotFound},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET /records/%s = %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
		if tt.code == http.StatusOK && (resp.Header.Get("Content-Type") != "audio/wav" || string(body[:4]) != "RIFF") {
			t.Errorf("GET /records/%s: %s, %q…", tt.path, resp.Header.Get("Content-Type"), body[:4])
		}
	}
}

// otherToken is token with its last digit changed.
func otherToken(token string) string {
	last := byte('0')
	if token[31] == last {
		last = '1'
	}
	return token[:31] + string(last)
}
