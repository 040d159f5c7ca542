package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// wait bounds every wait in these tests: reaching it is a failure, never
// the way a test proceeds.
const wait = 10 * time.Second

var clock = time.Date(2025, 11, 25, 14, 30, 0, 0, time.UTC)

// views is a ViewSource the test sets.
type views struct {
	mu sync.Mutex
	v  kiosk.View
}

func (f *views) View() kiosk.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v
}

func (f *views) set(v kiosk.View) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v = v
}

type harness struct {
	srv     *Server
	base    string // http://127.0.0.1:PORT
	views   *views
	actions chan kiosk.Action
}

// start serves cfg (Views and Actions filled in if empty) on a loopback
// port until the test ends, and checks that Serve then returns nil. Each
// edit is applied to the Server before it serves.
func start(t *testing.T, cfg Config, edits ...func(*Server)) *harness {
	t.Helper()
	h := &harness{views: &views{v: kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle}}, actions: make(chan kiosk.Action, 16)}
	if cfg.Views == nil {
		cfg.Views = h.views
	}
	if cfg.Actions == nil {
		cfg.Actions = h.actions
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return clock }
	}
	h.srv = New(cfg)
	for _, edit := range edits {
		edit(h.srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v; want nil", err)
			}
		case <-time.After(wait):
			t.Errorf("Serve did not return after its context ended")
		}
	})
	return h
}

func (s *Server) clientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func TestConnectSendsCurrentScreen(t *testing.T) {
	h := start(t, Config{})
	h.views.set(kiosk.View{Rev: 7, Screen: kiosk.ScreenConfirm, Name: "Ana María Pérez", Expires: clock.Add(45 * time.Second), Lang: "es"})
	f := uitest.Dial(t, h.base, nil).Next()
	var m map[string]any
	if err := json.Unmarshal(f.Raw, &m); err != nil {
		t.Fatal(err)
	}
	if f.V != 1 || f.Type != "screen" || f.Screen != kiosk.ScreenConfirm || f.Rev != 7 || f.Name != "Ana María Pérez" || f.Lang != "es" {
		t.Errorf("first frame = %s; want v 1, screen confirm, rev 7, the name, lang es", f.Raw)
	}
	if f.ExpiresInMS == nil || *f.ExpiresInMS != 45000 {
		t.Errorf("expires_in_ms = %v; want 45000", m["expires_in_ms"])
	}
	for _, k := range []string{"reason", "code", "at"} {
		if _, ok := m[k]; ok {
			t.Errorf("first frame has %q; want it omitted when empty", k)
		}
	}
}

// A page that connects before the flow has shown anything (rev 0) is sent
// no empty screen: its first frame is the flow's first view.
func TestConnectBeforeFirstView(t *testing.T) {
	h := start(t, Config{})
	h.views.set(kiosk.View{})
	p := uitest.Dial(t, h.base, nil)
	p.Send(`{"v":1,"type":"ping"}`)
	if f := p.Next(); f.Type != "pong" {
		t.Fatalf("first frame %s; want the pong, no screen before the flow's first view", f.Raw)
	}
	v := kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle}
	h.views.set(v)
	h.srv.Show(v)
	if f := p.Want(kiosk.ScreenIdle); f.Rev != 1 {
		t.Errorf("first screen rev %d; want 1", f.Rev)
	}
}

