package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// logBuffer collects a Server's log for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// A web page that rebinds its own name to 127.0.0.1 reaches the kiosk
// listener with its name in Host: refused, websocket included.
func TestHostMustNameListener(t *testing.T) {
	var log logBuffer
	h := start(t, Config{Log: log.logger(), SimScan: func(string) error { return nil }, MaxPages: 10})
	port := h.base[strings.LastIndex(h.base, ":")+1:]
	for _, host := range []string{
		"evil.example:" + port, "evil.example", "localhost.evil.example:" + port, "127.0.0.2:" + port,
		"127.0.0.1.evil.example", "[::1]:" + port, "0.0.0.0:" + port, "kiosk:" + port, "localhost:" + port + "@evil",
	} {
		for _, r := range []struct{ method, path string }{
			{"GET", "/"}, {"GET", "/app.js"}, {"GET", "/healthz"}, {"GET", "/api/v1/status"}, {"POST", "/api/v1/sim/scan"},
		} {
			code, body := uitest.Request(t, r.method, h.base+r.path, host, "SDC1:ABC")
			var e errorBody
			if code != http.StatusMisdirectedRequest || json.Unmarshal([]byte(body), &e) != nil || e.Status != "misdirected" {
				t.Errorf("%s %s, Host %s = %d %s; want 421 with JSON status misdirected", r.method, r.path, host, code, body)
			}
		}
		if code, _ := uitest.Refused(t, h.base, http.Header{"Host": {host}}); code != http.StatusMisdirectedRequest {
			t.Errorf("websocket, Host %s = %d; want 421", host, code)
		}
	}
	if got := h.srv.clientCount(); got != 0 {
		t.Errorf("%d pages connected; want 0", got)
	}
	if !strings.Contains(log.String(), `msg="ui: refused" reason="misdirected host"`) {
		t.Errorf("log:\n%s\nwant the refusals logged", log.String())
	}
	for _, host := range []string{"127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "localhost", "LocalHost:1", "[::ffff:127.0.0.1]:" + port} {
		if code, body := uitest.Request(t, "GET", h.base+"/api/v1/status", host, ""); code != http.StatusOK {
			t.Errorf("GET /api/v1/status, Host %s = %d %s; want 200", host, code, body)
		}
		p := uitest.Dial(t, h.base, http.Header{"Host": {host}})
		p.Want(kiosk.ScreenIdle)
	}
}

func TestHostMustNameListenerIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := New(Config{Views: &views{}, Actions: make(chan kiosk.Action)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + ln.Addr().String()
	port := base[strings.LastIndex(base, ":")+1:]
	for host, want := range map[string]int{
		"[::1]:" + port:     http.StatusOK,
		"[::1]":             http.StatusOK,
		"localhost":         http.StatusOK,
		"127.0.0.1:" + port: http.StatusMisdirectedRequest,
		"[::2]:" + port:     http.StatusMisdirectedRequest,
	} {
		if code, body := uitest.Request(t, "GET", base+"/healthz", host, ""); code != want {
			t.Errorf("GET /healthz, Host %s = %d %s; want %d", host, code, body, want)
		}
	}
}

// Malformed paths are not found (or bad requests), never server errors.
func TestMalformedPaths(t *testing.T) {
	h := start(t, Config{})
	addr := strings.TrimPrefix(h.base, "http://")
	for _, path := range []string{
		"/%c0%ae%c0%ae/etc/passwd", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/%ff", "/%c0%af", "/app.js%ff",
		"/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "/..%5c..%5cetc/passwd", "/app.js%00",
		"/index.html/..", "//etc/passwd", "/%zz", "/.%2e/", "/web/app.js", "/%e2%80%ae.js", "/a/./b/../../app.js/",
		"/" + strings.Repeat("a/", 2000),
	} {
		code := rawGet(t, addr, path)
		switch code {
		case http.StatusNotFound, http.StatusBadRequest,
			http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			t.Errorf("GET %s = %d; want 404 (or 400, or a redirect to the clean path)", path, code)
		}
	}
	if code := rawGet(t, addr, "/%c0%ae%c0%ae/etc/passwd"); code != http.StatusNotFound {
		t.Errorf("GET /%%c0%%ae%%c0%%ae/etc/passwd = %d; want 404", code)
	}
}

// rawGet sends GET target as written, with no client cleaning it first.
func rawGet(t *testing.T, addr, target string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSimScanTrimsWhiteSpace(t *testing.T) {
	scans := make(chan string, 1)
	h := start(t, Config{SimScan: func(text string) error { scans <- text; return nil }})
	for body, want := range map[string]string{
		"SDC1:ABC\t":          "SDC1:ABC",
		"SDC1:ABC  \t \r\n":   "SDC1:ABC",
		" \tSDC1:ABC\n":       "SDC1:ABC",
		"SDC1:A B\n":          "SDC1:A B", // inside, kept: the verifier decides
		"https://x/c/7Q2M \n": "https://x/c/7Q2M",
	} {
		if code, b := uitest.Request(t, "POST", h.base+"/api/v1/sim/scan", "", body); code != http.StatusAccepted {
			t.Fatalf("POST %q = %d %s; want 202", body, code, b)
		}
		if got := <-scans; got != want {
			t.Errorf("POST %q: scanned %q; want %q", body, got, want)
		}
	}
	if code, _ := uitest.Request(t, "POST", h.base+"/api/v1/sim/scan", "", " \t\r\n "); code != http.StatusBadRequest {
		t.Errorf("POST white space = %d; want 400", code)
	}
}

// More pages than MaxPages are refused before the upgrade, and the pages
// connected keep working.
func TestPageCap(t *testing.T) {
	var log logBuffer
	h := start(t, Config{MaxPages: 2, Log: log.logger()})
	first := uitest.Dial(t, h.base, nil)
	first.Want(kiosk.ScreenIdle)
	second := uitest.Dial(t, h.base, nil)
	second.Want(kiosk.ScreenIdle)
	for range 3 {
		code, body := uitest.Refused(t, h.base, nil)
		var e errorBody
		if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil || e.Status != "busy" || !strings.Contains(e.Error, "2 kiosk pages") {
			t.Errorf("third page: %d %s; want 503 with JSON status busy, saying why", code, body)
		}
	}
	help := kiosk.View{Rev: 2, Screen: kiosk.ScreenHelp}
	h.views.set(help)
	h.srv.Show(help)
	first.Want(kiosk.ScreenHelp)
	second.Want(kiosk.ScreenHelp)
	if !strings.Contains(log.String(), `reason="too many pages"`) {
		t.Errorf("log:\n%s\nwant the refusal logged", log.String())
	}

	// A page that leaves frees its place.
	second.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(wait))
	for {
		if _, err := second.Read(); err != nil {
			break
		}
	}
	eventually(t, "the page's place freed", func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return h.srv.pages < 2
	})
	uitest.Dial(t, h.base, nil).Want(kiosk.ScreenHelp)
}

// eventually polls cond until it holds, failing the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Connections over the listener's cap are closed as soon as they are
// accepted, and a place freed is taken again.
func TestConnectionCap(t *testing.T) {
	var log logBuffer
	h := start(t, Config{MaxPages: 1, Log: log.logger()})
	addr := strings.TrimPrefix(h.base, "http://")
	max := 1 + maxOtherConns
	// Each held connection has been served a request, so it is accepted,
	// and is kept alive, idle.
	held := make([]net.Conn, max)
	for i := range held {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if code := getOn(c, addr); code != http.StatusOK {
			t.Fatalf("connection %d: GET /healthz = %d; want 200", i, code)
		}
		held[i] = c
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if code := getOn(over, addr); code != 0 {
		t.Fatalf("connection %d: GET /healthz = %d; want the connection closed", max+1, code)
	}
	if !strings.Contains(log.String(), `reason="too many connections"`) {
		t.Errorf("log:\n%s\nwant the refusal logged", log.String())
	}
	held[0].Close()
	eventually(t, "a connection accepted after one closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return getOn(c, addr) == http.StatusOK
	})
}

