package player

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// CacheOptions bound a Cache. The zero value gives the defaults.
type CacheOptions struct {
	// MaxFileSize is the largest download kept; default 16 MiB (about 17
	// minutes of 128 kbit/s MP3, 3 minutes of CD-quality WAV).
	MaxFileSize int64
	// MaxTotalSize is what the cache may hold on disk before it evicts the
	// least recently used files; default 256 MiB.
	MaxTotalSize int64
	// Timeout bounds one download, from request to last byte; default 30 s.
	Timeout time.Duration
	// Client makes the requests; default a plain http.Client (Timeout above
	// bounds each download).
	Client *http.Client
	// Logger notes a stale copy played when its server fails; default
	// slog.Default().
	Logger *slog.Logger
}

// Cache keeps audio downloaded from HTTP(S) URLs in a directory, one file per
// URL (named by the URL's SHA-256) with a small JSON file beside it holding
// the URL, the ETag and the Last-Modified time. A URL is downloaded once; later
// plays revalidate it (If-None-Match, If-Modified-Since) and a 304 reuses the
// file. Both files are written to a temporary name and renamed into place, so a
// crash never leaves a half file under a cache name, and a data file without
// its JSON is removed at the next start. Every Open marks its file used (its
// modification time, so the order survives a restart) and the least recently
// used files go when the total passes MaxTotalSize. Concurrent Opens of one
// URL share one request.
//
// When the server fails to answer or answers 5xx and a copy is cached, the
// copy is played (as RFC 5861's stale-if-error) and the failure logged: hold
// music should not stop because a CRM's web server is down for a minute. Any
// other answer (404, not audio, too big) is the caller's error.
type Cache struct {
	dir    string
	opts   CacheOptions
	mu     sync.Mutex
	byKey  map[string]*cacheEntry
	total  int64
	flight map[string]*fetch // by URL
}

type cacheEntry struct {
	key  string
	meta cacheMeta
	used time.Time
}

// cacheMeta is the JSON file beside each cached download.
type cacheMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	Size         int64  `json:"size"`
}

// fetch is one request in flight that several Opens may wait for.
type fetch struct {
	done    chan struct{}
	err     error
	waiters int // Opens waiting for it, the first included
}

// CachedFile is a cached download, open for reading. The file stays readable
// even if the cache evicts it meanwhile.
type CachedFile struct {
	*os.File
	URL         string
	ContentType string
}

const (
	dataSuffix = ".audio"
	metaSuffix = ".json"
	tempPrefix = ".tmp-"
)

// NewCache opens (creating it if needed) a cache in dir and indexes what an
// earlier run left there.
func NewCache(dir string, o CacheOptions) (*Cache, error) {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = 16 << 20
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = 256 << 20
	}
	o.MaxFileSize = min(o.MaxFileSize, o.MaxTotalSize)
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("audio cache: %w", err)
	}
	c := &Cache{dir: dir, opts: o, byKey: map[string]*cacheEntry{}, flight: map[string]*fetch{}}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("audio cache %s: %w", dir, err)
	}
	c.mu.Lock()
	c.evict("")
	c.mu.Unlock()
	return c, nil
}

// load indexes the directory, removing leftovers of interrupted writes.
func (c *Cache) load() error {
	names, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, de := range names {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			os.Remove(filepath.Join(c.dir, name))
		case strings.HasSuffix(name, metaSuffix):
			key := strings.TrimSuffix(name, metaSuffix)
			e, ok := c.loadEntry(key)
			if !ok {
				c.remove(key)
				continue
			}
			c.byKey[key] = e
			c.total += e.meta.Size
		case strings.HasSuffix(name, dataSuffix):
			key := strings.TrimSuffix(name, dataSuffix)
			if _, err := os.Stat(filepath.Join(c.dir, key+metaSuffix)); errors.Is(err, os.ErrNotExist) {
				c.remove(key)
			}
		}
	}
	return nil
}

func (c *Cache) loadEntry(key string) (*cacheEntry, bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, key+metaSuffix))
	if err != nil {
		return nil, false
	}
	var m cacheMeta
	if json.Unmarshal(b, &m) != nil || keyOf(m.URL) != key {
		return nil, false
	}
	st, err := os.Stat(filepath.Join(c.dir, key+dataSuffix))
	if err != nil || st.Size() != m.Size {
		return nil, false
	}
	return &cacheEntry{key: key, meta: m, used: st.ModTime()}, true
}

