package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"vox/controller"
	"vox/controller/history"
	"vox/controller/signature"
	"vox/examples"
	"vox/internal/egress"
	"vox/jsapi"
	"vox/media/player"
	"vox/media/rtp"
	"vox/overload"
	"vox/runtime"
	"vox/scenarios"
	"vox/scenarios/standard"
	"vox/sip"
	"vox/web/phone"
	"vox/webrtc"
)

// Defaults of vox serve, which the client commands share.
const (
	defaultDataDir = "vox-data"
	defaultHTTP    = "127.0.0.1:8080"
	defaultSIP     = "127.0.0.1:5060"
	dbFile         = "vox.db"
	// lockWait is how long a second vox serve on the same data directory waits
	// for the file lock before it says the directory is in use.
	lockWait = time.Second
	// shutdownGrace is how long running requests may take once a signal came.
	shutdownGrace = 10 * time.Second
	// defaultMediaTimeout is rtpengine's: long past any gap of a working
	// stream, a minute's billing at most for a call whose phone is gone.
	defaultMediaTimeout = time.Minute
)

type serveFlags struct {
	data, http, sip string
	sha256          bool
	logRetention    time.Duration
	currencies      []string
	wsOrigins       []string
	overload        time.Duration
	mediaTimeout    time.Duration
	publicURL       string
	tlsCert, tlsKey string
	sipTLS, tlsCA   string
	netAllow        []string
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--data DIR] [--http ADDR] [--sip ADDR]",
		Short: "Run the Vox server: the scenario store, its REST API, the SIP registrar and calls",
		Long: `serve keeps its state in DIR/vox.db and answers the REST API under /api/v1/
on ADDR. At its first start it creates DIR, generates the admin token (kept in
DIR/admin.token, printed once; vox token shows it again) and stores the bundled
demo scenario as application "demo" and the standard incoming scenario
(scenarios/standard) as application "standard".

The telephony controller answers under /controller/v1/: tenants sign their
requests with their licence key (see the README). The first start writes
DIR/licences.json with the demo portal's licence for tenant "demo", prints its
key once, and makes the demo tenant with a welcome balance, RUB tariffs and a
few numbers, renting it 74950000100 for the standard scenario with its demo
settings.

SIP phones register on --sip (UDP and TCP, the same port) with the controller's
SIP users; the first start makes two demo users of tenant "demo" and prints
their passwords once (only digest hashes are kept; vox sipuser password makes
new ones). A DIR/sip-users.json of an older Vox is moved into the controller.
Their calls run the account's "demo" application; PSTN calls are authorized
and charged by the controller's tariffs. SIP trunks and the numbers
called through them are read from DIR/trunks.json (see the README). Session
logs go to DIR/logs/ACCOUNT/, recordings to DIR/records/ACCOUNT/. --sip is the
IP address phones reach (RTP is offered on it too); --sip "" turns SIP off.
Browsers sign in on the softphone page at /phone, which registers over SIP over
WebSocket at /ws, with media over WebRTC to the --sip address.
SIGINT or SIGTERM ends the calls and stops it cleanly.

With --tls-cert and --tls-key the HTTP listener serves HTTPS (the page, the
API, and /ws as wss://), and --sip-tls adds SIP over TLS; a certificate
renewed in place is taken without a restart. Phones that offer SRTP keyed in
SDP (RTP/SAVP with a=crypto) get SRTP.

Past the call rate the machine can serve, new calls are answered 503 in the
share needed to keep the calls already taken on time: while SIP requests over
UDP wait more than --overload-latency to be read (the 90th percentile over
half a second, a second in a row; without UDP traffic, while its work waits
more than a quarter of it to run) and vox keeps at least half its cores busy,
fewer new calls are taken, and more again once they do not (0: take every
call).

A phone or carrier that vanishes mid-call sends no BYE. A call whose far end
has sent no RTP for --media-timeout while not on hold is ended with a BYE
(Reason: Q.850 cause 41) and the scenario hears Call.Disconnected; session
timers (RFC 4028) end the rest.

Every call runs a fresh JS session, whose garbage the Go collector would
otherwise spend a fifth of a call's CPU on: serve runs with GOGC=400 and a soft
memory limit of 2 GiB (GOMEMLIMIT) unless the environment sets either.`,
		Example: `  vox serve
  vox serve --data /var/lib/vox --http 0.0.0.0:8080 --sip 192.0.2.10:5060
  vox serve --sip [::1]:5060`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			runtime.TuneServerGC()
			return runServe(ctx, serveConfig{Data: f.data, Addr: f.http, SIP: f.sip, SHA256: f.sha256, Currencies: f.currencies, WSOrigins: f.wsOrigins, LogRetention: f.logRetention, Overload: f.overload, MediaTimeout: f.mediaTimeout, PublicURL: f.publicURL, TLSCert: f.tlsCert, TLSKey: f.tlsKey, SIPTLS: f.sipTLS, TLSCA: f.tlsCA, TenantNetAllow: f.netAllow, Log: logger, Out: cmd.OutOrStdout()})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", defaultDataDir, "the data directory")
	fl.StringVar(&f.http, "http", defaultHTTP, "the HTTP listener's address (port 0: any free port)")
	fl.StringVar(&f.sip, "sip", defaultSIP, `the SIP address, UDP and TCP (port 0: any free port; "": no SIP)`)
	fl.DurationVar(&f.logRetention, "log-retention", history.DefaultRetention, "how long calls' session logs are kept (vox logs CALL_ID)")
	fl.StringSliceVar(&f.currencies, "currencies", controller.DefaultCurrencies, "the currencies with a master account each (tenants' accounts are under them)")
	fl.StringSliceVar(&f.wsOrigins, "ws-origin", nil, "a page (scheme://host[:port]) allowed to use SIP over WebSocket at /ws; repeat for more (default: pages of the HTTP listener's own host, as /phone)")
	fl.DurationVar(&f.overload, "overload-latency", overload.DefaultTarget, "turn new calls away while SIP requests over UDP wait longer than this to be read (without UDP traffic: while the server's work waits a quarter of it to run; 0: never)")
	fl.DurationVar(&f.mediaTimeout, "media-timeout", defaultMediaTimeout, "end a call whose phone or carrier has sent no RTP for this long while not on hold, as one that lost power or its network (0: never)")
	fl.StringVar(&f.publicURL, "public-url", "", "the URL portals and browsers reach this server's HTTP at, for the access and recording URLs it hands out (default: http://ADDR of --http, https:// with --tls-cert)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS (and WSS at /ws) with this PEM certificate (chain), re-read when it changes; with --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM certificates of authorities trusted, besides the system's, when vox connects over TLS (trunks with transport tls, CallSIP to transport=tls)")
	fl.StringVar(&f.sipTLS, "sip-tls", "", "also take SIP over TLS on this address (usually the --sip IP address, port 5061), with --tls-cert's certificate")
	fl.StringSliceVar(&f.netAllow, "tenant-net-allow", nil, "a range (CIDR) that tenants' scenarios (HTTP requests, audio URLs) and portal webhooks may reach although it is not public, as a CRM on the office network; repeat for more (default: public addresses and vox's own listener only)")
	fl.BoolVar(&f.sha256, "sip-sha256", false, "also challenge with SHA-256 digest (RFC 8760) after MD5; some phones (Debian's baresip) refuse a challenge they cannot answer")
	return cmd
}

