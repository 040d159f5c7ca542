package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
	errBadAnswer     = "bad_answer"     // answer without a date YYYY-MM-DD
	errMissingRev    = "missing_rev"    // an action that answers a screen, without the screen's "rev"
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
	ArmedInMS   int64        `json:"armed_in_ms,omitempty"`
	Lang        string       `json:"lang,omitempty"`
	// Receipt is, on success, the printed receipt's state: printing,
	// printed or failed; absent without a printer.
	Receipt kiosk.ReceiptState `json:"receipt,omitempty"`
	// Household is everyone checked in this session (success, already,
	// and the idle screen for the next family member).
	Household []member `json:"household,omitempty"`
}

type member struct {
	Name string `json:"name"`
	Code string `json:"code"`
}

// dateAnswer is the shape of a challenge's answer; whether the date is
// the card's is the flow's to say.
var dateAnswer = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// encodeScreen is the frame for v, with its expiry and arming made relative
// to now: the page's clock need not agree with the kiosk's.
func encodeScreen(v kiosk.View, now time.Time) []byte {
	f := screenFrame{
		V:       protocolVersion,
		Type:    typeScreen,
		Screen:  v.Screen,
		Rev:     v.Rev,
		Reason:  v.Reason,
		Name:    v.Name,
		Code:    v.Code,
		Notice:  v.Notice,
		Lang:    v.Lang,
		Receipt: v.Receipt,
	}
	for _, m := range v.Household {
		f.Household = append(f.Household, member{Name: m.Name, Code: m.Code})
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
	if d := v.Armed.Sub(now); d > 0 {
		// Rounded up: the page must not enable the buttons before the
		// flow counts them.
		f.ArmedInMS = int64((d + time.Millisecond - 1) / time.Millisecond)
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
	Answer string `json:"answer"` // answer: the challenge's date of birth, YYYY-MM-DD
	Rev    uint64 `json:"rev"`    // of the screen the tap was made on
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
	kiosk.ActionAnswer:   true,
}

// client is one connected page. Its writer writes the newest screen in its
// slot, whenever there is one, before the replies queued for it.
type client struct {
	conn   *websocket.Conn
	remote string

	ctx    context.Context // ends when the server closes the client
	cancel context.CancelFunc
	wake   chan struct{} // one token: the screen slot was filled
	// replies holds pong and error frames. A page that does not take its
	// replies loses them, not its screens: it is dropped only when its
	// socket takes no writes.
	replies    chan []byte
	readerDone chan struct{} // closed when the reader returns

	// Guarded by Server.mu.
	rev       uint64 // the last screen revision put in the slot
	screen    []byte // the slot: the newest screen not yet written, or nil
	closeCode int    // the close frame's code once ctx has ended
	closeText string

	frames bucket // the page's frame budget; the reader's alone
}

// queueScreenLocked puts a screen in c's slot, replacing any older one not
// yet written, unless c has been sent that revision or a later one
// already (it connected between the flow's change and this Show). With
// again, the revision c was sent last is sent once more. Revisions reach
// the page in order: an older one is never put after a newer one.
func (c *client) queueScreenLocked(rev uint64, frame []byte, again bool) {
	if rev != 0 && (rev < c.rev || rev == c.rev && !again) {
		return
	}
	c.rev = rev
	c.screen = frame
	select {
	case c.wake <- struct{}{}:
	default: // the writer has a token to take the slot already
	}
}

// closeLocked tells c's writer to close the connection with code: it sends
// the close frame, waits briefly for the page to answer it, and closes the
// socket, which ends the reader.
func (c *client) closeLocked(code int, text string) {
	if c.closeCode == 0 { // the first reason given is the one sent
		c.closeCode, c.closeText = code, text
	}
	c.cancel()
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:   wsReadLimit,
	WriteBufferSize:  4096,
	HandshakeTimeout: wsWriteTimeout,
	CheckOrigin:      sameOrigin,
}

func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		// Refused before the upgrade, so the page sees a plain 403.
		s.log.Warn("ui: websocket refused", "reason", "cross-origin", "remote", r.RemoteAddr)
		http.Error(w, "cross-origin websocket refused", http.StatusForbidden)
		return
	}
	if !s.admit() {
		s.logRefusal("too many pages", "remote", r.RemoteAddr, "max", s.cfg.MaxPages)
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Status: "busy",
			Error: fmt.Sprintf("%d kiosk pages are connected, the most this kiosk serves", s.cfg.MaxPages)})
		return
	}
	defer s.leave()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has replied
	}
	ctx, cancel := context.WithCancel(r.Context())
	c := &client{
		conn:       conn,
		remote:     r.RemoteAddr,
		ctx:        ctx,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		replies:    make(chan []byte, wsReplyQueue),
		readerDone: make(chan struct{}),
		frames:     newBucket(pageFrameRate, pageFrameBurst, time.Now()),
	}
	if !s.register(c) {
		cancel()
		conn.Close()
		return
	}
	s.log.Debug("ui: page connected", "remote", c.remote)
	defer s.conns.Done()
	writerDone := make(chan struct{})
	go func() {
		defer s.conns.Done()
		defer close(writerDone)
		s.writeLoop(c)
	}()
	s.readLoop(c)
	s.drop(c, "", 0)
	<-writerDone // the page's slot is free once nothing of it runs
}

