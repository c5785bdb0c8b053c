// Package sim owns simulated calls for `vox sim`: legs that ring, answer, play and
// record on a virtual clock, carrying real audio frames (media.go), a dialer that
// places them, and the timeline (DTMF, in-call messages, requests into the
// session, what a call says, hang-ups) that drives a call. The session that runs
// the scenario is the real one from package runtime, and the player, recorder and
// DTMF detector are the real ones from package media; only the far ends are
// simulated.
package sim
