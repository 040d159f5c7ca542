package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// testClock is a Config.Now the test moves: the heartbeat's timeout passes
// without anyone sleeping through it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// wantBrowser fails the test unless the server reports the browser in
// state, last heard from at last, with pages connected.
func wantBrowser(t *testing.T, h *harness, state BrowserCondition, last time.Time, pages int) {
	t.Helper()
	got := h.srv.Browser()
	if got.State != state || !got.LastHeartbeat.Equal(last) || got.Pages != pages {
		t.Fatalf("Browser() = %+v; want state %s, last heartbeat %v, %d pages", got, state, last, pages)
	}
}

// The page's frames keep the browser "ok"; silence longer than the timeout
// is "not_responding", and the next frame, a ping or any other, is "ok"
// again. Before any page, the browser is "none".
func TestBrowserHeartbeat(t *testing.T) {
	clk := &testClock{now: clock}
	h := start(t, Config{Now: clk.Now})
	wantBrowser(t, h, BrowserNone, time.Time{}, 0)

	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenIdle) // registered
	connected := clk.Now()
	wantBrowser(t, h, BrowserOK, connected, 1) // connecting is a sign of life

	clk.advance(DefaultBrowserTimeout)
	wantBrowser(t, h, BrowserOK, connected, 1) // at the limit, not past it
	clk.advance(time.Second)
	wantBrowser(t, h, BrowserNotResponding, connected, 1)

	p.Send(`{"v":1,"type":"ping"}`)
	if f := p.Next(); f.Type != "pong" { // the reader has taken the ping
		t.Fatalf("answer to ping = %s; want a pong", f.Raw)
	}
	pinged := clk.Now()
	wantBrowser(t, h, BrowserOK, pinged, 1)

	// Any frame counts: the person's tap as much as the page's ping.
	clk.advance(DefaultBrowserTimeout + time.Second)
	wantBrowser(t, h, BrowserNotResponding, pinged, 1)
	p.Send(`{"v":1,"type":"action","action":"help"}`)
	select {
	case <-h.actions:
	case <-time.After(wait):
		t.Fatal("the help action was not forwarded")
	}
	wantBrowser(t, h, BrowserOK, clk.Now(), 1)
}

// A hung renderer's browser still answers the server's websocket pings
// (its network stack does, not the page): control frames are not the
// page's heartbeat.
func TestBrowserControlFramesAreNoHeartbeat(t *testing.T) {
	clk := &testClock{now: clock}
	h := start(t, Config{Now: clk.Now})
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenIdle)
	connected := clk.Now()
	clk.advance(DefaultBrowserTimeout + time.Second)

	// A pong, as the browser sends to the server's pings, then a ping:
	// the server's pong to it comes once its reader has taken both.
	answered := errors.New("the server's pong")
	p.Conn.SetPongHandler(func(string) error { return answered })
	deadline := time.Now().Add(wait)
	if err := p.Conn.WriteControl(websocket.PongMessage, nil, deadline); err != nil {
		t.Fatal(err)
	}
	if err := p.Conn.WriteControl(websocket.PingMessage, nil, deadline); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(); !errors.Is(err, answered) {
		t.Fatalf("read after a ping = %v; want the server's pong", err)
	}
	wantBrowser(t, h, BrowserNotResponding, connected, 1)
}

// A page that leaves and does not come back leaves the browser "ok" until
// the timeout has passed since its last frame (a reloading page reconnects
// within seconds), then "not_responding", with no page connected.
func TestBrowserGone(t *testing.T) {
	clk := &testClock{now: clock}
	const timeout = 5 * time.Second
	h := start(t, Config{Now: clk.Now, BrowserTimeout: timeout})
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenIdle)
	clk.advance(2 * time.Second)
	p.Send(`{"v":1,"type":"ping"}`)
	p.Next() // the pong
	last := clk.Now()

	p.Conn.Close()
	eventually(t, "the server to see the page gone", func() bool { return h.srv.clientCount() == 0 })
	wantBrowser(t, h, BrowserOK, last, 0)
	clk.advance(timeout)
	wantBrowser(t, h, BrowserOK, last, 0)
	clk.advance(time.Millisecond)
	wantBrowser(t, h, BrowserNotResponding, last, 0)

	// It comes back: ok again.
	uitest.Dial(t, h.base, nil).Want(kiosk.ScreenIdle)
	wantBrowser(t, h, BrowserOK, clk.Now(), 1)
}

