package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// protocolVersion is the "v" of every frame (PROTOCOL.md).
const protocolVersion = 1

// Frame types.
const (
	typeScreen = "screen"
	typeAction = "action"
	typePing   = "ping"
	typePong   = "pong"
	typeError  = "error"
)

// Error codes of an error frame.
const (
	errBadJSON       = "bad_json"       // not a JSON object
	errBadVersion    = "bad_version"    // "v" is not 1
	errUnknownType   = "unknown_type"   // "type" is none of action, ping
	errUnknownAction = "unknown_action" // "action" is not one the page may send
	errBadLang       = "bad_lang"       // language without a valid BCP 47 "lang"
	errBinaryFrame   = "binary_frame"   // only text frames are spoken
)

// screenFrame is what the server sends on connect and on every change.
type screenFrame struct {
	V           int          `json:"v"`
	Type        string       `json:"type"`
	Screen      kiosk.Screen `json:"screen"`
	Rev         uint64       `json:"rev"`
	Reason      kiosk.Reason `json:"reason,omitempty"`
	Name        string       `json:"name,omitempty"`
	Code        string       `json:"code,omitempty"`
	At          string       `json:"at,omitempty"`
	Notice      string       `json:"notice,omitempty"`
	Appointment string       `json:"appointment,omitempty"`
	ExpiresInMS *int64       `json:"expires_in_ms,omitempty"`
	Lang        string       `json:"lang,omitempty"`
}

// encodeScreen is the frame for v, with its expiry made relative to now:
// the page's clock need not agree with the kiosk's.
func encodeScreen(v kiosk.View, now time.Time) []byte {
	f := screenFrame{
		V:      protocolVersion,
		Type:   typeScreen,
		Screen: v.Screen,
		Rev:    v.Rev,
		Reason: v.Reason,
		Name:   v.Name,
		Code:   v.Code,
		Notice: v.Notice,
		Lang:   v.Lang,
	}
	if !v.At.IsZero() {
		f.At = v.At.Format(time.RFC3339)
	}
	if !v.Appointment.IsZero() {
		f.Appointment = v.Appointment.Format(time.RFC3339)
	}
	if !v.Expires.IsZero() {
		ms := max(v.Expires.Sub(now).Milliseconds(), 0)
		f.ExpiresInMS = &ms
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // strings and numbers only: cannot fail
	}
	return b
}

// inFrame is any frame from the page. Unknown fields are ignored, so a
// newer page can add some.
type inFrame struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	Action string `json:"action"`
	Lang   string `json:"lang"`
}