// admit takes one of the MaxPages slots, before the upgrade, so that pages
// over the cap cost a short HTTP reply and nothing more.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages >= s.cfg.MaxPages {
		return false
	}
	s.pages++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages--
}

// register adds c and puts the current screen in its slot, under the lock
// Show takes, so that c sees every view from the current one on, in order.
func (s *Server) register(c *client) bool {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.clients[c] = struct{}{}
	s.conns.Add(2) // reader and writer
	// The page's script opened this socket: as good a sign of life as
	// a frame, and the page's first ping is 15 s away.
	s.pageSeen = true
	s.lastFrame = now
	// Rev 0 is no view yet: the flow has not shown its first screen. The
	// page stays on "connecting" until Show sends it, rather than get an
	// empty screen.
	if v := s.cfg.Views.View(); v.Rev != 0 {
		c.queueScreenLocked(v.Rev, encodeScreen(v, now), false)
	}
	return true
}

// heartbeat notes a sign of life from a page: a frame it sent.
func (s *Server) heartbeat() {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFrame = now
}

// Browser reports the browser's heartbeat (see BrowserState): ok while a
// page has connected or sent a frame within Config.BrowserTimeout,
// not_responding after that, none before any page connects. It is safe
// from any goroutine.
func (s *Server) Browser() BrowserState {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := BrowserState{LastHeartbeat: s.lastFrame, Pages: len(s.clients)}
	switch {
	case !s.pageSeen:
		b.State = BrowserNone
	case now.Sub(s.lastFrame) > s.cfg.BrowserTimeout:
		b.State = BrowserNotResponding
	default:
		b.State = BrowserOK
	}
	return b
}

// drop removes c and has its writer close the connection with code. An
// empty why means the page went away by itself or the server is closing
// it without fault: not worth a log line.
func (s *Server) drop(c *client, why string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; !ok {
		return
	}
	delete(s.clients, c)
	if why != "" {
		s.log.Info("ui: page dropped", "reason", why, "remote", c.remote)
	}
	if code == 0 {
		code = websocket.CloseGoingAway
	}
	c.closeLocked(code, why)
}

// reply queues a frame for c from its reader. A page too slow to take its
// replies loses them; its screens still reach it.
func (s *Server) reply(c *client, frame []byte) {
	select {
	case c.replies <- frame:
	default:
	}
}

// spend takes one frame from c's budget. Over it, c is dropped with close
// code 1008 (policy violation): a person does not tap that fast.
func (s *Server) spend(c *client) bool {
	if c.frames.take(time.Now()) {
		return true
	}
	s.drop(c, "too many frames", websocket.ClosePolicyViolation)
	return false
}

// resend puts the current screen in c's slot, even if c was sent it
// already, unless rev is the current screen's; it reports whether it did.
// It is how a page that tapped a screen no longer on show (its rev) is
// brought back to the one that is.
func (s *Server) resend(c *client, rev uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.cfg.Views.View()
	if v.Answers(rev) {
		return false
	}
	if _, ok := s.clients[c]; ok {
		c.queueScreenLocked(v.Rev, encodeScreen(v, s.cfg.Now()), true)
	}
	return true
}

