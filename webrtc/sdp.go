package webrtc

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"vox/media/rtp"
	"vox/media/sdp"
)

// Errors of a session description.
var (
	ErrNotWebRTC = errors.New("webrtc: not a DTLS-SRTP session description")
	ErrNoAudio   = errors.New("webrtc: no audio stream")
	ErrNoCodec   = errors.New("webrtc: no G.711 codec (PCMU or PCMA) offered")
)

const eventName = "telephone-event"

// IsWebRTC tells whether a session description is a browser's: an audio
// stream over DTLS-SRTP (UDP/TLS/RTP/SAVPF, or the older RTP/SAVPF) with a
// certificate fingerprint. A SIP phone's RTP/AVP is not.
func IsWebRTC(b []byte) bool {
	var d psdp.SessionDescription
	if d.Unmarshal(b) != nil {
		return false
	}
	m := firstAudio(&d)
	if m == nil || !secureProfile(m.MediaName.Protos) {
		return false
	}
	if _, ok := m.Attribute("fingerprint"); ok {
		return true
	}
	_, ok := d.Attribute("fingerprint")
	return ok
}

func secureProfile(protos []string) bool {
	p := strings.Join(protos, "/")
	return p == "UDP/TLS/RTP/SAVPF" || p == "RTP/SAVPF"
}

func firstAudio(d *psdp.SessionDescription) *psdp.MediaDescription {
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 { // port 0: rejected
			return m
		}
	}
	return nil
}

// remoteAudio is what the far end's description says of its audio stream.
type remoteAudio struct {
	codec   rtp.Codec     // the first G.711 codec in its preference order
	eventPT uint8         // telephone-event/8000; 0 when it has none
	dir     sdp.Direction // from its point of view
}

// parseRemote checks that b is a browser's description with an audio stream
// we can take, before pion sees it, so that bad input gets a precise error.
func parseRemote(b []byte) (remoteAudio, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return remoteAudio{}, fmt.Errorf("%w: empty", ErrNotWebRTC)
	}
	var d psdp.SessionDescription
	if err := d.Unmarshal(b); err != nil {
		return remoteAudio{}, fmt.Errorf("%w: %w", ErrNotWebRTC, err)
	}
	m := firstAudio(&d)
	if m == nil {
		return remoteAudio{}, ErrNoAudio
	}
	if !IsWebRTC(b) {
		return remoteAudio{}, ErrNotWebRTC
	}
	ra := remoteAudio{dir: sdp.SendRecv}
	// RFC 3264 §5.1: the session's direction unless the stream has its own.
	for _, a := range append(d.Attributes, m.Attributes...) {
		if isDirection(a.Key) {
			ra.dir = sdp.Direction(a.Key)
		}
	}
	names := map[string]string{} // payload type -> encoding name/rate
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, name, ok := strings.Cut(a.Value, " ")
		if ok {
			// The channel count is optional and 1 for G.711.
			names[pt] = strings.TrimSuffix(strings.ToLower(name), "/1")
		}
	}
	found := false
	for _, f := range m.MediaName.Formats {
		name, ok := names[f]
		if !ok { // a static payload type without rtpmap (RFC 3551)
			switch f {
			case "0":
				name = "pcmu/8000"
			case "8":
				name = "pcma/8000"
			}
		}
		switch {
		case !found && name == "pcmu/8000" && f == "0":
			ra.codec, found = rtp.PCMU, true
		case !found && name == "pcma/8000" && f == "8":
			ra.codec, found = rtp.PCMA, true
		case strings.HasPrefix(name, eventName+"/8000") && ra.eventPT == 0:
			if pt, err := strconv.ParseUint(f, 10, 7); err == nil && pt > 0 {
				ra.eventPT = uint8(pt)
			}
		}
	}
	if !found {
		return remoteAudio{}, ErrNoCodec
	}
	return ra, nil
}

func isDirection(key string) bool {
	switch sdp.Direction(key) {
	case sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.Inactive:
		return true
	}
	return false
}
