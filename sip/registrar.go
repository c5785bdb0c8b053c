package sip

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of a SIP user (RFC 3261 section 10). A
// user may have several (a desk phone and a softphone): a call to the user
// rings them all.
//
// NAT: a call to the binding is sent to Source over Transport, the address the
// REGISTER came from (RFC 3581 received/rport), with Contact as the
// Request-URI. It is never sent to the host in Contact: behind NAT that is a
// private address, and anyone could put a third party's address there and
// have Vox send it calls.
type Binding struct {
	Account   string
	User      string         // the SIP user's name
	Realm     string         // and its realm
	Contact   string         // the Contact URI, the Request-URI of calls to it
	Source    netip.AddrPort // where the REGISTER came from
	Transport string         // UDP or TCP
	Expires   time.Time
	UserAgent string
}

type userKey struct{ realm, name string }

// binding is a Binding with what RFC 3261 section 10.3 needs to order updates.
type binding struct {
	Binding
	uri     sipmsg.Uri // Contact, parsed
	key     string     // contactKey of Contact
	callID  string
	cseq    uint32
	updated time.Time
}

// Registrar keeps the bindings of the SIP users that registered with the
// Server. It is safe for concurrent use.
type Registrar struct {
	opts *Options
	auth *authenticator
	srv  *Server

	mu        sync.Mutex
	bindings  map[userKey][]*binding
	lastSweep time.Time
	// epoch changes with every Revoke, so that a REGISTER checked against
	// credentials revoked while it was in flight is checked again.
	epoch atomic.Uint64
}

func newRegistrar(s *Server) *Registrar {
	return &Registrar{opts: &s.opts, auth: s.auth, srv: s, bindings: make(map[userKey][]*binding)}
}

func keyOf(realm, name string) userKey { return userKey{strings.ToLower(realm), name} }

// Bindings returns the current bindings of the user called name in realm,
// the most recently registered first.
func (r *Registrar) Bindings(realm, name string) []Binding {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for _, b := range r.bindings[keyOf(realm, name)] {
		if b.Expires.After(now) {
			out = append(out, b.Binding)
		}
	}
	return out
}

// Revoke drops every binding of the user called name in realm. The owner of
// the Directory calls it when it changed the user's password or disabled it
// (S7); from then on the user's requests are checked against what the
// Directory holds now.
func (r *Registrar) Revoke(realm, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch.Add(1)
	delete(r.bindings, keyOf(realm, name))
}

// dropConnection forgets the bindings registered over a connection that
// closed (transport WS): calls to them could only go over that connection
// (RFC 7118 section 5.2; a browser's Contact host is a made-up .invalid name).
func (r *Registrar) dropConnection(transport string, source netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, list := range r.bindings {
		n := len(list)
		list = slices.DeleteFunc(slices.Clone(list), func(b *binding) bool {
			return b.Transport == transport && b.Source == source
		})
		switch {
		case len(list) == 0:
			delete(r.bindings, k)
		case len(list) < n:
			r.bindings[k] = list
		}
	}
}

