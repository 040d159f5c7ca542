package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
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
// PostgreSQL database, each with its own state directory and its own
// configuration file, both naming the same key files (seal key, CA, admin
// tokens: the agency's, made once by a first start elsewhere) and a file
// holding the DSN. They serve with the same CA fingerprint and seal key;
// a token made through the second's configuration enrolls a kiosk at the
// first, and the fleet view of the second shows it: everything lives in
// the database, and no replica wrote a key of its own.
func TestUpstreamReplicasOnPostgres(t *testing.T) {
	cluster := pgtest.Start(t)
	bin := buildKiosk(t)
	keys := agencyKeys(t, bin)
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(cluster.NewDatabase(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, second := t.TempDir(), t.TempDir()
	confA := writeUpstreamConfig(t, first, keys, "db_file = "+strconv.Quote(dsnFile))
	confB := writeUpstreamConfig(t, second, keys, "db_file = "+strconv.Quote(dsnFile))
	a := startUpstreamConfig(t, bin, first, confA, keys)
	b := startUpstreamConfig(t, bin, second, confB, keys)
	for _, line := range []string{"CA fingerprint", "seal key"} {
		if la, lb := between(a.output(), line, "\n"), between(b.output(), line, "\n"); la == "" || la != lb {
			t.Errorf("the replicas print %s %q and %q; want one, the same", line, la, lb)
		}
	}
	if got, want := between(a.output(), "seal key", "\n"), between(keys.output, "seal key", "\n"); got != want {
		t.Errorf("replica's seal key %q; want the agency's, %q", got, want)
	}

	out, err := exec.Command(bin, "upstream", "token", "--kiosk-id", "lobby-7", "--office", "Newark field office", "--config", confB).Output()
	if err != nil {
		t.Fatalf("kiosk upstream token with the second replica's configuration: %v", err)
	}
	state := t.TempDir()
	cmd := exec.Command(bin, "enroll", "--upstream", a.url(), "--ca", keys.caCert, "--token", strings.TrimSpace(string(out)),
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
	if len(f.Kiosks) != 1 || f.Kiosks[0].KioskID != "lobby-7" || f.Kiosks[0].Office != "Newark field office" {
		t.Errorf("the second replica's fleet = %+v; want the kiosk enrolled at the first", f.Kiosks)
	}
	a.stop()
	b.stop()
	keys.unchanged(t)
	for _, dir := range []string{first, second} {
		notMade(t, dir, sqlite.File, upstream.SealKeyFile, upstream.AdminTokensFile,
			filepath.Join(upstream.TLSDir, upstream.CACertFile), filepath.Join(upstream.TLSDir, upstream.CAKeyFile))
	}
}

// TestUpstreamConfigNamedKeys runs `kiosk upstream --config FILE` naming
// the seal key, the CA and the admin tokens: it serves with them (the
// kiosk's TLS client pins that CA; it prints that seal key), makes its own
// server certificate in its state directory from that CA, and writes none
// of the files named, nor a key of its own: their bytes and times are as
// they were. A key file named but missing stops the start, and is not
// made.
func TestUpstreamConfigNamedKeys(t *testing.T) {
	bin := buildKiosk(t)
	keys := agencyKeys(t, bin)
	state := t.TempDir()
	conf := writeUpstreamConfig(t, state, keys)
	up := startUpstreamConfig(t, bin, state, conf, keys)
	if code := adminGet(t, up, wire.PathStats, keys.token); code != http.StatusOK {
		t.Errorf("GET %s with the named admin tokens' token = %d; want 200", wire.PathStats, code)
	}
	if got, want := between(up.output(), "seal key", "\n"), between(keys.output, "seal key", "\n"); got == "" || got != want {
		t.Errorf("kiosk upstream --config prints seal key %q; want the named one, %q", got, want)
	}
	if got := between(up.output(), "CA certificate", "\n"); strings.TrimSpace(got) != keys.caCert {
		t.Errorf("kiosk upstream --config prints CA certificate %q; want the named %s", got, keys.caCert)
	}
	up.stop()
	// Again, the server certificate now kept: still nothing written.
	up = startUpstreamConfig(t, bin, state, conf, keys)
	up.stop()
	keys.unchanged(t)
	notMade(t, state, upstream.SealKeyFile, upstream.AdminTokensFile,
		filepath.Join(upstream.TLSDir, upstream.CACertFile), filepath.Join(upstream.TLSDir, upstream.CAKeyFile))
	if _, err := os.Stat(filepath.Join(state, upstream.TLSDir, upstream.ServerCert)); err != nil {
		t.Errorf("no server certificate of the replica's own: %v", err)
	}

	missing := filepath.Join(t.TempDir(), "seal-key.pem")
	conf = writeUpstreamConfig(t, t.TempDir(), keys, "seal_key = "+strconv.Quote(missing))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "upstream", "--config", conf).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "no such file") {
		t.Errorf("kiosk upstream naming a missing seal key = %v:\n%s\nwant it to exit, saying the file is missing", err, out)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("kiosk upstream made the seal key it was named (%v)", err)
	}
}

// keyFiles are the agency's keys, made once by a first start of `kiosk
// upstream` in a directory of their own, as README says, and named in
// every replica's configuration.
type keyFiles struct {
	sealKey, caCert, caKey, adminTokens string
	token                               string // the admin token
	output                              string // what the first start printed
	was                                 map[string]fileState
}

// fileState is what a file named must keep: its bytes and times.
type fileState struct {
	data  []byte
	mtime time.Time
}

// agencyKeys makes the agency's keys with a first start, then dates them
// in the past, so that a rewrite shows in their times even within the
// file system's clock resolution.
func agencyKeys(t *testing.T, bin string) *keyFiles {
	t.Helper()
	dir := t.TempDir()
	first := startUpstreamProc(t, bin, dir)
	waitBanner(t, first)
	first.stop()
	k := &keyFiles{
		sealKey:     filepath.Join(dir, upstream.SealKeyFile),
		caCert:      filepath.Join(dir, upstream.TLSDir, upstream.CACertFile),
		caKey:       filepath.Join(dir, upstream.TLSDir, upstream.CAKeyFile),
		adminTokens: filepath.Join(dir, upstream.AdminTokensFile),
		token:       first.token, output: first.output(),
		was: map[string]fileState{},
	}
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range []string{k.sealKey, k.caCert, k.caKey, k.adminTokens} {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		k.was[f] = fileState{data: data, mtime: past}
	}
	return k
}

// unchanged fails t if a key file's bytes or time changed.
func (k *keyFiles) unchanged(t *testing.T) {
	t.Helper()
	for f, was := range k.was {
		data, err := os.ReadFile(f)
		fi, serr := os.Stat(f)
		if err != nil || serr != nil {
			t.Errorf("key file %s: %v, %v", f, err, serr)
			continue
		}
		if !bytes.Equal(data, was.data) || !fi.ModTime().Equal(was.mtime) {
			t.Errorf("key file %s was written (modified %v; it was %v)", f, fi.ModTime(), was.mtime)
		}
	}
}

// notMade fails t if any of names exists in dir.
func notMade(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s made in the state directory %s (%v): the file named should be used", name, dir, err)
		}
	}
}

