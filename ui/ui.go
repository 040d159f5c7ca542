// Package ui is the kiosk's touchscreen adapter: an HTTP server for the
// local kiosk page (vanilla HTML, CSS and JS embedded from web/), its
// websocket hub, and the small local API beside it (health, status, the
// simulated scanner).
//
// The page is a thin view of kiosk.Flow. The flow tells the Server of every
// view through Show (the Server is a kiosk.ViewSink); the Server broadcasts
// it to every connected page and forwards what the person taps, as
// kiosk.Action values, to the channel the flow reads. The wire format is
// specified in PROTOCOL.md.
//
// Goroutines: Serve owns the HTTP server. Each websocket connection has two
// goroutines, a reader (the HTTP handler's) and a writer, which end when the
// connection closes; Serve closes every connection when its context ends and
// waits for them. Show runs on the caller's goroutine and never blocks: a
// screen is state, so each page has one slot holding the newest screen not
// yet written, and a page that falls behind skips to it. Only a page whose
// socket takes no writes for the write timeout is dropped.
//
// The kiosk listener is meant for 127.0.0.1 only: the caller binds it. The
// Server answers only requests that name, in their Host, localhost or the
// address they arrived on (a web page that rebinds its own name to
// 127.0.0.1 gets 421), and bounds what anyone can make it hold: pages
// (Config.MaxPages), TCP connections, frames a second from each page.
package ui

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

//go:embed web
var webFS embed.FS

// ViewSource gives the view on screen now. *kiosk.Flow is one.
type ViewSource interface {
	View() kiosk.View
}

// Config is what a Server needs. Views and Actions are required.
type Config struct {
	// Views gives the current view: sent to a page when it connects, and
	// the screen reported by /api/v1/status.
	Views ViewSource
	// Actions receives what the person taps. The flow must read it
	// promptly: a page's reader waits on it (until the page disconnects).
	Actions chan<- kiosk.Action
	// SimScan feeds scan text to the simulated scanner. Nil when the
	// scanner is not simulated: then POST /api/v1/sim/scan is 404.
	SimScan func(text string) error
	// Metrics, if set, answers GET /metrics (Prometheus): metrics.Metrics'
	// handler. On this listener, loopback only: a local agent scrapes it.
	Metrics http.Handler
	// Status reports the kiosk's health for /api/v1/status and /healthz.
	// Its Screen, when empty, and its Browser are the Server's to fill.
	// Nil: only the screen and the browser are reported, and the kiosk is
	// healthy.
	Status func(ctx context.Context) (Status, error)
	// Log receives the server's logs. Nil: discard.
	Log *slog.Logger
	// Now is the clock used to turn View.Expires and View.Armed into
	// expires_in_ms and armed_in_ms, and to time the browser's heartbeat.
	// Nil: time.Now.
	Now func() time.Time
	// MaxPages is how many kiosk pages (websockets) may be connected at
	// once; one more is refused with 503 before the upgrade. 0:
	// DefaultMaxPages.
	MaxPages int
	// BrowserTimeout is how long the kiosk pages may send nothing before
	// the browser is reported not responding (Server.Browser). 0:
	// DefaultBrowserTimeout.
	BrowserTimeout time.Duration
	// Version is the daemon's version, on GET /healthz: `kiosk update`
	// waits for the new version to answer healthy there before it keeps
	// it. "" (the default): not shown.
	Version string
}

// DefaultBrowserTimeout is Config.BrowserTimeout when it is 0: three of the
// page's pings (every 15 s, PROTOCOL.md) missed in a row. One late ping is
// a busy renderer; three is a hung one.
const DefaultBrowserTimeout = 45 * time.Second

// Server serves the kiosk page, its websocket and the local API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	// writeTimeout bounds one write to a page: wsWriteTimeout, shorter
	// in tests. Set before Serve.
	writeTimeout time.Duration
	refusals     *logLimiter // log lines about refused requests

	mu      sync.Mutex
	clients map[*client]struct{}
	pages   int            // websockets admitted, from before the upgrade until both goroutines end
	closed  bool           // Serve is shutting down: no new clients
	conns   sync.WaitGroup // every client's goroutines
	// The browser's heartbeat (Browser), guarded by mu: whether a page
	// has ever connected, and when a page last connected or sent a frame.
	pageSeen  bool
	lastFrame time.Time
}

var (
	_ kiosk.ViewSink = (*Server)(nil)
	_ ViewSource     = (*kiosk.Flow)(nil)
)

