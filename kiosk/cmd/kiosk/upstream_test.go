package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/pgtest"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// TestUpstreamMakesDocumentsDir starts `kiosk upstream` and checks that the
// directory it serves the signed lists from exists once it listens, where
// the README says: --documents, or STATE/documents by default.
func TestUpstreamMakesDocumentsDir(t *testing.T) {
	other := filepath.Join(t.TempDir(), "lists", "signed")
	for _, tc := range []struct {
		name  string
		flags []string
		want  func(state string) string
	}{
		{"default", nil, func(state string) string { return filepath.Join(state, upstream.DocumentsDir) }},
		{"flag", []string{"--documents", other}, func(string) string { return other }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			var out syncBuffer
			env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			args := append([]string{"upstream", "--listen", "127.0.0.1:0", "--host", "127.0.0.1", "--state-dir", state}, tc.flags...)
			go func() { done <- dispatch(ctx, env, args) }()
			eventually(t, "the upstream listening", func() bool {
				select {
				case code := <-done:
					t.Fatalf("kiosk upstream exited %d before listening:\n%s", code, out.String())
				default:
				}
				return strings.Contains(out.String(), "upstream listening")
			})
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("kiosk upstream exited %d:\n%s", code, out.String())
			}

			dir := tc.want(state)
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatalf("documents directory: %v", err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("documents directory %s: mode %v; want a directory, 0700", dir, fi.Mode())
			}
			if got := between(out.String(), "documents", "\n"); got != dir {
				t.Errorf("kiosk upstream prints documents %q; want %q", got, dir)
			}

			// The seal key it prints is what --seal-key takes.
			printed := strings.TrimSpace(between(out.String(), "seal key", "\n"))
			file := filepath.Join(t.TempDir(), "seal.pub")
			if err := os.WriteFile(file, []byte(printed+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := enroll.ReadSealKey(file)
			if err != nil {
				t.Fatalf("enroll.ReadSealKey(the printed %q) = %v", printed, err)
			}
			priv, err := upstream.LoadOrCreateSealKey(filepath.Join(state, upstream.SealKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), priv.PublicKey().Bytes()) {
				t.Errorf("printed seal key %s is not the upstream's", printed)
			}
		})
	}
}

// TestUpstreamAdminTokens runs `kiosk upstream` as a real process: its
// first start prints an admin token once and writes only its hash; the
// operator endpoints refuse a request without it (401) and serve it;
// `kiosk upstream admin-token` adds a second, which works after a
// restart beside the first, and a restart prints no token.
func TestUpstreamAdminTokens(t *testing.T) {
	bin := buildKiosk(t)
	dir := t.TempDir()
	up := startUpstreamProc(t, bin, dir) // fails unless a token is printed
	first := up.token
	file := filepath.Join(dir, upstream.AdminTokensFile)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), first) || !strings.Contains(string(data), upstream.AdminTokenLine(first)) {
		t.Errorf("%s = %q; want the printed token's hash, and not the token", file, data)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", file, fi.Mode(), err)
	}
	for _, path := range []string{wire.PathStats, upstream.PathFleet, upstream.PathMetrics} {
		if code := adminGet(t, up, path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d; want 401", path, code)
		}
		if code := adminGet(t, up, path, first); code != http.StatusOK {
			t.Errorf("GET %s with the printed token = %d; want 200", path, code)
		}
	}

	out, err := exec.Command(bin, "upstream", "admin-token", "--state-dir", dir).Output()
	if err != nil {
		t.Fatalf("kiosk upstream admin-token: %v", err)
	}
	second := strings.TrimSpace(string(out))
	if second == "" || second == first || strings.Contains(second, "\n") {
		t.Fatalf("kiosk upstream admin-token printed %q; want one new token", out)
	}
	if data, _ := os.ReadFile(file); strings.Contains(string(data), second) || !strings.Contains(string(data), upstream.AdminTokenLine(first)) {
		t.Errorf("%s after admin-token = %q; want the first token's hash kept, the second not in clear", file, data)
	}
	up.stop()
	up = startUpstreamProc(t, bin, dir)
	if adminTokenLine.MatchString(up.output()) {
		t.Errorf("kiosk upstream printed an admin token again on a restart:\n%s", up.output())
	}
	for _, tok := range []string{first, second} {
		if code := adminGet(t, up, wire.PathStats, tok); code != http.StatusOK {
			t.Errorf("GET %s with a token of the file, after a restart = %d; want 200", wire.PathStats, code)
		}
	}
	if code := adminGet(t, up, wire.PathStats, second+"x"); code != http.StatusUnauthorized {
		t.Errorf("GET %s with a wrong token = %d; want 401", wire.PathStats, code)
	}
}

