package main

import (
	"bytes"
	"context"
	"crypto/hpke"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/sdnotify/sdnotifytest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// testUpstream is a reference upstream served on loopback, as the kiosk
// sees it in production: a separate server it reaches over HTTPS, from its
// own CA, authenticating the kiosk by its device certificate.
type testUpstream struct {
	URL       string
	Server    *upstream.Server
	Authority *upstream.Authority
	stop      func()
}

// testUpstreams finds the testUpstream of a URL, so that startKiosk can
// enroll a kiosk with the upstream it is given.
var testUpstreams sync.Map // URL → *testUpstream

// enroll enrolls the kiosk whose state is in dir as kioskID, in process, as
// `kiosk upstream token` and `kiosk enroll` would.
func (u *testUpstream) enroll(t testing.TB, dir, kioskID string) {
	t.Helper()
	ctx := context.Background()
	token, err := u.Server.NewEnrollToken(ctx, kioskID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Enroll(ctx, u.URL, u.Authority.CAPEM, token, kioskID, dir); err != nil {
		t.Fatalf("enroll() = %v", err)
	}
}

// startUpstream serves an upstream with its store and CA in dir on addr
// ("127.0.0.1:0" for any port).
func startUpstream(t *testing.T, dir, addr string) *testUpstream {
	t.Helper()
	// Every test upstream opens what every test kiosk seals: see testSealKey.
	if err := upstream.SaveSealKey(filepath.Join(dir, upstream.SealKeyFile), testSealKey()); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	up, err := openUpstream(dir, testLog(t), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := up.Server
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		up.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- upstream.Serve(ctx, ln, upstream.ServeOptions{Server: srv, Authority: up.Authority, Log: testLog(t)})
	}()
	u := &testUpstream{URL: "https://" + ln.Addr().String(), Server: srv, Authority: up.Authority}
	testUpstreams.Store(u.URL, u)
	var stopped bool
	u.stop = func() {
		if stopped {
			return
		}
		stopped = true
		testUpstreams.CompareAndDelete(u.URL, u)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("upstream.Serve() = %v", err)
		}
		if err := up.Close(); err != nil {
			t.Errorf("upstream Close() = %v", err)
		}
	}
	t.Cleanup(u.stop)
	return u
}

// testSealKey is the key person data is sealed to in these tests: every
// test upstream holds it, and a kiosk started before it is enrolled (or
// without an upstream) seals to it, so what it queued opens at whichever
// upstream it meets later.
var testSealKey = sync.OnceValue(func() hpke.PrivateKey {
	k, err := wire.GenerateSealKey()
	if err != nil {
		panic(err)
	}
	return k
})

// testSealKeyFile writes the public testSealKey to a file for
// Config.SealKey, in base64.
func testSealKeyFile(t testing.TB) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "seal-key.pub")
	if err := os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(testSealKey().PublicKey().Bytes())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func (u *testUpstream) checkIns(t *testing.T) int64 {
	t.Helper()
	st, err := u.Server.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.CheckIns
}

// startKiosk runs the daemon on a free loopback port with the simulated
// scanner, the demo kit's trust and revocation files, and state in dir.
func startKiosk(t *testing.T, dir string, kit *demokit.Kit, upstreamURL string, edits ...func(*Config)) *Main {
	t.Helper()
	return startKioskLogging(t, testLog(t), dir, kit, upstreamURL, edits...)
}

// startKioskLogging is startKiosk with the daemon's log going to log.
func startKioskLogging(t *testing.T, log *slog.Logger, dir string, kit *demokit.Kit, upstreamURL string, edits ...func(*Config)) *Main {
	t.Helper()
	return startMain(t, log, dir, kit, upstreamURL, func(m *Main) {
		for _, edit := range edits {
			edit(&m.Config)
		}
	})
}

