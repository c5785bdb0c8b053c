package sdp

import (
	"errors"
	"net/netip"
	"testing"
)

// Whatever SDP a far end sends, Parse neither panics nor reads something an
// Endpoint could not use: an RTP address with a port, G.711
// codecs only, a positive ptime, one of the four directions; and our answer
// to it reads back as the answer it is, with the offer's m= lines.
func FuzzParse(f *testing.F) {
	f.Add(linphoneOffer)
	f.Add(srtpOffer)
	f.Add(sdpText("v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=audio 65535 RTP/AVP 8 0", "a=rtcp:9 IN IP4 192.0.2.1", "a=sendonly"))
	f.Add(sdpText("v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=ptime:0"))
	f.Add(sdpText("v=0", "o=- 1 1 IN IP4 1.2.3.4", "s=-", "t=0 0", "m=video 4000 RTP/AVP 31", "m=audio 0 RTP/AVP 0"))
	f.Add(sdpText("v=0", "o=- 1 1 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0", "m=image 6000 udptl t38", "m=audio 4000 RTP/AVP 0", "m=video 4002 RTP/AVP 96"))
	local := netip.MustParseAddrPort("10.0.0.1:20000")
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err != nil {
			return
		}
		// RTCP may come out at port 0 (a=rtcp:0, or one above an RTP port
		// of 65535): Vox then sends RTCP nowhere, and the call goes on.
		if a.Addr.IsValid() && a.Addr.Port() == 0 {
			t.Fatalf("parsed %+v from\n%s", a, b)
		}
		for _, c := range a.Codecs {
			if c != (Codec{PT: c.PT, Name: PCMU.Name, Rate: 8000}) && c != (Codec{PT: c.PT, Name: PCMA.Name, Rate: 8000}) || c.PT > 127 {
				t.Fatalf("codec %+v from\n%s", c, b)
			}
		}
		switch a.Direction {
		case SendRecv, SendOnly, RecvOnly, Inactive:
		default:
			t.Fatalf("direction %q", a.Direction)
		}
		if a.Ptime <= 0 || a.EventPT > 127 {
			t.Fatalf("parsed %+v from\n%s", a, b)
		}

		s := Session{Addr: local}
		if a.Secure {
			c, ok := a.ChooseCrypto([]string{"AES_CM_128_HMAC_SHA1_80"})
			if !ok {
				if _, _, err := s.Answer(a); !errors.Is(err, ErrNoCrypto) {
					t.Fatalf("answer to an SRTP offer without a usable line: %v", err)
				}
				return
			}
			s.Crypto = &Crypto{Tag: c.Tag, Suite: c.Suite, Key: []byte("0123456789abcdefghijklmnopqrst")}
		}
		answer, m, err := s.Answer(a)
		if errors.Is(err, ErrNoCodec) && len(a.Codecs) == 0 {
			return
		}
		if err != nil {
			t.Fatalf("answer to %+v: %v", a, err)
		}
		back, err := Parse(answer)
		if err != nil || back.Addr != local || len(back.Codecs) != 1 || back.Codecs[0] != m.Codec || back.EventPT != m.EventPT ||
			back.Secure != a.Secure || a.Secure && (len(back.Crypto) != 1 || back.Crypto[0].Tag != m.Crypto.Tag) ||
			len(back.Streams) != len(a.Streams) || back.Index != a.Index {
			t.Fatalf("our answer %+v reads back as %+v, %v:\n%s", m, back, err, answer)
		}
	})
}
