package sip

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// headersOf is every value of a header of msg, in order.
func headersOf(msg, name string) []string {
	var values []string
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if n, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			values = append(values, strings.TrimSpace(v))
		}
	}
	return values
}

// A call that came through proxies that record-route (a carrier's Kamailio,
// say) keeps them on its path: the 200 echoes the Record-Route, and Vox's
// BYE names them in Route headers in the same order, to the phone's Contact,
// sent where the call came from.
func TestRouteSetOfAnIncomingCall(t *testing.T) {
	p, log := scenarioPhone(t, `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
		e.call.addEventListener(CallEvents.Connected, () => e.call.hangup());
		e.call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
		e.call.answer();
	});`, CallOptions{})
	routes := []string{"<sip:edge.carrier.test;lr>", "<sip:core.carrier.test:5070;transport=udp;lr;ftag=x1>"}
	p.extra = "Record-Route: " + routes[0] + "\r\nRecord-Route: " + routes[1] + "\r\n"
	d := p.mustDial(t)
	if got := headersOf(d.ok, "Record-Route"); !slices.Equal(got, routes) {
		t.Errorf("the 200's Record-Route is %q, want %q", got, routes)
	}
	if err := p.ackAnswer(d); err != nil {
		t.Fatal(err)
	}
	bye := p.expect(t, log, "the scenario's hangup", "BYE sip:alice@"+p.local+" SIP/2.0")
	if got := headersOf(bye, "Route"); !slices.Equal(got, routes) {
		t.Errorf("the BYE's Route is %q, want %q:\n%s", got, routes, bye)
	}
	if err := p.answerBye(bye); err != nil {
		t.Fatal(err)
	}
}

// A call Vox places through record-routing proxies names them in the ACK
// and the BYE in the order they lead to the callee: the 2xx's Record-Route
// reversed.
func TestRouteSetOfAnOutgoingCall(t *testing.T) {
	u, leg, events := dialRawUAS(t)
	inv := readSIP(t, u.conn, "INVITE ")
	// As the callee's 200 lists them: the proxy next to the callee first.
	u.respond(t, inv, "200 OK", "Record-Route: <sip:near-callee.test;lr>\r\nRecord-Route: <sip:near-vox.test;lr>\r\n", answerSDP(9, "0", "0 PCMU/8000"))
	want := []string{"<sip:near-vox.test;lr>", "<sip:near-callee.test;lr>"}
	ack := readSIP(t, u.conn, "ACK ")
	if got := headersOf(ack, "Route"); !slices.Equal(got, want) {
		t.Errorf("the ACK's Route is %q, want %q:\n%s", got, want, ack)
	}
	waitConnected(t, events)
	if err := leg.Hangup(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	bye := readSIP(t, u.conn, "BYE sip:bob@"+u.conn.LocalAddr().String()+" ")
	if got := headersOf(bye, "Route"); !slices.Equal(got, want) {
		t.Errorf("the BYE's Route is %q, want %q:\n%s", got, want, bye)
	}
	u.respond(t, bye, "200 OK", "", "")
}
