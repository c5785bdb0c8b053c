package sdp

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func sdpText(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

// A Linphone-style offer: opus and others first, PCMU and PCMA later,
// telephone-event at two rates.
var linphoneOffer = sdpText(
	"v=0",
	"o=alice 3012 1279 IN IP4 192.168.1.20",
	"s=Talk",
	"c=IN IP4 192.168.1.20",
	"t=0 0",
	"m=audio 7078 RTP/AVP 96 97 0 8 101 100",
	"a=rtpmap:96 opus/48000/2",
	"a=rtpmap:97 speex/16000",
	"a=rtpmap:101 telephone-event/48000",
	"a=rtpmap:100 telephone-event/8000",
	"a=fmtp:100 0-15",
	"a=rtcp:7079",
	"a=ptime:20",
)

func TestOfferRoundTrip(t *testing.T) {
	t.Parallel()
	addr := netip.MustParseAddrPort("127.0.0.1:20000")
	b, err := Session{Addr: addr}.Offer()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m=audio 20000 RTP/AVP 0 8 101", "c=IN IP4 127.0.0.1", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("offer lacks %q:\n%s", want, b)
		}
	}
	a, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr != addr || a.RTCP.Port() != 20001 || a.EventPT != 101 || a.Direction != SendRecv || a.Ptime != 20 ||
		len(a.Codecs) != 2 || a.Codecs[0] != PCMU || a.Codecs[1] != PCMA {
		t.Fatalf("parsed %+v", a)
	}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	local := netip.MustParseAddrPort("10.0.0.1:20002")
	offer, err := Parse(linphoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	if offer.RTCP != netip.MustParseAddrPort("192.168.1.20:7079") || offer.EventPT != 100 {
		t.Fatalf("offer parsed as %+v", offer)
	}
	for _, tc := range []struct {
		name    string
		ours    Session
		offered Direction
		codec   Codec
		ev      uint8
		dir     Direction
	}{
		{name: "plain", codec: PCMU, ev: 100, dir: SendRecv},
		{name: "we prefer PCMA but the offerer's order wins", ours: Session{Codecs: []Codec{PCMA, PCMU}}, codec: PCMU, ev: 100, dir: SendRecv},
		{name: "PCMA only", ours: Session{Codecs: []Codec{PCMA}}, codec: PCMA, ev: 100, dir: SendRecv},
		{name: "they hold us", offered: SendOnly, codec: PCMU, ev: 100, dir: RecvOnly},
		{name: "they hold, we held", offered: SendOnly, ours: Session{Direction: SendOnly}, codec: PCMU, ev: 100, dir: Inactive},
		{name: "inactive", offered: Inactive, codec: PCMU, ev: 100, dir: Inactive},
		{name: "they only listen", offered: RecvOnly, codec: PCMU, ev: 100, dir: SendOnly},
		{name: "no events", ours: Session{NoEvents: true}, codec: PCMU, dir: SendRecv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := offer
			if tc.offered != "" {
				o.Direction = tc.offered
			}
			tc.ours.Addr = local
			b, m, err := tc.ours.Answer(o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Codec != tc.codec || m.EventPT != tc.ev || m.Direction != tc.dir || m.Remote != offer.Addr || m.RemoteRTCP != offer.RTCP {
				t.Fatalf("media %+v", m)
			}
			// The answer says the same, and the offerer negotiates the
			// mirror image from it.
			a, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Codecs) != 1 || a.Codecs[0] != tc.codec || a.EventPT != tc.ev || a.Direction != tc.dir || a.Addr != local {
				t.Fatalf("answer parsed as %+v:\n%s", a, b)
			}
			back, err := Session{Addr: offer.Addr, Direction: o.Direction}.Negotiate(a)
			if err != nil {
				t.Fatal(err)
			}
			if back.Codec != tc.codec || back.Remote != local {
				t.Fatalf("offerer negotiated %+v", back)
			}
		})
	}
}

