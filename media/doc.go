// Package media owns tone scripts (S23) and the
// per-leg Channel that ties an RTP endpoint to what the runtime asks of a call's
// media (play, stop, handle and send digits, record, send media to another leg).
// Its subpackages hold the parts: pcm frames, rtp endpoints and the bridge, sdp,
// the player, dtmf and the recorder.
package media
