package staff

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The dashboard's websocket, GET /staff/ws. JSON text frames, each with
// "v": 1 and "type":
//
//   - page → server, first and once: {"v":1,"type":"hello","csrf_token":T},
//     the session's CSRF token; without it within helloTimeout, or with
//     another, the server closes the connection (1008) having sent
//     nothing. Then {"v":1,"type":"ping"} now and then; anything else is
//     ignored;
//   - server → page: a "state" frame (stateFrame) at once, then every
//     second and whenever an alert is raised or acknowledged. It carries
//     the history too (history.go): the recent check-ins and today's per
//     hour, read every HistoryPeriod, and the queue's depth, sampled
//     every QueueSamplePeriod.
//
// The server closes the connection (1008, "session ended") when its
// session ends: logout, expiry, the account removed or its password
// changed. The page then goes to the login page.
const (
	protocolVersion = 1
	maxDashboards   = 16 // websockets at once; one more is 503
	pushPeriod      = time.Second
	statusTimeout   = 2 * time.Second // for Config.Status
	helloTimeout    = 10 * time.Second
	wsReadLimit     = 1024
	wsReadTimeout   = 60 * time.Second // silence from the page before it is dropped
	wsPingPeriod    = 25 * time.Second
	wsWriteTimeout  = 10 * time.Second
	wsCloseGrace    = time.Second
)

// stateFrame is what the server pushes: the kiosk's status and the open
// alerts.
type stateFrame struct {
	V    int       `json:"v"`
	Type string    `json:"type"` // "state"
	At   time.Time `json:"at"`   // when the status was read
	// Status is the kiosk's, or null when it could not be read, and
	// StatusError says why.
	Status      *ui.Status `json:"status"`
	StatusError string     `json:"status_error,omitempty"`
	Alerts      []Alert    `json:"alerts"`
	// Maintenance is whether the kiosk was last put in maintenance mode
	// from a dashboard.
	Maintenance bool `json:"maintenance"`
	// Actions are those this kiosk offers: "maintenance", "sync".
	Actions []string `json:"actions"`
	// History is the kiosk's past (historyJSON), encoded when it
	// changes, not each second.
	History json.RawMessage `json:"history"`
	// UploadProgress is how far the upload of a backlog has got; null
	// without one (BacklogThreshold).
	UploadProgress *UploadProgress `json:"upload_progress"`
}

// helloFrame is the page's first message.
type helloFrame struct {
	V         int    `json:"v"`
	Type      string `json:"type"`
	CSRFToken string `json:"csrf_token"`
}

// dashboard is one connected dashboard page.
type dashboard struct {
	conn   *websocket.Conn
	key    [32]byte // its session's
	remote string
	ctx    context.Context // ends when the server closes it
	cancel context.CancelFunc
	wake   chan struct{} // one token: the slot was filled

	// Guarded by Server.mu.
	ready     bool   // it sent the CSRF token: it may be sent the state
	frame     []byte // the slot: the newest state not yet written
	closeText string // why the server closes it
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:   wsReadLimit,
	WriteBufferSize:  8192,
	HandshakeTimeout: wsWriteTimeout,
	CheckOrigin:      func(r *http.Request) bool { return crossSite(r) == "" },
}

// handleWebsocket connects a dashboard: a session first (401), from this
// site (403), within the cap (503); then, upgraded, its CSRF token.
func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, apiBody{Status: "unauthorized", Error: "log in first"})
		return
	}
	if why := crossSite(r); why != "" {
		writeJSON(w, http.StatusForbidden, apiBody{Status: "forbidden", Error: why})
		return
	}
	if !s.admit() {
		writeJSON(w, http.StatusServiceUnavailable, apiBody{Status: "busy", Error: "too many dashboards are open"})
		return
	}
	defer s.leave()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	conn.SetReadLimit(wsReadLimit)
	ctx, cancel := context.WithCancel(r.Context())
	d := &dashboard{conn: conn, key: sess.key, remote: remoteAddr(r), ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	if !s.register(d) {
		cancel()
		conn.Close()
		return
	}
	defer s.conns.Done() // the reader's
	writerDone := make(chan struct{})
	go func() {
		defer s.conns.Done()
		defer close(writerDone)
		s.writeLoop(d)
	}()
	if s.hello(conn, sess) {
		s.mu.Lock()
		d.ready = true
		s.mu.Unlock()
		s.pokeNow() // its first state, now
		s.readLoop(d)
		s.unregister(d, "")
	} else {
		// A page closed before its hello, or one without the token.
		s.log.Info("staff: websocket refused", "reason", "no CSRF token", "remote", d.remote)
		s.unregister(d, "csrf")
	}
	<-writerDone
}

// hello reads the page's first message, and reports whether it carries
// the session's CSRF token.
func (s *Server) hello(conn *websocket.Conn, sess session) bool {
	conn.SetReadDeadline(time.Now().Add(helloTimeout))
	typ, msg, err := conn.ReadMessage()
	if err != nil || typ != websocket.TextMessage {
		return false
	}
	var h helloFrame
	if json.Unmarshal(msg, &h) != nil || h.V != protocolVersion || h.Type != "hello" {
		return false
	}
	return validCSRF(sess, h.CSRFToken)
}

