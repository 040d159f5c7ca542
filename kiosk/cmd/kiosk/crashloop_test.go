package main

// Tests with real processes: the kiosk binary is built once per test, and a
// real `kiosk upstream` and a real `kiosk run` are started, killed with
// SIGKILL and started again. They prove what in-process tests cannot: that
// what a killed process had confirmed is on the disk and reaches the
// upstream exactly once. The helpers here serve faults_test.go and
// tamper_test.go too.

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// buildKiosk builds this package's binary (without -race: the processes are
// what is under test, not the race detector) into the test's directory.
func buildKiosk(t *testing.T) string {
	t.Helper()
	if testing.Short() && !testenv.Long() {
		// Building and running processes takes a while; -short skips.
		t.Skip("-short: not building the kiosk binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.RequireOrSkip(t, "needs the go command to build the kiosk binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kiosk")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running `kiosk` process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  *os.File
	addr string     // what it listens on, read from its output
	done chan error // its exit

	mu     sync.Mutex
	exited bool
}

// startProc starts bin with args, its output in a log file in the test's
// directory, and waits until a line of it matches ready, whose first
// submatch is the address it serves on.
func startProc(t *testing.T, name, bin string, ready *regexp.Regexp, args ...string) *proc {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logFile, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(pr)
		lines.Buffer(nil, 1<<20)
		found := false
		for lines.Scan() {
			logFile.Write(append(lines.Bytes(), '\n'))
			if m := ready.FindStringSubmatch(lines.Text()); !found && m != nil {
				found = true
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, pr)
		logFile.Close()
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.done <- err
	}()
	t.Cleanup(func() { p.kill() })

	select {
	case p.addr = <-addr:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s exited before serving: %v\n%s", name, err, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not serve within 30s\n%s", name, p.output())
	}
	return p
}

// kill ends the process with SIGKILL, at once, and waits for it. It may be
// called from any goroutine, more than once.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.exited = true
}