// writeUpstreamConfig writes an upstream.toml for a replica in state
// naming keys, with the extra lines of [upstream], and returns its path.
func writeUpstreamConfig(t *testing.T, state string, keys *keyFiles, extra ...string) string {
	t.Helper()
	doc := fmt.Sprintf("[upstream]\nlisten = \"127.0.0.1:0\"\nstate_dir = %q\nhosts = [\"127.0.0.1\"]\n"+
		"admin_tokens = %q\nseal_key = %q\nca_cert = %q\nca_key = %q\n",
		state, keys.adminTokens, keys.sealKey, keys.caCert, keys.caKey)
	for _, line := range extra {
		// A later key of the same name replaces the earlier line.
		key, _, _ := strings.Cut(line, " =")
		doc = regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(key)+` = .*\n`).ReplaceAllString(doc, "")
		doc += line + "\n"
	}
	path := filepath.Join(t.TempDir(), "upstream.toml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startUpstreamConfig starts `kiosk upstream --config conf`, its state in
// state, its CA and admin token keys'.
func startUpstreamConfig(t *testing.T, bin, state, conf string, keys *keyFiles) *upstreamProc {
	t.Helper()
	u := &upstreamProc{proc: startProc(t, "upstream", bin, upstreamReady, "upstream", "--config", conf), bin: bin, dir: state, token: keys.token}
	caPEM, err := os.ReadFile(keys.caCert)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := enroll.ParseCA(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	u.client = upload.NewClient(pool, tls.Certificate{}, 10*time.Second)
	waitBanner(t, u)
	if adminTokenLine.MatchString(u.output()) {
		t.Errorf("kiosk upstream --config printed a new admin token: it should use the named file\n%s", u.output())
	}
	return u
}

// waitBanner waits for the last line of what u prints as it starts to
// serve.
func waitBanner(t *testing.T, u *upstreamProc) {
	t.Helper()
	eventually(t, "the upstream's banner", func() bool { return strings.Contains(u.output(), "admin tokens ") })
}

// The sample in systemd/ is what `kiosk upstream config default` prints,
// and as shipped it checks and sets the defaults.
func TestUpstreamConfigDefaultGolden(t *testing.T) {
	code, out, stderr := runUpstreamConfig("default")
	if code != 0 {
		t.Fatalf("kiosk upstream config default: exit %d\n%s", code, stderr)
	}
	golden := checkSample(t, "upstream.toml", out)
	c, err := config.LoadUpstream(golden)
	if err != nil {
		t.Fatalf("config.LoadUpstream(%s) = %v", golden, err)
	}
	if !reflect.DeepEqual(c, config.DefaultUpstream()) {
		t.Errorf("%s = %+v; want the defaults %+v", golden, c, config.DefaultUpstream())
	}
	// The package's default, which config may not import.
	if got := config.DefaultUpstream().SilentAfter; got != upstream.DefaultSilentAfter {
		t.Errorf("config.DefaultUpstream().SilentAfter = %v; want upstream.DefaultSilentAfter, %v", got, upstream.DefaultSilentAfter)
	}
}

func TestUpstreamConfigCheck(t *testing.T) {
	good := writeConfig(t, "[upstream]\nhosts = [\"upstream.example\"]\n")
	bad := writeConfig(t, "[upstream]\nhosts = [\"upstream.example\"]\nsealkey = \"/k\"\n")
	if code, stdout, stderr := runUpstreamConfig("check", good); code != 0 || stdout != good+": ok\n" {
		t.Errorf("kiosk upstream config check good = exit %d, %q, %q; want 0, %q", code, stdout, stderr, good+": ok\n")
	}
	want := bad + `:3: unknown key "upstream.sealkey"` + "\n"
	if code, _, stderr := runUpstreamConfig("check", bad); code != 1 || stderr != want {
		t.Errorf("kiosk upstream config check bad = exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}

// runUpstreamConfig runs `kiosk upstream config` with args, and returns
// its exit code and output.
func runUpstreamConfig(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	code = cli.Run(context.Background(), env, upstreamConfigCommand(), args)
	return code, out.String(), errOut.String()
}
