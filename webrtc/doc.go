// Package webrtc is the media of a browser's call leg: ICE, DTLS-SRTP and
// G.711 audio on pion, ending in an rtp.Endpoint like a SIP leg's, so that
// media.Channel (player, recorder, DTMF, bridge) works on it unchanged.
//
// Signalling uses it so (IsWebRTC tells a browser's SDP from a phone's):
//
//	m, answer, err := engine.Answer(ctx, invite.Body) // or engine.Offer, then m.SetAnswer
//	ch, err := media.NewChannel(m.Endpoint(), opts, events)
//	ch.SetTelephoneEvent(m.TelephoneEventPT())
//	answer, err = m.Renegotiate(ctx, reinvite.Body)   // hold, unhold
//	<-m.Failed()                                       // gone without a BYE: hang up
//	ch.Close(); m.Close()                              // BYE
//
// # One engine per server, one UDP port for every call
//
// An Engine is an ICE-lite agent (RFC 8445 §2.5): a server with a public
// address needs no candidate gathering or connectivity checks of its own; the
// browser, a full agent, checks and nominates. All calls share one UDP socket,
// demultiplexed by ICE username and then by the browser's address (pion's UDP
// mux). That scales to hundreds of calls better than a port per call: one
// socket and one read goroutine instead of hundreds, no port range to keep
// free of the RTP pool's ports or to open in a firewall, no per-call bind;
// the kernel's and the mux's work per packet is a map look-up. A port per
// call (pion's ephemeral range) cost the same CPU per call in the benchmark
// (runtimebench -only webrtc, 200 calls), so sharing costs nothing at run
// time. The host candidate is the configured address (127.0.0.1 in tests).
//
// The engine makes one DTLS certificate and uses it for every call (a key
// pair per call would cost a key generation each), making a new one before
// it expires.
//
// # Codecs and RTCP
//
// Only PCMU and PCMA are negotiated, plus telephone-event for RFC 4733
// digits, so a browser leg relays to a SIP leg without transcoding. Opus is
// not offered: the only Go Opus implementation that is kept up (pion/opus)
// decodes and does not encode, and the project does not bind libopus through
// cgo. RTCP is the endpoint's own (RFC 3550 sender and receiver reports with
// SDES and BYE, over SRTCP), the same that gives a SIP leg its quality
// figures; browsers ask for no other feedback on G.711 (no NACK or
// transport-cc), so no pion interceptor runs on the packet path.
//
// # Hold
//
// A browser holds the call by offering sendonly or inactive in a re-INVITE;
// Renegotiate answers it on the same session and stops the endpoint's
// sending until a later offer resumes it.
package webrtc
