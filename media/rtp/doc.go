// Package rtp owns the RTP plane of a call leg: UDP port pairs from a pool, the
// Endpoint that sends and receives G.711 audio and RFC 4733 event packets with
// RFC 3550 statistics and RTCP reports, and the relay that bridges two
// endpoints (SendMediaTo, SendMediaBetween).
//
// An endpoint can also run over a Transport instead of a port pair: a browser
// leg's SRTP session (package webrtc) carries the same packets, encrypted, so
// everything above the endpoint works the same on both kinds of leg and a
// bridge between them relays without transcoding.
//
// # One outbound stream per endpoint
//
// Whatever an endpoint sends (a playback, audio relayed from another endpoint,
// event packets written by media/dtmf) leaves as one RTP stream: one SSRC,
// sequence numbers that never jump, timestamps that follow the wall clock
// across switches. Each writer has its own timeline; when the writer that owns
// the stream changes, the new timeline is rebased onto the stream (next
// sequence number, timestamp where the stream's clock is now) and the first
// packet carries the marker bit (RFC 3551 §4.1, a new talkspurt). One writer
// owns the stream at a time, by precedence: an open event Writer, then a
// playback, then a relay; packets from the others are dropped until the owner
// lets go, so hold music between two bridges, or a prompt over a bridge,
// switch cleanly.
//
// # Pacing
//
// A playback has no goroutine or ticker of its own: a few pacers per clock,
// one per CPU, send the next frame of every playing stream every 20 ms, and
// an endpoint's RTCP reports come from a timer. At a thousand calls that
// saves the scheduler most of its wake-ups; what runs per endpoint is the
// receiving of RTP and RTCP, one goroutine for both on Linux, where sending
// does not wake Go's network poller either (see socket_linux.go).
//
// # Symmetric RTP and its security rule
//
// Phones behind NAT send from an address other than the one in their SDP, and
// can only be reached there. An endpoint therefore latches onto the source of
// the packets it receives, under one rule: it never sends to an address taken
// from a packet unless that address is the latch, and it latches only when
//
//   - a source has sent two consecutive valid RTP packets (version 2, a
//     negotiated payload type, the same SSRC, consecutive sequence numbers) —
//     the MIN_SEQUENTIAL probation of RFC 3550 A.1; and
//   - either nothing is latched yet, or the packets come from the address the
//     SDP gave, or they continue the latched stream: the same SSRC, and
//     sequence numbers just after the highest one received. An off-path
//     attacker cannot guess those, so it cannot steal the stream, while a
//     phone whose NAT mapping changed mid-call is followed.
//
// Until the first latch, packets go to the SDP address. Packets from any other
// source are dropped and counted as rejected. A new remote address from SDP
// (SetRemote, a re-INVITE) starts the learning over.
package rtp