func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.admitted >= maxDashboards {
		return false
	}
	s.admitted++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admitted--
}

func (s *Server) register(d *dashboard) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.dashboards[d] = struct{}{}
	s.conns.Add(2) // its reader and writer
	return true
}

// unregister removes d and has its writer close it, saying why (a close
// frame 1008 with why; 1001 going away when why is "").
func (s *Server) unregister(d *dashboard, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unregisterLocked(d, why)
}

func (s *Server) unregisterLocked(d *dashboard, why string) {
	if _, ok := s.dashboards[d]; !ok {
		return
	}
	delete(s.dashboards, d)
	d.closeText = why
	d.cancel()
}

// closeSession closes the dashboards of the session key.
func (s *Server) closeSession(key [32]byte, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := range s.dashboards {
		if d.key == key {
			s.unregisterLocked(d, why)
		}
	}
}

// closeDashboards closes every dashboard and admits no more.
func (s *Server) closeDashboards() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for d := range s.dashboards {
		s.unregisterLocked(d, "")
	}
}

// readLoop reads what the page sends, for its pings and to see it close,
// until it does or the server closes it.
func (s *Server) readLoop(d *dashboard) {
	conn := d.conn
	conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsReadTimeout)) })
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
		conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	}
}

// writeLoop writes d's newest state whenever there is one, and pings it,
// until d is closed; then it sends the close frame and closes the socket.
func (s *Server) writeLoop(d *dashboard) {
	conn := d.conn
	defer conn.Close() // ends the reader too
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-d.ctx.Done():
			s.mu.Lock()
			why := d.closeText
			s.mu.Unlock()
			code := websocket.CloseGoingAway
			if why != "" {
				code = websocket.ClosePolicyViolation
			}
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, why), time.Now().Add(wsCloseGrace))
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
				s.unregister(d, "")
				return
			}
		case <-d.wake:
			s.mu.Lock()
			frame := d.frame
			d.frame = nil
			s.mu.Unlock()
			if frame == nil {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				s.unregister(d, "")
				return
			}
		}
	}
}

// pushLoop sends every dashboard the state every pushPeriod, and when
// poked, until ctx ends; it samples the queue at once and every
// QueueSamplePeriod. With no dashboard it asks nothing of Status but
// those samples, and nothing of History.
func (s *Server) pushLoop(ctx context.Context) {
	t := time.NewTicker(pushPeriod)
	defer t.Stop()
	sample := time.NewTicker(QueueSamplePeriod)
	defer sample.Stop()
	s.sampleQueue(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sample.C:
			s.sampleQueue(ctx)
			continue
		case <-t.C:
		case <-s.poke:
		}
		if !s.checkDashboards() {
			continue
		}
		s.refreshHistory(ctx)
		s.broadcast(s.stateFrame(ctx))
	}
}

// checkDashboards closes the dashboards whose sessions have ended, and
// counts the others as their sessions' use; it reports whether any is
// left.
func (s *Server) checkDashboards() bool {
	s.mu.Lock()
	ds := make([]*dashboard, 0, len(s.dashboards))
	for d := range s.dashboards {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	now, left := s.now(), false
	for _, d := range ds {
		sess, ok := s.sessions.getKey(d.key, now, true)
		if !ok || !s.accountStill(sess) {
			s.unregister(d, "session ended")
			continue
		}
		left = true
	}
	return left
}

// stateFrame reads the status and encodes the state.
func (s *Server) stateFrame(ctx context.Context) []byte {
	f := stateFrame{V: protocolVersion, Type: "state", At: s.now().UTC(), Alerts: s.alerts.list(),
		Maintenance: s.maintenance.Load(), Actions: []string{}}
	if s.cfg.Maintenance != nil {
		f.Actions = append(f.Actions, "maintenance")
	}
	if s.cfg.SyncNow != nil {
		f.Actions = append(f.Actions, "sync")
	}
	st, err := s.status(ctx)
	if err != nil {
		f.StatusError = err.Error()
	} else {
		f.Status = &st
		s.hist.progress = s.hist.backlog.observe(st.Outbox)
	}
	f.History, f.UploadProgress = s.hist.encoded, s.hist.progress
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // strings, numbers and times: cannot fail
	}
	return b
}

// status reads the status, bounded by statusTimeout, with its screen
// filled from Views when it has none.
func (s *Server) status(ctx context.Context) (ui.Status, error) {
	sctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	st, err := s.cfg.Status(sctx)
	if err != nil {
		return ui.Status{}, err
	}
	if st.Screen == "" && s.cfg.Views != nil {
		st.Screen = s.cfg.Views.View().Screen
	}
	return st, nil
}

// broadcast puts frame in every dashboard's slot, replacing a state not
// yet written: a dashboard that falls behind skips to the newest.
func (s *Server) broadcast(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := range s.dashboards {
		if !d.ready {
			continue
		}
		d.frame = frame
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}