func TestScreenFrameFields(t *testing.T) {
	at := time.Date(2025, 11, 25, 9, 41, 5, 0, time.FixedZone("EST", -5*3600))
	tests := []struct {
		v    kiosk.View
		want string
	}{
		{kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle},
			`{"v":1,"type":"screen","screen":"idle","rev":1}`},
		{kiosk.View{Rev: 2, Screen: kiosk.ScreenSuccess, Code: "7KQ2-M9XD", At: at, Expires: clock.Add(20 * time.Second)},
			`{"v":1,"type":"screen","screen":"success","rev":2,"code":"7KQ2-M9XD","at":"2025-11-25T09:41:05-05:00","expires_in_ms":20000}`},
		{kiosk.View{Rev: 3, Screen: kiosk.ScreenSeeStaff, Reason: kiosk.ReasonCardExpired, Expires: clock.Add(-time.Second), Lang: "es"},
			`{"v":1,"type":"screen","screen":"see_staff","rev":3,"reason":"card_expired","expires_in_ms":0,"lang":"es"}`},
		{kiosk.View{Rev: 4, Screen: kiosk.ScreenSuccess, Code: "7KQ2-M9XD", Receipt: kiosk.ReceiptFailed},
			`{"v":1,"type":"screen","screen":"success","rev":4,"code":"7KQ2-M9XD","receipt":"failed"}`},
		{kiosk.View{Rev: 5, Screen: kiosk.ScreenIdle, Reason: kiosk.ReasonScannerUnavailable},
			`{"v":1,"type":"screen","screen":"idle","rev":5,"reason":"scanner_unavailable"}`},
		{kiosk.View{Rev: 6, Screen: kiosk.ScreenSuccess, Code: "7KQ2-M9XD", Household: []kiosk.Member{{Name: "A B", Code: "AAAA-BBBB"}, {Name: "C D", Code: "7KQ2-M9XD"}}},
			`{"v":1,"type":"screen","screen":"success","rev":6,"code":"7KQ2-M9XD","household":[{"name":"A B","code":"AAAA-BBBB"},{"name":"C D","code":"7KQ2-M9XD"}]}`},
	}
	for _, tt := range tests {
		if got := string(encodeScreen(tt.v, clock)); got != tt.want {
			t.Errorf("encodeScreen(%+v) =\n%s\nwant\n%s", tt.v, got, tt.want)
		}
	}
}

func TestShowBroadcastsInOrder(t *testing.T) {
	h := start(t, Config{})
	a, b := uitest.Dial(t, h.base, nil), uitest.Dial(t, h.base, nil)
	for _, p := range []*uitest.Page{a, b} {
		if f := p.Next(); f.Rev != 1 {
			t.Fatalf("first frame rev = %d; want 1", f.Rev)
		}
	}
	screens := []kiosk.Screen{kiosk.ScreenHelp, kiosk.ScreenConfirm, kiosk.ScreenSuccess, kiosk.ScreenIdle}
	// A burst: each page gets the views in order, older ones perhaps
	// skipped for newer, and always the last.
	const n = 32
	for i := range n {
		h.srv.Show(kiosk.View{Rev: uint64(i + 2), Screen: screens[i%len(screens)]})
	}
	for _, p := range []*uitest.Page{a, b} {
		for last := uint64(1); last != n+1; {
			f := p.Next()
			if f.Rev <= last || f.Rev > n+1 {
				t.Fatalf("frame rev %d after rev %d; want revisions rising to %d", f.Rev, last, n+1)
			}
			if want := screens[(f.Rev-2)%uint64(len(screens))]; f.Screen != want {
				t.Fatalf("frame rev %d = %s; want %s", f.Rev, f.Screen, want)
			}
			last = f.Rev
		}
	}
}

func TestShowSkipsRevisionSentOnConnect(t *testing.T) {
	h := start(t, Config{})
	h.views.set(kiosk.View{Rev: 5, Screen: kiosk.ScreenHelp})
	p := uitest.Dial(t, h.base, nil)
	if f := p.Next(); f.Rev != 5 {
		t.Fatalf("first frame rev = %d; want 5", f.Rev)
	}
	// The flow changes its view before it calls Show: a page that
	// connected in between has rev 5 already.
	h.srv.Show(kiosk.View{Rev: 5, Screen: kiosk.ScreenHelp})
	h.srv.Show(kiosk.View{Rev: 6, Screen: kiosk.ScreenIdle})
	if f := p.Next(); f.Rev != 6 {
		t.Fatalf("next frame rev = %d; want 6 (rev 5 once only)", f.Rev)
	}
}

