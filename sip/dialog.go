package sip

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"iter"
	"mime"
	"mime/multipart"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// dialogKey finds a dialog: its Call-ID and both tags, ours first, so that a
// request from the peer (To tag ours, From tag theirs) finds it.
type dialogKey struct{ callID, local, remote string }

// dialog is one SIP dialog of a leg (RFC 3261 section 12): what our requests
// in it carry and where they go.
type dialog struct {
	callID string
	local  *sipmsg.FromHeader // us, with our tag, as our requests' From
	remote *sipmsg.ToHeader   // the peer, with its tag, as our requests' To
	target sipmsg.Uri         // the peer's Contact: our requests' Request-URI
	// transport and peer are where every request of the dialog goes: the
	// address the call came from or was sent to, never the host of a
	// Contact (see Binding).
	transport, peer string
	contact         *sipmsg.ContactHeader // ours
	// routes is the dialog's route set (RFC 3261 section 12.1): the
	// proxies that record-routed the call and see its every request, as
	// our requests' Route headers. They go to peer all the same: the first
	// of them is the proxy we exchange with, and an address taken from a
	// message is never where Vox sends.
	routes     []sipmsg.Uri
	cseq       atomic.Uint32
	remoteCSeq uint32 // guarded by the leg's mu
	// allowsUpdate: the peer's Allow lists UPDATE, so a session refresh
	// can go without SDP.
	allowsUpdate bool
}

func (d *dialog) key() dialogKey {
	local, _ := d.local.Params.Get("tag")
	remote, _ := d.remote.Params.Get("tag")
	return dialogKey{d.callID, local, remote}
}

// uasDialog is the dialog an INVITE we answer makes, with localTag ours.
func (c *calls) uasDialog(inv *sipmsg.Request, localTag string) *dialog {
	from, to := inv.From(), inv.To()
	local := to.AsFrom()
	local.Params = local.Params.Clone()
	local.Params.Add("tag", localTag)
	remote := from.AsTo()
	d := &dialog{
		callID: inv.CallID().Value(), local: &local, remote: &remote,
		target: inv.Contact().Address, transport: inv.Transport(), peer: inv.Source(),
		remoteCSeq: inv.CSeq().SeqNo, allowsUpdate: allows(inv, sipmsg.UPDATE),
		routes: recordRoute(inv),
	}
	d.contact = c.contactFor(inv.Recipient, d.transport, peerAddr(d.peer))
	d.cseq.Store(newCSeq())
	return d
}

// uacDialog is the dialog a 2xx to our INVITE makes.
func uacDialog(inv *sipmsg.Request, res *sipmsg.Response, transport, peer string, contact *sipmsg.ContactHeader) *dialog {
	local := sipmsg.HeaderClone(inv.From()).(*sipmsg.FromHeader)
	remote := sipmsg.HeaderClone(res.To()).(*sipmsg.ToHeader)
	target := inv.Recipient
	if ct := res.Contact(); ct != nil {
		target = ct.Address
	}
	d := &dialog{
		callID: inv.CallID().Value(), local: local, remote: remote, target: target,
		transport: transport, peer: peer, contact: contact, allowsUpdate: allows(res, sipmsg.UPDATE),
		routes: recordRoute(res),
	}
	// The response lists the proxies from the callee back to us: our
	// requests name them the other way.
	slices.Reverse(d.routes)
	d.cseq.Store(inv.CSeq().SeqNo)
	return d
}

// recordRoute is the Record-Route of m, in its order.
func recordRoute(m headered) []sipmsg.Uri {
	var routes []sipmsg.Uri
	for h := range headersNamed(m, "Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			routes = append(routes, *rr.Address.Clone())
		}
	}
	return routes
}

// request builds a request in the dialog with the next CSeq.
func (c *calls) request(d *dialog, method sipmsg.RequestMethod) *sipmsg.Request {
	return c.requestCSeq(d, method, d.cseq.Add(1))
}

func (c *calls) requestCSeq(d *dialog, method sipmsg.RequestMethod, seq uint32) *sipmsg.Request {
	req := sipmsg.NewRequest(method, d.target)
	req.AppendHeader(sipmsg.HeaderClone(d.local))
	req.AppendHeader(sipmsg.HeaderClone(d.remote))
	callID := sipmsg.CallIDHeader(d.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range d.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: *r.Clone()})
	}
	if method == sipmsg.INVITE || method == sipmsg.UPDATE || method == sipmsg.NOTIFY {
		req.AppendHeader(sipmsg.HeaderClone(d.contact))
	}
	c.route(req, d.transport, d.peer)
	return req
}

