// Package uitest is a client of the kiosk page's websocket protocol
// (ui/PROTOCOL.md) for tests: it connects as the page does, reads the
// frames the server sends, and taps as app.js does, with the rev of the
// last screen it was sent.
//
// A Page belongs to one test goroutine: its methods fail the test with
// t.Fatal. Every read and write is bounded by Wait. What a test expects may
// fail, such as a connection the server closes or a server process killed
// under the page, has a variant returning the error instead: DialErr for
// Dial, Page.Read for Page.Next, Page.ActErr for Page.Act. Page.Conn is for
// what no method does, such as a binary frame.
package uitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// Wait bounds every read and write: reaching it fails the test.
const Wait = 10 * time.Second

// Frame is any frame from the server, decoded. A field the frame did not
// carry is zero (nil for the pointers); Raw is the frame as received.
type Frame struct {
	V           int          `json:"v"`
	Type        string       `json:"type"` // screen, pong, error
	Screen      kiosk.Screen `json:"screen"`
	Rev         uint64       `json:"rev"`
	Reason      kiosk.Reason `json:"reason"`
	Name        string       `json:"name"`
	Code        string       `json:"code"`
	At          string       `json:"at"`
	Notice      string       `json:"notice"`
	Appointment string       `json:"appointment"`
	ExpiresInMS *int64       `json:"expires_in_ms"`
	ArmedInMS   *int64       `json:"armed_in_ms"`
	Lang        string       `json:"lang"`
	Receipt     string       `json:"receipt"`
	Error       string       `json:"error"` // of an error frame
	Raw         []byte       `json:"-"`
}

// Page is one connected kiosk page.
type Page struct {
	t testing.TB
	// Conn is the websocket, for what the methods do not do.
	Conn *websocket.Conn
	rev  uint64 // of the last screen read
}

// URL is the kiosk websocket's URL on the server at baseURL
// ("http://127.0.0.1:PORT").
func URL(baseURL string) string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL, "/"), "http") + "/ws/kiosk"
}

// Dial connects a page to the server at baseURL ("http://127.0.0.1:PORT")
// with header added to the upgrade request (a "Host" entry sets the Host).
// It fails the test unless the websocket opens; the page is closed when
// the test ends.
func Dial(t testing.TB, baseURL string, header http.Header) *Page {
	t.Helper()
	p, err := DialErr(t, baseURL, header)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// DialErr is Dial returning the error instead of failing the test, for a
// test that says more about it (what the server logged). The page, once
// open, belongs to t as Dial's does.
func DialErr(t testing.TB, baseURL string, header http.Header) (*Page, error) {
	d := websocket.Dialer{HandshakeTimeout: Wait}
	conn, resp, err := d.Dial(URL(baseURL), header)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w (%s)", URL(baseURL), err, describe(resp))
	}
	t.Cleanup(func() { conn.Close() })
	return &Page{t: t, Conn: conn}, nil
}

// Refused dials as Dial does, expecting the server to turn the page away.
// It returns the HTTP status and body of the refusal, or status 0 if the
// connection closed before any answer. It fails the test if the websocket
// opens.
func Refused(t testing.TB, baseURL string, header http.Header) (status int, body string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: Wait}
	conn, resp, err := d.Dial(URL(baseURL), header)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s: the websocket opened; want it refused", URL(baseURL))
	}
	if resp == nil {
		return 0, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func describe(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s %s", resp.Status, b)
}

// Rev is the rev of the last screen the page read: the screen on show.
func (p *Page) Rev() uint64 { return p.rev }

// Read reads the next frame, returning the error a closed connection
// gives (a *websocket.CloseError for a close frame).
func (p *Page) Read() (Frame, error) {
	p.Conn.SetReadDeadline(time.Now().Add(Wait))
	typ, b, err := p.Conn.ReadMessage()
	if err != nil {
		return Frame{}, err
	}
	if typ != websocket.TextMessage {
		return Frame{}, errors.New("uitest: a binary frame from the server")
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("uitest: frame %s: %w", b, err)
	}
	f.Raw = b
	if f.Type == "screen" {
		p.rev = f.Rev
	}
	return f, nil
}

// Next reads the next frame, of any type. It fails the test if none comes.
func (p *Page) Next() Frame {
	p.t.Helper()
	f, err := p.Read()
	if err != nil {
		p.t.Fatalf("read frame: %v", err)
	}
	return f
}

// Want reads frames until a screen frame, and fails the test unless it
// shows screen.
func (p *Page) Want(screen kiosk.Screen) Frame {
	p.t.Helper()
	for {
		f, err := p.Read()
		if err != nil {
			p.t.Fatalf("read frame: %v (waiting for screen %q)", err, screen)
		}
		if f.Type != "screen" {
			continue
		}
		if f.V != 1 || f.Screen != screen {
			p.t.Fatalf("screen frame %s; want v 1, screen %q", f.Raw, screen)
		}
		return f
	}
}

// WantError reads frames until an error frame, and returns its error
// code. It fails the test on a frame without a type, or an error frame
// that is not v 1.
func (p *Page) WantError() string {
	p.t.Helper()
	for {
		f, err := p.Read()
		if err != nil {
			p.t.Fatalf("read frame: %v (waiting for an error frame)", err)
		}
		switch {
		case f.Type == "error":
			if f.V != 1 {
				p.t.Fatalf("error frame %s; want v 1", f.Raw)
			}
			return f.Error
		case strings.TrimSpace(f.Type) == "":
			p.t.Fatalf("frame %s without a type", f.Raw)
		}
	}
}

// Act taps action on the screen on show: it sends the action with the rev
// of the last screen read, as the page does.
func (p *Page) Act(action string) {
	p.t.Helper()
	p.ActAt(action, p.rev)
}

// ActAt sends action with rev: the tap made on the screen of that rev.
func (p *Page) ActAt(action string, rev uint64) {
	p.t.Helper()
	if err := p.write(actionFrame(action, rev)); err != nil {
		p.t.Fatalf("send %s: %v", actionFrame(action, rev), err)
	}
}

// ActErr is Act returning the error instead of failing the test.
func (p *Page) ActErr(action string) error {
	return p.write(actionFrame(action, p.rev))
}

// Send sends raw as one text frame.
func (p *Page) Send(raw string) {
	p.t.Helper()
	if err := p.write([]byte(raw)); err != nil {
		p.t.Fatalf("send %s: %v", raw, err)
	}
}

func (p *Page) write(b []byte) error {
	p.Conn.SetWriteDeadline(time.Now().Add(Wait))
	return p.Conn.WriteMessage(websocket.TextMessage, b)
}

// actionFrame is the action frame of a tap on action at rev.
func actionFrame(action string, rev uint64) []byte {
	b, _ := json.Marshal(struct {
		V      int    `json:"v"`
		Type   string `json:"type"`
		Action string `json:"action"`
		Rev    uint64 `json:"rev"`
	}{1, "action", action, rev}) // cannot fail: strings and numbers
	return b
}

// Request sends a request to the kiosk listener at u with its Host header
// set to host (a DNS-rebinding page's, say), and returns the status and
// body.
func Request(t testing.TB, method, u, host, body string) (status int, respBody string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
