package upstream_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// operated is an upstream served over TLS as `kiosk upstream` serves it,
// with an admin token set and kiosks enrolled under their deviceOf keys.
type operated struct {
	srv   *upstream.Server
	url   string
	token string // the admin token
	anon  *http.Client
	auth  *upstream.Authority

	mu  sync.Mutex
	now time.Time // the server's clock
}

// startOperated serves st (nil: a new SQLite store) with kiosks enrolled.
func startOperated(t *testing.T, st upstream.Store, kiosks ...string) *operated {
	t.Helper()
	if st == nil {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
		if err != nil {
			t.Fatal(err)
		}
		st = s
	}
	srv, err := upstream.New(st, upstream.Options{SealKey: sealKey()})
	if err != nil {
		t.Fatal(err)
	}
	o := &operated{srv: srv, now: time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)}
	srv.SetNow(func() time.Time {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.now
	})
	token, line, err := upstream.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := upstream.ParseAdmin([]byte("# staff\n" + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAdmin(admin)
	for _, k := range kiosks {
		if err := srv.RegisterDevice(context.Background(), k, deviceOf(k).Public()); err != nil {
			t.Fatal(err)
		}
	}
	if o.auth, err = upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = o.auth.TLSConfig()
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	o.url, o.token = ts.URL, token
	o.anon = upload.NewClient(o.auth.Pool(), tls.Certificate{}, 5*time.Second)
	return o
}

// advance moves the server's clock on by d.
func (o *operated) advance(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.now = o.now.Add(d)
}

// device returns a client authenticated as kiosk k's device.
func (o *operated) device(t *testing.T, k string) *http.Client {
	t.Helper()
	cert, err := deviceOf(k).Certificate(k)
	if err != nil {
		t.Fatal(err)
	}
	return upload.NewClient(o.auth.Pool(), cert, 5*time.Second)
}

// get sends GET path with client c and the Authorization header auth
// ("": none), and returns the answer's status, headers and body.
func (o *operated) get(t *testing.T, c *http.Client, path, auth string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", o.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// bearer is the Authorization header of token.
func bearer(token string) string { return "Bearer " + token }

// basic is the Authorization header of HTTP Basic with token as password.
func basic(token string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("staff", token)
	return req.Header.Get("Authorization")
}

// TestOperatorEndpointsNeedAdmin: every operator endpoint refuses a
// request without credentials (401, with a challenge), a kiosk's device
// certificate (403) and a wrong token (401), and serves the admin token,
// as bearer or as a Basic password. Kiosk endpoints keep their device
// authentication, which an admin token does not replace.
func TestOperatorEndpointsNeedAdmin(t *testing.T) {
	o := startOperated(t, nil, "k1")
	dev := o.device(t, "k1")
	paths := []string{wire.PathStats, upstream.PathFleet, upstream.PathFleetPage, upstream.PathFleetPage + "/fleet.css", upstream.PathMetrics}
	creds := []struct {
		name   string
		client *http.Client
		auth   string
		want   int
	}{
		{"none", o.anon, "", http.StatusUnauthorized},
		{"device certificate", dev, "", http.StatusForbidden},
		{"wrong token", o.anon, bearer(o.token + "x"), http.StatusUnauthorized},
		{"empty bearer", o.anon, "Bearer ", http.StatusUnauthorized},
		{"device with wrong token", dev, bearer("nope"), http.StatusUnauthorized},
		{"admin bearer", o.anon, bearer(o.token), http.StatusOK},
		{"admin basic", o.anon, basic(o.token), http.StatusOK},
	}
	for _, p := range paths {
		for _, c := range creds {
			code, h, _ := o.get(t, c.client, p, c.auth)
			if code != c.want {
				t.Errorf("GET %s with %s = %d; want %d", p, c.name, code, c.want)
			}
			if code == http.StatusUnauthorized && !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), ","), "Bearer") {
				t.Errorf("GET %s with %s: WWW-Authenticate %q; want a Bearer challenge", p, c.name, h.Values("WWW-Authenticate"))
			}
		}
	}

	// Health stays open to load balancers; kiosk endpoints take a device.
	if code, _, _ := o.get(t, o.anon, wire.PathHealth, ""); code != http.StatusOK {
		t.Errorf("GET %s without credentials = %d; want 200", wire.PathHealth, code)
	}
	if code, _, _ := o.get(t, o.anon, wire.PathTrustList, bearer(o.token)); code != http.StatusForbidden {
		t.Errorf("GET %s with the admin token alone = %d; want 403 (a device is required)", wire.PathTrustList, code)
	}
	code, body, err := do(t, dev, "POST", o.url+wire.PathCheckIns, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 1)}})
	if err != nil || code != http.StatusOK {
		t.Errorf("POST %s from k1's device = %d %s, %v; want 200", wire.PathCheckIns, code, body, err)
	}
}