// serveConfig is what a server is started with.
type serveConfig struct {
	Data string
	Addr string
	// SIP is the SIP listeners' address; empty: no SIP.
	SIP string
	// SHA256 offers a SHA-256 digest challenge after the MD5 one. Off by
	// default: the libre 1.x under Debian's baresip gives up on a 401 that
	// carries an algorithm it does not know, instead of answering the one it
	// does.
	SHA256 bool
	// Currencies have a master account each (default
	// controller.DefaultCurrencies).
	Currencies []string
	// WSOrigins are the pages allowed to use /ws (sip.WebSocketOptions).
	WSOrigins []string
	Log       *slog.Logger
	// Out gets the admin token and the demo SIP users at the first start.
	Out io.Writer
	// LogRetention is how long session logs are kept (default
	// history.DefaultRetention).
	LogRetention time.Duration
	// Overload is the SIP queue delay past which new calls are turned away
	// (overload.Options.Target); 0: every call is taken.
	Overload time.Duration
	// MediaTimeout ends a call whose phone or carrier has sent no RTP for
	// this long while it should have (sip.CallOptions.MediaTimeout); 0:
	// never.
	MediaTimeout time.Duration
	// PublicURL is where others reach the HTTP listener, for the access and
	// recording URLs (default: http:// or https:// and the listener's
	// address).
	PublicURL string
	// TLSCert and TLSKey are PEM files; with them the HTTP listener serves
	// HTTPS, and SIPTLS, when set, is the address of SIP over TLS.
	TLSCert, TLSKey string
	SIPTLS          string
	// TLSCA is a PEM file of authorities trusted besides the system's when
	// Vox opens a TLS connection.
	TLSCA string
	// TenantNetAllow are CIDR ranges that connections tenants choose the
	// end of (their scenarios' requests and audio URLs, their portals'
	// webhooks) may reach although they are not public
	// (egress.Policy.Allow).
	TenantNetAllow []string
	// Now is the store's clock (default time.Now); tests pin it.
	Now func() time.Time
}

