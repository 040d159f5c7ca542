// Package staff is the staff dashboard: a web page on the office's LAN
// where staff watch the kiosk (its screen, devices, service, queue,
// uploads, clock and lists, pushed every second; the recent check-ins,
// today's per hour, the queue over the last day and the progress of an
// upload backlog: history.go), see and acknowledge
// alerts (help pressed, a card refused, the enclosure opened, the printer,
// the disk, stale lists) with a sound when one arrives, and act on it
// (maintenance mode, sync now).
//
// It is apart from the kiosk page (package ui) on every count: its own
// listener (the LAN's, where the kiosk page's is loopback), its own mux
// with every route under /staff, TLS, and a session cookie for /staff
// alone. Nothing the kiosk page or its websocket can send reaches a staff
// action.
//
// Security, in the order a request meets it:
//
//   - TLS, with a certificate configured or made on the first start (a
//     self-signed P-256 one for the host's names and addresses, valid 10
//     years, in STATE/staff); staff check its fingerprint (Fingerprint)
//     against the service display or `kiosk status` once;
//   - accounts in STATE/staff/accounts.json (Accounts, `kiosk staff`),
//     passwords hashed with argon2id; a login costs one hash whether the
//     account exists or not, and answers a wrong password and an unknown
//     account alike; 5 failures in 15 minutes lock an account name, or a
//     client address, for 15 minutes;
//   - sessions held by the server, a random 32-byte token in an HttpOnly,
//     Secure, SameSite=Strict cookie for /staff, ended after 15 minutes
//     unused or 12 hours in all, or when the account's password changes;
//   - on every POST and the websocket: the Origin (and Sec-Fetch-Site), and
//     the session's CSRF token (X-CSRF-Token; the websocket's first
//     message);
//   - every login, logout and action appended to STATE/staff/audit.log and
//     synced before it takes effect (AuditRecord).
//
// Nothing of the people checking in passes through here: the status
// (ui.Status) and the alerts hold no names, numbers or scans, and the
// history no more of a check-in than its time, outcome, upload state and
// the last 3 characters of its card's serial (cut here too, should the
// daemon hand over more).
//
// Goroutines: Serve owns the HTTP server and one goroutine that pushes the
// state to the dashboards every second and whenever an alert changes, and
// owns the history (it samples the queue every 5 minutes, dashboards or
// not, and reads the history every 10 s while one is open); each
// dashboard has a reader (its HTTP handler's) and a writer. Serve closes
// them all when its context ends and waits for them. Raise may be called
// from any goroutine and never blocks.
package staff

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

//go:embed web
var webFS embed.FS

// DirName is the directory, under the kiosk's state directory, of the
// dashboard's files: accounts.json, audit.log (and audit.log.1, the one
// before), alerts.json, cert.pem and key.pem.
const DirName = "staff"

// Dir is the dashboard's directory for the state directory stateDir.
func Dir(stateDir string) string { return filepath.Join(stateDir, DirName) }

// Config is what a Server needs. StateDir and Status are required; every
// other field has a default.
type Config struct {
	// StateDir is the kiosk's state directory: the dashboard keeps its
	// files in StateDir/staff (Dir), made mode 0700 if need be.
	StateDir string
	// CertFile and KeyFile are the PEM certificate and key to serve, both
	// or neither. Neither (the default): a self-signed certificate made on
	// the first start and kept in StateDir/staff.
	CertFile, KeyFile string
	// CertHosts are the names and IP addresses a certificate made here
	// names. Nil (the default): the host's name, NAME.local, localhost
	// and the addresses of its interfaces.
	CertHosts []string
	// Status reports the kiosk's health, pushed to every dashboard each
	// second. It is called about once a second while a dashboard is
	// open, and every QueueSamplePeriod (5 minutes) in any case, for the
	// queue chart; each call bounded by 2 s.
	Status func(ctx context.Context) (ui.Status, error)
	// History reads the recent check-ins and the kiosk's day's check-ins
	// per hour (History.Recent and Hourly; Queue is the dashboard's
	// own). It is called at most every HistoryPeriod (10 s), only while
	// a dashboard is open, bounded by 2 s. Nil (the default): the
	// dashboard lists no check-ins; the queue chart and the upload
	// progress, from Status, are there all the same.
	History func(ctx context.Context) (History, error)
	// Views fills the status's screen when Status leaves it empty. Nil
	// (the default): Status gives the screen.
	Views ui.ViewSource
	// Maintenance takes the kiosk out of service (true), for staff to
	// work on it, or puts it back (false). Nil (the default): the
	// dashboard does not offer it, and POST /staff/maintenance is 404.
	// It is called from HTTP handlers, maybe at once from two: it must
	// be safe for that, and return promptly.
	Maintenance func(on bool)
	// SyncNow has the uploader try at once. Nil (the default): not
	// offered, and POST /staff/sync is 404. Called as Maintenance is.
	SyncNow func()
	// IdleTimeout ends a session unused for that long; 0:
	// DefaultIdleTimeout (15 minutes).
	IdleTimeout time.Duration
	// SessionLifetime ends a session that long after its login; 0:
	// DefaultSessionLifetime (12 hours).
	SessionLifetime time.Duration
	// Log receives the server's logs. Nil (the default): discard.
	Log *slog.Logger
	// Now is the clock of sessions, lockouts, alerts and the audit log.
	// Nil (the default): time.Now.
	Now func() time.Time
}

