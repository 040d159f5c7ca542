package upload_test

import (
	"bufio"
	"context"
	"crypto/hpke"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/lossyvfs"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// drainRecords is the backlog BenchmarkDrain drains: ARCHITECTURE.md §8.
const drainRecords = 100_000

const drainKiosk = "kiosk-bench"

// BenchmarkDrain drains a backlog of 100,000 check-ins from an outbox to the
// reference upstream on loopback, and reports records/s (target: at least
// 20,000) and the peak RSS of the kiosk's side during the drain. The
// upstream runs in a process of its own (this test binary, re-executed),
// served as `kiosk upstream` serves it (HTTPS, the device authenticated by
// its certificate), so the RSS is the uploader's and the outbox's alone.
// Each iteration drains a fresh copy of the same backlog into a fresh copy
// of the same upstream.
//
//	go test -run '^$' -bench BenchmarkDrain -benchtime 1x ./sync/upload/
func BenchmarkDrain(b *testing.B) {
	upTemplate, id, seal := drainUpstreamTemplate(b)
	template := drainBacklog(b, id, seal)
	pool := caPool(b, upTemplate)
	cert, err := id.Certificate(drainKiosk)
	if err != nil {
		b.Fatal(err)
	}
	var recsPerSec, peakMB float64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db := filepath.Join(dir, "kiosk.db")
		copyTree(b, template, db)
		upDir := filepath.Join(dir, "upstream")
		copyTree(b, upTemplate, upDir)
		store, err := outbox.Open(db, outbox.Options{KioskID: drainKiosk, Device: id, SealKey: seal})
		if err != nil {
			b.Fatal(err)
		}
		url, _, admin := startUpstreamProcess(b, upDir)
		u := &upload.Uploader{
			Store: store, Quarantine: store, URL: url, Client: upload.NewClient(pool, cert, time.Minute),
			MinBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		}
		ctx, cancel := context.WithCancel(context.Background())
		resetPeakRSS()
		b.StartTimer()

		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- u.Run(ctx) }()
		sampler := sampleRSS(ctx)
		deadline := start.Add(10 * time.Minute)
		// Polling the uploader's own count costs nothing; the store's
		// Stats would scan the table and compete with the drain.
		for st := u.Status(); st.Uploaded+st.Quarantined < drainRecords; st = u.Status() {
			if time.Now().After(deadline) {
				b.Fatalf("drain: %+v after 10 minutes; want %d uploaded", st, drainRecords)
			}
			time.Sleep(time.Millisecond) // polling: the figure is to this much
		}
		elapsed := time.Since(start)

		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		peak := max(<-sampler, peakRSS())
		st, err := store.Stats(context.Background())
		if err != nil || st.Uploaded != drainRecords {
			b.Fatalf("after the drain: %+v, %v; want %d uploaded (%+v)", st, err, drainRecords, u.Status())
		}
		store.Close()
		// The upstream holds every record once, its chain whole.
		if got, want := upstreamStats(b, u.Client, url, admin), (wire.Stats{CheckIns: drainRecords, Kiosks: 1}); got != want {
			b.Fatalf("upstream after the drain: %+v; want %+v", got, want)
		}
		recsPerSec = float64(drainRecords) / elapsed.Seconds()
		peakMB = float64(peak) / (1 << 20)
		b.StartTimer()
	}
	b.ReportMetric(recsPerSec, "records/s")
	b.ReportMetric(20_000, "target-records/s")
	b.ReportMetric(peakMB, "peak-RSS-MB")
}

// upstreamStats asks the upstream at url for its counts, with its admin
// token.
func upstreamStats(b *testing.B, client *http.Client, url, admin string) wire.Stats {
	b.Helper()
	req, err := http.NewRequest("GET", url+wire.PathStats, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st wire.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s, %v", wire.PathStats, resp.Status, err)
	}
	return st
}

// drainUpstreamTemplate makes an upstream's state (its store, CA and keys)
// with the benchmark's kiosk enrolled, as `kiosk enroll` does it: over HTTPS,
// with a token. It returns the directory, which each iteration copies, the
// kiosk's device identity and the upstream's seal key.
func drainUpstreamTemplate(b *testing.B) (string, *device.Identity, hpke.PublicKey) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "upstream")
	url, token, _ := startUpstreamProcess(b, dir)
	state := b.TempDir() // the kiosk's: its device key and enrollment.json
	e, err := enroll.Enroll(context.Background(), url, caPEM(b, dir), token, drainKiosk, state)
	if err != nil {
		b.Fatal(err)
	}
	id, err := device.Load(state)
	if err != nil {
		b.Fatal(err)
	}
	seal, err := e.SealKey()
	if err != nil || seal == nil {
		b.Fatalf("enroll: the upstream's seal key: %v, %v", seal, err)
	}
	stopUpstreamProcess(b)
	return dir, id, seal
}

// caPEM is the upstream's CA certificate, kept in its state in upDir.
func caPEM(b *testing.B, upDir string) []byte {
	b.Helper()
	pem, err := os.ReadFile(filepath.Join(upDir, "tls", upstream.CACertFile))
	if err != nil {
		b.Fatal(err)
	}
	return pem
}