func TestHoldByOffer(t *testing.T) {
	t.Parallel()
	ours := Session{Addr: netip.MustParseAddrPort("127.0.0.1:20000"), Direction: SendOnly, Version: 2}
	b, err := ours.Offer()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "a=sendonly") || !strings.Contains(string(b), "o=vox ") {
		t.Fatalf("hold offer:\n%s", b)
	}
	phone := Session{Addr: netip.MustParseAddrPort("127.0.0.2:4000")}
	offer, _ := Parse(b)
	answer, m, err := phone.Answer(offer)
	if err != nil || m.Direction != RecvOnly {
		t.Fatalf("phone answers %v %+v", err, m)
	}
	a, _ := Parse(answer)
	got, err := ours.Negotiate(a)
	if err != nil || got.Direction != SendOnly {
		t.Fatalf("we negotiated %v %+v", err, got)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sdp  []byte
		err  error
		want func(Audio) bool
	}{
		{name: "RFC 2543 hold", sdp: sdpText("v=0", "o=- 1 2 IN IP4 0.0.0.0", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			want: func(a Audio) bool { return !a.Addr.IsValid() && a.Direction == SendOnly }},
		{name: "media-level address and rtcp", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0",
			"m=audio 4000 RTP/AVP 8", "c=IN IP4 5.6.7.8", "a=rtcp:5000 IN IP4 9.9.9.9", "a=recvonly"),
			want: func(a Audio) bool {
				return a.Addr == netip.MustParseAddrPort("5.6.7.8:4000") && a.RTCP == netip.MustParseAddrPort("9.9.9.9:5000") &&
					a.Direction == RecvOnly && len(a.Codecs) == 1 && a.Codecs[0] == PCMA && a.EventPT == 0
			}},
		{name: "IPv6, lower-case names, ptime 30", sdp: sdpText("v=0", "o=- 1 2 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0",
			"m=audio 4000 RTP/AVP 0 96", "a=rtpmap:0 pcmu/8000", "a=rtpmap:96 TELEPHONE-EVENT/8000", "a=ptime:30"),
			want: func(a Audio) bool {
				return a.Addr == netip.MustParseAddrPort("[::1]:4000") && a.EventPT == 96 && a.Ptime == 30 && len(a.Codecs) == 1
			}},
		{name: "video first", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0",
			"m=video 5000 RTP/AVP 96", "m=audio 4000 RTP/AVP 0"),
			want: func(a Audio) bool { return a.Addr.Port() == 4000 }},
		{name: "rejected", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0", "m=audio 0 RTP/AVP 0"), err: ErrRejected},
		{name: "no audio", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0", "m=video 5000 RTP/AVP 96"), err: ErrNoAudio},
		{name: "no address", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), err: ErrAddress},
		{name: "bad address", sdp: sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 example.com", "t=0 0", "m=audio 4000 RTP/AVP 0"), err: ErrAddress},
		{name: "not sdp", sdp: []byte("INVITE sip:bob@example.com SIP/2.0\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.sdp)
			switch {
			case tc.want == nil && tc.err == nil:
				if err == nil {
					t.Fatalf("parsed %+v", a)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case !tc.want(a):
				t.Fatalf("parsed %+v", a)
			}
		})
	}
}

// An offer without G.711 is refused naming what each side has, so that the
// user of a phone set to Opus or G.729 alone learns what to change: formats
// by their rtpmap, static ones without it by RFC 3551's name, others by
// number; telephone-event is no codec and is left out.
func TestNoCommonCodec(t *testing.T) {
	t.Parallel()
	offer, err := Parse(sdpText("v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0",
		"m=audio 4000 RTP/AVP 96 18 97 101", "a=rtpmap:96 opus/48000/2", "a=rtpmap:101 telephone-event/8000"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = (Session{Addr: netip.MustParseAddrPort("127.0.0.1:20000")}).Answer(offer)
	want := "sdp: no codec in common: they have opus/48000/2, G729/8000, payload type 97; vox has PCMU/8000, PCMA/8000"
	if !errors.Is(err, ErrNoCodec) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	answer := offer
	if _, err := (Session{Codecs: []Codec{PCMA}}).Negotiate(answer); !errors.Is(err, ErrNoCodec) || !strings.HasSuffix(err.Error(), "; vox has PCMA/8000") {
		t.Fatalf("negotiating an answer without G.711: %v", err)
	}
	if _, err := (Session{}).Offer(); !errors.Is(err, ErrAddress) {
		t.Fatalf("offer without an address: %v", err)
	}
}

// Every SDP of a session keeps its o= session id, offer or answer, whatever
// else changes (RFC 3264 section 8): a phone may take a new id for a new
// session. Two sessions do not share one.
func TestSessionIDKept(t *testing.T) {
	t.Parallel()
	addr := netip.MustParseAddrPort("127.0.0.1:20000")
	ses := NewSession(addr)
	offer, err := Parse(linphoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ses.Offer()
	if err != nil {
		t.Fatal(err)
	}
	ses.Version++
	ses.Direction = SendOnly
	again, err := ses.Offer()
	if err != nil {
		t.Fatal(err)
	}
	answer, _, err := ses.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	id := originID(t, first)
	if id == "0" {
		t.Fatalf("NewSession drew no session id:\n%s", first)
	}
	for _, b := range [][]byte{again, answer} {
		if got := originID(t, b); got != id {
			t.Fatalf("session id %s, then %s:\n%s", id, got, b)
		}
	}
	other, err := NewSession(addr).Offer()
	if err != nil {
		t.Fatal(err)
	}
	if originID(t, other) == id {
		t.Fatalf("two sessions share the id %s", id)
	}
}

// originID is the session id of an SDP's o= line.
func originID(t *testing.T, b []byte) string {
	t.Helper()
	for line := range strings.SplitSeq(string(b), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "o="); ok {
			if f := strings.Fields(rest); len(f) == 6 {
				return f[1]
			}
		}
	}
	t.Fatalf("no o= line:\n%s", b)
	return ""
}

// A Zoiper-style SRTP offer: two suites under tags 1 and 2, then lines Vox
// cannot use, which are left out.
var srtpOffer = sdpText(
	"v=0",
	"o=bob 1 1 IN IP4 192.168.1.30",
	"s=-",
	"c=IN IP4 192.168.1.30",
	"t=0 0",
	"m=audio 8000 RTP/SAVP 0 8 101",
	"a=rtpmap:101 telephone-event/8000",
	"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0|2^31",
	"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk",
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk|2^20|1:4",
	"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk UNENCRYPTED_SRTP",
	"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk;inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk",
)

func TestSRTPOffer(t *testing.T) {
	t.Parallel()
	offer, err := Parse(srtpOffer)
	if err != nil {
		t.Fatal(err)
	}
	if !offer.Secure || len(offer.Crypto) != 2 || offer.Crypto[0].Tag != 1 || offer.Crypto[1].Suite != "AES_CM_128_HMAC_SHA1_80" ||
		string(offer.Crypto[1].Key) != "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd" {
		t.Fatalf("parsed %+v", offer)
	}
	c, ok := offer.ChooseCrypto([]string{"AES_CM_128_HMAC_SHA1_80"})
	if !ok || c.Tag != 2 {
		t.Fatalf("chose %+v, %v; want tag 2", c, ok)
	}

	ours := &Crypto{Suite: "AES_CM_128_HMAC_SHA1_80", Key: []byte("0123456789abcdefghijklmnopqrst")}
	s := Session{Addr: netip.MustParseAddrPort("10.0.0.1:20004"), Crypto: ours}
	b, m, err := s.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m=audio 20004 RTP/SAVP 0 101", "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0\r\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("answer lacks %q:\n%s", want, b)
		}
	}
	if m.Crypto == nil || m.Crypto.Tag != 2 || string(m.Crypto.Key) != "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd" {
		t.Fatalf("media %+v", m)
	}
	answer, err := Parse(b)
	if err != nil || !answer.Secure || len(answer.Crypto) != 1 || string(answer.Crypto[0].Key) != string(ours.Key) {
		t.Fatalf("our answer parses as %+v, %v", answer, err)
	}

	// Vox does not switch a call between RTP and SRTP, nor take a suite it
	// did not choose.
	plain, err := Parse(linphoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		s     Session
		offer Audio
	}{
		"plain offer to an SRTP call":  {s, plain},
		"SRTP offer to a plain call":   {Session{Addr: s.Addr}, offer},
		"SRTP offer without our suite": {Session{Addr: s.Addr, Crypto: &Crypto{Suite: "AEAD_AES_256_GCM", Key: ours.Key}}, offer},
	} {
		if _, _, err := c.s.Answer(c.offer); !errors.Is(err, ErrNoCrypto) {
			t.Errorf("%s: err = %v, want ErrNoCrypto", name, err)
		}
	}
	// Our re-offer on the call, answered with a new key under our tag.
	s.Crypto = &Crypto{Tag: 2, Suite: ours.Suite, Key: ours.Key}
	reoffer, err := s.Offer()
	if err != nil || !strings.Contains(string(reoffer), "RTP/SAVP") || !strings.Contains(string(reoffer), "a=crypto:2 ") {
		t.Fatalf("re-offer %s, %v", reoffer, err)
	}
	fresh := []byte("ZYXWVUTSRQPONMLKJIHGFEDCBAzyxw")
	reanswer, err := Parse([]byte(strings.Replace(string(srtpOffer), "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk", base64.StdEncoding.EncodeToString(fresh), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Negotiate(reanswer); err != nil || m.Crypto == nil || string(m.Crypto.Key) != string(fresh) {
		t.Fatalf("negotiated %+v, %v; want the new key", m, err)
	}
	if _, err := s.Negotiate(plain); !errors.Is(err, ErrNoCrypto) {
		t.Errorf("a plain answer to an SRTP offer: err = %v, want ErrNoCrypto", err)
	}

	// Crypto lines on RTP/AVP are a best-effort offer ("SRTP optional"): a
	// plain session answers it plain, one with KeysOnAVP with its key on
	// RTP/AVP, and the call stays what it began as.
	avp, err := Parse([]byte(strings.Replace(string(srtpOffer), "RTP/SAVP", "RTP/AVP", 1)))
	if err != nil || avp.Secure || len(avp.Crypto) != 2 {
		t.Fatalf("RTP/AVP with a=crypto parsed as %+v, %v", avp, err)
	}
	if b, m, err := (Session{Addr: s.Addr}).Answer(avp); err != nil || m.Crypto != nil || strings.Contains(string(b), "a=crypto") {
		t.Fatalf("a plain session's answer to keys on RTP/AVP: %s, %+v, %v", b, m, err)
	}
	best := Session{Addr: s.Addr, Crypto: ours, KeysOnAVP: true}
	b, m, err = best.Answer(avp)
	if err != nil || m.Crypto == nil || m.Crypto.Tag != 2 || !strings.Contains(string(b), "m=audio 20004 RTP/AVP 0 101") ||
		!strings.Contains(string(b), "a=crypto:2 AES_CM_128_HMAC_SHA1_80 ") {
		t.Fatalf("the best-effort answer: %s, %+v, %v", b, m, err)
	}
	for name, offer := range map[string]Audio{"plain re-offer": plain, "RTP/SAVP re-offer": offer} {
		if _, _, err := best.Answer(offer); !errors.Is(err, ErrNoCrypto) {
			t.Errorf("%s to a best-effort SRTP call: err = %v, want ErrNoCrypto", name, err)
		}
	}
	best.Crypto = &Crypto{Tag: 2, Suite: ours.Suite, Key: ours.Key}
	if m, err := best.Negotiate(avp); err != nil || m.Crypto == nil || m.Crypto.Tag != 2 {
		t.Errorf("our best-effort re-offer answered with keys on RTP/AVP: %+v, %v", m, err)
	}
}

// An answer has as many m= lines as the offer, in its order (RFC 3264
// section 6): the audio where the offer had it, every other stream refused
// with port 0 and the offer's first format. A phone offering video (Linphone
// with a camera, a video desk phone) or a fax gateway's T.38 image stream
// would otherwise read our audio as the answer to its first line.
func TestAnswerKeepsTheOffersLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string // the offer's m= lines and their attributes
		want  []string // the answer's m= lines
	}{
		{"audio alone", []string{"m=audio 4000 RTP/AVP 0"}, []string{"m=audio 20000 RTP/AVP 0"}},
		{"audio, then video", []string{"m=audio 4000 RTP/AVP 0", "m=video 5000 RTP/AVP 96 97", "a=rtpmap:96 VP8/90000"},
			[]string{"m=audio 20000 RTP/AVP 0", "m=video 0 RTP/AVP 96"}},
		{"video, then audio", []string{"m=video 5000 RTP/AVP 96", "m=audio 4000 RTP/AVP 8"},
			[]string{"m=video 0 RTP/AVP 96", "m=audio 20000 RTP/AVP 8"}},
		{"two audio streams and an image", []string{"m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8", "m=image 6000 udptl t38"},
			[]string{"m=audio 20000 RTP/AVP 0", "m=audio 0 RTP/AVP 8", "m=image 0 udptl t38"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer, err := Parse(sdpText(append([]string{"v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0"}, tc.lines...)...))
			if err != nil {
				t.Fatal(err)
			}
			ses := NewSession(netip.MustParseAddrPort("10.0.0.1:20000"))
			ses.NoEvents = true
			answer, _, err := ses.Answer(offer)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(string(answer), "\r\n") {
				if strings.HasPrefix(line, "m=") {
					got = append(got, line)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("the answer's m= lines are %q, want %q:\n%s", got, tc.want, answer)
			}
		})
	}
}

// An offer with RTCP feedback (RTP/AVPF, RTP/SAVPF: Linphone set to AVPF)
// is answered in its profile, which the session keeps for its own later
// offers; SAVPF is SRTP. Answered RTP/AVP, Linphone aborts the call as
// incompatible.
func TestAnswerKeepsTheFeedbackProfile(t *testing.T) {
	key := []byte("0123456789abcdefghijklmnopqrst")
	for _, tc := range []struct {
		name, proto string
		crypto      bool
	}{
		{"AVPF", "RTP/AVPF", false},
		{"SAVPF", "RTP/SAVPF", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := []string{"v=0", "o=- 1 2 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "t=0 0", "m=audio 4000 " + tc.proto + " 0", "a=rtcp-fb:* nack"}
			if tc.crypto {
				lines = append(lines, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+base64.StdEncoding.EncodeToString(key))
			}
			offer, err := Parse(sdpText(lines...))
			if err != nil {
				t.Fatal(err)
			}
			if !offer.Feedback || offer.Secure != tc.crypto {
				t.Fatalf("parsed %+v", offer)
			}
			ses := NewSession(netip.MustParseAddrPort("10.0.0.1:20000"))
			if tc.crypto {
				ses.Crypto = &Crypto{Tag: 1, Suite: "AES_CM_128_HMAC_SHA1_80", Key: key}
			}
			answer, _, err := ses.Answer(offer)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(answer), "\r\nm=audio 20000 "+tc.proto+" ") {
				t.Fatalf("the answer is not %s:\n%s", tc.proto, answer)
			}
			ses.Feedback = offer.Feedback // as the leg keeps it
			again, err := ses.Offer()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(again), "\r\nm=audio 20000 "+tc.proto+" ") {
				t.Fatalf("our next offer is not %s:\n%s", tc.proto, again)
			}
		})
	}
}