// send sends a request that is not an INVITE and returns its final
// response. Without options it gets a Via of its own.
func (c *calls) send(ctx context.Context, req *sipmsg.Request, opts ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	if req.Body() == nil {
		req.SetBody(nil) // Content-Length: 0
	}
	if len(opts) == 0 {
		opts = []sipgo.ClientRequestOption{sipgo.ClientRequestAddVia}
	}
	tx, err := c.client.TransactionRequest(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("transaction ended without a response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ack acknowledges a 2xx to an INVITE of the dialog with CSeq seq (RFC 3261
// section 13.2.2.4): a request of its own, sent again for each
// retransmission of the 2xx.
func (c *calls) ack(d *dialog, seq uint32, body []byte) error {
	ack := c.requestCSeq(d, sipmsg.ACK, seq)
	if body != nil {
		ack.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	ack.SetBody(body)
	return c.client.WriteRequest(ack, sipgo.ClientRequestAddVia)
}

// inDialog takes a request within a dialog (and a CANCEL that matched no
// INVITE): the leg whose dialog it names handles it; otherwise 481.
func (c *calls) inDialog(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	to, from, callID, cseq := req.To(), req.From(), req.CallID(), req.CSeq()
	if to == nil || from == nil || callID == nil || cseq == nil {
		if !req.IsAck() {
			c.srv.bad(req, tx, 400, "Bad Request", "no To, From, Call-ID or CSeq")
		}
		return
	}
	toTag, _ := to.Params.Get("tag")
	fromTag, _ := from.Params.Get("tag")
	l := c.dialog(dialogKey{callID.Value(), toTag, fromTag})
	if l == nil {
		if !req.IsAck() {
			c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
		return
	}
	l.inDialog(req, tx)
}

// allowed are the methods Vox takes in a dialog, for Allow.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, UPDATE, PRACK, REFER"

// allows says whether a message's Allow lists method.
func allows(m headered, method sipmsg.RequestMethod) bool {
	for h := range headersNamed(m, "Allow") {
		for v := range strings.SplitSeq(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(v), string(method)) {
				return true
			}
		}
	}
	return false
}

// supports says whether a message's Supported (or its compact form k)
// lists option.
func supports(m headered, option string) bool { return lists(m, option, "Supported", "k") }

// requires says whether a message's Require lists option.
func requires(m headered, option string) bool { return lists(m, option, "Require") }

// lists says whether an option-tag list header of m, under any of names,
// holds option.
func lists(m headered, option string, names ...string) bool {
	for _, name := range names {
		for h := range headersNamed(m, name) {
			for v := range strings.SplitSeq(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(v), option) {
					return true
				}
			}
		}
	}
	return false
}

// unsupported is the first option a request's Require lists that Vox does
// not support (RFC 3261 section 8.2.2.3), or "".
func unsupported(req *sipmsg.Request) string {
	for h := range headersNamed(req, "Require") {
		for v := range strings.SplitSeq(h.Value(), ",") {
			if v = strings.TrimSpace(v); v != "" && !strings.EqualFold(v, "timer") && !strings.EqualFold(v, "100rel") {
				return v
			}
		}
	}
	return ""
}

// contentType is a message's media type, lower case, without parameters.
func contentType(m headered) string {
	h := header(m, "Content-Type")
	if h == nil {
		return ""
	}
	t, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// sessionDescription is the SDP a message carries: its body when that is
// application/sdp, or the application/sdp part of a multipart body (a
// carrier's SIP-I INVITE carries its ISUP beside the SDP, RFC 3204); nil when
// it carries none, which an INVITE means as "offer in the 2xx, please" (RFC
// 3261 section 13.2.1).
func sessionDescription(m interface {
	headered
	Body() []byte
}) []byte {
	body := m.Body()
	if len(body) == 0 {
		return nil
	}
	switch ct := contentType(m); {
	case ct == "application/sdp":
		return body
	case strings.HasPrefix(ct, "multipart/"):
		_, params, _ := mime.ParseMediaType(header(m, "Content-Type").Value())
		return sdpPart(body, params["boundary"])
	}
	return nil
}

// sdpPart is the first application/sdp part of a multipart body.
func sdpPart(body []byte, boundary string) []byte {
	if boundary == "" {
		return nil
	}
	parts := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := parts.NextRawPart()
		if err != nil {
			return nil
		}
		if ct, _, _ := strings.Cut(part.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(ct), "application/sdp") {
			sdp, err := io.ReadAll(part)
			if err != nil || len(sdp) == 0 {
				return nil
			}
			return sdp
		}
	}
}

// copyHeaders adds the headers a scenario gave to a message: only X- and
// VI- headers, whose names are tokens and whose values are one line, so
// that a scenario cannot break the message or its dialog.
func copyHeaders(m sipmsg.Message, headers map[string]string) {
	for name, value := range headers {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-") && !strings.HasPrefix(lower, "vi-") {
			continue
		}
		if strings.ContainsAny(name, " \t\r\n:") || strings.ContainsAny(value, "\r\n") || len(name)+len(value) > 1024 {
			continue
		}
		m.AppendHeader(sipmsg.NewHeader(name, value))
	}
}

// customHeaders are the X- and VI- headers of a message, for the events
// that carry headers.
func customHeaders(m headered) map[string]string {
	var out map[string]string
	for _, h := range m.Headers() {
		if name := h.Name(); hasPrefixFold(name, "x-") || hasPrefixFold(name, "vi-") {
			if out == nil {
				out = map[string]string{}
			}
			if len(out) < 32 {
				out[h.Name()] = trimForLog(h.Value())
			}
		}
	}
	return out
}

// newCSeq is the first CSeq of our requests in a dialog: random, below 2^15
// (RFC 3261 section 8.1.1.5), so that a restart does not reuse numbers.
func newCSeq() uint32 {
	var b [2]byte
	rand.Read(b[:])
	return uint32(b[0]&0x7f)<<8 | uint32(b[1]) | 1
}

// headered is a request or a response: what the header lookups read.
type headered interface{ Headers() []sipmsg.Header }

// header is a message's first header called name, or nil.
func header(m headered, name string) sipmsg.Header {
	for h := range headersNamed(m, name) {
		return h
	}
	return nil
}

// headersNamed are a message's headers called name, in their order, in any
// case (header names are ASCII tokens). sipgo's GetHeaders
// lower-cases the name of every header of the message to compare, with an
// allocation for most of them, and an INVITE's headers are looked up a dozen
// times on its way.
func headersNamed(m headered, name string) iter.Seq[sipmsg.Header] {
	return func(yield func(sipmsg.Header) bool) {
		for _, h := range m.Headers() {
			if strings.EqualFold(h.Name(), name) && !yield(h) {
				return
			}
		}
	}
}

// hasPrefixFold says whether s begins with prefix in any case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
