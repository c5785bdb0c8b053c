//go:build race

package sip

// raceEnabled: the race detector is on, and allocation counts are its own.
const raceEnabled = true
