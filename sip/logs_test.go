package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A flood of bad packets makes a few short lines, then one per logEvery,
// which tells how many were left out.
func TestLimitedHandler(t *testing.T) {
	var buf bytes.Buffer
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	log := slog.New(newLimitedHandler(slog.NewTextHandler(&buf, nil), clock.Now))
	packet := strings.Repeat("INVITE sip:x SIP/2.0\r\n", 100)
	for range 100 {
		log.Warn("failed to parse", "data", packet, "err", errors.New(packet))
	}
	log.Warn("another message")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != logBurst+1 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		if len(l) > 500 {
			t.Fatalf("a line of %d bytes: %s", len(l), l)
		}
	}
	buf.Reset()
	clock.add(logEvery)
	log.Warn("failed to parse", "data", "x")
	if got := buf.String(); !strings.Contains(got, "suppressed=95") {
		t.Fatalf("after a while: %s", got)
	}
}

// A packet sipgo could not parse reaches the log as its first line and its
// size, never whole, above debug level.
func TestPacketNotLogged(t *testing.T) {
	var buf bytes.Buffer
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	log := slog.New(newLimitedHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), clock.Now))
	packet := "REGISTER sip:vox.test SIP/2.0\r\nAuthorization: Digest username=\"alice\"\r\n\r\n"
	log.Warn("failed to parse", "data", packet, "error", "boom")
	if got := buf.String(); strings.Contains(got, "Authorization") || !strings.Contains(got, "REGISTER sip:vox.test SIP/2.0 …(") {
		t.Fatalf("warn: %s", got)
	}
	buf.Reset()
	log.Debug("failed to parse", "data", packet)
	if got := buf.String(); !strings.Contains(got, "Authorization") {
		t.Fatalf("debug, for a developer looking at one problem: %s", got)
	}
}
