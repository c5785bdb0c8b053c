package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"vox/scenarios"
)

// tokenFile holds the admin token inside the data directory. Until the
// controller brings tenant-signed requests (S9), this one bearer token opens the
// whole API.
const tokenFile = "admin.token"

// adminToken reads the data directory's admin token, generating it at the first
// start; created says it was generated now.
func adminToken(dir string) (token string, created bool, err error) {
	token, created, err = secretFile(dir, tokenFile)
	if err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	return token, created, nil
}

func readToken(dir string) (string, error) { return readSecret(dir, tokenFile) }

// secretFile reads a random token kept in the data directory (the admin's,
// support's), making it at the first start; created says it was made now.
func secretFile(dir, name string) (token string, created bool, err error) {
	token, err = readSecret(dir, name)
	if !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	token = rand.Text()
	if err := writeNew(filepath.Join(dir, name), []byte(token+"\n")); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func readSecret(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("%s is empty; delete it and vox serve generates a new token", path)
	}
	return token, nil
}

// requireToken lets through only requests that carry the admin token as a
// bearer token. The comparison takes the same time whatever the guess.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vox"`)
			(&scenarios.APIError{Status: http.StatusUnauthorized, Code: scenarios.CodeUnauthorized,
				Message: "missing or wrong admin token; vox token --data DIR shows it"}).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func newTokenCommand() *cobra.Command {
	var (
		data   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "token [--data DIR]",
		Short: "Print the admin token of the server whose data directory is DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := readToken(data)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no admin token in %s: vox serve --data %s creates it at its first start", data, data)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{"token": token})
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", defaultDataDir, "the server's data directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
