// Package sim owns simulated calls for `vox sim`: legs that ring, answer, play and
// record on a virtual clock, a dialer that places them, and the timeline (DTMF,
// in-call messages, requests into the session, hang-ups) that drives a call. The
// session that runs the scenario is the real one from package runtime; only the far
// ends are simulated.
package sim
