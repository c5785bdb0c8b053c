package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"vox/numbers"
	"vox/runtime"
)

// Trunks (S2): a carrier or a tenant's own PBX connected to an account, in
// both directions. Its INVITEs are taken without a SIP user's digest when
// they come from its allow-list or answer its own challenge, and routed by
// the number dialled; CallPSTN goes out through it, the number written the
// way its carrier dials (S18).

// Trunk is a SIP trunk of an account.
type Trunk struct {
	Name    string
	Account string
	// Address is the provider's host:port, where calls and REGISTERs go;
	// Transport is UDP (default), TCP or TLS.
	Address, Transport string
	// SRTP makes calls out through the trunk offer SRTP keyed in SDP
	// (RTP/SAVP with a=crypto), for a provider that takes only that.
	SRTP bool
	// Domain is the host of the Request-URIs and of the address of record
	// registered (default: Address's host, and its port).
	Domain string

	// AllowFrom are the sources whose INVITEs are the trunk's. Without
	// InboundUser they need no credentials; with it, they answer our
	// challenge too. With InboundUser and no AllowFrom, the trunk's
	// INVITEs may come from anywhere, and are known by their digest.
	AllowFrom                    []netip.Prefix
	InboundUser, InboundPassword string

	// User and Password answer the provider's challenges (401 and 407) to
	// our INVITEs and REGISTERs.
	User, Password string
	// Register keeps the trunk registered with the provider as User (RFC
	// 3261 section 10), for RegisterExpires (default 1 h); see
	// Server.RegisterTrunk.
	Register        bool
	RegisterExpires time.Duration

	// CallerID is the user part of From that the provider wants on every
	// call; empty: the caller's, as the scenario gives it (a number in the
	// trunk's Dial format).
	CallerID string
	// Dial is how the provider wants numbers: CallPSTN's number is
	// rewritten with it on the way out (S18).
	Dial numbers.DialFormat
	// Numbers is how the account's people type numbers: CallPSTN's number
	// is read with it before Dial writes it.
	Numbers numbers.Preference
}

// Trunks finds the trunks of the accounts; the controller will keep them
// per tenant, vox serve reads them from a file until then.
type Trunks interface {
	// Inbound returns the trunks an INVITE from src may belong to: those
	// whose AllowFrom holds src, and those known by digest alone.
	Inbound(ctx context.Context, src netip.Addr) ([]Trunk, error)
	// Outbound returns an account's trunks; CallPSTN takes the first.
	Outbound(ctx context.Context, account string) ([]Trunk, error)
}

// ErrTrunk is what Trunk.Validate wraps.
var ErrTrunk = errors.New("sip: bad trunk")

// Validate reports whether t can be used: a caddy-style check before a
// server takes it.
func (t Trunk) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrTrunk, t.Name, fmt.Sprintf(format, args...))
	}
	if t.Name == "" || t.Account == "" {
		return bad("a trunk needs a name and an account")
	}
	host, port, err := net.SplitHostPort(t.Address)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
		return bad("address %q is not host:port", t.Address)
	}
	if !knownTransport(t.transport()) {
		return bad("transport %q: UDP, TCP or TLS", t.Transport)
	}
	for _, p := range t.AllowFrom {
		if !p.IsValid() {
			return bad("an invalid prefix in the allow-list")
		}
	}
	if (t.InboundUser == "") != (t.InboundPassword == "") {
		return bad("inbound digest needs a user and a password")
	}
	if t.Register && (t.User == "" || t.Password == "") {
		return bad("registration needs a user and a password")
	}
	for _, s := range []string{t.CallerID, t.User, t.InboundUser, t.Domain} {
		if strings.ContainsAny(s, " \t\r\n<>\"@:;,?") {
			return bad("%q does not fit in a SIP URI", s)
		}
	}
	if err := t.Dial.Validate(); err != nil {
		return bad("%v", err)
	}
	if err := t.Numbers.Validate(); err != nil {
		return bad("numbers: %v", err)
	}
	return nil
}

func (t Trunk) transport() string {
	if t.Transport == "" {
		return "UDP"
	}
	return strings.ToUpper(t.Transport)
}

// uri is a SIP URI at the trunk's domain: sip:user@domain.
func (t Trunk) uri(user string) sipmsg.Uri {
	host, portStr, _ := net.SplitHostPort(t.Address)
	port, _ := strconv.Atoi(portStr)
	if t.Domain != "" {
		host, port = t.Domain, 0
	}
	return sipmsg.Uri{Scheme: "sip", User: user, Host: host, Port: port}
}

// admits says whether an INVITE from src may be the trunk's.
func (t Trunk) admits(src netip.Addr) bool {
	if len(t.AllowFrom) == 0 {
		return t.InboundUser != ""
	}
	return inPrefixes(src, t.AllowFrom)
}

// caller is who placed an incoming call: a SIP user of an account, or a
// trunk.
type caller struct {
	account string
	user    string // the SIP user; "" for a trunk's call
	trunk   *Trunk // nil for a user's call
}

// logAttr names the caller in a log line.
func (who caller) logAttr() slog.Attr {
	if who.trunk != nil {
		return slog.String("trunk", who.trunk.Name)
	}
	return slog.String("user", who.user)
}

// identify finds who placed a new call: a trunk, or a SIP user through
// digest. What is neither gets the users' challenge (407), so a source
// learns nothing of the trunks.
func (c *calls) identify(req *sipmsg.Request, tx sipmsg.ServerTransaction) (caller, bool) {
	if c.opts.Trunks != nil {
		t, ok, handled := c.trunkCaller(req, tx)
		if handled {
			if !ok {
				return caller{}, false
			}
			return caller{account: t.Account, trunk: t}, true
		}
	}
	u, ok := c.authenticate(req, tx, c.srv.auth)
	return caller{account: u.Account, user: u.Name}, ok
}

