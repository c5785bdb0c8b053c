package main

import (
	"net/http"
	"path/filepath"
	"regexp"

	"vox/media/record"
)

// recordingsDir is where, under the data directory, each account's recordings
// are kept: its own directory per account (S17: recordings stay with the
// tenant; a later issue moves them to the tenant's own storage).
const recordingsDir = "records"

// accountName is what an account id may look like in a recording's URL path.
var accountName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$`)

// recordingsHandler serves /records/ACCOUNT/TOKEN.wav from that account's
// directory. The token is the secret: 128 random bits that record.Handler checks
// before it looks at the disk, so the URL can be handed to a portal as it is.
func recordingsHandler(data string) http.Handler {
	root := filepath.Join(data, recordingsDir)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account := r.PathValue("account")
		if !accountName.MatchString(account) || account == "." || account == ".." {
			http.NotFound(w, r)
			return
		}
		http.StripPrefix("/records/"+account, record.Handler(filepath.Join(root, account))).ServeHTTP(w, r)
	})
}
