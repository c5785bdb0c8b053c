package sip

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logs about bad input are short and rate-limited (STYLE 9): anyone on the
// network can make them, so they must neither fill the disk nor copy a packet
// into the log. limitedHandler lets each message through at most burst times
// and then once per every; the next line let through tells how many were
// suppressed. Long string values are cut to maxLogValue bytes.

const (
	logBurst    = 5
	logEvery    = 10 * time.Second
	maxLogValue = 120
	maxLogKeys  = 256
)

type limitedHandler struct {
	next slog.Handler
	lim  *logLimiter
	// demote makes errors warnings: sipgo logs a packet it cannot parse as
	// an error, which is an error of the sender's.
	demote bool
}

type logLimiter struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*logBucket
}

type logBucket struct {
	tokens     float64
	last       time.Time
	suppressed int
}

func newLimitedHandler(next slog.Handler, now func() time.Time) *limitedHandler {
	return &limitedHandler{next: next, lim: &logLimiter{now: now, keys: make(map[string]*logBucket)}}
}

// demoted is h with errors logged as warnings.
func (h *limitedHandler) demoted() *limitedHandler {
	return &limitedHandler{next: h.next, lim: h.lim, demote: true}
}

// allow takes a token for key; suppressed is how many lines were dropped
// since the last one let through.
func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= maxLogKeys {
			clear(l.keys)
		}
		b = &logBucket{tokens: logBurst, last: now}
		l.keys[key] = b
	}
	b.tokens = min(logBurst, b.tokens+now.Sub(b.last).Seconds()/logEvery.Seconds())
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}

func (h *limitedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	// Debug lines are off but for a developer looking at one problem.
	ok, suppressed := true, 0
	if r.Level >= slog.LevelInfo {
		ok, suppressed = h.lim.allow(r.Message)
	}
	if !ok {
		return nil
	}
	level := r.Level
	if h.demote && level > slog.LevelWarn {
		level = slog.LevelWarn
	}
	short := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == packetKey && r.Level >= slog.LevelInfo {
			a = slog.String(a.Key, packetSummary(a.Value.Resolve().String()))
		}
		short.AddAttrs(shortAttr(a))
		return true
	})
	if suppressed > 0 {
		short.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, short)
}

func (h *limitedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for i, a := range attrs {
		attrs[i] = shortAttr(a)
	}
	return &limitedHandler{next: h.next.WithAttrs(attrs), lim: h.lim, demote: h.demote}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{next: h.next.WithGroup(name), lim: h.lim, demote: h.demote}
}

// packetKey is the attribute under which sipgo logs a packet it could not
// parse, whole. Above debug level only its first line and size are kept: a
// packet may carry credentials, and anyone can send one.
const packetKey = "data"

// packetSummary is the first line of a packet and its size.
func packetSummary(packet string) string {
	first, _, _ := strings.Cut(packet, "\n")
	first = strings.TrimRight(first, "\r")
	if len(first) > maxLogValue {
		first = first[:maxLogValue]
	}
	return strings.ToValidUTF8(first, "\uFFFD") + " …(" + strconv.Itoa(len(packet)) + " bytes)"
}

func shortAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, trimForLog(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, trimForLog(err.Error()))
		}
	}
	return a
}

// trimForLog cuts s to maxLogValue bytes; the log handler quotes it.
func trimForLog(s string) string {
	if len(s) <= maxLogValue {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:maxLogValue], "\uFFFD") + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