// startMain is startKioskLogging with prepare given the Main before it
// runs, its configuration and its fields.
func startMain(t testing.TB, log *slog.Logger, dir string, kit *demokit.Kit, upstreamURL string, prepare func(*Main)) *Main {
	t.Helper()
	m := NewMain()
	m.Log = log
	m.Config.Listen = "127.0.0.1:0"
	m.Config.StateDir = dir
	m.Config.KioskID = "test-kiosk"
	m.Config.Root = kit.Root
	m.Config.Trust = kit.Trust
	m.Config.Revocations = kit.Revocations
	m.Config.Roster = kit.Roster
	m.Config.ReferencePrefix = demokit.ReferencePrefix
	m.Config.Upstream = upstreamURL
	m.Config.UploadMinBackoff = 10 * time.Millisecond
	m.Config.UploadMaxBackoff = 100 * time.Millisecond
	m.Config.SealKey = testSealKeyFile(t) // for a kiosk not enrolled; enrollment gives the same key
	prepare(m)
	if u, ok := testUpstreams.Load(upstreamURL); ok {
		u.(*testUpstream).enroll(t, dir, m.Config.KioskID)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return m
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testKit(t testing.TB) *demokit.Kit {
	t.Helper()
	kit, err := demokit.Prepare(filepath.Join(t.TempDir(), "demo"), time.Now())
	if err != nil {
		t.Fatalf("demokit.Prepare() = %v", err)
	}
	return kit
}

func simScan(t *testing.T, m *Main, text string) {
	t.Helper()
	resp, err := http.Post("http://"+m.Addr()+"/api/v1/sim/scan", "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/sim/scan: %s; want 202", resp.Status)
	}
}

type statusDoc struct {
	Screen  string `json:"screen"`
	Service struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
	} `json:"service"`
	Outbox struct {
		Pending       int64      `json:"pending"`
		UploadedTotal int64      `json:"uploaded_total"`
		LastUpload    *time.Time `json:"last_upload"`
	} `json:"outbox"`
}

func getStatus(t *testing.T, m *Main) statusDoc {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode status: %v", err)
	}
	return s
}

// eventually polls cond until it holds or ten seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorded returns the check-ins in the kiosk's outbox.
func recorded(t *testing.T, m *Main) int64 {
	t.Helper()
	st, err := m.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending + st.Uploaded
}

// recordIDs reads the record ids in the kiosk's database through a
// connection of its own, so it sees only what was committed.
func recordIDs(t *testing.T, m *Main) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(m.Config.StateDir, "kiosk.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM checkins ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCheckInEndToEnd(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	p := uitest.Dial(t, "http://"+m.Addr(), nil)

	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"])
	if c := p.Want(kiosk.ScreenConfirm); c.Name != "Amina Haddad" {
		t.Errorf("confirm name = %q; want %q", c.Name, "Amina Haddad")
	}
	if n := recorded(t, m); n != 0 {
		t.Fatalf("%d check-ins recorded before the person confirmed", n)
	}
	p.Act(kiosk.ActionConfirm)
	s := p.Want(kiosk.ScreenSuccess)
	// The success screen may only follow the commit: when it arrives, the
	// record must already be in the database, under the code shown.
	ids := recordIDs(t, m)
	if len(ids) != 1 {
		t.Fatalf("success shown with %d records in the outbox; want 1", len(ids))
	}
	if want := kiosk.ConfirmationCode(ids[0]); s.Code != want {
		t.Errorf("confirmation code = %q; want %q (from record %s)", s.Code, want, ids[0])
	}

	eventually(t, "the upstream to hold the check-in", func() bool { return up.checkIns(t) >= 1 })
	eventually(t, "status to show it uploaded", func() bool { return getStatus(t, m).Outbox.UploadedTotal == 1 })
	st := getStatus(t, m)
	if st.Outbox.Pending != 0 || st.Outbox.LastUpload == nil || st.Screen != "success" {
		t.Errorf("status = %+v; want pending 0, a last upload, screen success", st)
	}
	if n := up.checkIns(t); n != 1 {
		t.Errorf("upstream holds %d check-ins; want 1", n)
	}

	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)
}