// The status carries the browser, filled by the Server over what the
// callback returns; a browser not responding leaves /healthz 200: the
// browser's watchdog acts on it, not the daemon's (see BrowserState).
func TestStatusBrowser(t *testing.T) {
	clk := &testClock{now: clock}
	h := start(t, Config{Now: clk.Now, Status: func(ctx context.Context) (Status, error) {
		return Status{Browser: BrowserState{State: BrowserOK, Pages: 7}}, nil
	}})
	status := func() (BrowserState, string) {
		t.Helper()
		resp, b := get(t, h.base+"/api/v1/status")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/status = %d %s; want 200", resp.StatusCode, b)
		}
		var doc struct {
			Browser json.RawMessage `json:"browser"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var st Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		return st.Browser, string(doc.Browser)
	}

	if got, raw := status(); raw != `{"state":"none","last_heartbeat":null,"pages":0}` || got != (BrowserState{State: BrowserNone}) {
		t.Errorf("browser before any page = %s (%+v); want none, null, 0 pages", raw, got)
	}

	uitest.Dial(t, h.base, nil).Want(kiosk.ScreenIdle)
	clk.advance(500 * time.Millisecond) // the status shows whole seconds
	if got, raw := status(); raw != `{"state":"ok","last_heartbeat":"2025-11-25T14:30:00Z","pages":1}` ||
		got != (BrowserState{State: BrowserOK, LastHeartbeat: clock, Pages: 1}) {
		t.Errorf("browser with a page = %s (%+v); want ok at %v, 1 page", raw, got, clock)
	}

	clk.advance(DefaultBrowserTimeout)
	if _, raw := status(); raw != `{"state":"not_responding","last_heartbeat":"2025-11-25T14:30:00Z","pages":1}` {
		t.Errorf("browser silent = %s; want not_responding", raw)
	}
	// Other readers of the status see what the API shows.
	st, err := h.srv.Status(t.Context())
	if err != nil || st.Screen != kiosk.ScreenIdle || st.Browser != (BrowserState{State: BrowserNotResponding, LastHeartbeat: clock, Pages: 1}) {
		t.Errorf("Status() = %+v, %v; want screen idle, browser not_responding", st, err)
	}
	resp, b := get(t, h.base+"/healthz")
	if resp.StatusCode != http.StatusOK || string(b) != `{"status":"ok"}`+"\n" {
		t.Errorf("GET /healthz with the browser not responding = %d %s; want 200 {\"status\":\"ok\"}", resp.StatusCode, b)
	}
}

// The browser's states are an interface the browser watchdog reads: their
// JSON names are fixed (see BrowserState).
func TestBrowserJSON(t *testing.T) {
	for _, tc := range []struct {
		b    BrowserState
		want string
	}{
		{BrowserState{State: BrowserOK, LastHeartbeat: clock, Pages: 1}, `{"state":"ok","last_heartbeat":"2025-11-25T14:30:00Z","pages":1}`},
		{BrowserState{State: BrowserNotResponding, LastHeartbeat: clock.Add(1500 * time.Millisecond)},
			`{"state":"not_responding","last_heartbeat":"2025-11-25T14:30:01Z","pages":0}`},
		{BrowserState{State: BrowserNone}, `{"state":"none","last_heartbeat":null,"pages":0}`},
		{BrowserState{}, `{"state":"unknown","last_heartbeat":null,"pages":0}`},
	} {
		b, err := json.Marshal(tc.b)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tc.b, b, err, tc.want)
		}
	}
}