func runServe(ctx context.Context, cfg serveConfig) error {
	srv, err := startServer(cfg)
	if err != nil {
		return err
	}
	var served error
	select {
	case <-ctx.Done():
		cfg.Log.Info("shutting down", "grace", shutdownGrace)
	case served = <-srv.served:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return errors.Join(served, srv.shutdown(shutdownCtx))
}

// admission is what turns calls away past the server's capacity, watching
// how long its SIP requests over UDP wait to be read or, while little comes
// over UDP, how long its goroutines wait to run, which is where requests
// over TCP, TLS and WebSocket wait; nil takes every call.
func admission(cfg serveConfig, srv *sip.Server) (sip.Admission, error) {
	if cfg.Overload <= 0 {
		return nil, nil
	}
	return overload.New(overload.Options{Latency: overload.ServerLatency(srv.QueueDelays()), Target: cfg.Overload, Log: cfg.Log})
}

// egressPolicy is where scenarios' connections may go: public addresses,
// the ranges of --tenant-net-allow, and the HTTP listener, which the
// bundled scenarios call back at their access URL: the listener's address
// (every address of the host when it listens on all), and where the public
// URL's host resolves at start (a proxy in front of Vox on the private
// network).
func egressPolicy(allow []string, listener net.Addr, public string) (egress.Policy, error) {
	var p egress.Policy
	for _, a := range allow {
		prefix, err := netip.ParsePrefix(a)
		if err != nil {
			return p, fmt.Errorf("--tenant-net-allow %q: want a range such as 10.0.0.0/8: %w", a, err)
		}
		p.Allow = append(p.Allow, prefix.Masked())
	}
	own, err := netip.ParseAddrPort(listener.String())
	if err != nil {
		return p, fmt.Errorf("HTTP listener %s: %w", listener, err)
	}
	if !own.Addr().IsUnspecified() {
		p.Own = append(p.Own, netip.AddrPortFrom(own.Addr().Unmap(), own.Port()))
	} else {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					p.Own = append(p.Own, netip.AddrPortFrom(ip.Unmap(), own.Port()))
				}
			}
		}
	}
	if u, err := url.Parse(public); err == nil {
		port, err := strconv.ParseUint(u.Port(), 10, 16)
		switch {
		case u.Port() == "" && u.Scheme == "https":
			port, err = 443, nil
		case u.Port() == "":
			port, err = 80, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
		cancel()
		if err == nil && lerr == nil {
			for _, ip := range ips {
				p.Own = append(p.Own, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
			}
		}
	}
	return p, nil
}

// publicURL is the base of the URLs the server hands out: flag, checked, or
// the listener's address.
func publicURL(flag, scheme string, listener net.Addr) (string, error) {
	if flag == "" {
		return scheme + "://" + listener.String(), nil
	}
	u, err := url.Parse(flag)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--public-url %q: want http:// or https://, a host and at most a path, as https://vox.example.com", flag)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// unspecified tells a listener on every address (0.0.0.0, [::]), whose
// address is no use in a URL.
func unspecified(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsUnspecified()
}

// server is a running vox serve.
type server struct {
	db     *bolt.DB
	store  *scenarios.Store
	ctrl   *controller.Controller
	billed *billedDialer // nil without SIP
	events *callEvents
	// stopFees ends the monthly fees' goroutine, fees waits for it.
	stopFees context.CancelFunc
	fees     sync.WaitGroup
	http     *http.Server
	addr     net.Addr
	sip      *sip.Server // nil without SIP
	sipAddr  netip.AddrPort
	live     *liveLauncher // the sessions of SIP calls; nil without SIP
	token    string
	served   chan error // the listener's end, when it was not a shutdown
	log      *slog.Logger
}

// startServer opens the data directory and starts answering HTTP; it returns once
// the listener is bound.
func startServer(cfg serveConfig) (srv *server, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(cfg.Data, dbFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use by another vox serve; stop it or give this one another --data", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	store, err := scenarios.Open(db, scenarios.Options{Compile: compileScenario, Warn: jsapi.Unimplemented, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	token, created, err := adminToken(cfg.Data)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(cfg.Out, "vox: the admin token is %s\nvox: it is kept in %s; vox token --data %s shows it again\n",
			token, filepath.Join(cfg.Data, tokenFile), cfg.Data)
	}
	if err := seedDemo(store, cfg.Log); err != nil {
		return nil, err
	}
	revoker := &userRevoker{}
	hist, err := history.Open(db)
	if err != nil {
		return nil, err
	}
	ctrl, err := openController(cfg, db, store, revoker, history.Section{Store: hist})
	if err != nil {
		return nil, err
	}
	// HTTP is bound first: recordings of calls are served there.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	scheme := "http"
	var certs *certFiles
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if certs, err = loadCertFiles(cfg.TLSCert, cfg.TLSKey, cfg.Log); err != nil {
			return nil, err
		}
		ln, scheme = tls.NewListener(ln, certs.httpConfig()), "https"
	}
	if cfg.SIPTLS != "" && (certs == nil || cfg.SIP == "") {
		return nil, errors.New("--sip-tls needs --tls-cert and --tls-key, and --sip")
	}
	base, err := publicURL(cfg.PublicURL, scheme, ln.Addr())
	if err != nil {
		return nil, err
	}
	tenantNet, err := egressPolicy(cfg.TenantNetAllow, ln.Addr(), base)
	if err != nil {
		return nil, err
	}
	if cfg.PublicURL == "" && unspecified(ln.Addr()) {
		cfg.Log.Warn("access and recording URLs name the listener's unspecified address, which nobody can reach; set --public-url", "url", base)
	}
	events, err := openCallEvents(cfg, db, hist, ctrl, base, tenantNet.Client())
	if err != nil {
		return nil, err
	}
	if n, err := events.live.recover(context.Background(), accountCountry(ctrl)); err != nil {
		return nil, err
	} else if n > 0 {
		cfg.Log.Warn("calls cut by the last stop were recorded as failed", "calls", n)
	}
	var sipSrv *sip.Server
	var sipAddr netip.AddrPort
	var live *liveLauncher
	var billed *billedDialer
	if cfg.SIP != "" {
		if sipSrv, sipAddr, live, billed, err = startSIP(cfg, store, ctrl, revoker, events, base, certs, tenantNet); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				sipSrv.Shutdown(context.Background())
			}
		}()
	}
	mux := http.NewServeMux()
	mux.Handle(scenarios.APIPrefix+"/", requireToken(token, scenarios.NewHandler(store, scenarios.WithLogger(cfg.Log))))
	registrar := ""
	if sipSrv != nil {
		registrar = "sip:" + sipAddr.String()
	}
	// One caller check for the controller's API and the call routes beside
	// it, so that a nonce used on one is refused on the other.
	auth := controller.NewAuth(token, ctrl.SigningKeys, signature.VerifierOptions{}, cfg.Log)
	mux.Handle(controller.APIPrefix+"/", controller.NewHandler(ctrl, controller.HandlerOptions{AdminToken: token, Registrar: registrar, Log: cfg.Log, Auth: auth}))
	events.routes(mux, auth)
	mux.Handle("/records/{account}/{file}", recordingsHandler(cfg.Data))
	if sipSrv != nil {
		// Browsers: SIP over WebSocket into the same SIP server (S5).
		ws, err := sipSrv.WebSocket(sip.WebSocketOptions{Origins: cfg.WSOrigins})
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /ws", ws)
	}
	mux.Handle("/phone", phone.Handler())
	mux.Handle("/phone/", phone.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	srv = &server{
		db: db, store: store, ctrl: ctrl, billed: billed, events: events, addr: ln.Addr(), sip: sipSrv, sipAddr: sipAddr, live: live, token: token, served: make(chan error, 1), log: cfg.Log,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		if err := srv.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			srv.served <- fmt.Errorf("serve HTTP: %w", err)
		}
	}()
	events.start()
	feesCtx, stopFees := context.WithCancel(context.Background())
	srv.stopFees = stopFees
	srv.fees.Add(1)
	go func() {
		defer srv.fees.Done()
		chargeFees(feesCtx, ctrl, cfg.Log)
	}()
	sipOn := "off"
	if sipSrv != nil {
		sipOn = sipAddr.String()
	}
	cfg.Log.Info("vox serve started", "http", scheme+"://"+ln.Addr().String(), "sip", sipOn, "data", cfg.Data)
	return srv, nil
}