// TestNoAdminIsClosed: a server that was given no admin (SetAdmin never
// called, or nil) refuses every operator endpoint to everyone, a token
// that worked before included, saying that an admin token file is
// missing; kiosk endpoints and health are not affected.
func TestNoAdminIsClosed(t *testing.T) {
	o := startOperated(t, nil, "k1")
	o.srv.SetAdmin(nil)
	for _, p := range []string{wire.PathStats, upstream.PathFleet, upstream.PathFleetPage, upstream.PathMetrics} {
		for _, auth := range []string{"", bearer(o.token)} {
			code, h, body := o.get(t, o.anon, p, auth)
			if code != http.StatusUnauthorized || !strings.Contains(body, "admin token file") {
				t.Errorf("GET %s (Authorization %q) without SetAdmin = %d %s; want 401 saying an admin token file is needed", p, auth, code, body)
			}
			if h.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s without SetAdmin: 401 without WWW-Authenticate", p)
			}
		}
	}
	if code, _, _ := o.get(t, o.anon, wire.PathHealth, ""); code != http.StatusOK {
		t.Errorf("GET %s without SetAdmin = %d; want 200", wire.PathHealth, code)
	}
}

// TestAdminTokenFile: LoadOrCreateAdmin makes the file once, with one
// token it returns and whose hash alone it writes; AddAdminToken adds a
// second and keeps the first; a damaged file is neither loaded nor
// added to, and is left as it was.
func TestAdminTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", upstream.AdminTokensFile)
	a, first, err := upstream.LoadOrCreateAdmin(path)
	if err != nil || first == "" || a == nil {
		t.Fatalf("LoadOrCreateAdmin(missing) = %v, %q, %v; want a new token", a, first, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), first) || !strings.Contains(string(data), upstream.AdminTokenLine(first)) {
		t.Errorf("admin token file holds %q; want the hash of the token, not the token", data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if _, again, err := upstream.LoadOrCreateAdmin(path); err != nil || again != "" {
		t.Errorf("LoadOrCreateAdmin(existing) = %q, %v; want no new token", again, err)
	}

	second, err := upstream.AddAdminToken(path)
	if err != nil || second == "" || second == first {
		t.Fatalf("AddAdminToken = %q, %v; want a new token", second, err)
	}
	o := startOperated(t, nil)
	a, err = upstream.LoadAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	o.srv.SetAdmin(a)
	for _, tok := range []string{first, second} {
		if code, _, _ := o.get(t, o.anon, wire.PathStats, bearer(tok)); code != http.StatusOK {
			t.Errorf("GET %s with a token of the file = %d; want 200", wire.PathStats, code)
		}
	}

	// A file without a token refuses to start, and takes one added; a
	// line that is not a hash refuses both, and stays as it was.
	for _, tc := range []struct {
		name, file string
		addOK      bool
	}{
		{"no token", "# none\n", true},
		{"a token in clear", "s3cr3t\n", false},
	} {
		bad := filepath.Join(t.TempDir(), upstream.AdminTokensFile)
		if err := os.WriteFile(bad, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, tok, err := upstream.LoadOrCreateAdmin(bad); err == nil || tok != "" {
			t.Errorf("LoadOrCreateAdmin(%s) = %q, %v; want an error and no token", tc.name, tok, err)
		}
		_, err := upstream.AddAdminToken(bad)
		if (err == nil) != tc.addOK {
			t.Errorf("AddAdminToken(%s) = %v; want ok %v", tc.name, err, tc.addOK)
		}
		if got, _ := os.ReadFile(bad); err != nil && string(got) != tc.file {
			t.Errorf("AddAdminToken(%s) failed, and the file is now %q; want it as it was", tc.name, got)
		}
	}
}

func TestParseAdmin(t *testing.T) {
	_, line, err := upstream.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		ok         bool
	}{
		{"one", line + "\n", true},
		{"comments and blanks", "# rotated 2026-03\n\n" + line + "\n" + upstream.AdminTokenLine("old") + "\n", true},
		{"empty", "", false},
		{"comments only", "# none\n", false},
		{"a token in clear", "s3cr3t-token\n", false},
		{"short hash", upstream.AdminTokenHashPrefix + "abcd\n", false},
		{"not hex", upstream.AdminTokenHashPrefix + strings.Repeat("zz", 32) + "\n", false},
	}
	for _, tt := range tests {
		_, err := upstream.ParseAdmin([]byte(tt.file))
		if (err == nil) != tt.ok {
			t.Errorf("ParseAdmin(%s) = %v; want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ParseAdmin(%s) = %v; the error repeats the line", tt.name, err)
		}
	}
}