// stop ends the process with SIGTERM and waits for it to exit by itself.
func (p *proc) stop() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.exited = true
		if err != nil {
			p.t.Errorf("%s: exit after SIGTERM: %v\n%s", p.name, err, p.output())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p.exited = true
		p.t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// output returns the tail of the process's log.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

var (
	upstreamReady = regexp.MustCompile(`upstream listening on https?://(\S+)`)
	kioskReady    = regexp.MustCompile(`msg="kiosk serving" addr=(\S+)`)
	// adminTokenLine is what `kiosk upstream` prints of the admin token it
	// makes on its first start.
	adminTokenLine = regexp.MustCompile(`(?m)^admin token +(\S+)$`)
)

// upstreamAdminTokens holds, for each upstream state directory, the
// admin token its first start printed: a restart prints none.
var upstreamAdminTokens sync.Map

// upstreamProc is a running `kiosk upstream`.
type upstreamProc struct {
	*proc
	bin    string
	dir    string
	client *http.Client // trusts the upstream's CA; no client certificate
	token  string       // the admin token of its operator endpoints
}

// startUpstreamProc runs `kiosk upstream` with its store and CA in dir and
// extra flags (faults).
func startUpstreamProc(t *testing.T, bin, dir string, flags ...string) *upstreamProc {
	t.Helper()
	args := append([]string{"upstream", "--listen", "127.0.0.1:0", "--host", "127.0.0.1", "--state-dir", dir}, flags...)
	u := &upstreamProc{proc: startProc(t, "upstream", bin, upstreamReady, args...), bin: bin, dir: dir}
	caPEM, err := os.ReadFile(u.caFile())
	if err != nil {
		t.Fatalf("upstream CA: %v", err)
	}
	pool, err := enroll.ParseCA(caPEM)
	if err != nil {
		t.Fatalf("upstream CA %s: %v", u.caFile(), err)
	}
	u.client = upload.NewClient(pool, tls.Certificate{}, 10*time.Second)
	if m := adminTokenLine.FindStringSubmatch(u.output()); m != nil {
		upstreamAdminTokens.Store(dir, m[1])
	}
	tok, ok := upstreamAdminTokens.Load(dir)
	if !ok {
		t.Fatalf("kiosk upstream printed no admin token on its first start in %s:\n%s", dir, u.output())
	}
	u.token = tok.(string)
	return u
}

func (u *upstreamProc) url() string { return "https://" + u.addr }
func (u *upstreamProc) caFile() string {
	return filepath.Join(u.dir, upstream.TLSDir, upstream.CACertFile)
}

// enroll pairs the kiosk whose state is in state with the upstream as
// kioskID, with the commands an operator runs: `kiosk upstream token` and
// `kiosk enroll`.
func (u *upstreamProc) enroll(t *testing.T, state, kioskID string) {
	t.Helper()
	out, err := exec.Command(u.bin, "upstream", "token", "--kiosk-id", kioskID, "--state-dir", u.dir).Output()
	if err != nil {
		t.Fatalf("kiosk upstream token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	cmd := exec.Command(u.bin, "enroll", "--upstream", u.url(), "--ca", u.caFile(), "--token", token,
		"--kiosk-id", kioskID, "--state-dir", state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kiosk enroll: %v\n%s", err, out)
	}
}

// stats returns the upstream's GET /v1/stats, every field, asked with
// its admin token.
func (u *upstreamProc) stats(t *testing.T) upstream.StatsReport {
	t.Helper()
	req, err := http.NewRequest("GET", u.url()+wire.PathStats, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatalf("upstream stats: %v", err)
	}
	defer resp.Body.Close()
	var st upstream.StatsReport
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("upstream stats: %s, %v", resp.Status, err)
	}
	return st
}

// ids returns the ids of the records the upstream holds, read from its
// database file (read-only, beside the running server), with how many
// times each is held — once, or the test fails.
func (u *upstreamProc) ids(t *testing.T) map[string]int {
	t.Helper()
	return dbIDs(t, filepath.Join(u.dir, sqlite.File), "SELECT id FROM checkins")
}

func dbIDs(t *testing.T, path, query string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite3", (&url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// kioskProcs starts and restarts `kiosk run` on one state directory.
type kioskProcs struct {
	t      *testing.T
	bin    string
	kit    *demokit.Kit
	state  string
	up     *upstreamProc // enrolled with on the first start
	cur    *proc
	starts int
	// logLevel of the kiosk: "" is info.
	logLevel string
}

func (k *kioskProcs) kioskID() string { return "crash-kiosk" }

func (k *kioskProcs) start() *proc {
	k.t.Helper()
	if k.starts == 0 {
		k.up.enroll(k.t, k.state, k.kioskID())
	}
	k.starts++
	k.cur = startProc(k.t, fmt.Sprintf("kiosk-%d", k.starts), k.bin, kioskReady,
		"run",
		"--listen", "127.0.0.1:0",
		"--state-dir", k.state,
		"--kiosk-id", k.kioskID(),
		"--root", k.kit.Root,
		"--trust", k.kit.Trust,
		"--revocations", k.kit.Revocations,
		"--upload-min-backoff", "5ms",
		"--upload-max-backoff", "100ms",
		"--clock-synced-file", "",
		"--log-level", cmp.Or(k.logLevel, "info"),
	)
	return k.cur
}

// status returns the kiosk's GET /api/v1/status outbox counts.
func (k *kioskProcs) outbox() (pending, uploaded int64, err error) {
	resp, err := http.Get("http://" + k.cur.addr + "/api/v1/status")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var st statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, 0, err
	}
	return st.Outbox.Pending, st.Outbox.UploadedTotal, nil
}

// cards issues distinct valid cards with the demo issuer, so that no
// check-in is taken for a same-day repeat of another.
type cards struct {
	issuer *card.Issuer
	now    time.Time
	n      int
}

func newCards(t *testing.T, kit *demokit.Kit) *cards {
	t.Helper()
	signer, cert, err := demokit.IssuerKey(kit.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return &cards{issuer: &card.Issuer{Name: demokit.Issuer, Signer: signer, KID: card.KIDOfCertificate(cert)}, now: time.Now()}
}

func (c *cards) next(t *testing.T) string {
	t.Helper()
	c.n++
	payload, err := c.issuer.Issue(card.Card{
		Serial: fmt.Sprintf("c0a5%012x", c.n), ANumber: fmt.Sprintf("2015%05d", c.n),
		GivenName: "Test", FamilyName: fmt.Sprintf("Person %d", c.n), DateOfBirth: "1990-01-01", Office: "DEMO",
		IssuedAt: c.now.Add(-24 * time.Hour), ExpiresAt: c.now.AddDate(1, 0, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// awaitScreen reads p's frames until a screen showing s, for at most
// uitest.Wait overall; a see_staff or out_of_service screen on the way is an
// error. It returns errors rather than failing the test: the kiosk may be
// killed under the page.
func awaitScreen(p *uitest.Page, s kiosk.Screen) (uitest.Frame, error) {
	deadline := time.Now().Add(uitest.Wait)
	for {
		f, err := p.Read()
		if err != nil {
			return f, err
		}
		switch {
		case f.Type != "screen":
		case f.Screen == s:
			return f, nil
		case f.Screen == kiosk.ScreenSeeStaff || f.Screen == kiosk.ScreenOutOfService:
			return f, fmt.Errorf("screen %s (%s) while waiting for %s", f.Screen, f.Reason, s)
		}
		if time.Now().After(deadline) {
			return f, fmt.Errorf("no screen %s within %v", s, uitest.Wait)
		}
	}
}

func postScan(addr, payload string) error {
	resp, err := http.Post("http://"+addr+"/api/v1/sim/scan", "text/plain", strings.NewReader(payload))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /api/v1/sim/scan: %s", resp.Status)
	}
	return nil
}

// killPoint is where in a check-in the kiosk is killed.
type killPoint int

const (
	killNone          killPoint = iota
	killAfterScan               // confirm screen up, nothing confirmed
	killAfterConfirm            // right after the confirm frame is sent
	killDuringConfirm           // a random few milliseconds after it
	killAfterSuccess            // success shown
)

// checkInResult is what the person saw.
type checkInResult struct {
	code      string // the confirmation code shown; "" if no success screen came
	confirmed bool   // the confirm action was sent
}

// checkInOnce scans payload and confirms on the kiosk at addr, calling
// kill (a SIGKILL) at the point at; delay is for killDuringConfirm. Once
// the kill is under way, a broken connection is what is expected, not an
// error.
func checkInOnce(t *testing.T, addr, payload string, at killPoint, delay time.Duration, kill func()) (checkInResult, error) {
	var res checkInResult
	var killed atomic.Bool
	doKill := func() { killed.Store(true); kill() }
	p, err := uitest.DialErr(t, "http://"+addr, nil)
	if err != nil {
		return res, err
	}
	defer p.Conn.Close() // the kiosk takes a few pages at once, not one per check-in
	if _, err := awaitScreen(p, kiosk.ScreenIdle); err != nil {
		return res, fmt.Errorf("idle: %w", err)
	}
	if err := postScan(addr, payload); err != nil {
		return res, err
	}
	if _, err := awaitScreen(p, kiosk.ScreenConfirm); err != nil {
		return res, fmt.Errorf("confirm screen: %w", err)
	}
	if at == killAfterScan {
		doKill()
		return res, nil
	}
	if at == killDuringConfirm {
		timer := time.AfterFunc(delay, doKill)
		defer timer.Stop()
	}
	// From here the check-in may be recorded, whether or not the success
	// frame is seen.
	res.confirmed = true
	if err := p.ActErr(kiosk.ActionConfirm); err != nil {
		if killed.Load() {
			return res, nil
		}
		return res, err
	}
	if at == killAfterConfirm {
		doKill()
	}
	msg, err := awaitScreen(p, kiosk.ScreenSuccess)
	if err != nil {
		if killed.Load() {
			return res, nil
		}
		return res, fmt.Errorf("success screen: %w", err)
	}
	res.code = msg.Code
	if at == killAfterSuccess {
		doKill()
		return res, nil
	}
	if err := p.ActErr(kiosk.ActionDone); err != nil && !killed.Load() {
		return res, err
	}
	return res, nil
}

// TestCrashLoop drives check-ins through the real kiosk process while
// killing it with SIGKILL at random moments and starting it again on the
// same state. The upstream must end up with every check-in whose success
// screen was shown, once, and nothing that was not confirmed: at most one
// record per check-in whose confirm was sent but whose success frame the
// kill swallowed. KIOSK_LONG=1 runs 300 check-ins instead of 40.
func TestCrashLoop(t *testing.T) {
	bin := buildKiosk(t)
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	total, killRate := 40, 0.25
	if testenv.Long() {
		total, killRate = 300, 0.3
	}

	kit := testKit(t)
	up := startUpstreamProc(t, bin, t.TempDir())
	k := &kioskProcs{t: t, bin: bin, kit: kit, state: t.TempDir(), up: up}
	k.start()
	cs := newCards(t, kit)

	shown := map[string]bool{} // confirmation codes on a success screen
	var inFlight, kills, unconfirmed int
	for i := 0; i < total; i++ {
		at, delay := killNone, time.Duration(0)
		if rng.Float64() < killRate {
			at = killPoint(1 + rng.IntN(4))
			delay = time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
		}
		cur := k.cur
		res, err := checkInOnce(t, cur.addr, cs.next(t), at, delay, cur.kill)
		if err != nil {
			t.Fatalf("check-in #%d (kill point %d): %v\n%s", i, at, err, cur.output())
		}
		switch {
		case res.code != "":
			if shown[res.code] {
				t.Fatalf("check-in #%d: code %s shown twice", i, res.code)
			}
			shown[res.code] = true
		case res.confirmed:
			inFlight++
		default:
			unconfirmed++
		}
		if at != killNone {
			kills++
			cur.kill()
			k.start()
		}
	}
	t.Logf("%d check-ins: %d success screens, %d confirmed but killed before success, %d killed before confirming; %d kills",
		total, len(shown), inFlight, unconfirmed, kills)

	// Let the kiosk drain the outbox, then compare.
	kioskIDs := waitDrained(t, k, up)
	upIDs := up.ids(t)
	checkDelivered(t, shown, inFlight, kioskIDs, upIDs)
	checkUpstreamChains(t, up)
}

// waitDrained waits until the running kiosk has nothing pending and the
// upstream holds every record in the kiosk's outbox; it returns those ids.
func waitDrained(t *testing.T, k *kioskProcs, up *upstreamProc) map[string]int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending, _, err := k.outbox()
		if err == nil && pending == 0 {
			kioskIDs := dbIDs(t, filepath.Join(k.state, "kiosk.db"), "SELECT id FROM checkins")
			upIDs := up.ids(t)
			if len(upIDs) >= len(kioskIDs) {
				return kioskIDs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained within 2 minutes (pending %d, %v)\n%s", pending, err, k.cur.output())
		}
		time.Sleep(20 * time.Millisecond) // polling, with the deadline above
	}
}

// checkDelivered: the upstream holds exactly the kiosk's records, each
// once; every shown code among them; and besides those shown, no more than
// the confirmed check-ins whose success frame was lost.
func checkDelivered(t *testing.T, shown map[string]bool, inFlight int, kioskIDs, upIDs map[string]int) {
	t.Helper()
	for id, n := range upIDs {
		if n != 1 {
			t.Errorf("upstream holds record %s %d times", id, n)
		}
		if kioskIDs[id] == 0 {
			t.Errorf("upstream holds record %s that the kiosk never committed", id)
		}
	}
	for id := range kioskIDs {
		if upIDs[id] == 0 {
			t.Errorf("kiosk record %s never reached the upstream", id)
		}
	}
	codes := map[string]int{}
	for id := range upIDs {
		codes[kiosk.ConfirmationCode(id)]++
	}
	var missing int
	for code := range shown {
		if codes[code] != 1 {
			missing++
			t.Errorf("success shown with code %s; the upstream holds it %d times", code, codes[code])
		}
	}
	notShown := len(upIDs) - (len(shown) - missing)
	if notShown > inFlight {
		t.Errorf("upstream holds %d records whose success was not shown; only %d check-ins were confirmed and then killed",
			notShown, inFlight)
	}
	t.Logf("upstream holds %d records: %d shown, %d confirmed in flight at a kill (of %d)",
		len(upIDs), len(shown)-missing, notShown, inFlight)
}

// checkUpstreamChains fails on any count of broken chains, gaps, forks or
// rejections the upstream's stats report (whichever of them it reports).
func checkUpstreamChains(t *testing.T, up *upstreamProc) {
	t.Helper()
	st := up.stats(t)
	if st.Gaps != 0 || st.Forks != 0 || st.Rejected != 0 {
		t.Errorf("upstream stats %+v; want no gap, fork or rejection", st.Stats)
	}
	for _, h := range st.Heads {
		switch h.State {
		case wire.HeadFork, wire.HeadTailDeleted, wire.HeadGaps:
			t.Errorf("upstream heartbeat state of %s: %s; want no alert", h.KioskID, h.State)
		}
	}
}