// trunkCaller finds the trunk an INVITE came on. handled is false when it
// is no trunk's: it goes the users' way. Otherwise ok says whether the
// trunk took it; when not, it has its answer (a challenge, 500).
func (c *calls) trunkCaller(req *sipmsg.Request, tx sipmsg.ServerTransaction) (t *Trunk, ok, handled bool) {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return nil, false, false
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.opts.LookupTimeout)
	trunks, err := c.opts.Trunks.Inbound(ctx, src.Addr().Unmap())
	cancel()
	if err != nil {
		c.srv.badLog.Error("sip: INVITE refused: trunk lookup", "err", err)
		c.srv.respond(tx, sipmsg.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return nil, false, true
	}
	var digest trunkUsers
	for i := range trunks {
		switch t := &trunks[i]; {
		case !t.admits(src.Addr()):
		case t.InboundUser == "":
			return t, true, true
		default:
			digest = append(digest, *t)
		}
	}
	creds, found, err := credentialsFor(req, c.realm(req))
	if err != nil || !found || !slices.ContainsFunc(digest, func(t Trunk) bool { return t.InboundUser == creds.username }) {
		return nil, false, false
	}
	// The trunks' users are checked like SIP users, with the same
	// nonces, counts and bans.
	a := *c.srv.auth
	a.dir = digest
	u, ok := c.authenticate(req, tx, &a)
	if !ok {
		return nil, false, true
	}
	i := slices.IndexFunc(digest, func(t Trunk) bool { return t.InboundUser == u.Name })
	return &digest[i], true, true
}

// trunkUsers are the trunks an INVITE may have come on, as the Directory of
// their inbound users.
type trunkUsers []Trunk

func (ts trunkUsers) User(_ context.Context, realm, name string) (User, error) {
	for _, t := range ts {
		if t.InboundUser == name {
			return NewUser(t.Account, name, realm, t.InboundPassword), nil
		}
	}
	return User{}, fmt.Errorf("%s: %w", name, ErrUnknownUser)
}

// dialled is the number an incoming call is for: the Request-URI's user,
// or To's when there is none or when a registered trunk's provider sends
// the call to the address of record we registered (the number is in To
// then).
func (who caller) dialled(req *sipmsg.Request) string {
	d := req.Recipient.User
	if d == "" || who.trunk != nil && who.trunk.Register && d == who.trunk.User {
		d = req.To().Address.User
	}
	return d
}

// trunkTarget is where CallPSTN goes: the account's trunks in order, the
// first at once and each next one if the one before fails over (failsOver),
// with the number as its carrier dials it, the caller ID and credentials
// it wants, and its SRTP setting. A trunk that cannot dial the number is
// left out. The request returned has the first trunk's caller ID.
func (c *calls) trunkTarget(ctx context.Context, req runtime.DialRequest) ([]target, runtime.DialRequest, error) {
	var trunks []Trunk
	if c.opts.Trunks != nil {
		ctx, cancel := context.WithTimeout(ctx, c.srv.opts.LookupTimeout)
		var err error
		trunks, err = c.opts.Trunks.Outbound(ctx, req.Account)
		cancel()
		if err != nil {
			c.log.Error("sip: trunk lookup", "account", req.Account, "err", err)
			return nil, req, &runtime.DialError{Code: 500, Reason: "Server Internal Error"}
		}
	}
	if len(trunks) == 0 {
		return nil, req, &runtime.DialError{Code: 503, Reason: "Service Unavailable: the account has no trunk for PSTN calls"}
	}
	var targets []target
	var firstErr *runtime.DialError
	for _, t := range trunks {
		tg, err := t.target(req)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		tg.standby = len(targets) > 0
		c.log.Debug("sip: PSTN call through a trunk", "call", req.ID, "account", req.Account, "trunk", t.Name, "dialled", tg.uri.User, "standby", tg.standby)
		targets = append(targets, tg)
	}
	if len(targets) == 0 {
		return nil, req, firstErr
	}
	req.CallerID = targets[0].caller
	req.AuthUser, req.Password, req.OutProxy = "", "", ""
	return targets, req, nil
}

// target is where a call to req's number goes through the trunk.
func (t Trunk) target(req runtime.DialRequest) (target, *runtime.DialError) {
	n, err := numbers.Parse(req.To, t.Numbers)
	if err != nil || n.Kind != numbers.International {
		return target{}, &runtime.DialError{Code: 484, Reason: "Address Incomplete: not a phone number: " + trimForLog(req.To)}
	}
	dialled, err := t.Dial.Dial(n.Value)
	if err != nil {
		return target{}, &runtime.DialError{Code: 484, Reason: "Address Incomplete: " + trimForLog(err.Error())}
	}
	uri := t.uri(dialled)
	to := uri
	if t.transport() != "UDP" {
		uri.UriParams = sipmsg.NewParams()
		uri.UriParams.Add("transport", strings.ToLower(t.transport()))
	}
	caller := t.callerID(req.CallerID)
	if caller == "" {
		caller = "anonymous"
	}
	return target{uri: uri, to: to, transport: t.transport(), peer: t.Address, srtp: t.SRTP,
		caller: caller, authUser: t.User, password: t.Password}, nil
}

// callerID is what the trunk puts in From for a call from caller: its own
// when it has one, or the caller's, in the trunk's dial format when it is
// a number.
func (t Trunk) callerID(caller string) string {
	if t.CallerID != "" {
		return t.CallerID
	}
	if n, err := numbers.Parse(caller, t.Numbers); err == nil && n.Kind == numbers.International {
		if d, err := t.Dial.Dial(n.Value); err == nil {
			return d
		}
	}
	return caller
}