// TestUpstreamRefusesDamagedAdminTokens: `kiosk upstream` with an admin
// token file that is there but holds no token, or a line that is not a
// token's hash, or cannot be read, refuses to start and says why, without
// repeating the line (it may be a token pasted in clear).
func TestUpstreamRefusesDamagedAdminTokens(t *testing.T) {
	bin := buildKiosk(t)
	for _, tc := range []struct {
		name, file string
		mode       os.FileMode
		want       string
	}{
		{"empty", "", 0o600, "no token"},
		{"a token in clear", "s3cr3t-pasted\n", 0o600, "line 1"},
		{"a directory", "", os.ModeDir | 0o700, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			file := filepath.Join(t.TempDir(), "tokens")
			if tc.mode.IsDir() {
				if err := os.Mkdir(file, tc.mode.Perm()); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(file, []byte(tc.file), tc.mode); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "upstream", "--listen", "127.0.0.1:0", "--host", "127.0.0.1",
				"--state-dir", state, "--admin-tokens", file)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || ctx.Err() != nil {
				t.Fatalf("kiosk upstream with a damaged admin token file = %v (%v); want it to exit with an error:\n%s", err, ctx.Err(), out)
			}
			if !strings.Contains(string(out), "--admin-tokens") || !strings.Contains(string(out), tc.want) {
				t.Errorf("kiosk upstream says %q; want it to name --admin-tokens and say %q", out, tc.want)
			}
			if strings.Contains(string(out), "s3cr3t") || strings.Contains(string(out), "upstream listening") {
				t.Errorf("kiosk upstream says %q; want no line of the file repeated, and no serving", out)
			}
		})
	}
}

// adminGet sends GET path to up with the admin token token ("": none)
// and returns the status.
func adminGet(t *testing.T, up *upstreamProc, path, token string) int {
	t.Helper()
	req, err := http.NewRequest("GET", up.url()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := up.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// demoStatsCurl is the demo banner's curl of the upstream's stats.
var demoStatsCurl = regexp.MustCompile(`Upstream stats +curl --cacert (\S+) -H "Authorization: Bearer (\S+)" (https://\S+)`)

// TestDemoStatsCurl: the curl the demo prints reads its in-process
// upstream's stats (its token is the upstream's), and the same request
// without the token is refused.
func TestDemoStatsCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo")
	}
	var out syncBuffer
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	env := &cli.Env{Stdin: stdinR, Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, env, []string{"demo", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir()})
	}()
	defer func() {
		cancel()
		stdinW.Close()
		if code := <-done; code != 0 {
			t.Errorf("kiosk demo exited %d:\n%s", code, out.String())
		}
	}()
	// The staff dashboard's line comes once the kiosk runs: its upstream
	// is serving, and the demo can be stopped cleanly.
	eventually(t, "the demo started", func() bool { return strings.Contains(out.String(), "Staff dashboard") })
	m := demoStatsCurl.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the demo banner has no curl of the stats with an admin token:\n%s", out.String())
	}
	caFile, token, url := m[1], m[2], m[3]
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("the banner's --cacert: %v", err)
	}
	pool, err := enroll.ParseCA(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := upload.NewClient(pool, tls.Certificate{}, 10*time.Second)
	get := func(token string) int {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(token); code != http.StatusOK {
		t.Errorf("the banner's curl: GET %s = %d; want 200", url, code)
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("GET %s without the banner's token = %d; want 401", url, code)
	}
}

// TestUpstreamReplicasOnPostgres: two `kiosk upstream` processes on one
// PostgreSQL database ($KIOSK_UPSTREAM_DB), each with its own state
// directory holding the same CA, seal key and admin tokens. A token made
// through one replica's directory enrolls a kiosk at the other, and the
// fleet view of the first shows it: everything lives in the database.
func TestUpstreamReplicasOnPostgres(t *testing.T) {
	cluster := pgtest.Start(t)
	t.Setenv(envUpstreamDB, cluster.NewDatabase(t))
	bin := buildKiosk(t)
	first, second := t.TempDir(), t.TempDir()
	a := startUpstreamProc(t, bin, first)
	for _, f := range []string{upstream.SealKeyFile, upstream.AdminTokensFile,
		filepath.Join(upstream.TLSDir, upstream.CACertFile), filepath.Join(upstream.TLSDir, upstream.CAKeyFile),
		filepath.Join(upstream.TLSDir, upstream.ServerCert), filepath.Join(upstream.TLSDir, upstream.ServerKeyFile)} {
		b, err := os.ReadFile(filepath.Join(first, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(second, f)), 0o700)
		if err := os.WriteFile(filepath.Join(second, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	upstreamAdminTokens.Store(second, a.token)
	b := startUpstreamProc(t, bin, second)

	out, err := exec.Command(bin, "upstream", "token", "--kiosk-id", "lobby-7", "--state-dir", second).Output()
	if err != nil {
		t.Fatalf("kiosk upstream token through the second replica's directory: %v", err)
	}
	state := t.TempDir()
	cmd := exec.Command(bin, "enroll", "--upstream", a.url(), "--ca", a.caFile(), "--token", strings.TrimSpace(string(out)),
		"--kiosk-id", "lobby-7", "--state-dir", state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kiosk enroll at the first replica with the second's token: %v\n%s", err, out)
	}
	req, err := http.NewRequest("GET", b.url()+upstream.PathFleet, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f upstream.FleetReport
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fleet at the second replica: %s, %v", resp.Status, err)
	}
	if len(f.Kiosks) != 1 || f.Kiosks[0].KioskID != "lobby-7" {
		t.Errorf("the second replica's fleet = %+v; want the kiosk enrolled at the first", f.Kiosks)
	}
	if _, err := os.Stat(filepath.Join(first, sqlite.File)); err == nil {
		t.Errorf("%s made: the replica did not use PostgreSQL", sqlite.File)
	}
}