// register handles a REGISTER (RFC 3261 section 10.3).
func (r *Registrar) register(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	to, from, callID, cseq := req.To(), req.From(), req.CallID(), req.CSeq()
	if to == nil || from == nil || callID == nil || cseq == nil {
		r.srv.bad(req, tx, 400, "Bad Request", "REGISTER without To, From, Call-ID or CSeq")
		return
	}
	if s := strings.ToLower(to.Address.Scheme); (s != "sip" && s != "sips") || to.Address.User == "" || to.Address.Host == "" {
		r.srv.bad(req, tx, 400, "Bad Request", "REGISTER To is not a SIP address of record")
		return
	}
	realm := r.opts.Realm
	if realm == "" {
		realm = strings.ToLower(to.Address.Host)
	}
	contacts, wildcard, err := r.contacts(req)
	if err != nil {
		r.srv.bad(req, tx, 400, "Bad Request", err.Error())
		return
	}
	src, _ := netip.ParseAddrPort(req.Source())

	for attempt := 0; ; attempt++ {
		epoch := r.epoch.Load()
		now := r.opts.Now()
		ch := r.auth.check(context.Background(), req, realm, now)
		switch ch.verdict {
		case malformed400:
			r.srv.bad(req, tx, 400, "Bad Request", ch.reason)
			return
		case unavailable500:
			r.srv.badLog.Error("sip: REGISTER refused", "err", ch.reason)
			r.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
			return
		case challenge401:
			if ch.failed {
				r.srv.authFailed(src.Addr(), now)
			}
			r.srv.respond(tx, r.auth.respondChallenge(req, realm, false, now))
			return
		case stale401:
			r.srv.respond(tx, r.auth.respondChallenge(req, realm, true, now))
			return
		}
		if ch.user.Disabled {
			r.Revoke(realm, ch.user.Name)
			r.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		// The credentials of one user may register only its own address of
		// record: a phone must not take another user's calls.
		if ch.creds.username != to.Address.User {
			r.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		r.mu.Lock()
		if r.epoch.Load() != epoch {
			// A Revoke came while this request was checked: check it again
			// against what the Directory holds now.
			r.mu.Unlock()
			if attempt == 3 {
				r.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				return
			}
			continue
		}
		if !r.auth.use(ch, now) {
			r.mu.Unlock()
			r.srv.respond(tx, r.auth.respondChallenge(req, realm, true, now))
			return
		}
		res := r.update(req, ch.user, realm, contacts, wildcard, src, callID.Value(), cseq.SeqNo, now)
		r.mu.Unlock()
		r.srv.respond(tx, res)
		return
	}
}

// contact is one Contact of a REGISTER with the expiry it asks for.
type contact struct {
	uri     sipmsg.Uri
	key     string
	expires time.Duration
}

// contacts reads the Contact headers of req (RFC 3261 section 10.3 steps
// 6-7): the URIs, with their expiry from the expires parameter, the Expires
// header or the default; wildcard is Contact: *, which un-registers all.
func (r *Registrar) contacts(req *sipmsg.Request) (out []contact, wildcard bool, err error) {
	def := r.opts.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		secs, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return nil, false, fmt.Errorf("Expires %q is not a number of seconds", h.Value())
		}
		def = time.Duration(secs) * time.Second
	}
	hs := req.GetHeaders("Contact")
	if len(hs) > r.opts.MaxBindings {
		return nil, false, fmt.Errorf("%d contacts, at most %d", len(hs), r.opts.MaxBindings)
	}
	for _, h := range hs {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok {
			return nil, false, fmt.Errorf("Contact %q", h.Value())
		}
		if c.Address.Wildcard {
			// RFC 3261 section 10.2.2: * only alone and with Expires: 0.
			if len(hs) != 1 || def != 0 || req.GetHeader("Expires") == nil {
				return nil, false, fmt.Errorf("Contact: * needs to be alone and have Expires: 0")
			}
			return nil, true, nil
		}
		if s := strings.ToLower(c.Address.Scheme); (s != "sip" && s != "sips") || c.Address.Host == "" {
			return nil, false, fmt.Errorf("Contact %q is not a SIP URI", c.Address.String())
		}
		// Calls to the binding use its URI as their Request-URI, where
		// headers are not allowed (RFC 3261 section 19.1.1): a phone must
		// not put a Route or anything else into the calls Vox sends it
		// (RFC 4475 section 3.1.2.13, regbadct).
		if len(c.Address.Headers) > 0 {
			return nil, false, fmt.Errorf("Contact %q has headers", c.Address.String())
		}
		exp := def
		if v, ok := param(c.Params, "expires"); ok {
			secs, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, false, fmt.Errorf("Contact expires=%q is not a number of seconds", v)
			}
			exp = time.Duration(secs) * time.Second
		}
		out = append(out, contact{uri: c.Address, key: contactKey(&c.Address), expires: exp})
	}
	return out, false, nil
}

