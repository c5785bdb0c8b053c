package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// writeCert writes a self-signed certificate for 127.0.0.1, named name, and
// its key to certFile and keyFile.
func writeCert(t *testing.T, certFile, keyFile, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestServeHTTPS: with --tls-cert and --tls-key the HTTP listener speaks
// HTTPS, browsers' SIP goes over WSS, and the URLs handed out say https.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeCert(t, certFile, keyFile, "vox test")
	var logs lockedBuffer
	srv, err := startServer(serveConfig{Data: filepath.Join(dir, "data"), Addr: "127.0.0.1:0", SIP: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown(t.Context())
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	res, err := client.Get("https://" + srv.addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("GET /healthz over HTTPS: %d %s", res.StatusCode, body)
	}
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("connection state %+v", res.TLS)
	}

	// Plain HTTP on the same port gets nothing useful.
	if res, err := http.Get("http://" + srv.addr.String() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP served on the HTTPS listener")
		}
	}

	// Browsers: the WebSocket upgrade at /ws, over TLS.
	dialer := ws.Dialer{TLSConfig: &tls.Config{RootCAs: roots}, Protocols: []string{"sip"}, Timeout: 10 * time.Second}
	conn, _, hs, err := dialer.Dial(t.Context(), "wss://"+srv.addr.String()+"/ws")
	if err != nil {
		t.Fatalf("wss:// /ws: %v", err)
	}
	conn.Close()
	if hs.Protocol != "sip" {
		t.Fatalf("wss:// /ws agreed on protocol %q, want sip", hs.Protocol)
	}
	srv.shutdown(t.Context())
	if !strings.Contains(logs.String(), "http=https://127.0.0.1:") {
		t.Errorf("the start line does not give the https URL:\n%s", logs.String())
	}
}

func TestServeRefusesUnusableCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "a")
	otherKey := filepath.Join(dir, "other.pem")
	writeCert(t, filepath.Join(dir, "other-cert.pem"), otherKey, "b")
	for _, c := range []struct{ name, cert, key, sipTLS, ca, want string }{
		{"key of another certificate", certFile, otherKey, "", "", "private key does not match public key"},
		{"missing file", filepath.Join(dir, "none.pem"), keyFile, "", "", "none.pem"},
		{"key alone", "", keyFile, "", "", "--tls-cert and --tls-key go together"},
		{"SIP over TLS without a certificate", "", "", "127.0.0.1:0", "", "--sip-tls needs --tls-cert"},
		{"authorities that are not PEM", "", "", "", keyFile, "no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := startServer(serveConfig{Data: filepath.Join(t.TempDir(), "data"), Addr: "127.0.0.1:0", SIP: "127.0.0.1:0",
				TLSCert: c.cert, TLSKey: c.key, SIPTLS: c.sipTLS, TLSCA: c.ca, Log: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}

// TestCertificateRenewal: a certificate replaced in place (certbot renew) is
// served from the next check on; one that does not load keeps the old one.
func TestCertificateRenewal(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, "first")
	var logs lockedBuffer
	certs, err := loadCertFiles(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certs.now = func() time.Time { return now }
	serving := func() string {
		t.Helper()
		c, err := certs.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	// Modification times may not move within the file system's
	// granularity; moving them by hand makes the change certain.
	touch := func(later time.Duration) {
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, now.Add(later), now.Add(later)); err != nil {
				t.Fatal(err)
			}
		}
	}

	writeCert(t, certFile, keyFile, "second")
	touch(time.Minute)
	if got := serving(); got != first.Subject.CommonName {
		t.Fatalf("before the next check: serving %q, want the first", got)
	}
	now = now.Add(certReloadEvery)
	if got := serving(); got != "second" {
		t.Fatalf("after the renewal: serving %q, want second", got)
	}

	// A renewal caught halfway: the certificate is new, the key not yet.
	writeCert(t, certFile, filepath.Join(dir, "elsewhere.pem"), "third")
	touch(2 * time.Minute)
	now = now.Add(certReloadEvery)
	if got := serving(); got != "second" {
		t.Fatalf("with a mismatched pair: serving %q, want second kept", got)
	}
	if !strings.Contains(logs.String(), "kept the TLS certificate in use") {
		t.Errorf("no warning about the pair that does not load:\n%s", logs.String())
	}
}