// startSIP prepares the SIP users (making the demo ones at the first start)
// and starts the SIP server on cfg.SIP, taking calls into sessions of the
// scenarios in store, its registrar told of changed users through revoker;
// base is the public URL recordings are served under.
func startSIP(cfg serveConfig, store *scenarios.Store, ctrl *controller.Controller, revoker *userRevoker, events *callEvents, base string, certs *certFiles, tenantNet egress.Policy) (*sip.Server, netip.AddrPort, *liveLauncher, *billedDialer, error) {
	fail := func(err error) (*sip.Server, netip.AddrPort, *liveLauncher, *billedDialer, error) {
		return nil, netip.AddrPort{}, nil, nil, err
	}
	made, err := prepareSIPUsers(ctrl, cfg.Data, cfg.Log)
	if err != nil {
		return fail(err)
	}
	users := controllerDirectory{ctrl}
	host, _, err := net.SplitHostPort(cfg.SIP)
	if err != nil {
		return fail(fmt.Errorf("--sip %q: %w", cfg.SIP, err))
	}
	mediaAddr, err := netip.ParseAddr(host)
	if err != nil || mediaAddr.IsUnspecified() {
		return fail(fmt.Errorf("--sip %q: give the IP address phones reach (calls carry it in SDP), not a name or 0.0.0.0", cfg.SIP))
	}
	ports, err := rtp.NewPortPool(rtp.PortPoolConfig{Addr: mediaAddr})
	if err != nil {
		return fail(err)
	}
	cache, err := player.NewCache(filepath.Join(cfg.Data, audioCacheDir), player.CacheOptions{Logger: cfg.Log, Client: tenantNet.Client()})
	if err != nil {
		return fail(err)
	}
	countries := map[string]string{demoAccount: "RU"}
	trunks, err := openTrunks(cfg.Data, countries, cfg.Log)
	if err == nil {
		err = trunks.checkUsers(context.Background(), users)
	}
	if err == nil {
		err = trunks.checkTLS(cfg.SIPTLS)
	}
	if err != nil {
		return fail(err)
	}
	algorithms := []sip.Algorithm{sip.MD5}
	if cfg.SHA256 {
		algorithms = append(algorithms, sip.SHA256)
	}
	tlsClient, err := tlsClientConfig(cfg.TLSCA)
	if err != nil {
		return fail(err)
	}
	srv, err := sip.NewServer(sip.Options{Directory: users, Realm: sipRealm, Log: cfg.Log, Unlimited: trunks.allowed(), Algorithms: algorithms, TLSClient: tlsClient})
	if err != nil {
		return fail(err)
	}
	// Browsers' media (S5): one UDP port on the SIP address for every call;
	// the SIP server closes it when it shuts down.
	rtc, err := webrtc.NewEngine(webrtc.Config{Addr: mediaAddr, Logger: cfg.Log})
	if err != nil {
		return fail(err)
	}
	revoker.reg.Store(srv.Registrar())
	billed := &billedDialer{next: srv, billing: ctrl, log: cfg.Log, countries: countries}
	live := &liveLauncher{
		dir: filepath.Join(cfg.Data, logsDir), log: cfg.Log, events: events,
		launcher: &runtime.Launcher{
			Releases: store, Programs: runtime.NewProgramCache(0),
			Defaults: runtime.Config{Clock: runtime.RealClock{}, Dialer: billed, HTTP: &runtime.NetHTTP{Client: tenantNet.Client()}, Logger: cfg.Log,
				OnEnd: events.sessionEnded},
		},
	}
	records := filepath.Join(cfg.Data, recordingsDir)
	admit, err := admission(cfg, srv)
	if err != nil {
		rtc.Close()
		return fail(err)
	}
	err = srv.EnableCalls(sip.CallOptions{
		Router:   userRouter{app: demoApp, countries: countries, numbers: trunks.numbers, rented: ctrl},
		Trunks:   trunks,
		Launcher: live,
		Ports:    ports,
		Player:   player.New(player.Options{Cache: cache}),
		RecordDir: func(account string) string {
			if !accountName.MatchString(account) {
				return ""
			}
			return filepath.Join(records, account)
		},
		RecordURL: func(account, token string) string {
			return base + "/records/" + account + "/" + token + ".wav"
		},
		WebRTC:       browserMedia{rtc},
		Admission:    admit,
		MediaTimeout: cfg.MediaTimeout,
	})
	if err != nil {
		rtc.Close()
		return fail(err)
	}
	addr, err := srv.Listen(cfg.SIP)
	transports := "UDP and TCP"
	if err == nil && cfg.SIPTLS != "" {
		var tlsAddr netip.AddrPort
		if tlsAddr, err = srv.ListenTLS(cfg.SIPTLS, certs.sipConfig()); err == nil {
			transports += ", TLS on " + tlsAddr.String()
		}
	}
	if err == nil {
		err = trunks.register(srv)
	}
	if err != nil {
		srv.Shutdown(context.Background())
		return fail(err)
	}
	if len(made) > 0 {
		fmt.Fprintf(cfg.Out, "vox: SIP on %s (%s); register a softphone as one of these demo users:\n", addr, transports)
		for _, u := range made {
			fmt.Fprintf(cfg.Out, "vox:   user %s  password %s  (sip:%s@%s)\n", u.name, u.password, u.name, addr)
		}
		fmt.Fprintf(cfg.Out, "vox: the passwords are shown once; vox sipuser password %s NAME makes a new one\n", demoAccount)
		if n, err := ctrl.RouteNumber(context.Background(), demoNumber); err == nil && n.Account == demoAccount {
			fmt.Fprintf(cfg.Out, "vox: from %s, call the demo number %s (the %s scenario) and dial 68 during the greeting to reach %s\n",
				made[0].name, demoNumber, n.App, made[len(made)-1].name)
		}
	}
	return srv, addr, live, billed, nil
}

