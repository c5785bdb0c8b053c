package sip

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// transferScenario takes transfers once the caller's in-call message says
// so, and answers each by its target: "busy" fails, "slow" gets no answer,
// anything else succeeds.
const transferScenario = `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.addEventListener(CallEvents.MessageReceived, (m) => call.handleBlindTransfer(m.text === "transfers on"));
	call.addEventListener(CallEvents.BlindTransferRequested, (r) => {
		Logger.write("transfer to " + r.transferTo + " at " + r.headers["Refer-To"] + " for " + r.headers["X-Why"]);
		if (r.transferTo === "busy") r.call.notifyBlindTransferFailed(486, "Busy Here");
		else if (r.transferTo !== "slow") r.call.notifyBlindTransferSuccess();
		Logger.write("answered " + r.transferTo);
	});
	call.answer();
});`

// A phone's transfer key (REFER): refused while the scenario does not take
// transfers, and when malformed, attended, or crossing one under way;
// otherwise accepted, reported to the scenario, and followed by the NOTIFYs
// of RFC 3515 carrying first 100 Trying, then the scenario's answer.
func TestBlindTransferRequests(t *testing.T) {
	p, d, log := callScenario(t, transferScenario)
	cseq := 2
	send := func(method, headers, body string) {
		t.Helper()
		cseq++
		if err := p.inDialog(d, method, cseq, headers, body); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what, prefix string) string {
		t.Helper()
		return p.expect(t, log, what, prefix)
	}
	// notified answers the next NOTIFY, which must carry status and
	// subscription state.
	notified := func(what, event, status, state string) {
		t.Helper()
		msg := expect(what, "NOTIFY ")
		_, body, _ := strings.Cut(msg, "\r\n\r\n")
		if headerOf(msg, "Event") != event || !strings.HasPrefix(headerOf(msg, "Subscription-State"), state) ||
			headerOf(msg, "Content-Type") != "message/sipfrag;version=2.0" || strings.TrimSpace(body) != status || headerOf(msg, "Contact") == "" {
			t.Fatalf("%s: want a NOTIFY of %q, %s, %q:\n%s", what, status, event, state, msg)
		}
		if err := p.answerBye(msg); err != nil {
			t.Fatal(err)
		}
	}
	referTo := func(uri string) string { return "Refer-To: <" + uri + ">\r\nX-Why: test\r\n" }

	send("REFER", referTo("sip:phone69@"+testRealm), "")
	if res := expect("a transfer the scenario does not take", "SIP/2.0 603 "); !strings.Contains(headerOf(res, "Warning"), "transfers") {
		t.Errorf("the 603 does not say why:\n%s", res)
	}
	send("MESSAGE", "", "transfers on")
	expect("the message", "SIP/2.0 200 ")
	waitLog(t, log, "HandleBlindTransfer")

	send("REFER", "", "")
	expect("a REFER without Refer-To", "SIP/2.0 400 ")
	send("REFER", referTo("sip:phone69@"+testRealm+"?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2"), "")
	expect("an attended transfer of a call nobody knows", "SIP/2.0 481 ")
	send("REFER", referTo("http://example.com/"), "")
	expect("a transfer to an http: URI", "SIP/2.0 416 ")

	send("REFER", referTo("sip:phone69@"+testRealm), "")
	if res := expect("a transfer", "SIP/2.0 202 "); headerOf(res, "Contact") == "" {
		t.Errorf("the 202 has no Contact:\n%s", res)
	}
	notified("the first NOTIFY", "refer", "SIP/2.0 100 Trying", "active")
	notified("the final NOTIFY", "refer", "SIP/2.0 200 OK", "terminated")
	waitLog(t, log, "transfer to phone69 at sip:phone69@"+testRealm+" for test")

	send("REFER", referTo("tel:+74954451120;phone-context=vox"), "")
	expect("a transfer to a number", "SIP/2.0 202 ")
	id := "refer;id=" + strconv.Itoa(cseq)
	notified("the second transfer's first NOTIFY", id, "SIP/2.0 100 Trying", "active")
	notified("the second transfer's final NOTIFY", id, "SIP/2.0 200 OK", "terminated")
	waitLog(t, log, "transfer to +74954451120 at tel:+74954451120;phone-context=vox")

	send("REFER", referTo("sip:busy@"+testRealm), "")
	expect("a transfer to a busy target", "SIP/2.0 202 ")
	id = "refer;id=" + strconv.Itoa(cseq)
	notified("the busy transfer's first NOTIFY", id, "SIP/2.0 100 Trying", "active")
	notified("the busy transfer's final NOTIFY", id, "SIP/2.0 486 Busy Here", "terminated")

	send("REFER", referTo("sip:slow@"+testRealm), "")
	expect("a transfer left unanswered", "SIP/2.0 202 ")
	notified("the slow transfer's first NOTIFY", "refer;id="+strconv.Itoa(cseq), "SIP/2.0 100 Trying", "active")
	waitLog(t, log, "answered slow")
	send("REFER", referTo("sip:phone69@"+testRealm), "")
	expect("a transfer crossing one under way", "SIP/2.0 491 ")
	send("BYE", "", "")
	expect("hanging up with a transfer unanswered", "SIP/2.0 200 ")
	// The BYE is answered before the call ends; a shutdown in between
	// would hang the call up itself.
	waitLog(t, log, "Session terminated")
}

