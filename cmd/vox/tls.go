package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloadEvery is how often a handshake may look at the certificate files
// for a renewal (certbot and the like replace them in place).
const certReloadEvery = 10 * time.Second

// certFiles serves the certificate in a PEM certificate (chain) file and its
// key file, and takes a renewed pair without a restart: a handshake at most
// every certReloadEvery checks the files' modification times and loads them
// again when either changed. A pair that does not load (a renewal caught
// halfway, a key that does not match) leaves the previous one in use, with a
// warning.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
}

// loadCertFiles reads the pair once, so that a server does not start with one
// that cannot be used.
func loadCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	c := &certFiles{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.checked = c.now()
	return c, nil
}

func (c *certFiles) load() error {
	certMod, err := modTime(c.certFile)
	if err != nil {
		return err
	}
	keyMod, err := modTime(c.keyFile)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.certMod, c.keyMod = &cert, certMod, keyMod
	return nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("TLS: %w", err)
	}
	return fi.ModTime(), nil
}

// GetCertificate is tls.Config's.
func (c *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= certReloadEvery {
		c.checked = now
		certMod, certErr := modTime(c.certFile)
		keyMod, keyErr := modTime(c.keyFile)
		if certErr == nil && keyErr == nil && (!certMod.Equal(c.certMod) || !keyMod.Equal(c.keyMod)) {
			if err := c.load(); err != nil {
				c.log.Warn("kept the TLS certificate in use: its files changed but do not load", "error", err.Error())
			} else {
				c.log.Info("loaded the renewed TLS certificate", "file", c.certFile)
			}
		}
	}
	return c.cert, nil
}

// httpConfig is the HTTP listener's: TLS 1.2 and up, with Go's default
// cipher suites, and HTTP/1.1 only: /ws takes its connection over from
// net/http, which a browser could otherwise ask for over HTTP/2 (RFC 8441).
func (c *certFiles) httpConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate, NextProtos: []string{"http/1.1"}}
}

// sipConfig is SIP over TLS's: the same certificate, TLS 1.2 and up.
func (c *certFiles) sipConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// tlsClientConfig is what Vox checks peers with when it connects over TLS:
// the system's authorities, and those in caFile when it is set (a tenant's
// PBX with a certificate of its own authority).
func tlsClientConfig(caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", caFile)
	}
	conf.RootCAs = pool
	return conf, nil
}