func (s *Server) readLoop(c *client) {
	defer close(c.readerDone)
	conn := c.conn
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	})
	pong := conn.PingHandler()
	conn.SetPingHandler(func(data string) error {
		// A ping the page sends is a frame like any other: it costs a
		// write to answer.
		if c.ctx.Err() != nil || !s.spend(c) {
			return nil
		}
		return pong(data)
	})
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			// Closed by the page, by the writer, by silence or by a
			// frame over the read limit: all end here.
			return
		}
		// Any frame the page sends is its script running: the browser's
		// heartbeat. Pongs are not: the browser's network stack answers
		// the server's pings even while the page's renderer is hung.
		s.heartbeat()
		if c.ctx.Err() != nil {
			// Closing: the writer has sent, or is sending, the close
			// frame. What the page sent meanwhile is read and dropped, so
			// the socket is not reset with it unread (which could lose
			// the close frame on the way), until the page answers.
			continue
		}
		if !s.spend(c) {
			continue
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
			// A tap on a screen the page no longer shows (PROTOCOL.md,
			// "Stale taps"). The flow checks the rev too, and decides:
			// this check is so the page is sent the screen really up.
			// Help and language apply to whatever is on screen, so they
			// go on whatever rev they carry.
			if kiosk.AnswersScreen(a.Name) && s.resend(c, a.Rev) {
				s.log.Info("ui: tap on an earlier screen not forwarded", "action", a.Name, "rev", a.Rev)
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
	a := kiosk.Action{Name: f.Action, Rev: f.Rev}
	if kiosk.AnswersScreen(f.Action) && f.Rev == 0 {
		return kiosk.Action{}, errMissingRev
	}
	if f.Action == kiosk.ActionLanguage {
		if len(f.Lang) > 35 || !langTag.MatchString(f.Lang) {
			return kiosk.Action{}, errBadLang
		}
		a.Lang = f.Lang
	}
	if f.Action == kiosk.ActionAnswer {
		if !dateAnswer.MatchString(f.Answer) {
			return kiosk.Action{}, errBadAnswer
		}
		a.Answer = f.Answer
	}
	return a, ""
}

// writeLoop writes c's replies and screens and pings it, until c is
// closed.
func (s *Server) writeLoop(c *client) {
	conn := c.conn
	defer conn.Close() // ends the reader too
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	for {
		if c.ctx.Err() != nil {
			s.closeConn(c)
			return
		}
		var frame []byte
		select {
		case <-c.wake:
			// A screen first: it is what the page is for, and a screen
			// resent for a stale tap then comes before the replies to
			// what the page sent after the tap.
			frame = s.takeScreen(c)
		default:
			select {
			case <-c.ctx.Done():
				continue
			case <-c.wake:
				frame = s.takeScreen(c)
			case frame = <-c.replies:
			case <-ping.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.writeTimeout)); err != nil {
					s.dropFailedWrite(c, err)
					return
				}
			}
		}
		if frame == nil {
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			s.dropFailedWrite(c, err)
			return
		}
	}
}

// takeScreen empties c's slot.
func (s *Server) takeScreen(c *client) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	frame := c.screen
	c.screen = nil
	return frame
}

// dropFailedWrite drops c after a write failed: a page whose socket took
// no writes for the write timeout is stuck, one whose socket failed is
// gone.
func (s *Server) dropFailedWrite(c *client, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.drop(c, "write timeout", 0)
		return
	}
	s.drop(c, "", 0)
}

// closeConn sends the page the close frame and waits, briefly, for the
// page to answer it (the reader ends then) before the socket is closed:
// closed with the page's frames unread, the socket would be reset, and the
// page might lose the close frame and with it why it was closed.
func (s *Server) closeConn(c *client) {
	s.mu.Lock()
	code, text := c.closeCode, c.closeText
	s.mu.Unlock()
	if code == 0 { // Serve's context ended before closeClients ran
		code = websocket.CloseGoingAway
	}
	msg := websocket.FormatCloseMessage(code, text)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wsCloseGrace)); err != nil {
		return
	}
	grace := time.NewTimer(wsCloseGrace)
	defer grace.Stop()
	select {
	case <-c.readerDone:
	case <-grace.C:
	}
}