// getOn sends GET /healthz on c, keeping it alive; 0 means no answer.
func getOn(c net.Conn, addr string) int {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// 10,000 websocket attempts, in concurrent waves, against a server whose
// pages are all connected: every one is refused, the server never holds
// more than MaxPages pages, its memory stays bounded, and the pages
// connected keep receiving their screens.
func TestTenThousandPages(t *testing.T) {
	h := start(t, Config{})
	var pages []*uitest.Page
	for range DefaultMaxPages {
		p := uitest.Dial(t, h.base, nil)
		p.Want(kiosk.ScreenIdle)
		pages = append(pages, p)
	}
	before := heapInUse()

	const attempts, wave = 10_000, 100
	var refused503, closed int
	var mu sync.Mutex
	dialer := websocket.Dialer{HandshakeTimeout: wait}
	for w := 0; w < attempts/wave; w++ {
		var wg sync.WaitGroup
		for range wave {
			wg.Go(func() {
				conn, resp, err := dialer.Dial(uitest.URL(h.base), nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					conn.Close()
					t.Errorf("page %d over the cap connected", DefaultMaxPages+1)
				case resp != nil && resp.StatusCode == http.StatusServiceUnavailable:
					refused503++
				case resp != nil:
					t.Errorf("page over the cap: %s; want 503", resp.Status)
				default:
					closed++ // over the connection cap: closed when accepted
				}
			})
		}
		wg.Wait()
		if n := h.srv.clientCount(); n > DefaultMaxPages {
			t.Fatalf("after wave %d: %d pages; want at most %d", w, n, DefaultMaxPages)
		}
	}
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("%d attempts: %d refused with 503, %d closed at accept; heap in use %.1f MB → %.1f MB (%+.1f MB)",
		attempts, refused503, closed, mb(before), mb(after), float64(growth)/(1<<20))
	if refused503+closed != attempts {
		t.Errorf("%d refusals; want %d", refused503+closed, attempts)
	}
	// Measured: under 1 MB either way. The bound leaves room for the
	// race detector and the GC's pacing, and still catches a server that
	// keeps anything per attempt (1 KiB each is 10 MB).
	const bound = 24 << 20
	if growth > bound {
		t.Errorf("heap in use grew by %.1f MB over %d attempts; want under %d MB", float64(growth)/(1<<20), attempts, bound>>20)
	}
	h.srv.Show(kiosk.View{Rev: 2, Screen: kiosk.ScreenHelp})
	for _, p := range pages {
		p.Want(kiosk.ScreenHelp)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// One page sends actions as fast as it can: it is dropped with close code
// 1008 and a log line, while an innocent page that does not read during
// the flood is kept and, once it reads, is sent the newest screen.
func TestFloodingPageDropped(t *testing.T) {
	var log logBuffer
	h := start(t, Config{Log: log.logger()})
	innocent := uitest.Dial(t, h.base, nil)
	innocent.Want(kiosk.ScreenIdle)
	flooder := uitest.Dial(t, h.base, nil)
	flooder.Want(kiosk.ScreenIdle)

	// The flow: each language action is a new view, broadcast.
	var forwarded int
	flowDone := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(flowDone)
		rev := uint64(1)
		for {
			select {
			case a := <-h.actions:
				forwarded++
				rev++
				v := kiosk.View{Rev: rev, Screen: kiosk.ScreenIdle, Lang: a.Lang}
				h.views.set(v)
				h.srv.Show(v)
			case <-stop:
				return
			}
		}
	}()

	closed := make(chan error, 1)
	go func() {
		for {
			if _, err := flooder.Read(); err != nil {
				closed <- err
				return
			}
		}
	}()
	start := time.Now()
	const n = 10_000
	sent := 0
	for ; sent < n; sent++ {
		flooder.Conn.SetWriteDeadline(time.Now().Add(wait))
		if err := flooder.Conn.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"action","action":"language","lang":"es"}`)); err != nil {
			break // closed by the server
		}
	}
	var err error
	select {
	case err = <-closed:
	case <-time.After(wait):
		t.Fatalf("flooder still connected after %d frames", sent)
	}
	elapsed := time.Since(start)
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("flooder closed with %v; want close 1008", err)
	}
	close(stop)
	<-flowDone
	if max := pageFrameBurst + int(pageFrameRate*elapsed.Seconds()) + 1; forwarded > max {
		t.Errorf("%d actions forwarded in %v; want at most %d", forwarded, elapsed, max)
	}
	if !strings.Contains(log.String(), `msg="ui: page dropped" reason="too many frames"`) {
		t.Errorf("log:\n%s\nwant the drop logged with its reason", log.String())
	}

	last := kiosk.View{Rev: h.views.View().Rev + 1, Screen: kiosk.ScreenHelp}
	h.views.set(last)
	h.srv.Show(last)
	for rev := uint64(1); rev != last.Rev; {
		f := innocent.Next()
		if f.Type != "screen" || f.Rev <= rev {
			t.Fatalf("innocent page: %s after rev %d; want screens, revisions rising", f.Raw, rev)
		}
		rev = f.Rev
	}
	if n := h.srv.clientCount(); n != 1 {
		t.Errorf("%d pages connected; want 1, the innocent one", n)
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Date(2025, 11, 25, 14, 30, 0, 0, time.UTC)
	b := newBucket(20, 40, t0)
	for i := range 40 {
		if !b.take(t0) {
			t.Fatalf("take %d at once = false; want the burst of 40 allowed", i+1)
		}
	}
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, false},                     // burst spent
		{49 * time.Millisecond, false}, // 0.98 tokens
		{50 * time.Millisecond, true},  // 1 token
		{50 * time.Millisecond, false}, // spent
		{100 * time.Millisecond, true}, // 1 more
		{-time.Second, false},          // time going back refills nothing
		{time.Hour, true},              // refilled, to the burst and no more
	}
	for _, s := range steps {
		if got := b.take(t0.Add(s.at)); got != s.want {
			t.Errorf("take at +%v = %v; want %v", s.at, got, s.want)
		}
	}
	n := 1 // the take at +1h
	for b.take(t0.Add(time.Hour)) {
		n++
	}
	if n != 40 {
		t.Errorf("after an hour, %d takes at once; want 40", n)
	}
	// 20 a second, sustained.
	b = newBucket(20, 40, t0)
	ok := 0
	for i := range 10 * 1000 { // 10 s, 1000 attempts a second
		if b.take(t0.Add(time.Duration(i) * time.Millisecond)) {
			ok++
		}
	}
	if ok < 40+20*10-1 || ok > 40+20*10 {
		t.Errorf("%d frames allowed in 10 s at 1000/s; want 40 + 20·10", ok)
	}
}

func TestLogLimiter(t *testing.T) {
	t0 := time.Date(2025, 11, 25, 14, 30, 0, 0, time.UTC)
	l := newLogLimiter(t0)
	for i := range refusalLogBurst {
		if ok, n := l.allow(t0); !ok || n != 0 {
			t.Fatalf("line %d = %v, %d; want logged, 0 left out", i+1, ok, n)
		}
	}
	for range 100 {
		if ok, _ := l.allow(t0); ok {
			t.Fatal("line over the burst logged; want it counted")
		}
	}
	if ok, n := l.allow(t0.Add(refusalLogEvery)); !ok || n != 100 {
		t.Errorf("line after %v = %v, %d; want logged, saying 100 left out", refusalLogEvery, ok, n)
	}
}

// A page that does not take its replies loses replies, not its place.
func TestReplyQueueFullDropsReply(t *testing.T) {
	s := New(Config{Views: &views{}, Actions: make(chan kiosk.Action)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &client{ctx: ctx, cancel: cancel, replies: make(chan []byte, wsReplyQueue), wake: make(chan struct{}, 1)}
	s.clients[c] = struct{}{}
	for range 3 * wsReplyQueue {
		s.reply(c, pongFrame)
	}
	if len(c.replies) != wsReplyQueue || ctx.Err() != nil || len(s.clients) != 1 {
		t.Errorf("after %d replies: %d queued, closed %v, %d clients; want %d queued, the page kept",
			3*wsReplyQueue, len(c.replies), ctx.Err() != nil, len(s.clients), wsReplyQueue)
	}
}
