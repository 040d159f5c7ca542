package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// The daemon against hostile clients: a web page rebinding its name to the
// kiosk's address, too many pages, a page flooding actions, malformed
// paths. Each is refused without the kiosk page being disturbed.

// hostileGet sends method path to the daemon with Host host, and returns
// the status and body.
func hostileGet(t *testing.T, m *Main, method, path, host, body string) (int, string) {
	t.Helper()
	return uitest.Request(t, method, "http://"+m.Addr()+path, host, body)
}

// untilScreen reads p's frames until screen s, allowing only screens in
// between whose name is in pass, with revisions rising.
func untilScreen(t *testing.T, p *uitest.Page, s kiosk.Screen, pass ...kiosk.Screen) uitest.Frame {
	t.Helper()
	var rev uint64
	for {
		f := p.Next()
		if f.Type != "screen" {
			continue
		}
		if f.Rev <= rev {
			t.Fatalf("screen %s after rev %d; want revisions rising", f.Raw, rev)
		}
		rev = f.Rev
		if f.Screen == s {
			return f
		}
		ok := false
		for _, q := range pass {
			ok = ok || f.Screen == q
		}
		if !ok {
			t.Fatalf("screen %s; want %s", f.Raw, s)
		}
	}
}

func TestHostileHost(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	base := "http://" + m.Addr()
	_, port, _ := net.SplitHostPort(m.Addr())

	for _, host := range []string{"evil.example:" + port, "evil.example"} {
		for _, path := range []string{"/", "/api/v1/status"} {
			if code, body := hostileGet(t, m, "GET", path, host, ""); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s, Host %s = %d %s; want 421", path, host, code, body)
			}
		}
		if code, body := hostileGet(t, m, "POST", "/api/v1/sim/scan", host, kit.Samples["valid"]); code != http.StatusMisdirectedRequest {
			t.Errorf("POST /api/v1/sim/scan, Host %s = %d %s; want 421", host, code, body)
		}
		if code, body := uitest.Refused(t, base, http.Header{"Host": {host}}); code != http.StatusMisdirectedRequest {
			t.Errorf("websocket, Host %s = %d %s; want 421", host, code, body)
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		if code, body := hostileGet(t, m, "GET", "/", host, ""); code != http.StatusOK || !strings.Contains(body, `data-screen="connecting"`) {
			t.Errorf("GET /, Host %s = %d; want 200, the page", host, code)
		}
		var st statusDoc
		if code, body := hostileGet(t, m, "GET", "/api/v1/status", host, ""); code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Screen != "idle" {
			t.Errorf("GET /api/v1/status, Host %s = %d %s; want 200, screen idle", host, code, body)
		}
		p := uitest.Dial(t, base, http.Header{"Host": {host}})
		p.Want(kiosk.ScreenIdle)
		p.Conn.Close()
	}
}