// Timeouts and sizes of the HTTP server and of each websocket.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 30 * time.Second // a keep-alive connection with no request
	maxHeaderBytes    = 8 << 10          // a request's headers; the page's are under 1 KiB
	shutdownTimeout   = 5 * time.Second
	statusTimeout     = 2 * time.Second // for Config.Status

	wsWriteTimeout = 10 * time.Second // one frame to the page
	wsReadTimeout  = 60 * time.Second // silence from the page before it is dropped
	wsPingPeriod   = 25 * time.Second // server pings, so a silent page still answers
	wsCloseGrace   = time.Second      // for the close handshake, when the server closes
	wsReadLimit    = 1024             // bytes in one frame from the page
	wsReplyQueue   = 8                // replies (pong, error) queued for one page; more are dropped
)

// New returns a Server for cfg. It panics if cfg.Views or cfg.Actions is
// nil: that is a wiring mistake, not a runtime condition.
func New(cfg Config) *Server {
	if cfg.Views == nil {
		panic("ui: Config.Views is nil")
	}
	if cfg.Actions == nil {
		panic("ui: Config.Actions is nil")
	}
	s := &Server{
		cfg:          cfg,
		log:          cfg.Log,
		writeTimeout: wsWriteTimeout,
		refusals:     newLogLimiter(time.Now()),
		clients:      make(map[*client]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.MaxPages <= 0 {
		s.cfg.MaxPages = DefaultMaxPages
	}
	if s.cfg.BrowserTimeout <= 0 {
		s.cfg.BrowserTimeout = DefaultBrowserTimeout
	}
	s.handler = s.routes()
	return s
}

// Status is the kiosk's status as GET /api/v1/status reports it:
// Config.Status's, with the screen and the browser filled in by the Server.
// It is for other readers of the status (the staff dashboard, metrics),
// so that they see the browser's heartbeat too.
func (s *Server) Status(ctx context.Context) (Status, error) { return s.status(ctx) }

// Handler returns the handler of every route on the kiosk listener. Served
// other than by Serve, a request naming an IP address in its Host is
// refused unless the http.Server puts it in http.LocalAddrContextKey (as
// every http.Server does); Serve alone bounds connections.
func (s *Server) Handler() http.Handler { return s.handler }

// routes is the kiosk listener's surface, for requests whose Host names
// this listener (else 421):
//
//	GET  /                 the kiosk page and its files (web/)
//	GET  /healthz          200 {"status":"ok"} when Status works, else 503
//	GET  /api/v1/status    the Status JSON
//	POST /api/v1/sim/scan  body = scan text (≤ 4 KiB) → 202; 404 unless simulated
//	GET  /ws/kiosk         the page's websocket (PROTOCOL.md)
func (s *Server) routes() http.Handler {
	web, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", staticHandler(web))
	mux.HandleFunc("GET /i18n.json", s.handleCatalogs)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /api/v1/status", s.handleStatus)
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	mux.HandleFunc("POST /api/v1/sim/scan", s.handleSimScan)
	mux.HandleFunc("GET /ws/kiosk", s.handleWebsocket)
	return securityHeaders(s.checkHost(mux))
}

// Serve serves on ln until ctx ends, then shuts down: it stops accepting,
// closes every websocket, waits for requests in flight (a few seconds at
// most) and returns nil. It returns an error only if serving fails.
//
// It holds at most Config.MaxPages plus a few dozen connections of ln at
// once: one more is closed as soon as it is accepted.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln = newCapListener(ln, s.cfg.MaxPages+maxOtherConns, func(c net.Conn) {
		s.logRefusal("too many connections", "remote", c.RemoteAddr().String())
	})
	// Hijacked websocket connections are not the http.Server's to close.
	srv.RegisterOnShutdown(s.closeClients)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var err error
	select {
	case err = <-errc:
		// Serving failed before ctx ended.
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		if serr := srv.Shutdown(sctx); serr != nil {
			s.log.Warn("ui: shutdown", "err", serr)
			srv.Close()
		}
		cancel()
		err = <-errc
	}
	s.closeClients()
	s.conns.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Show broadcasts v to every connected page. It never blocks: it puts the
// screen in each page's slot, replacing an older one not yet written.
func (s *Server) Show(v kiosk.View) {
	frame := encodeScreen(v, s.cfg.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		c.queueScreenLocked(v.Rev, frame, false)
	}
}

// closeClients closes every websocket (close code 1001) and refuses new
// ones.
func (s *Server) closeClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.clients {
		delete(s.clients, c)
		c.closeLocked(websocket.CloseGoingAway, "")
	}
}

// logRefusal logs a refused request or connection, a few times and then
// seldom, counting those it leaves out. attrs hold no personal data.
func (s *Server) logRefusal(reason string, attrs ...any) {
	ok, suppressed := s.refusals.allow(time.Now())
	if !ok {
		return
	}
	s.log.Warn("ui: refused", append([]any{"reason", reason, "suppressed", suppressed}, attrs...)...)
}