func TestActionsForwarded(t *testing.T) {
	h := start(t, Config{})
	p := uitest.Dial(t, h.base, nil)
	p.Next()
	tests := []struct {
		in   string
		want kiosk.Action
	}{
		{`{"v":1,"type":"action","action":"confirm","rev":1}`, kiosk.Action{Name: kiosk.ActionConfirm, Rev: 1}},
		{`{"v":1,"type":"action","action":"deny","rev":1}`, kiosk.Action{Name: kiosk.ActionDeny, Rev: 1}},
		{`{"v":1,"type":"action","action":"help"}`, kiosk.Action{Name: kiosk.ActionHelp}},
		// Help applies to whatever is on screen: an earlier rev is no
		// reason to lose it.
		{`{"v":1,"type":"action","action":"help","rev":9}`, kiosk.Action{Name: kiosk.ActionHelp, Rev: 9}},
		{`{"v":1,"type":"action","action":"extend","rev":1}`, kiosk.Action{Name: kiosk.ActionExtend, Rev: 1}},
		{`{"v":1,"type":"action","action":"language","lang":"es"}`, kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}},
		{`{"v":1,"type":"action","action":"language","lang":"zh-Hant-TW","rev":1}`, kiosk.Action{Name: kiosk.ActionLanguage, Lang: "zh-Hant-TW", Rev: 1}},
		{`{"v":1,"type":"action","action":"another","rev":1}`, kiosk.Action{Name: kiosk.ActionAnother, Rev: 1}},
		{`{"v":1,"type":"action","action":"done","rev":1,"lang":"ignored","extra":true}`, kiosk.Action{Name: kiosk.ActionDone, Rev: 1}},
		{`{"v":1,"type":"action","action":"answer","answer":"1990-01-02","rev":1}`, kiosk.Action{Name: kiosk.ActionAnswer, Answer: "1990-01-02", Rev: 1}},
		{`{"v":1,"type":"action","action":"confirm","answer":"ignored","rev":1}`, kiosk.Action{Name: kiosk.ActionConfirm, Rev: 1}},
	}
	for _, tt := range tests {
		p.Send(tt.in)
		select {
		case got := <-h.actions:
			if got != tt.want {
				t.Errorf("%s: action = %+v; want %+v", tt.in, got, tt.want)
			}
		case <-time.After(wait):
			t.Fatalf("%s: no action", tt.in)
		}
	}
}

