package webrtc

import (
	"errors"
	"strings"
	"testing"
)

// browserOffer is the shape of a browser's audio offer: Opus first, G.711,
// telephone-event, DTLS fingerprint, ICE credentials; edit replaces lines.
func browserOffer(edit ...string) []byte {
	lines := []string{
		"v=0",
		"o=- 1 2 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=group:BUNDLE 0",
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 8 0 126",
		"c=IN IP4 0.0.0.0",
		"a=setup:actpass",
		"a=mid:0",
		"a=ice-ufrag:abcd",
		"a=ice-pwd:abcdefghijklmnopqrstuvwx",
		"a=rtcp-mux",
		"a=rtpmap:111 opus/48000/2",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:126 telephone-event/8000",
		"a=sendrecv",
	}
	for _, e := range edit {
		old, repl, _ := strings.Cut(e, "=>")
		for i, l := range lines {
			if l == old {
				lines[i] = repl
			}
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(l + "\r\n")
		}
	}
	return []byte(b.String())
}

const sipOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"

func TestIsWebRTC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sdp  string
		want bool
	}{
		{"browser", string(browserOffer()), true},
		{"fingerprint on the stream", string(browserOffer("a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF=>",
			"a=setup:actpass=>a=fingerprint:sha-256 00:11")), true},
		{"older RTP/SAVPF", string(browserOffer("m=audio 9 UDP/TLS/RTP/SAVPF 111 8 0 126=>m=audio 9 RTP/SAVPF 111 8 0 126")), true},
		{"SIP phone", sipOffer, false},
		{"SDES-SRTP without fingerprint", string(browserOffer("a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF=>")), false},
		{"not SDP", "hello", false},
		{"empty", "", false},
	} {
		if got := IsWebRTC([]byte(tc.sdp)); got != tc.want {
			t.Errorf("%s: IsWebRTC = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAnswerPicksG711 answers a browser's offer without connecting: the
// answer is ICE-lite with our host candidate, and keeps the browser's
// preferred G.711 law and its telephone-event payload type.
func TestAnswerPicksG711(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	m, answer, err := e.Answer(testCtx(t), browserOffer())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := string(answer)
	for _, want := range []string{
		"a=ice-lite",
		"m=audio 9 UDP/TLS/RTP/SAVPF 8 0 126",
		"a=rtpmap:126 telephone-event/8000",
		"a=fingerprint:sha-256 ",
		"127.0.0.1 " + strings.TrimPrefix(e.LocalAddr().String(), "127.0.0.1:") + " typ host",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("answer lacks %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "opus") {
		t.Errorf("answer keeps Opus:\n%s", a)
	}
	if got := m.Endpoint().Codec(); got.String() != "PCMA" {
		t.Errorf("endpoint sends %s, want the browser's first choice PCMA", got)
	}
	if got := m.TelephoneEventPT(); got != 126 {
		t.Errorf("telephone-event payload type %d, want 126", got)
	}
}

// TestBadOffers: what is not a browser's audio offer gets a clear error and
// leaves nothing open.
func TestBadOffers(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, tc := range []struct {
		name  string
		offer []byte
		want  error
	}{
		{"garbage", []byte("this is not SDP"), ErrNotWebRTC},
		{"empty", nil, ErrNotWebRTC},
		{"SIP phone's RTP/AVP", []byte(sipOffer), ErrNotWebRTC},
		{"video only", browserOffer("m=audio 9 UDP/TLS/RTP/SAVPF 111 8 0 126=>m=video 9 UDP/TLS/RTP/SAVPF 96"), ErrNoAudio},
		{"Opus only", browserOffer("m=audio 9 UDP/TLS/RTP/SAVPF 111 8 0 126=>m=audio 9 UDP/TLS/RTP/SAVPF 111"), ErrNoCodec},
		{"no ICE credentials", browserOffer("a=ice-ufrag:abcd=>", "a=ice-pwd:abcdefghijklmnopqrstuvwx=>"), nil},
	} {
		m, answer, err := e.Answer(testCtx(t), tc.offer)
		if err == nil {
			m.Close()
			t.Errorf("%s: answered:\n%s", tc.name, answer)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if m != nil || answer != nil {
			t.Errorf("%s: an error with a media or an answer", tc.name)
		}
	}
}