// update applies the contacts of an authenticated REGISTER from user and
// returns the answer; r.mu is held.
func (r *Registrar) update(req *sipmsg.Request, user User, realm string, contacts []contact, wildcard bool, src netip.AddrPort, callID string, cseq uint32, now time.Time) *sipmsg.Response {
	r.sweep(now)
	key := keyOf(realm, user.Name)
	list := slices.DeleteFunc(slices.Clone(r.bindings[key]), func(b *binding) bool { return !b.Expires.After(now) })
	// A non-zero expiry shorter than the minimum refuses the whole request
	// (RFC 3261 section 10.3 step 7), before anything changes.
	for _, c := range contacts {
		if c.expires != 0 && c.expires < r.opts.MinExpires {
			res := sipmsg.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sipmsg.NewHeader("Min-Expires", strconv.Itoa(int(r.opts.MinExpires/time.Second))))
			return res
		}
	}
	if wildcard {
		for _, b := range list {
			// RFC 3261 section 10.3 step 6: a * older than a binding's own
			// last update from the same Call-ID is refused.
			if b.callID == callID && cseq <= b.cseq {
				return sipmsg.NewResponseFromRequest(req, 400, "Bad Request", nil)
			}
		}
		list = nil
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = trimForLog(h.Value())
	}
	for _, c := range contacts {
		i := slices.IndexFunc(list, func(b *binding) bool { return b.key == c.key })
		if i >= 0 && list[i].callID == callID && cseq <= list[i].cseq {
			// The same phone's older request, arriving late.
			return sipmsg.NewResponseFromRequest(req, 400, "Bad Request", nil)
		}
		if c.expires == 0 {
			if i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
			continue
		}
		b := &binding{
			Binding: Binding{
				Account: user.Account, User: user.Name, Realm: realm, Contact: c.uri.String(),
				Source: src, Transport: strings.ToUpper(req.Transport()),
				Expires: now.Add(min(c.expires, r.opts.MaxExpires)), UserAgent: ua,
			},
			uri: c.uri, key: c.key, callID: callID, cseq: cseq, updated: now,
		}
		if i >= 0 {
			list[i] = b
		} else {
			list = append(list, b)
		}
	}
	// Most recent first; beyond MaxBindings the least recently refreshed go,
	// which lets a phone whose address changed take its old binding's place.
	slices.SortStableFunc(list, func(a, b *binding) int { return b.updated.Compare(a.updated) })
	if len(list) > r.opts.MaxBindings {
		list = list[:r.opts.MaxBindings]
	}
	if len(list) == 0 {
		delete(r.bindings, key)
	} else {
		r.bindings[key] = list
	}
	r.srv.log.Debug("sip: registered", "account", user.Account, "user", user.Name, "bindings", len(list), "source", src.String())

	res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range list {
		h := &sipmsg.ContactHeader{Address: b.uri}
		h.Params.Add("expires", strconv.Itoa(int(max(time.Second, b.Expires.Sub(now)).Seconds())))
		res.AppendHeader(h)
	}
	return res
}

// contactKey identifies a binding by its contact URI the way RFC 3261
// section 19.1.4 compares URIs, near enough: scheme and host case-blind, user
// and parameters as they are.
func contactKey(u *sipmsg.Uri) string {
	return strings.ToLower(u.Scheme) + ":" + u.User + "@" + strings.ToLower(u.Host) + ":" + strconv.Itoa(u.Port) + ";" + u.UriParams.String()
}

// sweep forgets expired bindings of every user, at most once a minute; r.mu
// is held.
func (r *Registrar) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < time.Minute {
		return
	}
	r.lastSweep = now
	for k, list := range r.bindings {
		list = slices.DeleteFunc(list, func(b *binding) bool { return !b.Expires.After(now) })
		if len(list) == 0 {
			delete(r.bindings, k)
		} else {
			r.bindings[k] = list
		}
	}
}

// param is a header parameter by case-blind name. sipgo keeps the white
// space a phone may put around ";" and "=" (RFC 3261 section 25.1, SEMI and
// EQUAL; RFC 4475 section 3.1.1.1, wsinv) in names and values; it is not
// part of either.
func param(ps sipmsg.HeaderParams, name string) (string, bool) {
	for _, kv := range ps {
		if strings.EqualFold(strings.Trim(kv.K, " \t"), name) {
			return strings.Trim(kv.V, " \t"), true
		}
	}
	return "", false
}