func TestBadFramesGetErrorFrames(t *testing.T) {
	h := start(t, Config{})
	p := uitest.Dial(t, h.base, nil)
	p.Next()
	tests := []struct{ in, code string }{
		{`not json`, "bad_json"},
		{`[1,2]`, "bad_json"},
		{`{"type":"ping"}`, "bad_version"},
		{`{"v":2,"type":"ping"}`, "bad_version"},
		{`{"v":"1","type":"ping"}`, "bad_json"},
		{`{"v":1}`, "unknown_type"},
		{`{"v":1,"type":"screen","screen":"success"}`, "unknown_type"},
		{`{"v":1,"type":"action","action":"commit"}`, "unknown_action"},
		{`{"v":1,"type":"action"}`, "unknown_action"},
		{`{"v":1,"type":"action","action":"language"}`, "bad_lang"},
		{`{"v":1,"type":"action","action":"language","lang":"<script>"}`, "bad_lang"},
		{`{"v":1,"type":"action","action":"answer","rev":1}`, "bad_answer"},
		{`{"v":1,"type":"action","action":"answer","answer":"02/01/1990","rev":1}`, "bad_answer"},
		{`{"v":1,"type":"action","action":"answer","answer":"1990-01-02"}`, "missing_rev"},
		{`{"v":1,"type":"action","action":"confirm"}`, "missing_rev"},
		{`{"v":1,"type":"action","action":"done","rev":0}`, "missing_rev"},
		{`{"v":1,"type":"action","action":"confirm","rev":-1}`, "bad_json"},
	}
	for _, tt := range tests {
		p.Send(tt.in)
		f := p.Next()
		if f.V != 1 || f.Type != "error" || f.Error != tt.code {
			t.Errorf("%s: reply = %s; want error %q", tt.in, f.Raw, tt.code)
		}
		// The connection is kept.
		p.Send(`{"v":1,"type":"ping"}`)
		if f := p.Next(); f.Type != "pong" || f.V != 1 {
			t.Fatalf("after %s: ping reply = %s; want pong", tt.in, f.Raw)
		}
	}
	p.Conn.SetWriteDeadline(time.Now().Add(wait))
	if err := p.Conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if f := p.Next(); f.Type != "error" || f.Error != "binary_frame" {
		t.Errorf("binary frame: reply = %s; want error binary_frame", f.Raw)
	}
	select {
	case a := <-h.actions:
		t.Errorf("a bad frame made action %+v", a)
	default:
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	h := start(t, Config{})
	p := uitest.Dial(t, h.base, nil)
	p.Next()
	p.Send(`{"v":1,"type":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`)
	if _, err := p.Read(); err == nil || isTimeout(err) {
		t.Fatalf("read after a 2 KB frame = %v; want the connection closed", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A page that stops reading is dropped once its socket takes no writes for
// the write timeout, while one that reads keeps receiving; Show never
// waits for either.
func TestSlowClientDropped(t *testing.T) {
	h := start(t, Config{}, func(s *Server) { s.writeTimeout = 200 * time.Millisecond })
	fast, slow := uitest.Dial(t, h.base, nil), uitest.Dial(t, h.base, nil)
	fast.Next()
	slow.Next() // registered; it never reads again
	name := strings.Repeat("N", 8<<10)
	rev := uint64(1)
	for h.srv.clientCount() == 2 {
		if rev > 100_000 {
			t.Fatalf("slow client still connected after %d views", rev)
		}
		rev++
		h.srv.Show(kiosk.View{Rev: rev, Screen: kiosk.ScreenConfirm, Name: name})
		if f := fast.Next(); f.Rev != rev {
			t.Fatalf("fast client got rev %d; want %d", f.Rev, rev)
		}
	}
	rev++
	h.srv.Show(kiosk.View{Rev: rev, Screen: kiosk.ScreenIdle})
	if f := fast.Next(); f.Rev != rev || f.Screen != kiosk.ScreenIdle {
		t.Fatalf("fast client after the drop got %s; want rev %d idle", f.Raw, rev)
	}
	// The slow one finds its connection closed before the last view.
	for {
		f, err := slow.Read()
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("slow client: %v; want its connection closed", err)
			}
			break
		}
		if f.Rev == rev {
			t.Fatalf("slow client got the last view; want it dropped before")
		}
	}
}

// Show never waits for a page, and a page that falls behind is not
// dropped for it: it skips to the newest screen.
func TestShowNeverBlocks(t *testing.T) {
	h := start(t, Config{})
	p := uitest.Dial(t, h.base, nil)
	p.Next() // registered; it does not read while Show runs
	name := strings.Repeat("N", 4<<10)
	const n = 10_000 // 40 MB: more than any socket buffers hold
	for i := range n {
		h.srv.Show(kiosk.View{Rev: uint64(i + 2), Screen: kiosk.ScreenConfirm, Name: name})
	}
	got := 0
	for last := uint64(1); last != n+1; got++ {
		f, err := p.Read()
		if err != nil {
			t.Fatalf("after %d frames (rev %d): %v; want every frame up to rev %d", got, last, err, n+1)
		}
		if f.Rev <= last {
			t.Fatalf("rev %d after rev %d; want revisions rising", f.Rev, last)
		}
		last = f.Rev
	}
	if got >= n {
		t.Errorf("client read all %d frames; want the older ones skipped", got)
	}
	if n := h.srv.clientCount(); n != 1 {
		t.Errorf("clients = %d; want 1 (the page kept)", n)
	}
}

func TestCrossOriginWebsocketRefused(t *testing.T) {
	h := start(t, Config{})
	u, _ := url.Parse(h.base)
	for _, origin := range []string{"http://evil.example", "http://" + u.Hostname() + ":1", "null", "file://"} {
		if code, body := uitest.Refused(t, h.base, http.Header{"Origin": {origin}}); code != http.StatusForbidden {
			t.Errorf("Origin %s: %d %s; want 403", origin, code, body)
		}
	}
	for _, origin := range []string{h.base, strings.ToUpper(h.base[:4]) + h.base[4:]} {
		p := uitest.Dial(t, h.base, http.Header{"Origin": {origin}})
		if f := p.Next(); f.Type != "screen" {
			t.Errorf("Origin %s: first frame %s; want a screen", origin, f.Raw)
		}
	}
}

func TestServeClosesWebsockets(t *testing.T) {
	srv := New(Config{Views: &views{v: kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle}}, Actions: make(chan kiosk.Action)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	p := uitest.Dial(t, "http://"+ln.Addr().String(), nil)
	p.Next()
	// A reader blocked on the Actions channel (nobody reads it) must not
	// hold up shutdown either.
	p.Send(`{"v":1,"type":"action","action":"help"}`)
	cancel()
	_, err = p.Read()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read after shutdown = %v; want close 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v; want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Serve did not return")
	}
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestStatus(t *testing.T) {
	last := time.Date(2025, 11, 25, 14, 0, 0, 0, time.UTC)
	h := start(t, Config{Status: func(ctx context.Context) (Status, error) {
		return Status{
			Scanner: Device{Source: "sim", State: DeviceOK},
			Panel:   Device{Source: "gpio:/dev/gpiochip0", State: DeviceFault, Error: "open /dev/gpiochip0: permission denied"},
			Display: Device{State: DeviceNone},
			Printer: Device{Source: "lp:/dev/usb/lp0", State: DeviceFault, Error: "paper out"},
			Outbox: Outbox{Pending: 3, UploadedTotal: 12, LastUpload: last, Quarantined: 1, LastError: "disk full",
				OldestPending: last.Add(-30 * time.Minute)},
			Upload: Upload{LastAttempt: last.Add(time.Minute), LastError: "upstream: 503",
				LastHeartbeat: last.Add(-time.Minute), HeadState: "behind"},
			Clock: Clock{State: kiosk.ClockImplausible, Trusted: last.Add(-time.Hour)},
			Lists: Lists{TrustSeq: 4, RevocationsSeq: 17, RevocationsIssuedAt: last.Add(-8 * time.Hour), Stale: true, SkippedKeys: 2},
		}, nil
	}})
	h.views.set(kiosk.View{Rev: 4, Screen: kiosk.ScreenConfirm, Name: "secret"})
	resp, b := get(t, h.base+"/api/v1/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d; want 200", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", cc)
	}
	want := `{"screen":"confirm","service":{"state":"in_service"},"scanner":{"source":"sim","state":"ok"},` +
		`"panel":{"source":"gpio:/dev/gpiochip0","state":"fault","error":"open /dev/gpiochip0: permission denied"},` +
		`"display":{"source":"","state":"none"},"printer":{"source":"lp:/dev/usb/lp0","state":"fault","error":"paper out"},` +
		`"outbox":{"pending":3,"uploaded_total":12,"last_upload":"2025-11-25T14:00:00Z","quarantined":1,"last_error":"disk full","oldest_pending":"2025-11-25T13:30:00Z"},` +
		`"upload":{"last_attempt":"2025-11-25T14:01:00Z","last_error":"upstream: 503","last_heartbeat":"2025-11-25T13:59:00Z","head_state":"behind"},` +
		`"clock":{"state":"implausible","trusted":"2025-11-25T13:00:00Z"},` +
		`"lists":{"trust_seq":4,"revocations_seq":17,"revocations_issued_at":"2025-11-25T06:00:00Z","stale":true,"skipped_keys":2},` +
		`"storage":{"free_bytes":0,"reserve_bytes":0},"browser":{"state":"none","last_heartbeat":null,"pages":0}}` + "\n"
	if string(b) != want {
		t.Errorf("GET /api/v1/status =\n%s\nwant\n%s", b, want)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Outbox.LastUpload.Equal(last) || back.Upload.LastError != "upstream: 503" || back.Screen != kiosk.ScreenConfirm ||
		back.Clock.State != kiosk.ClockImplausible || !back.Clock.Trusted.Equal(last.Add(-time.Hour)) ||
		back.Lists.RevocationsSeq != 17 || !back.Lists.Stale || back.Lists.SkippedKeys != 2 ||
		back.Panel != (Device{Source: "gpio:/dev/gpiochip0", State: DeviceFault, Error: "open /dev/gpiochip0: permission denied"}) {
		t.Errorf("Status round trip = %+v", back)
	}

	resp, b = get(t, h.base+"/healthz")
	if resp.StatusCode != http.StatusOK || string(b) != `{"status":"ok"}`+"\n" {
		t.Errorf("GET /healthz = %d %s; want 200 {\"status\":\"ok\"}", resp.StatusCode, b)
	}
}

// The device states are an interface staff tools read: their JSON names
// are fixed (see Device).
func TestDeviceJSON(t *testing.T) {
	for _, tc := range []struct {
		d    Device
		want string
	}{
		{Device{Source: "sim", State: DeviceOK}, `{"source":"sim","state":"ok"}`},
		{Device{Source: "evdev:/dev/kiosk-scanner", State: DeviceDisconnected}, `{"source":"evdev:/dev/kiosk-scanner","state":"disconnected"}`},
		{Device{Source: "serial:/dev/ttyACM0", State: DeviceFault, Error: "read /dev/ttyACM0: input/output error"},
			`{"source":"serial:/dev/ttyACM0","state":"fault","error":"read /dev/ttyACM0: input/output error"}`},
		{Device{Source: "gpio:/dev/gpiochip0", State: DeviceAbsent}, `{"source":"gpio:/dev/gpiochip0","state":"absent"}`},
		{Device{Source: "sim"}, `{"source":"sim","state":"unknown"}`},
	} {
		b, err := json.Marshal(tc.d)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tc.d, b, err, tc.want)
		}
	}
}

func TestStatusDefaults(t *testing.T) {
	h := start(t, Config{}) // no Status callback
	_, b := get(t, h.base+"/api/v1/status")
	want := `{"screen":"idle","service":{"state":"in_service"},"scanner":{"source":"","state":"unknown"},"panel":{"source":"","state":"unknown"},` +
		`"display":{"source":"","state":"unknown"},"printer":{"source":"","state":"unknown"},` +
		`"outbox":{"pending":0,"uploaded_total":0,"last_upload":null,"quarantined":0,"last_error":"","oldest_pending":null},` +
		`"upload":{"last_attempt":null,"last_error":"","last_heartbeat":null,"head_state":""},` +
		`"clock":{"state":"unknown","trusted":null},` +
		`"lists":{"trust_seq":0,"revocations_seq":0,"revocations_issued_at":null,"stale":false,"skipped_keys":0},` +
		`"storage":{"free_bytes":0,"reserve_bytes":0},"browser":{"state":"none","last_heartbeat":null,"pages":0}}` + "\n"
	if string(b) != want {
		t.Errorf("GET /api/v1/status =\n%s\nwant\n%s", b, want)
	}
}

// Out of service, the status says why (200: the status itself works), and
// /healthz answers 503 with the reason: the kiosk cannot take check-ins.
func TestHealthOutOfService(t *testing.T) {
	h := start(t, Config{Status: func(ctx context.Context) (Status, error) {
		return Status{Service: Service{State: OutOfService, Reason: kiosk.ReasonStorageLow,
			Error: "low disk space: /var/lib/kiosk has 1024 bytes free, below the reserve of 67108864"}}, nil
	}})
	resp, b := get(t, h.base+"/healthz")
	want := `{"status":"out_of_service","reason":"storage_low","error":"low disk space: /var/lib/kiosk has 1024 bytes free, below the reserve of 67108864"}` + "\n"
	if resp.StatusCode != http.StatusServiceUnavailable || string(b) != want {
		t.Errorf("GET /healthz = %d %s; want 503 %s", resp.StatusCode, b, want)
	}
	resp, b = get(t, h.base+"/api/v1/status")
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || st.Service.State != OutOfService || st.Service.Reason != kiosk.ReasonStorageLow {
		t.Errorf("GET /api/v1/status = %d %s; want 200 with the service out", resp.StatusCode, b)
	}
}

func TestStatusFailing(t *testing.T) {
	h := start(t, Config{Status: func(ctx context.Context) (Status, error) {
		return Status{}, errors.New("outbox: database is locked")
	}})
	for _, path := range []string{"/healthz", "/api/v1/status"} {
		resp, b := get(t, h.base+path)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("GET %s: %v in %s", path, err, b)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || body["status"] != "unavailable" {
			t.Errorf("GET %s = %d %s; want 503 with status unavailable", path, resp.StatusCode, b)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s: Content-Type %q; want JSON", path, ct)
		}
	}
}

func TestSimScan(t *testing.T) {
	scans := make(chan string, 1)
	h := start(t, Config{SimScan: func(text string) error { scans <- text; return nil }})
	off := start(t, Config{})
	post := func(base, body string, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/sim/scan", strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(h.base, "SDC1:ABC\r\n", nil); code != http.StatusAccepted {
		t.Errorf("POST scan = %d; want 202", code)
	}
	select {
	case got := <-scans:
		if got != "SDC1:ABC" {
			t.Errorf("SimScan got %q; want %q", got, "SDC1:ABC")
		}
	default:
		t.Errorf("SimScan not called")
	}
	tests := []struct {
		base, body string
		header     http.Header
		want       int
	}{
		{h.base, strings.Repeat("A", maxSimScan), nil, http.StatusAccepted},
		{h.base, strings.Repeat("A", maxSimScan+1), nil, http.StatusRequestEntityTooLarge},
		{h.base, "\n", nil, http.StatusBadRequest},
		{h.base, "SDC1:ABC", http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
		{h.base, "SDC1:ABC", http.Header{"Origin": {h.base}}, http.StatusAccepted},
		{off.base, "SDC1:ABC", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := post(tt.base, tt.body, tt.header); got != tt.want {
			t.Errorf("POST %d bytes (Origin %q) = %d; want %d", len(tt.body), tt.header.Get("Origin"), got, tt.want)
		}
		select {
		case <-scans:
		default:
		}
	}
	resp, _ := get(t, off.base+"/api/v1/sim/scan")
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET sim scan = %d; want 404 or 405", resp.StatusCode)
	}
}

func TestSimScanFailing(t *testing.T) {
	h := start(t, Config{SimScan: func(string) error { return errors.New("scanner: not running") }})
	resp, err := http.Post(h.base+"/api/v1/sim/scan", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST scan = %d; want 503", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := start(t, Config{})
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	for _, path := range []string{"/", "/index.html", "/app.js", "/style.css", "/healthz", "/api/v1/status", "/no-such-file", "/ws/kiosk"} {
		resp, _ := get(t, h.base+path)
		for k, want := range map[string]string{
			"Content-Security-Policy": csp,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("GET %s: %s = %q; want %q", path, k, got, want)
			}
		}
	}
}

func TestStaticFiles(t *testing.T) {
	h := start(t, Config{})
	tests := []struct{ path, ctype, contains string }{
		{"/", "text/html", `data-screen="connecting"`},
		{"/app.js", "text/javascript", `"/ws/kiosk"`},
		{"/style.css", "text/css", `[hidden]`},
	}
	for _, tt := range tests {
		resp, b := get(t, h.base+tt.path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(string(b), tt.contains) {
			t.Errorf("GET %s = %d %s; want 200 %s containing %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.ctype, tt.contains)
		}
	}
	if resp, _ := get(t, h.base+"/secret.txt"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /secret.txt = %d; want 404", resp.StatusCode)
	}
}

// The CSP forbids inline code, so the page must have none: it would
// silently not run.
func TestPageHasNoInlineCode(t *testing.T) {
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("index.html has inline code: %q", m)
		}
	}
	for _, m := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(m, `src="/`) {
			t.Errorf("index.html: %s; want every script from a file", m)
		}
	}
}

// Every screen has a section in the page, and every reason a string in
// every language of app.js.
func TestPageCoversDomain(t *testing.T) {
	html, _ := webFS.ReadFile("web/index.html")
	js, _ := webFS.ReadFile("web/app.js")
	for _, s := range []kiosk.Screen{
		kiosk.ScreenIdle, kiosk.ScreenConfirm, kiosk.ScreenSuccess,
		kiosk.ScreenAlready, kiosk.ScreenSeeStaff, kiosk.ScreenHelp, kiosk.ScreenOutOfService,
	} {
		if !strings.Contains(string(html), `data-for="`+string(s)+`"`) {
			t.Errorf("index.html has no section for screen %s", s)
		}
	}
	// Every word the page shows is in the catalogs (English; the others
	// have every key English has, TestCatalogsComplete): each reason a
	// see_staff screen can give, each data-t of the page, each t("…") of
	// the script.
	if langs := len(Languages()); langs < 10 {
		t.Errorf("%d languages; want at least 10", langs)
	}
	en := CatalogOf(DefaultLang).T
	for _, r := range []kiosk.Reason{
		kiosk.ReasonCardExpired, kiosk.ReasonCardNotYetValid, kiosk.ReasonCardRevoked,
		kiosk.ReasonCardUnknownIssuer, kiosk.ReasonCardBadSignature, kiosk.ReasonCardUnreadable,
		kiosk.ReasonCardWrongContext, kiosk.ReasonNotACard, kiosk.ReasonListsStale,
		kiosk.ReasonPersonDenied, kiosk.ReasonRecordFailed, "unknown",
	} {
		if en["reason_"+string(r)] == "" {
			t.Errorf("no words for reason %s", r)
		}
	}
	for _, m := range regexp.MustCompile(`data-t="(\w+)"`).FindAllSubmatch(html, -1) {
		if en[string(m[1])] == "" {
			t.Errorf("index.html shows %s, which the catalogs lack", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`\bt\("(\w+)"\)`).FindAllSubmatch(js, -1) {
		if en[string(m[1])] == "" {
			t.Errorf("app.js shows %s, which the catalogs lack", m[1])
		}
	}
	for _, a := range []string{
		kiosk.ActionConfirm, kiosk.ActionDeny, kiosk.ActionHelp, kiosk.ActionExtend,
		kiosk.ActionAnother, kiosk.ActionDone,
	} {
		if !strings.Contains(string(html), `data-action="`+a+`"`) {
			t.Errorf("index.html has no button for action %s", a)
		}
	}
}
