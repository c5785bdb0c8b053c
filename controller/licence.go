package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"vox/controller/signature"
)

// Licence is a tenant's entitlement to telephony as the portal vendor sees
// it (S4): the key its requests are signed with and its currency.
type Licence struct {
	Account   string `json:"account"`
	Key       string `json:"key"`
	Currency  string `json:"currency"`
	Country   string `json:"country,omitempty"`
	LegacyMD5 bool   `json:"legacy_md5,omitempty"`
}

// LicenceVerifier finds the valid licence of a tenant, or an error wrapping
// ErrNoLicence.
type LicenceVerifier interface {
	Licence(ctx context.Context, account string) (Licence, error)
}

// StaticLicences are licences listed in the configuration: the embedded
// default's (the demo portal's licence for the demo tenant).
type StaticLicences []Licence

func (s StaticLicences) Licence(_ context.Context, account string) (Licence, error) {
	for _, l := range s {
		if l.Account == account {
			return l, nil
		}
	}
	return Licence{}, fmt.Errorf("%s: %w", account, ErrNoLicence)
}

// HTTPLicences asks the portal vendor: a signed POST of {"account":ID} to
// URL, answered with a Licence (200) or 404 when there is none. The request
// is signed (package signature) with Key under the account name Name.
//
// Answers are remembered for CacheFor, the "no licence" ones too: every
// signed request of an account not yet created asks for its licence, and a
// flood of forged requests must not become a flood to the vendor.
type HTTPLicences struct {
	URL    string
	Name   string
	Key    []byte
	Client *http.Client // default: one with a 5 s timeout
	// CacheFor is how long an answer is remembered (default a minute).
	CacheFor time.Duration

	mu    sync.Mutex
	cache map[string]cachedLicence
}

type cachedLicence struct {
	lic     Licence
	err     error // nil or ErrNoLicence
	expires time.Time
}

// maxCachedLicences bounds the cache; it is cleared when full.
const maxCachedLicences = 10000

func (h *HTTPLicences) Licence(ctx context.Context, account string) (Licence, error) {
	now := time.Now()
	h.mu.Lock()
	c, ok := h.cache[account]
	h.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.lic, c.err
	}
	lic, err := h.ask(ctx, account)
	if err == nil || errors.Is(err, ErrNoLicence) {
		ttl := h.CacheFor
		if ttl <= 0 {
			ttl = time.Minute
		}
		h.mu.Lock()
		if h.cache == nil || len(h.cache) >= maxCachedLicences {
			h.cache = map[string]cachedLicence{}
		}
		h.cache[account] = cachedLicence{lic: lic, err: err, expires: now.Add(ttl)}
		h.mu.Unlock()
	}
	return lic, err
}

// ask asks the vendor about account.
func (h *HTTPLicences) ask(ctx context.Context, account string) (Licence, error) {
	body, _ := json.Marshal(map[string]string{"account": account})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Licence{}, fmt.Errorf("licence check: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderAccount, h.Name)
	if err := signature.Sign(req, body, h.Key); err != nil {
		return Licence{}, fmt.Errorf("licence check: %w", err)
	}
	hc := h.Client
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Licence{}, fmt.Errorf("licence check at %s: %w", h.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Licence{}, fmt.Errorf("%s: %w", account, ErrNoLicence)
	case resp.StatusCode != http.StatusOK:
		return Licence{}, fmt.Errorf("licence check at %s: status %s", h.URL, resp.Status)
	}
	var lic Licence
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&lic); err != nil {
		return Licence{}, fmt.Errorf("licence check at %s: %w", h.URL, err)
	}
	if lic.Account != account || lic.Key == "" {
		return Licence{}, fmt.Errorf("licence check at %s: the answer is not %s's licence: %w", h.URL, account, ErrNoLicence)
	}
	return lic, nil
}