// TestReferenceCardEndToEnd checks in with a card whose QR holds only a
// reference, resolved against the signed roster.
func TestReferenceCardEndToEnd(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["reference"])
	if c := p.Want(kiosk.ScreenConfirm); c.Name != "Mariam Okonkwo-Adeyemi" {
		t.Errorf("confirm name = %q; want %q", c.Name, "Mariam Okonkwo-Adeyemi")
	}
	p.Act(kiosk.ActionConfirm)
	p.Want(kiosk.ScreenSuccess)
	eventually(t, "the upload", func() bool { return up.checkIns(t) == 1 })

	// A reference the roster does not hold goes to staff.
	simScan(t, m, demokit.ReferencePrefix+"7Q2M9XD4KTA0B8ZP3WNE6RJ5HC")
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonCardUnknownIssuer {
		t.Errorf("unknown reference: reason %q; want %q", got.Reason, kiosk.ReasonCardUnknownIssuer)
	}
}

func TestRefusedCardsEndToEnd(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)

	for _, tc := range []struct {
		name, scan string
		want       kiosk.Reason
	}{
		{"expired", kit.Samples["expired"], kiosk.ReasonCardExpired},
		{"revoked", kit.Samples["revoked"], kiosk.ReasonCardRevoked},
		{"forged", kit.Samples["forged"], kiosk.ReasonCardBadSignature},
		{"garbage", "http://example.com/?q=%00\x01 not a card", kiosk.ReasonCardUnreadable},
		{"truncated", kit.Samples["valid"][:len(kit.Samples["valid"])/2], kiosk.ReasonCardUnreadable},
	} {
		simScan(t, m, tc.scan)
		got := p.Want(kiosk.ScreenSeeStaff)
		if got.Reason != tc.want || got.Name != "" || got.Code != "" {
			t.Errorf("%s: screen %s; want see_staff/%s with nothing personal", tc.name, got.Raw, tc.want)
		}
		// A confirm sent anyway must not record the refused card.
		p.Act(kiosk.ActionConfirm)
		p.Act(kiosk.ActionDone)
		p.Want(kiosk.ScreenIdle)
	}
	// "No, this is not me" records nothing either.
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionDeny)
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonPersonDenied {
		t.Errorf("deny: reason %q; want %q", got.Reason, kiosk.ReasonPersonDenied)
	}

	if n := recorded(t, m); n != 0 {
		t.Errorf("%d check-ins recorded; want 0", n)
	}
	if n := up.checkIns(t); n != 0 {
		t.Errorf("upstream holds %d check-ins; want 0", n)
	}
}