// The page cap: one page more than ui.DefaultMaxPages is refused with 503,
// and the first page goes on getting its screens.
func TestHostilePageCap(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	base := "http://" + m.Addr()
	var pages []*uitest.Page
	for range ui.DefaultMaxPages {
		p := uitest.Dial(t, base, nil)
		p.Want(kiosk.ScreenIdle)
		pages = append(pages, p)
	}
	code, body := uitest.Refused(t, base, nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"busy"`) {
		t.Errorf("page %d: %d %s; want 503 busy", ui.DefaultMaxPages+1, code, body)
	}
	simScan(t, m, kit.Samples["valid"])
	if f := pages[0].Want(kiosk.ScreenConfirm); f.Name == "" {
		t.Errorf("first page's confirm %s; want the name", f.Raw)
	}
}

// One page floods actions: it is dropped with close code 1008 and a log
// line; another page stays connected, and shows the next scan.
func TestHostileFlood(t *testing.T) {
	kit := testKit(t)
	var log syncBuffer
	m := startKioskLogging(t, testLogTo(&log), t.TempDir(), kit, "")
	base := "http://" + m.Addr()
	innocent := uitest.Dial(t, base, nil)
	innocent.Want(kiosk.ScreenIdle)
	flooder := uitest.Dial(t, base, nil)
	flooder.Want(kiosk.ScreenIdle)

	closed := make(chan error, 1)
	go func() {
		for {
			if _, err := flooder.Read(); err != nil {
				closed <- err
				return
			}
		}
	}()
	frame := []byte(fmt.Sprintf(`{"v":1,"type":"action","action":"language","lang":"es","rev":%d}`, flooder.Rev()))
	sent := 0
	for ; sent < 10_000; sent++ {
		flooder.Conn.SetWriteDeadline(time.Now().Add(uitest.Wait))
		if err := flooder.Conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			break // the server closed it
		}
	}
	select {
	case err := <-closed:
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("flooder closed with %v; want close 1008", err)
		}
	case <-time.After(uitest.Wait):
		t.Fatalf("flooder still connected after %d frames", sent)
	}
	if !logged(log.String(), `msg="ui: page dropped"`, `reason="too many frames"`) {
		t.Errorf("daemon log:\n%s\nwant the flooder's drop logged", log.String())
	}

	simScan(t, m, kit.Samples["valid"])
	f := untilScreen(t, innocent, kiosk.ScreenConfirm, kiosk.ScreenIdle)
	if f.Name == "" {
		t.Errorf("confirm %s; want the name", f.Raw)
	}
	if n := recorded(t, m); n != 0 {
		t.Errorf("%d check-ins; want 0", n)
	}
}

// logged reports whether a line of log has every one of parts.
func logged(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		n := 0
		for _, p := range parts {
			if strings.Contains(line, p) {
				n++
			}
		}
		if n == len(parts) {
			return true
		}
	}
	return false
}

// testLogTo is testLog writing to w instead.
func testLogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestHostilePaths(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	for _, path := range []string{"/%c0%ae%c0%ae/etc/passwd", "/%ff", "/app.js%c0"} {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(uitest.Wait))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, m.Addr())
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %s; want 404", path, resp.Status)
		}
	}
}

// A scan posted with a trailing tab and spaces (a pasted line) is the scan.
func TestHostileSimScanWhiteSpace(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"]+"\t  \r\n")
	if f := p.Want(kiosk.ScreenConfirm); f.Name != "Amina Haddad" {
		t.Errorf("confirm %s; want Amina Haddad's", f.Raw)
	}
}

// In real Chromium: A's confirm screen is up, and a finger lands on Yes
// (pointerdown); B scans before it lifts. The page shows B's confirm with
// Yes and No held (disabled), then armed; the click that ends A's gesture
// is not sent; B's own answer is.
func TestHostileStaleTapInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	openPage(t, ctx, m, 1024, 600)
	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	const yes = `section[data-for="confirm"] button[data-action="confirm"]`
	const no = `section[data-for="confirm"] button[data-action="deny"]`
	js := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	js("finger down on A's Yes", `document.querySelector('`+yes+`').dispatchEvent(new PointerEvent("pointerdown", {bubbles: true, pointerType: "touch"}))`)

	simScan(t, m, kit.Samples["reference"])
	// In the same turn as B's name appears: are Yes and No held?
	held, err := chromedp.Run(ctx, chromedp.Poll[map[string]bool](`document.getElementById("confirm-name").textContent !== "Amina Haddad" &&
		{held: document.querySelector('`+yes+`').disabled && document.querySelector('`+no+`').disabled}`,
		chromedp.WithPollingTimeout(uitest.Wait)))
	if err != nil {
		t.Fatalf("waiting for B's confirm: %v", err)
	}
	if !held["held"] {
		t.Errorf("B's confirm replaced A's with Yes and No enabled at once; want them held")
	}
	if err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS(yes))); err != nil {
		t.Fatalf("B's Yes never armed: %v", err)
	}
	js("A's gesture ends over B's armed Yes", `document.querySelector('`+yes+`').dispatchEvent(new MouseEvent("click", {bubbles: true, detail: 1}))`)
	// B answers No. Frames reach the daemon in order: had the click been
	// sent, B would be checked in already and the No ignored.
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionDeny)
	waitScreen(t, ctx, kiosk.ScreenSeeStaff)
	if n := recorded(t, m); n != 0 {
		t.Errorf("%d check-ins after a gesture begun on A's screen; want 0", n)
	}
}