type simpleFrame struct {
	V     int    `json:"v"`
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

var (
	pongFrame = mustJSON(simpleFrame{V: protocolVersion, Type: typePong})
	// langTag is a BCP 47 tag's shape: enough to keep junk out of the flow.
	langTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$`)
)

func errorFrame(code string) []byte {
	return mustJSON(simpleFrame{V: protocolVersion, Type: typeError, Error: code})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pageActions are the actions a page may send.
var pageActions = map[string]bool{
	kiosk.ActionConfirm:  true,
	kiosk.ActionDeny:     true,
	kiosk.ActionHelp:     true,
	kiosk.ActionExtend:   true,
	kiosk.ActionLanguage: true,
	kiosk.ActionAnother:  true,
	kiosk.ActionDone:     true,
}

// client is one connected page.
type client struct {
	conn   *websocket.Conn
	remote string
	send   chan []byte // frames to write, in order
	rev    uint64      // the last screen revision queued; guarded by Server.mu

	ctx    context.Context // ends when the client is closed
	cancel context.CancelFunc
}

// enqueue queues frame without waiting; false means the queue is full.
func (c *client) enqueue(frame []byte) bool {
	select {
	case c.send <- frame:
		return true
	default:
		return false
	}
}

// close ends the connection without blocking. Gently, the writer sends
// the page a close frame and then closes the socket, which ends the
// reader. Hard, the socket is closed at once, which also frees a writer
// stuck on a page that does not read.
func (c *client) close(hard bool) {
	c.cancel()
	if hard {
		c.conn.Close()
	}
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  wsReadLimit,
	WriteBufferSize: 4096,
	CheckOrigin:     sameOrigin,
}

func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		// Refused before the upgrade, so the page sees a plain 403.
		s.log.Warn("ui: websocket refused", "reason", "cross-origin", "remote", r.RemoteAddr)
		http.Error(w, "cross-origin websocket refused", http.StatusForbidden)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has replied
	}
	ctx, cancel := context.WithCancel(r.Context())
	c := &client{
		conn:   conn,
		remote: r.RemoteAddr,
		send:   make(chan []byte, wsSendQueue),
		ctx:    ctx,
		cancel: cancel,
	}
	if !s.register(c) {
		c.close(true)
		return
	}
	s.log.Debug("ui: page connected", "remote", c.remote)
	defer s.conns.Done()
	go func() {
		defer s.conns.Done()
		s.writeLoop(c)
	}()
	s.readLoop(c)
	s.drop(c, "")
}

// register adds c and queues the current screen for it, under the lock
// Show takes, so that c sees every view from the current one on, once.
func (s *Server) register(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.clients[c] = struct{}{}
	s.conns.Add(2) // reader and writer
	v := s.cfg.Views.View()
	s.sendLocked(c, v.Rev, encodeScreen(v, s.cfg.Now()))
	return true
}

func (s *Server) drop(c *client, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if why == "" {
		// The page went away by itself: not worth a log line.
		delete(s.clients, c)
		c.close(false)
		return
	}
	s.dropLocked(c, why)
}

// reply queues a frame for c from its reader; a page too slow to take its
// own replies is dropped like any other.
func (s *Server) reply(c *client, frame []byte) {
	if !c.enqueue(frame) {
		s.drop(c, "send queue full")
	}
}

func (s *Server) readLoop(c *client) {
	conn := c.conn
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	})
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			// Closed by the page, by Show dropping it, by shutdown, by
			// silence or by a frame over the read limit: all end here.
			return
		}
		conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
		if typ != websocket.TextMessage {
			s.reply(c, errorFrame(errBinaryFrame))
			continue
		}
		var f inFrame
		if err := json.Unmarshal(msg, &f); err != nil {
			s.reply(c, errorFrame(errBadJSON))
			continue
		}
		if f.V != protocolVersion {
			s.reply(c, errorFrame(errBadVersion))
			continue
		}
		switch f.Type {
		case typePing:
			s.reply(c, pongFrame)
		case typeAction:
			a, code := parseAction(f)
			if code != "" {
				s.reply(c, errorFrame(code))
				continue
			}
			select {
			case s.cfg.Actions <- a:
			case <-c.ctx.Done():
				return
			}
		default:
			s.reply(c, errorFrame(errUnknownType))
		}
	}
}

// parseAction checks an action frame; a non-empty code is the error to
// send back.
func parseAction(f inFrame) (kiosk.Action, string) {
	if !pageActions[f.Action] {
		return kiosk.Action{}, errUnknownAction
	}
	a := kiosk.Action{Name: f.Action}
	if f.Action == kiosk.ActionLanguage {
		if len(f.Lang) > 35 || !langTag.MatchString(f.Lang) {
			return kiosk.Action{}, errBadLang
		}
		a.Lang = f.Lang
	}
	return a, ""
}

// writeLoop writes c's queued frames and pings it, until c is closed.
func (s *Server) writeLoop(c *client) {
	conn := c.conn
	defer conn.Close() // ends the reader too
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	for {
		if c.ctx.Err() != nil {
			// Closed: say so (best effort, briefly), so the page
			// reconnects calmly rather than on a timeout.
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
			conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		}
		select {
		case <-c.ctx.Done():
			continue
		case frame := <-c.send:
			conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				s.drop(c, "")
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
				s.drop(c, "")
				return
			}
		}
	}
}
