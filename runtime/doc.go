// Package runtime owns call sessions: one goroutine and one fresh goja VM per call,
// the session's event queue, timers on a real or virtual clock, the CPU and memory
// watchdog that stops a runaway scenario, the compiled-program cache, and the
// session log in the seed's format (S13). Signalling and media reach a session only
// through the small interfaces declared here (Leg, Dialer, HTTPClient).
package runtime