// Open returns the audio at rawURL, downloading or revalidating it first.
func (c *Cache) Open(ctx context.Context, rawURL string) (*CachedFile, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fetch %q: %w (http or https URLs are)", rawURL, ErrBadURL)
	}
	c.mu.Lock()
	f := c.flight[rawURL]
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		c.flight[rawURL] = f
		// The request is not the first caller's alone: it runs to its own
		// time limit even if that caller gives up.
		go func() {
			f.err = c.fetch(context.WithoutCancel(ctx), rawURL)
			c.mu.Lock()
			delete(c.flight, rawURL)
			c.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	c.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("fetch %s: %w", rawURL, ctx.Err())
	}
	if f.err != nil {
		return nil, f.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[keyOf(rawURL)]
	if e == nil {
		return nil, fmt.Errorf("fetch %s: evicted before it could be played: %w", rawURL, ErrFetch)
	}
	file, err := os.Open(filepath.Join(c.dir, e.key+dataSuffix))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: cached copy: %w", rawURL, err)
	}
	e.used = time.Now()
	os.Chtimes(file.Name(), e.used, e.used)
	return &CachedFile{File: file, URL: rawURL, ContentType: e.meta.ContentType}, nil
}

// fetch brings the cache's copy of rawURL up to date.
func (c *Cache) fetch(ctx context.Context, rawURL string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	key := keyOf(rawURL)
	c.mu.Lock()
	var old *cacheMeta
	if e := c.byKey[key]; e != nil {
		m := e.meta
		old = &m
	}
	c.mu.Unlock()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w: %w", rawURL, ErrBadURL, err)
	}
	req.Header.Set("Accept", "audio/wav, audio/mpeg, audio/*;q=0.9, */*;q=0.5")
	if old != nil {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		err = c.transportError(ctx, rawURL, err)
		return c.stale(old, rawURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		return nil
	case resp.StatusCode >= 500:
		return c.stale(old, rawURL, fmt.Errorf("fetch %s: server answered %s: %w", rawURL, resp.Status, ErrFetch))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("fetch %s: server answered %s: %w", rawURL, resp.Status, ErrFetch)
	}
	ct := resp.Header.Get("Content-Type")
	if !maybeAudio(ct) {
		return fmt.Errorf("fetch %s: content type %q: %w", rawURL, ct, ErrNotAudio)
	}
	if resp.ContentLength > c.opts.MaxFileSize {
		return fmt.Errorf("fetch %s: %d bytes, over the limit of %d: %w", rawURL, resp.ContentLength, c.opts.MaxFileSize, ErrTooLarge)
	}
	meta := cacheMeta{
		URL:          rawURL,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		ContentType:  ct,
	}
	meta.Size, err = c.writeFile(key+dataSuffix, func(w io.Writer) (int64, error) {
		n, err := io.Copy(w, io.LimitReader(resp.Body, c.opts.MaxFileSize+1))
		if err != nil {
			return n, c.transportError(ctx, rawURL, err)
		}
		if n > c.opts.MaxFileSize {
			return n, fmt.Errorf("fetch %s: over the limit of %d bytes: %w", rawURL, c.opts.MaxFileSize, ErrTooLarge)
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	b, _ := json.Marshal(meta)
	if _, err := c.writeFile(key+metaSuffix, func(w io.Writer) (int64, error) {
		n, err := w.Write(b)
		return int64(n), err
	}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[key]; e != nil {
		c.total -= e.meta.Size
	}
	c.byKey[key] = &cacheEntry{key: key, meta: meta, used: time.Now()}
	c.total += meta.Size
	c.evict(key)
	return nil
}

func (c *Cache) transportError(ctx context.Context, rawURL string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("fetch %s: no complete answer within %v: %w", rawURL, c.opts.Timeout, ErrTimeout)
	}
	return fmt.Errorf("fetch %s: %w: %w", rawURL, ErrFetch, err)
}

// stale answers a failed revalidation with the cached copy when there is one.
func (c *Cache) stale(old *cacheMeta, rawURL string, err error) error {
	if old == nil {
		return err
	}
	c.opts.Logger.Warn("audio cache: playing the cached copy", "url", rawURL, "err", err)
	return nil
}

// writeFile writes name through a temporary file and a rename, synced first,
// so the name holds the old content or the whole new one.
func (c *Cache) writeFile(name string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(c.dir, tempPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("audio cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails once renamed
	n, err := write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(c.dir, name))
	}
	return n, err
}

// evict removes least recently used files until the total fits, never keep.
// The caller holds c.mu.
func (c *Cache) evict(keep string) {
	for c.total > c.opts.MaxTotalSize {
		var lru *cacheEntry
		for _, e := range c.byKey {
			if e.key != keep && (lru == nil || e.used.Before(lru.used)) {
				lru = e
			}
		}
		if lru == nil {
			return
		}
		c.remove(lru.key)
		delete(c.byKey, lru.key)
		c.total -= lru.meta.Size
	}
}

// remove deletes an entry's files, the JSON first: a data file alone is
// cleared at the next start.
func (c *Cache) remove(key string) {
	os.Remove(filepath.Join(c.dir, key+metaSuffix))
	os.Remove(filepath.Join(c.dir, key+dataSuffix))
}

func keyOf(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:16])
}

// maybeAudio refuses what is plainly not audio (an HTML error page, JSON)
// before it is downloaded; generic binary types and no type at all pass, and
// the decoder decides by extension or content.
func maybeAudio(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "audio/") || mt == "application/octet-stream" || mt == "binary/octet-stream"
}
