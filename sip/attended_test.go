package sip

import (
	"strings"
	"testing"

	"vox/internal/porttest"
)

// joinScenario answers both of a phone's calls; X-Role tells them apart in
// the log. The first, once it is off hold, sends a message and then a digit
// every 200 ms; the second hangs up when it hears one.
const joinScenario = `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call, role = e.headers["X-Role"];
	call.handleTones(true);
	call.addEventListener(CallEvents.Connected, () => Logger.write(role + " connected"));
	call.addEventListener(CallEvents.OnHold, () => Logger.write(role + " on hold"));
	call.addEventListener(CallEvents.OffHold, () => {
		Logger.write(role + " off hold");
		call.sendMessage("hello from " + role);
		setInterval(() => call.sendDigits("5"), 200);
	});
	call.addEventListener(CallEvents.MessageReceived, (m) => Logger.write(role + " got " + m.text));
	call.addEventListener(CallEvents.ToneReceived, (t) => {
		Logger.write(role + " heard " + t.tone);
		call.hangup();
	});
	call.addEventListener(CallEvents.Disconnected, () => {
		Logger.write(role + " disconnected");
		VoxEngine.terminate();
	});
	call.answer();
});`

// dialAs places a call of p's with X-Role: role, and acknowledges its answer.
func dialAs(t *testing.T, p *rawPhone, role string) rawDialog {
	t.Helper()
	p.extra = "X-Role: " + role + "\r\n"
	d := p.mustDial(t)
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// tagOf is the tag of a From or To header.
func tagOf(h string) string {
	_, tag, _ := strings.Cut(h, ";tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}

// replacing is a Refer-To header naming d in a Replaces, as a phone's
// attended transfer does (RFC 3891, escaped in the URI).
func replacing(d rawDialog) string {
	replaces := d.callID + ";to-tag=" + tagOf(d.to) + ";from-tag=" + tagOf(d.from)
	return "Refer-To: <sip:bob@" + testRealm + "?Replaces=" + strings.NewReplacer(";", "%3B", "=", "%3D", "@", "%40").Replace(replaces) + ">\r\n"
}

// A phone with two calls through Vox, the first on hold, joins them with its
// transfer key: the REFER is accepted, the phone is told the transfer worked
// and both its calls get a BYE; the two sessions go on with their legs
// joined: the first is taken off hold, its message and digits reach the
// second, and the second hanging up disconnects the first. The REFER may
// come before the ACK of the call it names. Only the phone on both calls may
// join them, only calls Vox knows, and not an SRTP call with a plain one.
func TestAttendedTransferJoinsTheCalls(t *testing.T) {
	p, log := scenarioPhone(t, joinScenario, CallOptions{})
	first := dialAs(t, p, "first")
	waitLog(t, log, "first connected")
	cseq := 2
	hold := &silentCall{p: p, d: first, rtp: porttest.ListenUDP(t), cseq: cseq}
	hold.reinvite(t, "sendonly")
	cseq = hold.cseq
	waitLog(t, log, "first on hold")
	// The second call's ACK goes only after the REFER that names it: a
	// phone sends them back to back, and vox may take them in either order.
	p.extra = "X-Role: second\r\n"
	second := p.mustDial(t)

	expect := func(what, prefix string) string {
		t.Helper()
		return p.expect(t, log, what, prefix)
	}
	refer := func(headers string) {
		t.Helper()
		cseq++
		if err := p.inDialog(first, "REFER", cseq, headers, ""); err != nil {
			t.Fatal(err)
		}
	}
	unknown := second
	unknown.callID = "nobody"
	refer(replacing(unknown))
	expect("joining a call nobody knows", "SIP/2.0 481 ")
	refer(replacing(first))
	expect("joining a call with itself", "SIP/2.0 400 ")
	p.offer = srtpOffer("1 AES_CM_128_HMAC_SHA1_80 inline:" + phoneKey)
	secure := dialAs(t, p, "secure")
	p.offer = ""
	waitLog(t, log, "secure connected")
	refer(replacing(secure))
	if res := expect("joining a plain call with an SRTP one", "SIP/2.0 488 "); !strings.Contains(headerOf(res, "Warning"), "SRTP") {
		t.Errorf("the 488 does not say why:\n%s", res)
	}
	if err := p.inDialog(secure, "BYE", 3, "", ""); err != nil {
		t.Fatal(err)
	}
	expect("hanging up the SRTP call", "SIP/2.0 200 ")
	waitLog(t, log, "secure disconnected")

	other, err := newRawPhone(p.server, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.conn.Close() })
	theirs := dialAs(t, other, "other")
	waitLog(t, log, "other connected")
	if err := other.inDialog(theirs, "REFER", 3, replacing(second), ""); err != nil {
		t.Fatal(err)
	}
	if res, err := other.recv(); err != nil || !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Fatalf("another phone joining this phone's call: %v\n%s", err, res)
	}

	refer(replacing(second))
	if res := expect("the transfer", "SIP/2.0 202 "); headerOf(res, "Contact") == "" {
		t.Errorf("the 202 has no Contact:\n%s", res)
	}
	if err := p.ackAnswer(second); err != nil {
		t.Fatal(err)
	}
	// The NOTIFY on the first call, and a BYE on each, in any order.
	byes := map[string]bool{}
	notified := false
	for !notified || len(byes) < 2 {
		msg, err := p.recv()
		if err != nil {
			t.Fatalf("after the transfer (NOTIFY %v, BYEs %v): %v", notified, byes, err)
		}
		callID := headerOf(msg, "Call-ID")
		switch {
		case strings.HasPrefix(msg, "NOTIFY "):
			_, body, _ := strings.Cut(msg, "\r\n\r\n")
			if callID != first.callID || strings.TrimSpace(body) != "SIP/2.0 200 OK" || !strings.HasPrefix(headerOf(msg, "Subscription-State"), "terminated") {
				t.Fatalf("want a final NOTIFY of 200 on the first call:\n%s", msg)
			}
			if len(byes) > 0 && byes[first.callID] {
				t.Errorf("the BYE of the first call came before the NOTIFY of its transfer")
			}
			notified = true
		case strings.HasPrefix(msg, "BYE "):
			if callID != first.callID && callID != second.callID {
				t.Fatalf("a BYE for neither call:\n%s", msg)
			}
			byes[callID] = true
		default:
			t.Fatalf("after the transfer:\n%s", msg)
		}
		if err := p.answerBye(msg); err != nil {
			t.Fatal(err)
		}
	}
	waitLog(t, log, "first off hold")
	waitLog(t, log, "second got hello from first")
	waitLog(t, log, "second heard 5")
	waitLog(t, log, "first disconnected")
	if strings.Contains(log.String(), "first got") {
		t.Errorf("a message went the wrong way:\n%s", log)
	}
	if err := other.inDialog(theirs, "BYE", 4, "", ""); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "other disconnected")
	if n := strings.Count(log.String(), "Session terminated"); n != 4 {
		t.Errorf("%d sessions terminated, want 4:\n%s", n, log)
	}
}