// Server serves the staff dashboard.
type Server struct {
	cfg         Config
	log         *slog.Logger
	now         func() time.Time
	cert        tls.Certificate
	fingerprint string
	handler     http.Handler

	accounts *accountCache
	sessions sessions
	throttle throttle
	auditLog *auditLog
	alerts   alerts
	// alertsPath is the alerts file; alertsDirty (one token) wakes the
	// saver after a change.
	alertsPath  string
	alertsDirty chan struct{}

	// hashing lets one login hash at a time: argon2id takes its memory
	// for each, and a Pi has little.
	hashing      chan struct{}
	loginWaiting atomic.Int32
	hashed       atomic.Int64 // logins whose password was hashed: all but those refused unread
	dummyOnce    sync.Once
	dummy        string

	maintenance atomic.Bool   // as last set from the dashboard
	poke        chan struct{} // one token: push the state now
	hist        historyState  // the push loop's own

	mu         sync.Mutex
	dashboards map[*dashboard]struct{}
	admitted   int            // websockets admitted, from before the upgrade until they end
	closed     bool           // Serve is shutting down: no new dashboards
	conns      sync.WaitGroup // every dashboard's reader and writer
}

// New returns a Server for cfg: it makes the staff directory, and the
// certificate if none is configured and none was made before.
func New(cfg Config) (*Server, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("staff: no state directory")
	}
	if cfg.Status == nil {
		return nil, errors.New("staff: no status")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	dir := Dir(cfg.StateDir)
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	hosts := cfg.CertHosts
	if hosts == nil {
		hosts = hostNames()
	}
	cert, err := loadCertificate(dir, cfg.CertFile, cfg.KeyFile, hosts, cfg.Now())
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Log,
		now:         cfg.Now,
		cert:        cert,
		fingerprint: Fingerprint(cert.Certificate[0]),
		accounts:    &accountCache{path: filepath.Join(dir, accountsFileName)},
		sessions:    sessions{idle: cfg.IdleTimeout, lifetime: cfg.SessionLifetime, m: make(map[[32]byte]*session)},
		throttle:    throttle{m: make(map[string]*failures)},
		auditLog:    &auditLog{path: filepath.Join(dir, auditFileName), now: cfg.Now},
		hashing:     make(chan struct{}, 1),
		poke:        make(chan struct{}, 1),
		dashboards:  make(map[*dashboard]struct{}),
		alertsPath:  filepath.Join(dir, alertsFileName),
		alertsDirty: make(chan struct{}, 1),
	}
	if err := s.alerts.load(s.alertsPath); err != nil {
		// The dashboard runs without them rather than not at all; the
		// file is kept aside for a person to read, not overwritten.
		s.log.Warn("staff: the alerts left open before the restart are lost", "err", err)
		if rerr := os.Rename(s.alertsPath, s.alertsPath+".bad"); rerr != nil {
			s.log.Warn("staff: keep the unreadable alerts file aside", "err", rerr)
		}
	} else if n := len(s.alerts.list()); n > 0 {
		s.log.Info("staff: alerts still open from before the restart", "open", n)
	}
	s.handler = s.routes()
	return s, nil
}

// Fingerprint is the SHA-256 fingerprint of the certificate served,
// "sha256:" and hex, for the service display and `kiosk status`.
func (s *Server) Fingerprint() string { return s.fingerprint }

// Raise opens an alert of kind (AlertHelp, AlertTamper…) with detail, for
// staff (never personal data), unless one of that kind is open: a help
// button pressed three times is one alert. The dashboards get it at once,
// with a sound. It may be called from any goroutine, before Serve too, and
// never blocks.
func (s *Server) Raise(kind, detail string) {
	if !s.alerts.raise(kind, detail, s.now()) {
		return
	}
	s.log.Info("staff: alert", "kind", kind)
	s.alertsChanged()
	s.pokeNow()
}

