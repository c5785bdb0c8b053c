package sip

import (
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// The header lookups find headers whatever the case of their names, as
// sipgo's GetHeaders does, and allocate nothing: they run a dozen times on
// every INVITE.
func TestHeaderLookups(t *testing.T) {
	raw := "INVITE sip:100@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@vox.test>;tag=1\r\nTo: <sip:100@vox.test>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@127.0.0.1:5070>\r\nUser-Agent: phone\r\nallow: INVITE, ACK, update\r\n" +
		"REQUIRE: timer, 100rel, precondition\r\nk: timer\r\nSESSION-expires: 1800;refresher=uac\r\n" +
		"x-Tenant: acme\r\nVI-Room: 7\r\nXylophone: no\r\n" +
		"content-TYPE: application/sdp\r\nContent-Length: 0\r\n\r\n"
	msg, err := sipmsg.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sipmsg.Request)
	if got := contentType(req); got != "application/sdp" {
		t.Errorf("contentType = %q", got)
	}
	if !allows(req, sipmsg.UPDATE) || allows(req, sipmsg.INFO) {
		t.Error("allows: UPDATE is listed, INFO is not")
	}
	if !supports(req, "timer") {
		t.Error("supports: timer is listed in k, Supported's compact form")
	}
	if got := unsupported(req); got != "precondition" {
		t.Errorf("unsupported = %q", got)
	}
	if !requires(req, "100rel") || requires(req, "replaces") {
		t.Error("requires: 100rel is listed, replaces is not")
	}
	if d, refresher, ok := sessionExpires(req); !ok || d.Seconds() != 1800 || refresher != "uac" {
		t.Errorf("sessionExpires = %v %q %v", d, refresher, ok)
	}
	if h := customHeaders(req); len(h) != 2 || h["x-Tenant"] != "acme" || h["VI-Room"] != "7" {
		t.Errorf("customHeaders = %v", h)
	}
	// Under the race detector, whose own allocations are counted, only the
	// lookups run; make test runs this test without it too.
	allocs := testing.AllocsPerRun(100, func() {
		contentType(req)
		allows(req, sipmsg.UPDATE)
		supports(req, "timer")
		unsupported(req)
		sessionExpires(req)
		header(req, "Via")
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("the lookups allocate %v times", allocs)
	}
}
