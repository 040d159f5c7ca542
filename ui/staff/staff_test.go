package staff

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// wait bounds every wait in these tests: reaching it is a failure.
const wait = 10 * time.Second

// productionParams are defaultParams as shipped; the tests hash with
// cheap ones (TestMain), and check these apart.
var productionParams = defaultParams

func TestMain(m *testing.M) {
	// A login hashes once; the tests log in dozens of times, under -race.
	defaultParams = hashParams{time: 1, memory: 64, threads: 1}
	os.Exit(m.Run())
}

// fakeClock is a clock a test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a Server on a loopback port, over real TLS, with the
// certificate it made trusted by the test's clients.
type harness struct {
	t     *testing.T
	srv   *Server
	state string
	addr  string // 127.0.0.1:PORT
	base  string // https://127.0.0.1:PORT
	clock *fakeClock
	roots *x509.CertPool

	mu          sync.Mutex
	maintenance []bool // each call of Config.Maintenance
	syncs       int
}

// The accounts every harness has, and their passwords.
const (
	alice, alicePassword = "alice", "correct horse battery"
	bob, bobPassword     = "bob", "bobs-long-password"
)

var testStatus = ui.Status{
	Screen:  kiosk.ScreenIdle,
	Scanner: ui.Device{Source: "sim", State: ui.DeviceOK},
	Printer: ui.Device{Source: "lp:/dev/usb/lp0", State: ui.DeviceFault, Error: "paper out"},
	Outbox:  ui.Outbox{Pending: 3, UploadedTotal: 40},
	Clock:   ui.Clock{State: kiosk.ClockState("synced")},
}

func testStatusFunc(context.Context) (ui.Status, error) { return testStatus, nil }