// alertsChanged wakes the saver; it never blocks.
func (s *Server) alertsChanged() {
	select {
	case s.alertsDirty <- struct{}{}:
	default: // a save is due already
	}
}

// alertsRetry is how long the saver waits before it tries again to write
// an alerts file it could not.
const alertsRetry = 5 * time.Second

// saveLoop writes the open alerts to the alerts file after each change,
// until ctx ends, and once more then if they changed. It writes off the
// callers' goroutines: Raise runs on the kiosk's flow, which must not wait
// for a disk. An alert raised in the few milliseconds before a crash can
// be lost; one raised before that survives the restart.
func (s *Server) saveLoop(ctx context.Context) {
	var saved uint64 // the change last written; 0 is what was loaded
	var retry <-chan time.Time
	save := func() {
		b, gen, err := s.alerts.snapshot()
		if err == nil && gen == saved {
			return
		}
		if err == nil {
			err = atomicfile.Write(s.alertsPath, b, 0o600)
		}
		if err != nil {
			s.log.Warn("staff: save the open alerts", "err", err)
			retry = time.After(alertsRetry)
			return
		}
		saved, retry = gen, nil
	}
	save()
	for {
		select {
		case <-ctx.Done():
			save()
			return
		case <-s.alertsDirty:
		case <-retry:
		}
		save()
	}
}

// Alerts returns the open alerts, oldest first.
func (s *Server) Alerts() []Alert { return s.alerts.list() }

// pokeNow has the pusher send the state now.
func (s *Server) pokeNow() {
	select {
	case s.poke <- struct{}{}:
	default: // a push is due already
	}
}

// audit appends r to the audit log, and logs a failure to.
func (s *Server) audit(r AuditRecord) error {
	err := s.auditLog.record(r)
	if err != nil {
		s.log.Error("staff: audit", "action", r.Action, "err", err)
	}
	return err
}

// Timeouts and sizes of the HTTP server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second // a whole request: its body is a few bytes
	idleConnTimeout   = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	shutdownTimeout   = 5 * time.Second
)

// Serve serves the dashboard over TLS on ln until ctx ends, then shuts
// down: it stops accepting, closes every dashboard's websocket, waits for
// requests in flight (a few seconds at most) and returns nil. It returns
// an error only if serving fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 alone: a browser would otherwise open the websocket
		// over HTTP/2, which gorilla/websocket does not speak.
		NextProtos: []string{"http/1.1"},
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout, // a websocket sets its own deadlines once upgraded
		IdleTimeout:       idleConnTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// A browser that has not accepted the certificate yet fails
		// every handshake: a debug line, not a warning.
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	srv.RegisterOnShutdown(s.closeDashboards)

	pctx, stopPush := context.WithCancel(ctx)
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		s.pushLoop(pctx)
	}()
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		s.saveLoop(pctx)
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tlsConf)) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		if serr := srv.Shutdown(sctx); serr != nil {
			s.log.Warn("staff: shutdown", "err", serr)
			srv.Close()
		}
		cancel()
		err = <-errc
	}
	stopPush()
	<-pushed
	<-saved
	s.closeDashboards()
	s.conns.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// contentSecurityPolicy allows the dashboard its own scripts, styles and
// websocket, and nothing else: no inline script or style, no framing, no
// form posted anywhere (the page posts with fetch).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// routes is the dashboard's surface; every route is under /staff, and
// anything else is 404:
//
//	GET  /staff                      the dashboard (303 to /staff/login without a session)
//	GET  /staff/login                the login page
//	GET  /staff/{app.js,style.css}   their files
//	POST /staff/login                {"account","password"} → 200 and the cookie; 401; 429 locked
//	POST /staff/logout               ends the session                       (CSRF)
//	GET  /staff/session              {"account","csrf_token","expires_at"}; 401
//	GET  /staff/ws                   the dashboard's websocket (first message: hello with the CSRF token)
//	POST /staff/maintenance          {"on":true|false}                      (CSRF)
//	POST /staff/sync                 sync now                               (CSRF)
//	POST /staff/alerts/{id}/ack      acknowledge an alert                   (CSRF)
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /staff", s.handleDashboard)
	mux.Handle("GET /staff/{$}", http.RedirectHandler("/staff", http.StatusMovedPermanently))
	mux.HandleFunc("GET /staff/login", servePage("login.html"))
	mux.HandleFunc("GET /staff/app.js", servePage("app.js"))
	mux.HandleFunc("GET /staff/style.css", servePage("style.css"))
	mux.HandleFunc("POST /staff/login", s.handleLogin)
	mux.HandleFunc("POST /staff/logout", s.action(s.handleLogout))
	mux.HandleFunc("GET /staff/session", s.withSession(s.handleSession))
	mux.HandleFunc("GET /staff/ws", s.handleWebsocket)
	mux.HandleFunc("POST /staff/maintenance", s.action(s.handleMaintenance))
	mux.HandleFunc("POST /staff/sync", s.action(s.handleSync))
	mux.HandleFunc("POST /staff/alerts/{id}/ack", s.action(s.handleAck))
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries: the kiosk page's
// (ui.SecurityHeaders) with the dashboard's policy, and no-store, as
// every answer is live or personal to the session. No HSTS: with a
// self-signed certificate it would forbid the browser's one-time
// exception, and leave staff locked out.
func securityHeaders(next http.Handler) http.Handler {
	return ui.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	}), contentSecurityPolicy)
}

