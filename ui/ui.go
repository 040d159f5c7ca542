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
// waits for them. Show runs on the caller's goroutine and never blocks: each
// page has a small send queue, and a page whose queue is full is dropped
// (it reconnects and is sent the current screen), never waited for.
//
// The kiosk listener is meant for 127.0.0.1 only: the caller binds it.
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
	// Status reports the kiosk's health for /api/v1/status and /healthz.
	// Nil: only the screen is reported, and the kiosk is healthy.
	Status func(ctx context.Context) (Status, error)
	// Log receives the server's logs. Nil: discard.
	Log *slog.Logger
	// Now is the clock used to turn View.Expires into expires_in_ms.
	// Nil: time.Now.
	Now func() time.Time
}

// Server serves the kiosk page, its websocket and the local API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool           // Serve is shutting down: no new clients
	conns   sync.WaitGroup // every client's goroutines
}

var (
	_ kiosk.ViewSink = (*Server)(nil)
	_ ViewSource     = (*kiosk.Flow)(nil)
)

// Timeouts of the HTTP server and of each websocket.
const (
	readHeaderTimeout = 5 * time.Second
	shutdownTimeout   = 5 * time.Second
	statusTimeout     = 2 * time.Second // for Config.Status

	wsWriteTimeout = 10 * time.Second // one frame to the page
	wsReadTimeout  = 60 * time.Second // silence from the page before it is dropped
	wsPingPeriod   = 25 * time.Second // server pings, so a silent page still answers
	wsReadLimit    = 1024             // bytes in one frame from the page
	wsSendQueue    = 32               // frames queued for one page before it is dropped
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
		cfg:     cfg,
		log:     cfg.Log,
		clients: make(map[*client]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.handler = s.routes()
	return s
}

// Handler returns the handler of every route on the kiosk listener.
func (s *Server) Handler() http.Handler { return s.handler }

// routes is the kiosk listener's surface:
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
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /api/v1/status", s.handleStatus)
	mux.HandleFunc("POST /api/v1/sim/scan", s.handleSimScan)
	mux.HandleFunc("GET /ws/kiosk", s.handleWebsocket)
	return securityHeaders(mux)
}

// Serve serves on ln until ctx ends, then shuts down: it stops accepting,
// closes every websocket, waits for requests in flight (a few seconds at
// most) and returns nil. It returns an error only if serving fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
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

// Show broadcasts v to every connected page. It never blocks: a page whose
// send queue is full is dropped.
func (s *Server) Show(v kiosk.View) {
	frame := encodeScreen(v, s.cfg.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		s.sendLocked(c, v.Rev, frame)
	}
}

// sendLocked queues a screen frame for c, unless c has already been sent
// that revision (it connected between the flow's change and this Show).
func (s *Server) sendLocked(c *client, rev uint64, frame []byte) {
	if rev != 0 && rev <= c.rev {
		return
	}
	c.rev = rev
	if !c.enqueue(frame) {
		s.dropLocked(c, "send queue full")
	}
}

func (s *Server) dropLocked(c *client, why string) {
	if _, ok := s.clients[c]; !ok {
		return
	}
	delete(s.clients, c)
	s.log.Info("ui: page dropped", "reason", why, "remote", c.remote)
	c.close(true)
}

// closeClients closes every websocket and refuses new ones.
func (s *Server) closeClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.clients {
		delete(s.clients, c)
		c.close(false)
	}
}