// audioCacheDir is where, under the data directory, audio that scenarios
// play from URLs is cached.
const audioCacheDir = "cache/audio"

// shutdown stops accepting, lets running requests finish until ctx ends, and
// closes the data file.
func (s *server) shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.log.Warn("requests still running at the deadline were cut", "err", err)
		err = s.http.Close()
	}
	if s.sip != nil {
		// Calls end first (BYE, CANCEL, final responses), then their
		// sessions, whose logs are closed.
		if serr := s.sip.Shutdown(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
		if serr := s.live.wait(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
		s.billed.charging.Wait()
	}
	s.stopFees()
	s.fees.Wait()
	s.events.shutdown()
	if cerr := s.db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close data file: %w", cerr))
	}
	s.log.Info("vox serve stopped")
	return err
}

// compileScenario checks a pushed file with the runtime's compiler, so that a
// release is refused by exactly what would run it; a *runtime.SyntaxError
// carries the position that the push's error shows.
func compileScenario(name, source string) error {
	_, err := runtime.Compile(name, source)
	return err
}

// demoApp is the application the bundled demo is stored as at the first start.
const demoApp = "demo"

// seedDemo stores the bundled demo (examples/demo) as application "demo", and
// the standard incoming scenario (scenarios/standard) as application
// "standard", when the store has no application yet, so a newcomer's first vox
// serve has something to list, show and call from a softphone.
func seedDemo(store *scenarios.Store, log *slog.Logger) error {
	ctx := context.Background()
	apps, err := store.Apps(ctx)
	if err != nil || len(apps) > 0 {
		return err
	}
	res, err := store.Push(ctx, scenarios.Push{
		App: demoApp, Author: "vox", Message: "the bundled demo: greet, ring the other demo phone, bridge, record",
		Files: []scenarios.File{{Name: examples.DemoName, Source: examples.Demo}},
	})
	if err != nil {
		return fmt.Errorf("store the demo scenario: %w", err)
	}
	log.Info("stored the demo scenario", "app", demoApp, "release", res.Release.Number)
	std, err := standard.Push()
	if err != nil {
		return err
	}
	std.Author, std.Message = "vox", "the bundled standard incoming scenario, driven by each number's settings"
	if res, err = store.Push(ctx, std); err != nil {
		return fmt.Errorf("store the standard scenario: %w", err)
	}
	log.Info("stored the standard scenario", "app", std.App, "release", res.Release.Number)
	return nil
}