func TestRestartUploadsQueuedCheckIn(t *testing.T) {
	kit := testKit(t)
	state := t.TempDir()

	// An address with nothing listening: the upstream is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	m := startKiosk(t, state, kit, "http://"+addr)
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	p.Want(kiosk.ScreenSuccess)
	eventually(t, "a failed upload attempt", func() bool { return m.uploader.Status().LastError != "" })
	if st := getStatus(t, m); st.Outbox.Pending != 1 || st.Outbox.UploadedTotal != 0 {
		t.Fatalf("status with upstream down = %+v; want 1 pending, 0 uploaded", st.Outbox)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	up := startUpstream(t, t.TempDir(), addr)
	m = startKiosk(t, state, kit, up.URL)
	eventually(t, "the queued check-in to arrive", func() bool { return getStatus(t, m).Outbox.UploadedTotal == 1 })
	if n := up.checkIns(t); n != 1 {
		t.Errorf("upstream holds %d check-ins; want 1", n)
	}
	if st := getStatus(t, m); st.Outbox.Pending != 0 {
		t.Errorf("pending = %d after upload; want 0", st.Outbox.Pending)
	}
	// Once more, with feeling: a third start sends nothing again.
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	m = startKiosk(t, state, kit, up.URL)
	if st := getStatus(t, m); st.Outbox.Pending != 0 || st.Outbox.UploadedTotal != 1 {
		t.Errorf("after restart: %+v; want 0 pending, 1 uploaded", st.Outbox)
	}
	if n := up.checkIns(t); n != 1 {
		t.Errorf("upstream holds %d check-ins after a restart; want 1", n)
	}
}

func TestHealthz(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s; want 200", resp.Status)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	kit := testKit(t)
	otherRoot := testKit(t).Root
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"no trust", func(c *Config) { c.Trust = "" }, "--trust"},
		{"missing trust", func(c *Config) { c.Trust = filepath.Join(t.TempDir(), "none.pem") }, "trust"},
		{"bad scanner", func(c *Config) { c.Scanner = "bluetooth:x" }, "scanner"},
		{"missing root", func(c *Config) { c.Root = filepath.Join(t.TempDir(), "none.pem") }, "public key"},
		{"root not a public key", func(c *Config) { c.Root = filepath.Join(kit.Dir, "issuer-cert.pem") }, "PUBLIC KEY"},
		{"PEM trust with a root", func(c *Config) { c.Trust = filepath.Join(kit.Dir, "issuer-cert.pem") }, "signed by the root key"},
		{"trust list of another root", func(c *Config) { c.Root = otherRoot }, "signature"},
		{"revocation list as trust list", func(c *Config) { c.Trust = kit.Revocations }, "trust"},
		{"revocations without a root", func(c *Config) {
			c.Root = ""
			c.Trust = filepath.Join(kit.Dir, "issuer-cert.pem")
			c.Revocations = kit.Revocations
		}, "--root"},
		{"roster without a prefix", func(c *Config) { c.Roster = kit.Roster }, "--reference-prefix"},
		{"prefix without a roster", func(c *Config) { c.ReferencePrefix = demokit.ReferencePrefix }, "--roster"},
		{"revocation list as roster", func(c *Config) {
			c.Roster, c.ReferencePrefix = kit.Revocations, demokit.ReferencePrefix
		}, "roster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Log = testLog(t)
			m.Config.Listen = "127.0.0.1:0"
			m.Config.StateDir = t.TempDir()
			m.Config.Root = kit.Root
			m.Config.Trust = kit.Trust
			m.Config.SealKey = testSealKeyFile(t)
			tc.set(&m.Config)
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatalf("Run() = nil; want an error about %s", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run() = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestRunRefusesRolledBackList: once a kiosk has accepted a revocation
// list, it does not start with an older one (a lower seq), even one the root
// key signed: that would unrevoke the cards revoked since.
func TestRunRefusesRolledBackList(t *testing.T) {
	kit := testKit(t)
	state := t.TempDir()
	m := startKiosk(t, state, kit, "")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	root, held := kitRevocations(t, kit)
	old := card.NewRevocations(held.Seq() - 1)
	old.SetIssuedAt(time.Now())
	data, err := old.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kit.Revocations, data, 0o644); err != nil {
		t.Fatal(err)
	}

	m = NewMain()
	m.Log = testLog(t)
	m.Config.Listen = "127.0.0.1:0"
	m.Config.StateDir = state
	m.Config.Root, m.Config.Trust, m.Config.Revocations = kit.Root, kit.Trust, kit.Revocations
	m.Config.SealKey = testSealKeyFile(t)
	m.Config.KioskID = "test-kiosk" // the outbox belongs to the kiosk startKiosk ran
	err = m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatalf("Run() with revocation list seq %d after seq %d = nil; want an error", old.Seq(), held.Seq())
	}
	if !errors.Is(err, card.ErrRollback) || !strings.Contains(err.Error(), "does not start") {
		t.Errorf("Run() with revocation list seq %d after seq %d = %v; want a rollback the kiosk does not start with", old.Seq(), held.Seq(), err)
	}
}

// TestSystemdNotify runs the daemon against a real unixgram NOTIFY_SOCKET,
// as systemd provides it for Type=notify with WatchdogSec.
func TestSystemdNotify(t *testing.T) {
	read := sdnotifytest.Listen(t, 100*time.Millisecond)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	if got := read(); got != "READY=1" {
		t.Fatalf("first notification = %q; want READY=1", got)
	}
	// The page is served by the time READY=1 is sent.
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz after READY=1: %v", err)
	}
	resp.Body.Close()
	for range 2 {
		if got := read(); got != "WATCHDOG=1" {
			t.Fatalf("notification = %q; want WATCHDOG=1", got)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		got := read()
		if got == "STOPPING=1" {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("notification = %q; want STOPPING=1", got)
		}
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: os.Getenv}
	if code := dispatch(context.Background(), env, []string{"help"}); code != 0 {
		t.Fatalf("kiosk help: exit %d", code)
	}
	for _, c := range []string{"run", "demo", "card", "upstream", "version", "help"} {
		if !strings.Contains(out.String(), "\n  "+c+" ") {
			t.Errorf("kiosk help does not list %q:\n%s", c, out.String())
		}
	}
	if code := dispatch(context.Background(), env, []string{"no-such-command"}); code != 2 {
		t.Errorf("unknown command: exit %d; want 2", code)
	}
}

// TestDemo runs "kiosk demo" as a newcomer would, scans the valid sample by
// typing its name on stdin, and checks the demo wrote its samples.
func TestDemo(t *testing.T) {
	state := t.TempDir()
	stdinR, stdinW := io.Pipe()
	var out syncBuffer
	env := &cli.Env{Stdin: stdinR, Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, env, []string{"demo", "--listen", "127.0.0.1:0", "--state-dir", state, "--log-level", "warn"})
	}()
	eventually(t, "the demo banner", func() bool { return strings.Contains(out.String(), "Press Ctrl-C") })
	for _, s := range demokit.SampleNames {
		want := "SDC1:"
		if s == "reference" {
			want = demokit.ReferencePrefix
		}
		b, err := os.ReadFile(filepath.Join(state, "demo", s+".txt"))
		if err != nil || !strings.HasPrefix(string(b), want) {
			t.Errorf("sample %s: %q, %v; want a payload starting %s", s, b, err, want)
		}
	}
	pageURL := between(out.String(), "Kiosk page", "\n")
	p, err := uitest.DialErr(t, pageURL, nil)
	if err != nil {
		t.Fatalf("the demo's page %q: %v\n%s", pageURL, err, out.String())
	}
	p.Want(kiosk.ScreenIdle)
	io.WriteString(stdinW, "valid\n")
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	// The demo's upstream serves a notice for the valid sample's holder,
	// which the kiosk downloads at start and shows with the proof.
	if s := p.Want(kiosk.ScreenSuccess); s.Notice == "" || s.Appointment == "" {
		t.Errorf("success shows notice %q, appointment %q; want the demo's notice and appointment for the valid sample\n%s",
			s.Notice, s.Appointment, out.String())
	}
	p.Conn.Close()

	cancel()
	stdinW.Close()
	if code := <-done; code != 0 {
		t.Errorf("kiosk demo exited %d:\n%s", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(state, "upstream", "upstream.db")); err != nil {
		t.Errorf("the in-process upstream keeps no store under STATE/upstream: %v", err)
	}
}

func between(s, after, before string) string {
	_, s, _ = strings.Cut(s, after)
	s, _, _ = strings.Cut(s, before)
	return strings.TrimSpace(s)
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestImplausibleClock starts a kiosk whose system clock is behind its
// build date, as a Pi without a real-time clock can be after a power cut:
// check-ins go on at the trusted time, marked implausible, and staff see it.
func TestImplausibleClock(t *testing.T) {
	kit := testKit(t)
	// One to two days ahead: within the revocation list's maximum age, so
	// cards still verify.
	floor := time.Now().AddDate(0, 0, 2).UTC().Truncate(24 * time.Hour)
	old := buildDate
	buildDate = floor.Format(time.DateOnly)
	t.Cleanup(func() { buildDate = old })

	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	p.Want(kiosk.ScreenSuccess)

	var st struct {
		Clock struct {
			State   string    `json:"state"`
			Trusted time.Time `json:"trusted"`
		} `json:"clock"`
	}
	getJSON(t, "http://"+m.Addr()+"/api/v1/status", &st)
	if st.Clock.State != string(kiosk.ClockImplausible) || !st.Clock.Trusted.Equal(floor) {
		t.Errorf("status clock = %+v; want implausible, trusted %v", st.Clock, floor)
	}
	eventually(t, "the upload", func() bool { return getStatus(t, m).Outbox.UploadedTotal == 1 })
	if n := up.checkIns(t); n != 1 {
		t.Errorf("upstream holds %d check-ins; want 1", n)
	}
	var clock string
	var at int64
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(m.Config.StateDir, "kiosk.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT clock, at FROM checkins").Scan(&clock, &at); err != nil {
		t.Fatal(err)
	}
	// The trusted time, plus what elapsed on the monotonic clock since.
	if rec := time.Unix(0, at); clock != string(kiosk.ClockImplausible) || rec.Before(floor) || rec.After(floor.Add(time.Minute)) {
		t.Errorf("record clock %q at %v; want implausible at %v or just after", clock, rec.UTC(), floor)
	}
}

// TestSyncedClockPersists: while the clock is synchronized its time is
// persisted as the last trusted time (kiosk's TestClock shows a restart
// with the clock thrown back using it).
func TestSyncedClockPersists(t *testing.T) {
	kit := testKit(t)
	state := t.TempDir()
	synced := filepath.Join(t.TempDir(), "synchronized")
	if err := os.WriteFile(synced, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Log = testLog(t)
	m.Config.Listen = "127.0.0.1:0"
	m.Config.StateDir = state
	m.Config.Root = kit.Root
	m.Config.Trust = kit.Trust
	m.Config.Revocations = kit.Revocations
	m.Config.ClockSyncedFile = synced
	m.Config.SealKey = testSealKeyFile(t)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a persisted trusted time", func() bool {
		tt, err := m.store.LoadTrustedTime(context.Background())
		return err == nil && !tt.IsZero()
	})
	var st struct {
		Clock struct{ State string } `json:"clock"`
	}
	getJSON(t, "http://"+m.Addr()+"/api/v1/status", &st)
	if st.Clock.State != string(kiosk.ClockSynced) {
		t.Errorf("clock state = %q; want synced", st.Clock.State)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

// TestStaleListsSendToStaff: a revocation list older than the kiosk may
// trust sends every card to staff, and staff see why.
func TestStaleListsSendToStaff(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "", func(c *Config) { c.MaxListAge = time.Nanosecond })
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"])
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonListsStale {
		t.Errorf("reason = %q; want %q", got.Reason, kiosk.ReasonListsStale)
	}
	var st struct {
		Lists struct {
			TrustSeq       uint64 `json:"trust_seq"`
			RevocationsSeq uint64 `json:"revocations_seq"`
			Stale          bool   `json:"stale"`
		} `json:"lists"`
	}
	getJSON(t, "http://"+m.Addr()+"/api/v1/status", &st)
	if !st.Lists.Stale || st.Lists.TrustSeq == 0 || st.Lists.RevocationsSeq == 0 {
		t.Errorf("status lists = %+v; want stale, with both seqs", st.Lists)
	}
	if n := recorded(t, m); n != 0 {
		t.Errorf("%d check-ins recorded; want 0", n)
	}
}
