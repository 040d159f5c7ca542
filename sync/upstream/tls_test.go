package upstream_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// tlsUpstream is an upstream served as `kiosk upstream` serves it: TLS
// from its own CA, devices authenticated by client certificate.
type tlsUpstream struct {
	srv   *upstream.Server
	auth  *upstream.Authority
	url   string
	docs  string // document directory
	token string // the admin token of the operator endpoints
}

func startTLS(t *testing.T, faults *upstream.Faults) *tlsUpstream {
	t.Helper()
	srv, err := upstream.OpenServer(t.TempDir(), upstream.DirOptions{OpenStore: sqlite.OpenIn})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	docs := t.TempDir()
	srv.SetDocumentDir(docs)
	token := setAdmin(t, srv)
	ts := httptest.NewUnstartedServer(faults.Wrap(srv.Handler()))
	ts.TLS = auth.TLSConfig()
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &tlsUpstream{srv: srv, auth: auth, url: ts.URL, docs: docs, token: token}
}

// withToken returns c sending the admin token with every request.
func withToken(c *http.Client, token string) *http.Client {
	cc := *c
	cc.Transport = bearerTransport{base: cmp.Or[http.RoundTripper](c.Transport, http.DefaultTransport), token: token}
	return &cc
}

// bearerTransport adds an admin token to each request it sends on.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", bearer(b.token))
	return b.base.RoundTrip(r)
}

// enroll enrolls a new device as kioskID and returns it with a client that
// authenticates as it.
func (u *tlsUpstream) enroll(t *testing.T, kioskID string) (*device.Identity, *http.Client) {
	t.Helper()
	id, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	token, err := u.srv.NewEnrollToken(ctx, kioskID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.srv.Enroll(ctx, kioskID, id.Public(), token); err != nil {
		t.Fatalf("Enroll(%s) = %v", kioskID, err)
	}
	return id, u.client(t, id, kioskID)
}

func (u *tlsUpstream) client(t *testing.T, id *device.Identity, kioskID string) *http.Client {
	t.Helper()
	cert, err := id.Certificate(kioskID)
	if err != nil {
		t.Fatal(err)
	}
	return upload.NewClient(u.auth.Pool(), cert, 5*time.Second)
}

func do(t *testing.T, c *http.Client, method, url string, body any) (int, []byte, error) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", wire.ContentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func signedHead(id *device.Identity, kioskID string, seq uint64) wire.Head {
	h := wire.Head{KioskID: kioskID, Seq: seq, Hash: bytes.Repeat([]byte{byte(seq)}, wire.HashSize), At: time.Now()}
	h.Sign(id.PrivateKey())
	return h
}

func TestDeviceAuthentication(t *testing.T) {
	u := startTLS(t, nil)
	idA, clientA := u.enroll(t, "kiosk-a")
	u.enroll(t, "kiosk-b")
	stranger, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	unknown := u.client(t, stranger, "kiosk-a") // names kiosk-a, but not its key
	anonymous := upload.NewClient(u.auth.Pool(), tls.Certificate{}, 5*time.Second)
	batch := func(k string) wire.Batch { return wire.Batch{KioskID: k, Records: []wire.Record{}} }

	for _, tc := range []struct {
		name   string
		client *http.Client
		method string
		path   string
		body   any
		want   int
	}{
		{"own batch", clientA, "POST", wire.PathCheckIns, batch("kiosk-a"), 200},
		{"another kiosk's batch", clientA, "POST", wire.PathCheckIns, batch("kiosk-b"), 403},
		{"own heartbeat", clientA, "POST", wire.PathHeartbeats, signedHead(idA, "kiosk-a", 0), 200},
		{"another kiosk's heartbeat", clientA, "POST", wire.PathHeartbeats, signedHead(idA, "kiosk-b", 0), 403},
		{"unknown device, batch", unknown, "POST", wire.PathCheckIns, batch("kiosk-a"), 403},
		{"unknown device, heartbeat", unknown, "POST", wire.PathHeartbeats, signedHead(stranger, "kiosk-a", 0), 403},
		{"unknown device, download", unknown, "GET", wire.PathTrustList, nil, 403},
		{"no certificate, batch", anonymous, "POST", wire.PathCheckIns, batch("kiosk-a"), 403},
		{"no certificate, stats", anonymous, "GET", wire.PathStats, nil, 401},
		{"no certificate, admin token, stats", withToken(anonymous, u.token), "GET", wire.PathStats, nil, 200},
		{"no certificate, health", anonymous, "GET", wire.PathHealth, nil, 200},
	} {
		got, body, err := do(t, tc.client, tc.method, u.url+tc.path, tc.body)
		if err != nil || got != tc.want {
			t.Errorf("%s: %s %s = %d, %v (%s); want %d", tc.name, tc.method, tc.path, got, err, body, tc.want)
		}
	}

	// A kiosk pinning another CA refuses the upstream.
	other, err := upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := idA.Certificate("kiosk-a")
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := upload.NewClient(other.Pool(), cert, 5*time.Second)
	if _, _, err := do(t, wrongCA, "GET", u.url+wire.PathHealth, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET with another CA pinned = %v; want a certificate error", err)
	}
	// Nor does a client trust the system roots by default.
	if _, _, err := do(t, upload.NewClient(nil, cert, 5*time.Second), "GET", u.url+wire.PathHealth, nil); err == nil {
		t.Errorf("GET with no CA pinned succeeded; want a certificate error")
	}
}