// start serves a Server made with cfg, edited, until the test ends, and
// checks that Serve then returns nil.
func start(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, state: t.TempDir(), clock: &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}}
	cfg := Config{
		StateDir:    h.state,
		CertHosts:   []string{"127.0.0.1", "localhost"},
		Status:      testStatusFunc,
		Maintenance: func(on bool) { h.mu.Lock(); h.maintenance = append(h.maintenance, on); h.mu.Unlock() },
		SyncNow:     func() { h.mu.Lock(); h.syncs++; h.mu.Unlock() },
		Now:         h.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	accounts := NewAccounts(h.state)
	for _, a := range [][2]string{{alice, alicePassword}, {bob, bobPassword}} {
		if err := accounts.Add(a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if h.srv, err = New(cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	h.roots = x509.NewCertPool()
	h.roots.AppendCertsFromPEM(readFile(t, filepath.Join(Dir(h.state), certFileName)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	h.base = "https://" + h.addr
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

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// client is a browser's worth of HTTP: a cookie jar, the harness's
// certificate trusted, redirects not followed, from the address from.
type client struct {
	h    *harness
	http *http.Client
	tls  *tls.Config
	from string // the local IP address it connects from
	csrf string // the session's token, once fetched
}

// client returns a client connecting from 127.0.0.1.
func (h *harness) client() *client { return h.clientFrom("127.0.0.1") }

// clientFrom returns a client connecting from the loopback address from
// (127.0.0.2…): another machine on the LAN, as the server sees it.
func (h *harness) clientFrom(from string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	tc := &tls.Config{RootCAs: h.roots, ServerName: "127.0.0.1"}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: wait}
	c := &client{h: h, tls: tc, from: from, http: &http.Client{
		Jar:           jar,
		Timeout:       wait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: tc, DialContext: dialer.DialContext},
	}}
	h.t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// do sends a request with the headers in hdr (pairs), as a same-origin
// page would (Origin: the server's) unless hdr sets Origin, and returns
// the response with its body read.
func (c *client) do(method, path, body string, hdr ...string) (*http.Response, string) {
	c.h.t.Helper()
	req, err := http.NewRequest(method, c.h.base+path, strings.NewReader(body))
	if err != nil {
		c.h.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", c.h.base)
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return resp, string(b)
}

// login logs in and returns the status and body of the answer.
func (c *client) login(account, password string) (int, string) {
	c.h.t.Helper()
	b, _ := json.Marshal(loginRequest{Account: account, Password: password})
	resp, body := c.do(http.MethodPost, "/staff/login", string(b))
	return resp.StatusCode, body
}

// mustLogin logs in, failing the test unless it works, and fetches the
// session's CSRF token.
func (c *client) mustLogin(account, password string) {
	c.h.t.Helper()
	if code, body := c.login(account, password); code != http.StatusOK {
		c.h.t.Fatalf("login %s = %d %s; want 200", account, code, body)
	}
	resp, body := c.do(http.MethodGet, "/staff/session", "")
	if resp.StatusCode != http.StatusOK {
		c.h.t.Fatalf("GET /staff/session = %d %s; want 200", resp.StatusCode, body)
	}
	var s sessionBody
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.CSRFToken == "" || s.Account != account {
		c.h.t.Fatalf("GET /staff/session = %s (%v); want the account %s and a CSRF token", body, err, account)
	}
	c.csrf = s.CSRFToken
}

// act POSTs an action with the session's CSRF token.
func (c *client) act(path, body string) (int, string) {
	c.h.t.Helper()
	resp, b := c.do(http.MethodPost, path, body, csrfHeader, c.csrf)
	return resp.StatusCode, b
}

// dial opens the dashboard's websocket with the client's cookies,
// sending Origin: the server's unless hdr sets another.
func (c *client) dial(hdr http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{TLSClientConfig: c.tls, Jar: c.http.Jar, HandshakeTimeout: wait,
		NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}}).DialContext}
	if hdr == nil {
		hdr = http.Header{}
	}
	if hdr.Get("Origin") == "" {
		hdr.Set("Origin", c.h.base)
	}
	return d.Dial("wss://"+c.h.addr+"/staff/ws", hdr)
}

// dashboard opens the websocket and says hello with the session's token.
func (c *client) dashboard() *websocket.Conn {
	c.h.t.Helper()
	conn, resp, err := c.dial(nil)
	if err != nil {
		c.h.t.Fatalf("dial /staff/ws: %v (%v)", err, status(resp))
	}
	c.h.t.Cleanup(func() { conn.Close() })
	hello(c.h.t, conn, c.csrf)
	return conn
}

func hello(t *testing.T, conn *websocket.Conn, token string) {
	t.Helper()
	b, _ := json.Marshal(helloFrame{V: 1, Type: "hello", CSRFToken: token})
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("send hello: %v", err)
	}
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// readState reads the next frame, which must be a state frame.
func readState(t *testing.T, conn *websocket.Conn) stateFrame {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read a state frame: %v", err)
	}
	var f stateFrame
	if err := json.Unmarshal(b, &f); err != nil || f.V != 1 || f.Type != "state" {
		t.Fatalf("frame %s (%v); want a state frame, v 1", b, err)
	}
	return f
}

// stateUntil reads state frames until one satisfies ok.
func stateUntil(t *testing.T, conn *websocket.Conn, what string, ok func(stateFrame) bool) stateFrame {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if f := readState(t, conn); ok(f) {
			return f
		}
	}
	t.Fatalf("no state frame with %s", what)
	return stateFrame{}
}

// audit returns the records of the audit log.
func (h *harness) audit() []AuditRecord {
	h.t.Helper()
	f, err := os.Open(filepath.Join(Dir(h.state), auditFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	var recs []AuditRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			h.t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// audited returns the audit records of action.
func (h *harness) audited(action string) []AuditRecord {
	var out []AuditRecord
	for _, r := range h.audit() {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) maintenanceCalls() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool{}, h.maintenance...)
}

func (h *harness) syncCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.syncs
}

// TestNothingWithoutLogin: no page, session, websocket or action without
// a session; the login page and its files are all there is.
func TestNothingWithoutLogin(t *testing.T) {
	h := start(t, nil)
	c := h.client()

	resp, _ := c.do(http.MethodGet, "/staff", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/staff/login" {
		t.Errorf("GET /staff = %d to %q; want 303 to /staff/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.do(http.MethodGet, "/staff/session", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /staff/session = %d; want 401", resp.StatusCode)
	}
	for _, p := range []string{"/staff/maintenance", "/staff/sync", "/staff/alerts/1/ack", "/staff/logout"} {
		if resp, body := c.do(http.MethodPost, p, `{"on":true}`, csrfHeader, "anything"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s = %d %s; want 401", p, resp.StatusCode, body)
		}
	}
	_, resp, err := c.dial(nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial /staff/ws = %v, %s; want 401", err, status(resp))
	}
	if calls := h.maintenanceCalls(); len(calls) != 0 || h.syncCalls() != 0 {
		t.Errorf("actions taken without a session: maintenance %v, sync %d", calls, h.syncCalls())
	}

	for _, p := range []string{"/staff/login", "/staff/app.js", "/staff/style.css"} {
		if resp, _ := c.do(http.MethodGet, p, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", p, resp.StatusCode)
		}
	}
	// Nothing outside /staff: not the kiosk page's routes either.
	for _, p := range []string{"/", "/ws/kiosk", "/api/v1/status", "/healthz", "/staff/index.html", "/staff/web/index.html"} {
		if resp, _ := c.do(http.MethodGet, p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d; want 404", p, resp.StatusCode)
		}
	}
}

// TestLogin: a login opens a session whose cookie is HttpOnly, Secure,
// SameSite=Strict and for /staff alone; the dashboard is then served,
// under a strict CSP; the login is audited.
func TestLogin(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	b, _ := json.Marshal(loginRequest{Account: " Alice ", Password: alicePassword}) // typed with a capital and spaces
	resp, body := c.do(http.MethodPost, "/staff/login", string(b))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login = %d %s; want 200", resp.StatusCode, body)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies; want 1", len(cookies))
	}
	ck := cookies[0]
	if ck.Name != cookieName || ck.Path != "/staff" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || len(ck.Value) < 43 {
		t.Errorf("cookie = %s; want %s, Path=/staff, HttpOnly, Secure, SameSite=Strict, a 32-byte token", ck, cookieName)
	}

	resp, body = c.do(http.MethodGet, "/staff", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-page="dashboard"`) {
		t.Fatalf("GET /staff after login = %d; want 200 and the dashboard", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q; want script-src 'self', frame-ancestors 'none', nothing unsafe", csp)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Errorf("the dashboard has inline script or style, which its CSP forbids")
	}
	if got := h.audited(AuditLoginOK); len(got) != 1 || got[0].Account != alice || got[0].Remote != "127.0.0.1" {
		t.Errorf("login_ok records = %+v; want one for alice from 127.0.0.1", got)
	}
}

// TestSameAnswerUnknownAccount: a wrong password and an account that does
// not exist get the same answer, byte for byte, and both cost a hash.
func TestSameAnswerUnknownAccount(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	before := h.srv.hashed.Load()
	codeWrong, bodyWrong := c.login(alice, "not her password")
	codeUnknown, bodyUnknown := c.login("mallory", "not her password")
	if codeWrong != http.StatusUnauthorized || codeWrong != codeUnknown || bodyWrong != bodyUnknown {
		t.Errorf("wrong password = %d %q, unknown account = %d %q; want the same 401", codeWrong, bodyWrong, codeUnknown, bodyUnknown)
	}
	if n := h.srv.hashed.Load() - before; n != 2 {
		t.Errorf("%d passwords hashed for 2 logins; want one each, unknown account too", n)
	}
	failed := h.audited(AuditLoginFailed)
	if len(failed) != 2 || failed[0].Account != alice || failed[1].Account != "" {
		t.Errorf("login_failed records = %+v; want alice's, then one naming no account", failed)
	}
}

// TestLockout: five failures lock the account, whatever the address,
// and the address, whatever the account, for 15 minutes; another
// account from another address is not locked.
func TestLockout(t *testing.T) {
	h := start(t, nil)
	a := h.clientFrom("127.0.0.1")
	b := h.clientFrom("127.0.0.2")

	for i := range lockFailures {
		if code, body := a.login(alice, "guess"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d %s; want 401", i+1, code, body)
		}
	}
	if got := h.audited(AuditLoginLocked); len(got) != 1 || got[0].Account != alice {
		t.Errorf("login_locked records = %+v; want one, for alice", got)
	}
	hashed := h.srv.hashed.Load()
	// Locked: the right password, from another address, is refused.
	if code, body := b.login(alice, alicePassword); code != http.StatusTooManyRequests {
		t.Errorf("alice's right password while locked = %d %s; want 429", code, body)
	}
	// The address is locked too, for every account.
	if code, body := a.login(bob, bobPassword); code != http.StatusTooManyRequests {
		t.Errorf("bob from the locked address = %d %s; want 429", code, body)
	}
	if n := h.srv.hashed.Load() - hashed; n != 0 {
		t.Errorf("%d passwords hashed for logins refused as locked; want none", n)
	}
	// Another account from another address is not.
	b.mustLogin(bob, bobPassword)

	h.clock.Advance(lockDuration)
	a.mustLogin(alice, alicePassword)
}

// TestLockoutBurst: guesses sent all at once are counted as if sent one
// by one: no more than five are checked before the lock.
func TestLockoutBurst(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	const n = maxLoginWaiting
	codes := make(chan int, n)
	var wg sync.WaitGroup
	// Hold the hasher until every guess is waiting for it: all at once.
	h.srv.hashing <- struct{}{}
	for i := range n {
		wg.Go(func() {
			code, _ := c.login(alice, "guess "+strconv.Itoa(i))
			codes <- code
		})
	}
	for deadline := time.Now().Add(wait); h.srv.loginWaiting.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d logins waiting for the hasher", h.srv.loginWaiting.Load(), n)
		}
	}
	<-h.srv.hashing
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for code := range codes {
		count[code]++
	}
	if count[http.StatusUnauthorized] != lockFailures || count[http.StatusTooManyRequests] != n-lockFailures {
		t.Errorf("%d guesses at once: %v; want %d answered 401 and the rest 429", n, count, lockFailures)
	}
}

// TestLockoutUnknownAccount: a name with no account locks like one that
// has one, so a lock tells nothing either.
func TestLockoutUnknownAccount(t *testing.T) {
	h := start(t, nil)
	var answers []string
	for _, name := range []string{alice, "mallory"} {
		for i := range lockFailures {
			// A new address for each try: only the name counts.
			c := h.clientFrom("127.0.1." + string(rune('1'+i)))
			c.login(name, "guess")
		}
		code, body := h.clientFrom("127.0.2.1").login(name, "guess")
		answers = append(answers, body)
		if code != http.StatusTooManyRequests {
			t.Errorf("%s after %d failures = %d %s; want 429", name, lockFailures, code, body)
		}
		h.clock.Advance(lockDuration) // the addresses' locks end too
	}
	if answers[0] != answers[1] {
		t.Errorf("locked answers differ: %q for an account, %q for none", answers[0], answers[1])
	}
}

// TestCSRF: every action is refused (403) without the session's CSRF
// token, with another, or from another origin; with it, it is taken.
func TestCSRF(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	h.srv.Raise(AlertHelp, "")
	id := h.srv.Alerts()[0].ID

	actions := []struct{ path, body string }{
		{"/staff/maintenance", `{"on":true}`},
		{"/staff/sync", `{}`},
		{"/staff/alerts/" + itoa(id) + "/ack", `{}`},
		{"/staff/logout", `{}`},
	}
	refusals := []struct {
		name string
		hdr  []string
	}{
		{"no token", nil},
		{"another token", []string{csrfHeader, newToken()}},
		{"the token from another origin", []string{csrfHeader, c.csrf, "Origin", "https://evil.example"}},
		{"the token over http origin", []string{csrfHeader, c.csrf, "Origin", "http://" + h.addr}},
		{"the token, cross-site fetch", []string{csrfHeader, c.csrf, "Sec-Fetch-Site", "cross-site"}},
	}
	for _, a := range actions {
		for _, r := range refusals {
			if resp, body := c.do(http.MethodPost, a.path, a.body, r.hdr...); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %s = %d %s; want 403", a.path, r.name, resp.StatusCode, body)
			}
		}
	}
	if calls := h.maintenanceCalls(); len(calls) != 0 || h.syncCalls() != 0 || len(h.srv.Alerts()) != 1 {
		t.Fatalf("refused actions were taken: maintenance %v, sync %d, alerts %v", calls, h.syncCalls(), h.srv.Alerts())
	}
	for _, a := range actions {
		if code, body := c.act(a.path, a.body); code/100 != 2 {
			t.Errorf("POST %s with the token = %d %s; want 2xx", a.path, code, body)
		}
	}
	if calls := h.maintenanceCalls(); len(calls) != 1 || h.syncCalls() != 1 || len(h.srv.Alerts()) != 0 {
		t.Errorf("actions with the token: maintenance %v, sync %d, alerts %v; want each taken once", calls, h.syncCalls(), h.srv.Alerts())
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestWebsocketCSRF: the websocket sends nothing until its first message
// carries the session's CSRF token, and is refused from another origin.
func TestWebsocketCSRF(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)

	_, resp, err := c.dial(http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("dial from another origin = %v, %s; want 403", err, status(resp))
	}

	for _, token := range []string{"", newToken()} {
		conn, resp, err := c.dial(nil)
		if err != nil {
			t.Fatalf("dial: %v (%s)", err, status(resp))
		}
		hello(t, conn, token)
		conn.SetReadDeadline(time.Now().Add(wait))
		_, b, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
			t.Errorf("hello with token %q: read %q, %v; want close 1008 and no frame", token, b, err)
		}
		conn.Close()
	}

	f := readState(t, c.dashboard())
	if f.Status == nil || f.Status.Outbox.Pending != 3 || f.Status.Printer.Error != "paper out" {
		t.Errorf("first state = %+v; want the kiosk's status", f)
	}
}

// TestIdleExpiry: a session unused for 15 minutes ends; one used lasts,
// up to 12 hours in all.
func TestIdleExpiry(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	sessionCode := func() int {
		resp, _ := c.do(http.MethodGet, "/staff/session", "")
		return resp.StatusCode
	}
	h.clock.Advance(DefaultIdleTimeout - time.Second)
	if got := sessionCode(); got != http.StatusOK {
		t.Fatalf("session used after %v idle = %d; want 200", DefaultIdleTimeout-time.Second, got)
	}
	h.clock.Advance(DefaultIdleTimeout - time.Second) // used a moment ago: still on
	if got := sessionCode(); got != http.StatusOK {
		t.Fatalf("session used again = %d; want 200", got)
	}
	h.clock.Advance(DefaultIdleTimeout)
	if got := sessionCode(); got != http.StatusUnauthorized {
		t.Errorf("session after %v idle = %d; want 401", DefaultIdleTimeout, got)
	}
	if resp, _ := c.do(http.MethodGet, "/staff", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /staff after expiry = %d; want 303 to the login", resp.StatusCode)
	}

	c.mustLogin(alice, alicePassword)
	for used := time.Duration(0); used < DefaultSessionLifetime-10*time.Minute; used += 10 * time.Minute {
		h.clock.Advance(10 * time.Minute)
		if got := sessionCode(); got != http.StatusOK {
			t.Fatalf("session used every 10 min, after %v = %d; want 200", used+10*time.Minute, got)
		}
	}
	h.clock.Advance(10 * time.Minute)
	if got := sessionCode(); got != http.StatusUnauthorized {
		t.Errorf("session after %v = %d; want 401", DefaultSessionLifetime, got)
	}
}

// TestLogout: logout ends the session on the server (its cookie no longer
// works, even replayed), closes its dashboards, and is audited.
func TestLogout(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	u, _ := url.Parse(h.base + "/staff")
	old := c.http.Jar.Cookies(u)
	conn := c.dashboard()
	readState(t, conn)

	if code, body := c.act("/staff/logout", `{}`); code != http.StatusOK {
		t.Fatalf("logout = %d %s; want 200", code, body)
	}
	wantClosed(t, conn, "logged out")
	c.http.Jar.SetCookies(u, old) // a copy of the cookie kept
	if resp, _ := c.do(http.MethodGet, "/staff/session", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old cookie after logout = %d; want 401", resp.StatusCode)
	}
	if got := h.audited(AuditLogout); len(got) != 1 || got[0].Account != alice {
		t.Errorf("logout records = %+v; want one for alice", got)
	}
}

// wantClosed reads frames until the server closes conn with 1008 and why.
func wantClosed(t *testing.T, conn *websocket.Conn, why string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != why {
			t.Fatalf("websocket ended with %v; want close 1008 %q", err, why)
		}
		return
	}
}

// TestAccountChangeEndsSessions: removing an account, or setting its
// password, ends its sessions and closes their dashboards within a
// second, without a restart.
func TestAccountChangeEndsSessions(t *testing.T) {
	h := start(t, nil)
	a, b := h.client(), h.clientFrom("127.0.0.2")
	a.mustLogin(alice, alicePassword)
	b.mustLogin(bob, bobPassword)
	conn := a.dashboard()
	readState(t, conn)

	if err := NewAccounts(h.state).SetPassword(alice, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, conn, "session ended")
	if resp, _ := a.do(http.MethodGet, "/staff/session", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("alice's session after a new password = %d; want 401", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodGet, "/staff/session", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("bob's session = %d; want 200: his account did not change", resp.StatusCode)
	}
	if err := NewAccounts(h.state).Remove(bob); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.do(http.MethodGet, "/staff/session", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bob's session after his account was removed = %d; want 401", resp.StatusCode)
	}
	if code, _ := b.login(bob, bobPassword); code != http.StatusUnauthorized {
		t.Errorf("login to a removed account = %d; want 401", code)
	}
}

// TestAlertOnWebsocket: an alert raised reaches the dashboard at once, is
// not raised twice while open, and is acknowledged, audited, and gone
// from every dashboard.
func TestAlertOnWebsocket(t *testing.T) {
	h := start(t, nil)
	c, other := h.client(), h.clientFrom("127.0.0.2")
	c.mustLogin(alice, alicePassword)
	other.mustLogin(bob, bobPassword)
	conn, otherConn := c.dashboard(), other.dashboard()
	if f := readState(t, conn); len(f.Alerts) != 0 {
		t.Fatalf("alerts at start = %v; want none", f.Alerts)
	}

	h.srv.Raise(AlertHelp, "panel button")
	h.srv.Raise(AlertHelp, "page button") // open already: not a second one
	h.srv.Raise(AlertPrinter, "paper out")
	f := stateUntil(t, conn, "two alerts", func(f stateFrame) bool { return len(f.Alerts) == 2 })
	if f.Alerts[0].Kind != AlertHelp || f.Alerts[0].Detail != "panel button" || f.Alerts[1].Kind != AlertPrinter {
		t.Fatalf("alerts = %+v; want help (panel button), then printer", f.Alerts)
	}
	id := f.Alerts[0].ID

	if code, body := c.act("/staff/alerts/"+itoa(id)+"/ack", ""); code != http.StatusOK {
		t.Fatalf("ack = %d %s; want 200", code, body)
	}
	for _, cn := range []*websocket.Conn{conn, otherConn} {
		stateUntil(t, cn, "the help alert gone", func(f stateFrame) bool { return len(f.Alerts) == 1 && f.Alerts[0].Kind == AlertPrinter })
	}
	if code, _ := other.act("/staff/alerts/"+itoa(id)+"/ack", ""); code != http.StatusNotFound {
		t.Errorf("a second ack = %d; want 404", code)
	}
	acks := h.audited(AuditAlertAck)
	if len(acks) != 1 || acks[0].Account != alice || acks[0].Detail != "alert "+itoa(id)+" (help)" {
		t.Errorf("ack records = %+v; want one by alice naming the help alert", acks)
	}

	// Once acknowledged, a new press is a new alert.
	h.srv.Raise(AlertHelp, "")
	stateUntil(t, conn, "a new help alert", func(f stateFrame) bool {
		return len(f.Alerts) == 2 && f.Alerts[1].Kind == AlertHelp && f.Alerts[1].ID != id
	})
}

// TestStatusPushed: the dashboard gets the status every second, and says
// why when the status cannot be read.
func TestStatusPushed(t *testing.T) {
	var mu sync.Mutex
	fail := false
	h := start(t, func(c *Config) {
		c.Status = func(context.Context) (ui.Status, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return ui.Status{}, errors.New("outbox: database is locked")
			}
			return ui.Status{Outbox: ui.Outbox{Pending: 7}}, nil
		}
		c.Views = viewsOf(kiosk.ScreenHelp)
	})
	c := h.client()
	c.mustLogin(alice, alicePassword)
	conn := c.dashboard()
	f := readState(t, conn)
	if f.Status == nil || f.Status.Screen != kiosk.ScreenHelp || f.Status.Outbox.Pending != 7 {
		t.Fatalf("state = %+v; want pending 7 and the screen from Views", f)
	}
	if len(f.Actions) != 2 {
		t.Errorf("actions = %v; want maintenance and sync", f.Actions)
	}
	readState(t, conn) // the next second's: nothing changed, nothing poked it
	mu.Lock()
	fail = true
	mu.Unlock()
	f = stateUntil(t, conn, "a status error", func(f stateFrame) bool { return f.Status == nil })
	if f.StatusError != "outbox: database is locked" {
		t.Errorf("status_error = %q; want the status's error", f.StatusError)
	}
}

type viewsOf kiosk.Screen

func (v viewsOf) View() kiosk.View { return kiosk.View{Rev: 1, Screen: kiosk.Screen(v)} }

// TestMaintenance: the action calls Config.Maintenance, says so on the
// dashboards, and is audited before it is taken.
func TestMaintenance(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	conn := c.dashboard()
	readState(t, conn)

	for _, bad := range []string{``, `{}`, `{"on":"yes"}`, `[true]`} {
		if code, _ := c.act("/staff/maintenance", bad); code != http.StatusBadRequest {
			t.Errorf("maintenance %q = %d; want 400", bad, code)
		}
	}
	if code, body := c.act("/staff/maintenance", `{"on":true}`); code != http.StatusOK {
		t.Fatalf("maintenance on = %d %s; want 200", code, body)
	}
	stateUntil(t, conn, "maintenance on", func(f stateFrame) bool { return f.Maintenance })
	if code, body := c.act("/staff/maintenance", `{"on":false}`); code != http.StatusOK {
		t.Fatalf("maintenance off = %d %s; want 200", code, body)
	}
	if got := h.maintenanceCalls(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("Maintenance calls = %v; want [true false]", got)
	}
	recs := h.audited(AuditMaintenance)
	if len(recs) != 2 || recs[0].Detail != "on" || recs[1].Detail != "off" || recs[0].Account != alice {
		t.Errorf("maintenance records = %+v; want alice's on, then off", recs)
	}

	// An action whose record cannot be written is not taken.
	auditPath := filepath.Join(Dir(h.state), auditFileName)
	if err := os.Remove(auditPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(auditPath, 0o700); err != nil { // a directory where the log should be
		t.Fatal(err)
	}
	if code, _ := c.act("/staff/maintenance", `{"on":true}`); code != http.StatusInternalServerError {
		t.Errorf("maintenance with the audit log unwritable = %d; want 500", code)
	}
	if got := h.maintenanceCalls(); len(got) != 2 {
		t.Errorf("Maintenance called %d times; want 2: not when the audit failed", len(got))
	}
}

// TestSyncNow: the action calls Config.SyncNow, once, audited; without
// SyncNow or Maintenance, neither is offered.
func TestSyncNow(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	if code, body := c.act("/staff/sync", ""); code != http.StatusAccepted {
		t.Fatalf("sync = %d %s; want 202", code, body)
	}
	if h.syncCalls() != 1 {
		t.Errorf("SyncNow called %d times; want 1", h.syncCalls())
	}
	if recs := h.audited(AuditSyncNow); len(recs) != 1 || recs[0].Account != alice {
		t.Errorf("sync records = %+v; want one by alice", recs)
	}

	bare := start(t, func(c *Config) { c.SyncNow, c.Maintenance = nil, nil })
	c = bare.client()
	c.mustLogin(alice, alicePassword)
	for _, p := range []string{"/staff/sync", "/staff/maintenance"} {
		if code, _ := c.act(p, `{"on":true}`); code != http.StatusNotFound {
			t.Errorf("POST %s without its func = %d; want 404", p, code)
		}
	}
	if f := readState(t, c.dashboard()); len(f.Actions) != 0 {
		t.Errorf("actions offered = %v; want none", f.Actions)
	}
}

// TestAuditHoldsNoPassword: the audit log holds no password, right or
// wrong, and no name typed that is no account (often a password typed in
// the wrong box); each line is a whole record.
func TestAuditHoldsNoPassword(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.login(alice, "wrong-but-secret-1")
	c.login("typed-password-here", alicePassword)
	c.mustLogin(alice, alicePassword)
	c.act("/staff/sync", "")
	c.act("/staff/logout", "")

	log := string(readFile(t, filepath.Join(Dir(h.state), auditFileName)))
	for _, secret := range []string{alicePassword, bobPassword, "wrong-but-secret-1", "typed-password-here", c.csrf} {
		if strings.Contains(log, secret) {
			t.Errorf("the audit log holds %q:\n%s", secret, log)
		}
	}
	recs := h.audit()
	want := []string{AuditAccountAdded, AuditAccountAdded, AuditLoginFailed, AuditLoginFailed, AuditLoginOK, AuditSyncNow, AuditLogout}
	if len(recs) != len(want) {
		t.Fatalf("%d records; want %d: %+v", len(recs), len(want), recs)
	}
	for i, r := range recs {
		if r.Action != want[i] || r.Time.IsZero() || r.Remote == "" {
			t.Errorf("record %d = %+v; want %s with a time and an address", i, r, want[i])
		}
	}
	fi, err := os.Stat(filepath.Join(Dir(h.state), auditFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestKioskListenerServesNoStaff: the kiosk page's server (package ui)
// has no staff route, so its page and websocket cannot reach a staff
// action; and a staff session's cookie is for /staff alone.
func TestKioskListenerServesNoStaff(t *testing.T) {
	actions := make(chan kiosk.Action, 1)
	kioskSrv := ui.New(ui.Config{Views: viewsOf(kiosk.ScreenIdle), Actions: actions})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kioskSrv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()

	for _, r := range []struct{ method, path string }{
		{"GET", "/staff"}, {"GET", "/staff/login"}, {"GET", "/staff/session"}, {"GET", "/staff/ws"},
		{"POST", "/staff/login"}, {"POST", "/staff/maintenance"}, {"POST", "/staff/sync"}, {"POST", "/staff/alerts/1/ack"},
	} {
		req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(`{"on":true}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("kiosk listener: %s %s = %d; want 404 or 405", r.method, r.path, resp.StatusCode)
		}
	}

	// The staff cookie is not sent to the kiosk page's paths, on any port.
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	for _, p := range []string{"/", "/ws/kiosk", "/api/v1/status", "/staffx"} {
		u, _ := url.Parse(h.base + p)
		if got := c.http.Jar.Cookies(u); len(got) != 0 {
			t.Errorf("cookies for %s = %v; want none", p, got)
		}
	}
}

// TestFingerprintMatchesServed: the fingerprint New reports, and the one
// LoadFingerprint reads for `kiosk status`, are those of the certificate
// a client is served.
func TestFingerprintMatchesServed(t *testing.T) {
	h := start(t, nil)
	conn, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: h.roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake with the made certificate trusted: %v", err)
	}
	defer conn.Close()
	served := Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
	loaded, err := LoadFingerprint(h.state, "")
	if err != nil {
		t.Fatal(err)
	}
	if fp := h.srv.Fingerprint(); fp != served || loaded != served || !strings.HasPrefix(fp, "sha256:") || len(fp) != 7+64 {
		t.Errorf("Fingerprint() = %s, LoadFingerprint = %s; served %s", fp, loaded, served)
	}
	block, _ := pem.Decode(readFile(t, filepath.Join(Dir(h.state), certFileName)))
	if block == nil {
		t.Fatal("cert.pem holds no PEM block")
	}
}