// caPool is a pool of the upstream's CA alone, as a kiosk pins it.
func caPool(b *testing.B, upDir string) *x509.CertPool {
	b.Helper()
	pool, err := enroll.ParseCA(caPEM(b, upDir))
	if err != nil {
		b.Fatalf("the upstream's CA: %v", err)
	}
	return pool
}

// drainBacklog commits drainRecords check-ins into an outbox, as the flow
// does, once per benchmark run, and returns its file. Durability is not
// what this setup measures: the syncs are skipped (the lossy VFS, made the
// default for the while), and the store is closed cleanly.
func drainBacklog(b *testing.B, id *device.Identity, seal hpke.PublicKey) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "backlog.db")
	v, err := lossyvfs.New("lossy-drain-setup")
	if err != nil {
		b.Fatal(err)
	}
	restore, err := v.MakeDefault()
	if err != nil {
		b.Fatal(err)
	}
	v.SkipSyncs(true)
	defer func() { v.SkipSyncs(false); restore() }()

	store, err := outbox.Open(path, outbox.Options{KioskID: drainKiosk, Device: id, SealKey: seal})
	if err != nil {
		b.Fatal(err)
	}
	c := card.Card{
		Issuer: "US-DHS-TEST", Office: "SFR", DateOfBirth: "1987-11-23", GivenName: "Xiomarelly", FamilyName: "Quetzalcoatlova",
		IssuedAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
	}
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	for i := range drainRecords {
		c.Serial = fmt.Sprintf("%016x", i+1)
		c.ANumber = fmt.Sprintf("A%09d", i+1)
		if _, err := store.Commit(ctx, kiosk.CheckIn{At: at.Add(time.Duration(i) * time.Millisecond), Outcome: kiosk.OutcomeCheckedIn, Card: c}); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// copyTree copies the file or directory from to to.
func copyTree(b *testing.B, from, to string) {
	b.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o600)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// upstreamProcs are the upstream processes running, newest last.
var upstreamProcs []func()

// startUpstreamProcess runs the reference upstream, with its state in dir,
// in a child process (TestDrainUpstreamProcess) serving HTTPS on loopback
// as `kiosk upstream` does, and returns its URL, an enrollment token for
// the benchmark's kiosk and an admin token for its stats. The process ends with the benchmark, or at
// stopUpstreamProcess.
func startUpstreamProcess(b *testing.B, dir string) (url, token, admin string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDrainUpstreamProcess$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "KIOSK_DRAIN_UPSTREAM="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close() // the child's signal to stop
			cmd.Wait()
		})
	}
	upstreamProcs = append(upstreamProcs, stop)
	b.Cleanup(stop)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if t, ok := strings.CutPrefix(lines.Text(), "token "); ok {
			token = t
		}
		if t, ok := strings.CutPrefix(lines.Text(), "admin "); ok {
			admin = t
		}
		if addr, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return "https://" + addr, token, admin
		}
	}
	b.Fatalf("upstream process ended before serving: %v", lines.Err())
	return "", "", ""
}

// stopUpstreamProcess stops the newest upstream process and waits for it.
func stopUpstreamProcess(b *testing.B) {
	stop := upstreamProcs[len(upstreamProcs)-1]
	upstreamProcs = upstreamProcs[:len(upstreamProcs)-1]
	stop()
}

// TestDrainUpstreamProcess is not a test: it is the upstream's process for
// BenchmarkDrain, run when KIOSK_DRAIN_UPSTREAM names its directory. It
// serves until its standard input closes. With KIOSK_DRAIN_UPSTREAM_PROFILE
// set to a file, it writes its CPU profile there (the benchmark's own
// -cpuprofile sees only the kiosk's side).
func TestDrainUpstreamProcess(t *testing.T) {
	dir := os.Getenv("KIOSK_DRAIN_UPSTREAM")
	if dir == "" {
		return
	}
	if prof := os.Getenv("KIOSK_DRAIN_UPSTREAM_PROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	srv, err := upstream.OpenServer(dir, upstream.DirOptions{OpenStore: sqlite.OpenIn})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	auth, err := upstream.LoadOrCreateAuthority(filepath.Join(dir, "tls"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := srv.NewEnrollToken(context.Background(), drainKiosk, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The stats are an operator endpoint: an admin token of this process
	// alone, as the benchmark reads them.
	admin, line, err := upstream.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	a, err := upstream.ParseAdmin([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAdmin(a)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), TLSConfig: auth.TLSConfig()}
	go hs.ServeTLS(ln, "", "")
	fmt.Printf("token %s\nadmin %s\nlistening on %s\n", token, admin, ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	hs.Close()
}

// resetPeakRSS gives back to the system what the setup left in this
// process's heap, then resets its peak RSS (VmHWM) to its current RSS
// (Linux: /proc/self/clear_refs, 5), so that peakRSS reports the peak from
// now on. Where it cannot, sampleRSS still sees the peak.
func resetPeakRSS() {
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM of this process in bytes, 0 if unknown.
func peakRSS() int64 { return procStatus("VmHWM:") }

// sampleRSS samples VmRSS every 10 ms until ctx ends, then sends the
// highest it saw.
func sampleRSS(ctx context.Context) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, procStatus("VmRSS:"))
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func procStatus(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest) // "1234 kB"
			if len(f) == 2 && f[1] == "kB" {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
