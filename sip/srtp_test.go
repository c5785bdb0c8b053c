package sip

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// srtpOffer is a phone's RTP/SAVP offer with the given a=crypto lines.
func srtpOffer(crypto ...string) string {
	s := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 9 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	for _, c := range crypto {
		s += "a=crypto:" + c + "\r\n"
	}
	return s + "a=sendrecv\r\n"
}

const phoneKey = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"

// A phone that offers SRTP keyed in SDP (SDES) is answered RTP/SAVP with a
// key of Vox's own under the tag of the line Vox took (the media itself is
// tested in media/rtp and, with baresip, in cmd/vox).
func TestSRTPOfferAnswered(t *testing.T) {
	p := phoneFor(t, hangupLauncher{})
	p.offer = srtpOffer("1 F8_128_HMAC_SHA1_80 inline:"+phoneKey, "2 AES_CM_128_HMAC_SHA1_80 inline:"+phoneKey)
	d := p.mustDial(t)
	if !strings.Contains(d.ok, " RTP/SAVP 0 101\r\n") {
		t.Fatalf("the answer to an SRTP offer is not RTP/SAVP:\n%s", d.ok)
	}
	_, line, ok := strings.Cut(d.ok, "\r\na=crypto:")
	line, _, _ = strings.Cut(line, "\r\n")
	f := strings.Fields(line)
	if !ok || len(f) != 3 || f[0] != "2" || f[1] != "AES_CM_128_HMAC_SHA1_80" || !strings.HasPrefix(f[2], "inline:") {
		t.Fatalf("answer's crypto line %q", line)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f[2], "inline:"))
	if err != nil || len(key) != 30 || f[2] == "inline:"+phoneKey {
		t.Fatalf("answer's key %q (%v): want 30 bytes of its own", f[2], err)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	if err := p.takeBye(); err != nil {
		t.Fatal(err)
	}
}

// An SRTP offer Vox cannot take gets 488 saying why, rather than plain RTP
// the phone would refuse or, worse, send in the clear.
func TestSRTPOfferRefused(t *testing.T) {
	for name, lines := range map[string][]string{
		"no crypto line":    nil,
		"unsupported suite": {"1 F8_128_HMAC_SHA1_80 inline:" + phoneKey},
		"an MKI":            {"1 AES_CM_128_HMAC_SHA1_80 inline:" + phoneKey + "|2^20|1:4"},
	} {
		t.Run(name, func(t *testing.T) {
			p := phoneFor(t, hangupLauncher{})
			p.offer = srtpOffer(lines...)
			_, err := p.dial()
			var res errUnexpected
			if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 488 ") || !strings.Contains(headerOf(string(res), "Warning"), "SRTP") {
				t.Fatalf("dial: %v; want 488 with a Warning about SRTP:\n%s", err, res)
			}
		})
	}
}

// A phone set to codecs Vox does not carry (Opus, G.729) gets 488 with the
// Warning code of RFC 3261 for it, 305, naming both sides' formats.
func TestOfferWithoutG711Refused(t *testing.T) {
	p := phoneFor(t, hangupLauncher{})
	p.offer = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 9 RTP/AVP 96 18 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"
	_, err := p.dial()
	var res errUnexpected
	want := `305 vox "sdp: no codec in common: they have opus/48000/2, G729/8000; vox has PCMU/8000, PCMA/8000"`
	if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 488 ") || headerOf(string(res), "Warning") != want {
		t.Fatalf("dial: %v; want 488 with the Warning %s:\n%s", err, want, res)
	}
}

// A phone set to "SRTP optional" offers its keys on RTP/AVP: Vox answers
// there with a key of its own, so the call is SRTP; an offer whose keys Vox
// cannot use is answered plain, as it would be by a peer without SRTP,
// rather than refused.
func TestBestEffortSRTPOffer(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		srtp       bool
	}{
		{name: "usable key", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + phoneKey, srtp: true},
		{name: "unusable key", line: "1 F8_128_HMAC_SHA1_80 inline:" + phoneKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := phoneFor(t, hangupLauncher{})
			p.offer = strings.Replace(srtpOffer(tc.line), "RTP/SAVP", "RTP/AVP", 1)
			d := p.mustDial(t)
			if !strings.Contains(d.ok, " RTP/AVP 0 101\r\n") {
				t.Fatalf("the answer is not on RTP/AVP:\n%s", d.ok)
			}
			if got := strings.Contains(d.ok, "\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"); got != tc.srtp {
				t.Fatalf("the answer has our key: %v, want %v:\n%s", got, tc.srtp, d.ok)
			}
			if err := p.ackAnswer(d); err != nil {
				t.Fatal(err)
			}
			if err := p.takeBye(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
