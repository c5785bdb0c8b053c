package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		name    string
		answer  func(w http.ResponseWriter, r *http.Request)
		want    string
		wantErr error
	}{
		{"a user", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"userId":67}`)) }, `{"userId":67}`, nil},
		{"nobody", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"userId":null}`)) }, `{"userId":null}`, nil},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // then the server notices the client giving up
			<-r.Context().Done()
		}, "", ErrTimeout},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`67`)) }, "", nil},
		{"an error status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPortal(t, "key")
			p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Test-Signature") == "" || r.Header.Get("X-Vox-Event") != IncomingCall {
					http.Error(w, "unsigned", http.StatusUnauthorized)
					return
				}
				tc.answer(w, r)
			})
			db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
			t.Cleanup(func() { db.Close() })
			// A short timeout for the portal that never answers; the
			// others get one no loaded machine reaches.
			timeout := time.Minute
			if tc.wantErr == ErrTimeout {
				timeout = 100 * time.Millisecond
			}
			o := openOutbox(t, db, portals{"acme": p}, Options{LookupTimeout: timeout})
			got, err := o.Lookup(context.Background(), "acme", "79112233444", "74954451120")
			switch {
			case tc.want != "":
				if err != nil || string(got) != tc.want {
					t.Errorf("Lookup = %s, %v; want %s", got, err, tc.want)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Lookup error %v, want %v", err, tc.wantErr)
				}
			default:
				if err == nil || errors.Is(err, ErrTimeout) {
					t.Errorf("Lookup = %s, %v; want an error that is not a timeout", got, err)
				}
			}
		})
	}
	db := openDB(t, filepath.Join(t.TempDir(), "vox.db"))
	t.Cleanup(func() { db.Close() })
	if _, err := openOutbox(t, db, portals{}, Options{}).Lookup(context.Background(), "nobody", "1", "2"); !errors.Is(err, ErrNoPortal) {
		t.Errorf("lookup without a portal: %v", err)
	}
}