// contentTypes are those of the files in web/.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// servePage serves the embedded file web/name. The files hold no data,
// only the page: whatever a dashboard shows comes over its websocket.
func servePage(name string) http.HandlerFunc {
	b, err := fs.ReadFile(webFS, "web/"+name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	ctype := contentTypes[filepath.Ext(name)]
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	}
}

// dashboardPage is the dashboard's HTML.
var dashboardPage = servePage("index.html")

// handleDashboard serves the dashboard to a session, and sends anyone
// else to log in.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(r); !ok {
		http.Redirect(w, r, "/staff/login", http.StatusSeeOther)
		return
	}
	dashboardPage(w, r)
}

// maintenanceRequest is the body of POST /staff/maintenance.
type maintenanceRequest struct {
	On *bool `json:"on"`
}

// handleMaintenance takes the kiosk out of service, or puts it back. The
// record is written first: an action that could not be recorded is not
// taken.
func (s *Server) handleMaintenance(w http.ResponseWriter, r *http.Request, sess session) {
	if s.cfg.Maintenance == nil {
		writeJSON(w, http.StatusNotFound, apiBody{Status: "not_found", Error: "maintenance mode is not available"})
		return
	}
	var req maintenanceRequest
	if err := readJSON(w, r, &req); err != nil || req.On == nil {
		writeJSON(w, http.StatusBadRequest, apiBody{Status: "bad_request", Error: `want {"on": true} or {"on": false}`})
		return
	}
	detail := "off"
	if *req.On {
		detail = "on"
	}
	if err := s.audit(AuditRecord{Account: sess.account, Remote: remoteAddr(r), Action: AuditMaintenance, Detail: detail}); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiBody{Status: "error", Error: "could not write the audit log"})
		return
	}
	s.cfg.Maintenance(*req.On)
	s.maintenance.Store(*req.On)
	s.pokeNow()
	writeJSON(w, http.StatusOK, apiBody{Status: "ok"})
}

// handleSync has the uploader try now.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request, sess session) {
	if s.cfg.SyncNow == nil {
		writeJSON(w, http.StatusNotFound, apiBody{Status: "not_found", Error: "sync is not available"})
		return
	}
	if err := s.audit(AuditRecord{Account: sess.account, Remote: remoteAddr(r), Action: AuditSyncNow}); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiBody{Status: "error", Error: "could not write the audit log"})
		return
	}
	s.cfg.SyncNow()
	writeJSON(w, http.StatusAccepted, apiBody{Status: "accepted"})
}

// handleAck acknowledges an open alert: it closes it on every dashboard.
func (s *Server) handleAck(w http.ResponseWriter, r *http.Request, sess session) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiBody{Status: "not_found", Error: "no such alert"})
		return
	}
	a, ok := s.alerts.find(id)
	if !ok {
		// Acknowledged already, by someone else perhaps: the page drops it.
		writeJSON(w, http.StatusNotFound, apiBody{Status: "not_found", Error: "no such open alert"})
		return
	}
	if err := s.audit(AuditRecord{Account: sess.account, Remote: remoteAddr(r), Action: AuditAlertAck,
		Detail: fmt.Sprintf("alert %d (%s)", a.ID, a.Kind)}); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiBody{Status: "error", Error: "could not write the audit log"})
		return
	}
	s.alerts.close(id)
	s.alertsChanged()
	s.pokeNow()
	writeJSON(w, http.StatusOK, apiBody{Status: "ok"})
}
