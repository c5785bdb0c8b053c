package sip

import (
	"context"
	"errors"
	"strings"
	"testing"

	"vox/runtime"
)

func TestRedirectContacts(t *testing.T) {
	cases := []struct {
		value string
		want  []string // the Contact headers' values
		err   string
	}{
		{value: "sip:bob@192.0.2.7", want: []string{"<sip:bob@192.0.2.7>"}},
		{value: `"Bob, at home" <sip:bob@192.0.2.7:5080;transport=tcp>;q=0.5, sips:bob@example.org`,
			want: []string{`"Bob, at home" <sip:bob@192.0.2.7:5080;transport=tcp>;q=0.5`, "<sips:bob@example.org>"}},
		{value: "tel:+74951234567", want: []string{"<tel:+74951234567>"}},
		{value: "", err: "a redirect needs where to"},
		{value: "http://example.org/", err: "is not a SIP URI"},
		{value: "bob", err: "is not a SIP URI"},
		{value: strings.Repeat("sip:a@b, ", 9), err: "at most 8"},
	}
	for _, c := range cases {
		hs, err := redirectContacts(c.value)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want one saying %q", c.value, err, c.err)
			}
			continue
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Value())
		}
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: %q, %v; want %q", c.value, got, err, c.want)
		}
	}
}

// rejectLauncher refuses every call with code and headers, and hands the
// test what Hangup returned.
type rejectLauncher struct {
	code    int
	headers map[string]string
	errs    chan error
}

func (r rejectLauncher) Launch(_ context.Context, cs runtime.CallStart) (*runtime.Session, error) {
	l := cs.Incoming.Leg
	l.Attach(chanSink(make(chan runtime.Event, 8)))
	go func() { r.errs <- l.Hangup(context.Background(), r.code, r.headers) }()
	return nil, nil
}

// A scenario's call.reject(302, {Contact}) redirects the caller: the
// response says where to, with the scenario's X- headers; a redirect
// without a usable Contact still goes, and the scenario is warned.
func TestRejectRedirects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		contact string
		warning string
	}{
		{name: "contact", headers: map[string]string{"contact": "<sip:bob@192.0.2.7:5080>", "X-Why": "moved"}, contact: "<sip:bob@192.0.2.7:5080>"},
		{name: "no contact", headers: map[string]string{"X-Why": "moved"}, warning: "302 sent without a Contact"},
		{name: "bad contact", headers: map[string]string{"Contact": "<sip:bob@192.0.2.7>\r\nEvil: 1"}, warning: "line breaks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			launcher := rejectLauncher{code: 302, headers: tc.headers, errs: make(chan error, 1)}
			p := phoneFor(t, launcher)
			_, err := p.dial()
			var res errUnexpected
			if !errors.As(err, &res) || !strings.HasPrefix(string(res), "SIP/2.0 302 ") {
				t.Fatalf("dial: %v, want a 302", err)
			}
			if got := headerOf(string(res), "Contact"); got != tc.contact {
				t.Errorf("Contact %q, want %q:\n%s", got, tc.contact, res)
			}
			if strings.Contains(string(res), "Evil") {
				t.Errorf("a header was smuggled into the response:\n%s", res)
			}
			if why := headerOf(string(res), "X-Why"); tc.headers["X-Why"] != why {
				t.Errorf("X-Why %q, want %q", why, tc.headers["X-Why"])
			}
			if err := <-launcher.errs; tc.warning == "" && err != nil || tc.warning != "" && (err == nil || !strings.Contains(err.Error(), tc.warning)) {
				t.Errorf("Hangup: %v, want a warning saying %q", err, tc.warning)
			}
		})
	}
}

// TestBestFailure: the answer a call that rang several phones (or trunks)
// reports when none answered.
func TestBestFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int
		want  int
	}{
		{"one", []int{480}, 480},
		{"decline ends the search", []int{302, 486, 603, 404}, 603},
		{"a redirect beats refusals", []int{486, 302, 503}, 302},
		{"busy beats other 4xx", []int{404, 486, 480}, 486},
		{"4xx beat 5xx", []int{503, 408}, 408},
		{"the first of a class", []int{404, 480}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outbound
			for _, code := range tc.codes {
				o.failures = append(o.failures, failure{code: code})
			}
			if got := o.best().code; got != tc.want {
				t.Errorf("best of %v is %d, want %d", tc.codes, got, tc.want)
			}
		})
	}
}