func TestAuthorityKept(t *testing.T) {
	dir := t.TempDir()
	a, err := upstream.LoadOrCreateAuthority(dir, []string{"127.0.0.1", "upstream.example"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := upstream.LoadOrCreateAuthority(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() || !bytes.Equal(a.Server.Certificate[0], b.Server.Certificate[0]) {
		t.Errorf("LoadOrCreateAuthority() again made a new CA or server certificate")
	}
	c, err := upstream.LoadOrCreateAuthority(dir, []string{"kiosk-upstream.example"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Fingerprint() != a.Fingerprint() || bytes.Equal(c.Server.Certificate[0], a.Server.Certificate[0]) {
		t.Errorf("a new host name: want the same CA and a new server certificate")
	}
	fi, err := os.Stat(filepath.Join(dir, upstream.CAKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestEnroll(t *testing.T) {
	u := startTLS(t, nil)
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	u.srv.SetNow(func() time.Time { return now })
	ctx := context.Background()
	key := func() ed25519.PublicKey {
		id, err := device.Generate()
		if err != nil {
			t.Fatal(err)
		}
		return id.Public()
	}
	valid, err := u.srv.NewEnrollToken(ctx, "kiosk-01", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := u.srv.NewEnrollToken(ctx, "kiosk-01", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	other, err := u.srv.NewEnrollToken(ctx, "kiosk-02", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	enrolled := key()
	anonymous := upload.NewClient(u.auth.Pool(), tls.Certificate{}, 5*time.Second)
	post := func(kioskID string, pub ed25519.PublicKey, token string) (int, []byte) {
		code, body, err := do(t, anonymous, "POST", u.url+wire.PathEnroll, wire.EnrollRequest{KioskID: kioskID, DevicePublicKey: pub, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	code, body := post("kiosk-01", enrolled, valid)
	var res wire.EnrollResponse
	if code != 200 || json.Unmarshal(body, &res) != nil || res.KioskID != "kiosk-01" {
		t.Fatalf("enroll with a valid token = %d %s; want 200 naming kiosk-01", code, body)
	}
	if got, ok, err := u.srv.DeviceKioskID(ctx, enrolled); got != "kiosk-01" || !ok || err != nil {
		t.Errorf("DeviceKioskID(enrolled key) = %q, %v, %v; want kiosk-01", got, ok, err)
	}

	now = now.Add(2 * time.Minute)
	for _, tc := range []struct {
		name    string
		kiosk   string
		token   string
		want    int
		wantMsg string
	}{
		{"reused token", "kiosk-01", valid, 403, "already used"},
		{"expired token", "kiosk-01", expired, 403, "expired"},
		{"another kiosk's token", "kiosk-01", other, 403, "another kiosk"},
		{"unknown token", "kiosk-01", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 403, "unknown"},
		{"bad kiosk id", "kiosk 01", valid, 400, "kiosk_id"},
	} {
		pub := key()
		code, body := post(tc.kiosk, pub, tc.token)
		if code != tc.want || !strings.Contains(string(body), tc.wantMsg) {
			t.Errorf("enroll with %s = %d %s; want %d mentioning %q", tc.name, code, body, tc.want, tc.wantMsg)
		}
		if _, ok, _ := u.srv.DeviceKioskID(ctx, pub); ok {
			t.Errorf("enroll with %s enrolled the key", tc.name)
		}
	}
	// The token refused for another kiosk is still good for its own.
	if err := u.srv.Enroll(ctx, "kiosk-02", key(), other); err != nil {
		t.Errorf("Enroll(kiosk-02, its token) = %v; want nil", err)
	}
	if err := u.srv.Enroll(ctx, "kiosk-02", key(), other); !errors.Is(err, upstream.ErrToken) {
		t.Errorf("Enroll() with a used token = %v; want ErrToken", err)
	}
}

func TestHeartbeatStates(t *testing.T) {
	hash := func(b byte) []byte { return bytes.Repeat([]byte{b}, wire.HashSize) }
	for _, tc := range []struct {
		name      string
		seq       uint64
		heldMax   uint64
		heldCount uint64
		heldHash  []byte
		want      string
	}{
		{"nothing yet", 0, 0, 0, nil, wire.HeadInSync},
		{"records pending", 5, 3, 3, nil, wire.HeadBehind},
		{"all held", 5, 5, 5, hash(5), wire.HeadInSync},
		{"tail deleted", 3, 5, 5, hash(3), wire.HeadTailDeleted},
		{"fork", 5, 5, 5, hash(9), wire.HeadFork},
		{"held without a hash", 5, 5, 5, nil, wire.HeadInSync},
		{"head held, a record below it missing", 5, 5, 4, hash(5), wire.HeadGaps},
		{"fork and a gap", 5, 5, 4, hash(9), wire.HeadFork},
	} {
		head := wire.Head{Seq: tc.seq, Hash: hash(byte(tc.seq))}
		if got := upstream.CompareHead(head, tc.heldMax, tc.heldCount, tc.heldHash); got != tc.want {
			t.Errorf("CompareHead(%s: seq %d, held %d) = %q; want %q", tc.name, tc.seq, tc.heldMax, got, tc.want)
		}
	}
}

func TestHeartbeatsInStats(t *testing.T) {
	u := startTLS(t, nil)
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	u.srv.SetNow(func() time.Time { return now })
	u.srv.SetSilentAfter(time.Minute)
	idA, clientA := u.enroll(t, "kiosk-a")
	u.enroll(t, "kiosk-b") // enrolled, never heard from

	code, body, err := do(t, clientA, "POST", u.url+wire.PathHeartbeats, signedHead(idA, "kiosk-a", 4))
	var res wire.HeartbeatResult
	if err != nil || code != 200 || json.Unmarshal(body, &res) != nil || res.State != wire.HeadBehind {
		t.Fatalf("heartbeat seq 4 with nothing held = %d %s, %v; want 200 behind", code, body, err)
	}
	forged := signedHead(idA, "kiosk-a", 5)
	forged.Seq = 6
	if code, body, _ := do(t, clientA, "POST", u.url+wire.PathHeartbeats, forged); code != 400 {
		t.Errorf("heartbeat with a bad signature = %d %s; want 400", code, body)
	}

	stats := func() map[string]wire.KioskHealth {
		t.Helper()
		code, body, err := do(t, withToken(clientA, u.token), "GET", u.url+wire.PathStats, nil)
		var rep upstream.StatsReport
		if err != nil || code != 200 || json.Unmarshal(body, &rep) != nil {
			t.Fatalf("GET stats = %d %s, %v", code, body, err)
		}
		m := map[string]wire.KioskHealth{}
		for _, h := range rep.Heads {
			m[h.KioskID] = h
		}
		return m
	}
	got := stats()
	if a := got["kiosk-a"]; a.LastHeartbeat == nil || !a.LastHeartbeat.Equal(now) || a.HeadSeq != 4 || a.State != wire.HeadBehind || a.Silent {
		t.Errorf("stats of kiosk-a = %+v; want a heartbeat at %v, head 4, behind, not silent", a, now)
	}
	if b := got["kiosk-b"]; b.LastHeartbeat != nil || !b.Silent {
		t.Errorf("stats of kiosk-b = %+v; want no heartbeat, silent", b)
	}
	now = now.Add(2 * time.Minute)
	if a := stats()["kiosk-a"]; !a.Silent {
		t.Errorf("stats of kiosk-a two minutes later = %+v; want silent", a)
	}
}

func TestDownloadETag(t *testing.T) {
	u := startTLS(t, nil)
	_, c := u.enroll(t, "kiosk-a")
	if code, _, err := do(t, c, "GET", u.url+wire.PathRoster, nil); err != nil || code != 404 {
		t.Errorf("GET roster with none = %d, %v; want 404", code, err)
	}
	if err := os.WriteFile(filepath.Join(u.docs, "roster.cose"), []byte("edition 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(etag string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u.url+wire.PathRoster, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag"), string(b)
	}
	code, etag, body := get("")
	if code != 200 || body != "edition 1" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET roster = %d %q etag %q; want 200, the file, a strong ETag", code, body, etag)
	}
	if code, _, body := get(etag); code != 304 || body != "" {
		t.Errorf("GET roster If-None-Match its ETag = %d %q; want 304, no body", code, body)
	}
	if err := os.WriteFile(filepath.Join(u.docs, "roster.cose"), []byte("edition 2!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, etag2, body := get(etag); code != 200 || body != "edition 2!" || etag2 == etag {
		t.Errorf("GET roster after a change = %d %q etag %q; want 200, the new file, a new ETag", code, body, etag2)
	}
}
