package sip

import (
	"errors"
	"fmt"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Redirects (3xx, S24). A scenario redirects a caller with
// call.reject(302, {Contact: "sip:bob@example.org"}): the Contact header of
// the response says where to call instead, and a redirect without one
// tells the caller nothing. A 3xx to a call Vox places carries its Contact
// in Call.Failed's headers, for the scenario to follow or pass on; Vox does
// not follow it itself, since where a call may go (and what it costs) is the
// scenario's to decide.

// maxRedirectContacts bounds the targets of one redirect.
const maxRedirectContacts = 8

var errNoRedirectContact = errors.New(`a redirect needs where to: headers.Contact = "sip:user@host"`)

// redirectContacts are the Contact headers of a 3xx from the value a
// scenario gave: one or more SIP, SIPS or tel URIs, bare or as
// name-addresses, comma-separated.
func redirectContacts(value string) ([]*sipmsg.ContactHeader, error) {
	var out []*sipmsg.ContactHeader
	for _, v := range splitContacts(value) {
		if v == "" {
			continue
		}
		if len(out) == maxRedirectContacts {
			return nil, fmt.Errorf("a redirect may name at most %d contacts", maxRedirectContacts)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("contact %q: line breaks are not allowed", trimForLog(v))
		}
		h := &sipmsg.ContactHeader{Params: sipmsg.NewParams()}
		name, err := sipmsg.ParseAddressValue(v, &h.Address, &h.Params)
		if err != nil || h.Address.Host == "" && h.Address.Scheme != "tel" {
			return nil, fmt.Errorf("contact %q is not a SIP URI", trimForLog(v))
		}
		h.DisplayName = name
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errNoRedirectContact
	}
	return out, nil
}

// splitContacts splits a Contact value at the commas between its entries,
// not those inside a quoted display name or an <addr-spec>.
func splitContacts(value string) []string {
	var parts []string
	quoted, angled, start := false, false, 0
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angled = true
		case c == '>' && !quoted:
			angled = false
		case c == ',' && !quoted && !angled:
			parts = append(parts, strings.TrimSpace(value[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(value[start:]))
}

// headerValue is headers' value for name, whatever its case.
func headerValue(headers map[string]string, name string) (string, bool) {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// failureHeaders are the headers of Call.Failed for res: its X- and VI-
// headers, and for a redirect where it points.
func failureHeaders(res *sipmsg.Response) map[string]string {
	headers := headersParam(res)
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		var contacts []string
		for _, h := range res.GetHeaders("Contact") {
			contacts = append(contacts, h.Value())
		}
		if len(contacts) > 0 {
			headers["Contact"] = trimForLog(strings.Join(contacts, ", "))
		}
	}
	return headers
}