// A REFER with Refer-Sub: false (RFC 4488) gets no NOTIFY.
func TestBlindTransferWithoutSubscription(t *testing.T) {
	p, d, log := callScenario(t, transferScenario)
	if err := p.inDialog(d, "MESSAGE", 3, "", "transfers on"); err != nil {
		t.Fatal(err)
	}
	if res, err := p.recv(); err != nil || !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Fatalf("the message: %v\n%s", err, res)
	}
	waitLog(t, log, "HandleBlindTransfer")
	if err := p.inDialog(d, "REFER", 4, "Refer-To: <sip:phone69@"+testRealm+">\r\nRefer-Sub: false\r\nSupported: norefersub\r\n", ""); err != nil {
		t.Fatal(err)
	}
	res, err := p.recv()
	if err != nil || !strings.HasPrefix(res, "SIP/2.0 202 ") || headerOf(res, "Refer-Sub") != "false" {
		t.Fatalf("the REFER: %v\n%s", err, res)
	}
	// The scenario has answered it; what comes next is the BYE's answer,
	// not a NOTIFY.
	waitLog(t, log, "answered phone69")
	if err := p.inDialog(d, "BYE", 5, "", ""); err != nil {
		t.Fatal(err)
	}
	if res, err := p.recv(); err != nil || !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.HasSuffix(headerOf(res, "CSeq"), "BYE") {
		t.Fatalf("after a REFER without a subscription: %v\n%s", err, res)
	}
	waitLog(t, log, "Session terminated")
}

// A transfer the scenario leaves unanswered past the subscription is
// reported to the phone as failed (408, terminated;reason=timeout), so that
// the phone goes on with the call; the scenario's late answer is not sent.
func TestBlindTransferExpires(t *testing.T) {
	const scenario = `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
	call.addEventListener(CallEvents.BlindTransferRequested, (r) => {
		setTimeout(() => r.call.notifyBlindTransferSuccess(), 1500);
	});
	call.handleBlindTransfer(true);
	call.answer();
});`
	p, d, log := callScenarioWith(t, scenario, CallOptions{TransferSubscription: 300 * time.Millisecond})
	if err := p.inDialog(d, "REFER", 3, "Refer-To: <sip:phone69@"+testRealm+">\r\n", ""); err != nil {
		t.Fatal(err)
	}
	states := []string{"active;expires=1", "terminated;reason=timeout"}
	frags := []string{"SIP/2.0 100 Trying", "SIP/2.0 408 Request Timeout"}
	var notified int
	for notified < len(states) {
		msg, err := p.recv()
		if err != nil {
			t.Fatalf("waiting for NOTIFY %d: %v; session log:\n%s", notified+1, err, log)
		}
		if strings.HasPrefix(msg, "SIP/2.0 202 ") {
			continue
		}
		_, body, _ := strings.Cut(msg, "\r\n\r\n")
		if !strings.HasPrefix(msg, "NOTIFY ") || headerOf(msg, "Subscription-State") != states[notified] || strings.TrimSpace(body) != frags[notified] {
			t.Fatalf("want a NOTIFY of %q, %q:\n%s", frags[notified], states[notified], msg)
		}
		if err := p.answerBye(msg); err != nil {
			t.Fatal(err)
		}
		notified++
	}
	// The scenario's log says why its late answer went nowhere.
	waitLog(t, log, "no transfer awaits an answer")
	// The late answer sent nothing: what comes next is the BYE's answer.
	if err := p.inDialog(d, "BYE", 4, "", ""); err != nil {
		t.Fatal(err)
	}
	if res, err := p.recv(); err != nil || !strings.HasPrefix(res, "SIP/2.0 200 ") || !strings.HasSuffix(headerOf(res, "CSeq"), "BYE") {
		t.Fatalf("after the expired transfer: %v\n%s", err, res)
	}
	waitLog(t, log, "Session terminated")
}

// expect reads the phone's next message, which must start with prefix; what
// says what it answers, and the session log shows when it does not.
func (p *rawPhone) expect(t *testing.T, log *syncBuffer, what, prefix string) string {
	t.Helper()
	msg, err := p.recv()
	if err != nil || !strings.HasPrefix(msg, prefix) {
		t.Fatalf("%s: %v\n%s\nwant %q; session log:\n%s", what, err, msg, prefix, log)
	}
	return msg
}
