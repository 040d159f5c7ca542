package updatecmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"aead.dev/minisign"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/update"
	"github.com/docketkiosk/checkin-kiosk/update/updatetest"
)

// These tests update a kiosk in a temporary root with the real kiosk
// binary, built from this module with each version it plays
// (updatetest.BuildKiosk), systemd played by updatetest.Daemon, and the
// daemon's HTTP answers served on loopback by the same double.

// helperEnv makes this test binary, run again, the updater a crash test
// kills: it runs "kiosk update ARGS" and stops at a step.
const helperEnv = "KIOSK_UPDATECMD_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	code := m.Run()
	updatetest.RemoveBuilt()
	if shared.keyDir != "" {
		os.RemoveAll(filepath.Dir(shared.keyDir))
	}
	os.Exit(code)
}

// kiosk is a kiosk in a temporary root: its daemon, its configuration
// file, and a directory of releases.
type kiosk struct {
	root, conf, dist string
	daemon           *updatetest.Daemon
}

// shared is what the tests make once, being slow to make (a release of
// the real binary is some 13 MiB of gzip, which takes long under -race):
// the release key, made by `kiosk update keygen`, and the releases of
// each version, made by `kiosk update pack`.
var shared struct {
	sync.Mutex
	keyDir, config string            // the key pair; the [update] table pinning it
	releases       map[string]string // version: a directory holding its release
}

// releaseKey makes the shared release key, once, and returns the
// configuration keygen printed for it.
func releaseKey(t *testing.T) (keyDir, conf string) {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.keyDir == "" {
		dir, err := os.MkdirTemp("", "kiosk-release-key-")
		if err != nil {
			t.Fatal(err)
		}
		code, out, stderr := run(t, deps{}, "update", "keygen", "--out", filepath.Join(dir, "key"))
		if code != 0 {
			t.Fatalf("kiosk update keygen: exit %d\n%s", code, stderr)
		}
		shared.keyDir, shared.config = filepath.Join(dir, "key"), out
	}
	return shared.keyDir, shared.config
}

// release returns a copy, in a new directory, of the release of the real
// binary of version, packed once by `kiosk update pack` with the shared
// key.
func release(t *testing.T, version string) string {
	t.Helper()
	keyDir, _ := releaseKey(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.releases == nil {
		shared.releases = map[string]string{}
	}
	if _, ok := shared.releases[version]; !ok {
		dist := filepath.Join(filepath.Dir(keyDir), "dist-"+version)
		code, _, stderr := run(t, deps{}, "update", "pack", "--key", filepath.Join(keyDir, update.KeyFile),
			"--version", version, "--min-from", "1.0.0", "--arch", runtime.GOARCH, "--out", dist, updatetest.BuildKiosk(t, version))
		if code != 0 {
			t.Fatalf("kiosk update pack: exit %d\n%s", code, stderr)
		}
		shared.releases[version] = dist
	}
	dist := t.TempDir()
	if err := os.CopyFS(dist, os.DirFS(shared.releases[version])); err != nil {
		t.Fatal(err)
	}
	return dist
}

// newKiosk installs the real binary of version in a temporary root with
// the release of next in its directory (none if ""), and writes the
// configuration: the shared key pinned, the daemon's listener the
// double's, extra appended to the [update] table.
func newKiosk(t *testing.T, version, next, extra string) *kiosk {
	t.Helper()
	_, keyConf := releaseKey(t)
	k := &kiosk{root: t.TempDir(), dist: t.TempDir()}
	if next != "" {
		k.dist = release(t, next)
	}
	k.daemon = updatetest.Install(t, k.root, version, updatetest.BuildKiosk(t, version))
	k.conf = filepath.Join(t.TempDir(), "kiosk.toml")
	doc := strings.Replace(keyConf, "[update]\n", "[update]\n"+extra, 1)
	doc = fmt.Sprintf("[kiosk]\nlisten = %q\n\n%s", k.daemon.Serve(t), doc)
	if err := os.WriteFile(k.conf, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(k.conf); err != nil {
		t.Fatalf("the configuration keygen's output makes: %v\n%s", err, doc)
	}
	return k
}

// deps are the commands' dependencies on the kiosk.
func (k *kiosk) deps() deps { return deps{root: k.root, services: k.daemon} }

// update runs "kiosk update ARGS" on the kiosk.
func (k *kiosk) update(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, k.deps(), append([]string{"update", args[0], "--config", k.conf}, args[1:]...)...)
}

// boots returns the version the kiosk's /usr/bin/kiosk says it is (its
// "kiosk version" prints "kiosk VERSION ..."): the real binary a boot
// would start, through the real symlinks.
func (k *kiosk) boots(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(k.root, update.BinLink), "version").Output()
	if err != nil {
		t.Fatalf("/usr/bin/kiosk version: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "kiosk" {
		t.Fatalf("/usr/bin/kiosk version printed %q; want kiosk VERSION", out)
	}
	return f[1]
}

// run runs "kiosk ARGS" with d and returns its exit code, stdout and
// stderr.
func run(t *testing.T, d deps, args ...string) (int, string, string) {
	t.Helper()
	return runEnv(t, d, nil, args...)
}

// runEnv is run with the environment variables of vars.
func runEnv(t *testing.T, d deps, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	root := &cli.Command{Name: "kiosk", Subcommands: []*cli.Command{command(d)}}
	code := cli.Run(context.Background(), env, root, args)
	return code, out.String(), errb.String()
}

// TestGoodUpdate: keygen, pack, check and apply with the real binary:
// the kiosk then boots 1.5.0, kioskd was restarted once onto it, and
// status says so.
func TestGoodUpdate(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "")

	code, out, stderr := k.update(t, "check", k.dist)
	if code != 0 || !strings.Contains(out, "would switch 1.4.0 -> 1.5.0") {
		t.Fatalf("kiosk update check: exit %d\n%s%s", code, out, stderr)
	}
	if got := k.boots(t); got != "1.4.0" {
		t.Errorf("after check the kiosk boots %q; want 1.4.0", got)
	}
	code, out, stderr = k.update(t, "apply", k.dist)
	if code != 0 || out != "applied 1.5.0 (was 1.4.0)\n" {
		t.Fatalf("kiosk update apply: exit %d\n%s%s", code, out, stderr)
	}
	if got := k.boots(t); got != "1.5.0" {
		t.Errorf("the kiosk boots %q; want 1.5.0", got)
	}
	if got, want := k.daemon.Restarts(), []string{"kioskd.service 1.5.0"}; !slices.Equal(got, want) {
		t.Errorf("restarts = %q; want %q", got, want)
	}
	code, out, _ = k.update(t, "status")
	for _, want := range []string{"current   1.5.0\n", "running   1.5.0, healthy\n", "previous  1.4.0\n", "last      apply 1.4.0 -> 1.5.0: confirmed"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("kiosk update status: exit %d\n%s\nwant %q in it", code, out, want)
		}
	}
	// What the rollback unit runs after a failed apply (say, one that
	// refused the next release): the confirmed 1.5.0 stays.
	code, out, _ = k.update(t, "recover")
	if code != 0 || out != "nothing to recover\n" || k.boots(t) != "1.5.0" {
		t.Errorf("kiosk update recover: exit %d, %q, boots %s; want nothing to recover, 1.5.0", code, out, k.boots(t))
	}
}

// TestBadSignature: a release signed by another key is refused; the
// kiosk is as it was.
func TestBadSignature(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "")
	// The manifests signed again, by another key.
	otherDir := t.TempDir()
	if _, err := update.GenerateKey(otherDir); err != nil {
		t.Fatal(err)
	}
	keyText, _ := os.ReadFile(filepath.Join(otherDir, update.KeyFile))
	var other minisign.PrivateKey
	if err := other.UnmarshalText(bytes.TrimSpace(keyText)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{update.ManifestName("1.5.0", runtime.GOARCH), update.LatestName(runtime.GOARCH)} {
		doc, err := os.ReadFile(filepath.Join(k.dist, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(k.dist, name+update.SignatureSuffix), minisign.Sign(other, doc), 0o644)
	}
	for _, cmd := range []string{"check", "apply"} {
		code, _, stderr := k.update(t, cmd, k.dist)
		if code != 1 || !strings.Contains(stderr, update.ErrSignature.Error()) {
			t.Errorf("kiosk update %s: exit %d\n%s\nwant 1 and the signature refused", cmd, code, stderr)
		}
	}
	if got := k.boots(t); got != "1.4.0" || len(k.daemon.Restarts()) > 0 {
		t.Errorf("the kiosk boots %q after %q; want 1.4.0, no restart", got, k.daemon.Restarts())
	}
}

// TestHashMismatch: a tarball changed after it was signed is refused.
func TestHashMismatch(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "")
	tarball := filepath.Join(k.dist, update.TarballName("1.5.0", runtime.GOARCH))
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x40
	os.WriteFile(tarball, b, 0o644)
	code, _, stderr := k.update(t, "apply", filepath.Join(k.dist, update.ManifestName("1.5.0", runtime.GOARCH)))
	if code != 1 || !strings.Contains(stderr, update.ErrHash.Error()) {
		t.Errorf("kiosk update apply: exit %d\n%s\nwant 1 and a hash mismatch", code, stderr)
	}
	if got := k.boots(t); got != "1.4.0" || len(k.daemon.Restarts()) > 0 {
		t.Errorf("the kiosk boots %q after %q; want 1.4.0, no restart", got, k.daemon.Restarts())
	}
	if _, err := os.Lstat(filepath.Join(k.root, update.ReleasesDir, "1.5.0")); err == nil {
		t.Error("release 1.5.0 unpacked")
	}
}

// TestDowngrade: an older release is refused, and applied with
// --allow-downgrade.
func TestDowngrade(t *testing.T) {
	k := newKiosk(t, "1.5.0", "1.4.0", "")
	code, _, stderr := k.update(t, "apply", k.dist)
	if code != 1 || !strings.Contains(stderr, "older than the current one") {
		t.Errorf("kiosk update apply: exit %d\n%s\nwant 1 and the downgrade refused", code, stderr)
	}
	if got := k.boots(t); got != "1.5.0" {
		t.Errorf("the kiosk boots %q; want 1.5.0", got)
	}
	code, out, stderr := k.update(t, "apply", "--allow-downgrade", k.dist)
	if code != 0 {
		t.Fatalf("kiosk update apply --allow-downgrade: exit %d\n%s%s", code, out, stderr)
	}
	if got := k.boots(t); got != "1.4.0" || k.daemon.Running() != "1.4.0" {
		t.Errorf("the kiosk boots %q, runs %s; want 1.4.0", got, k.daemon.Running())
	}
}

// TestUnhealthyRolledBack: a release that does not answer healthy on
// /healthz (over HTTP, from the double's listener) is rolled back and
// marked bad; recover then does nothing, a second apply is refused, and
// rollback by hand has no previous release to go to.
func TestUnhealthyRolledBack(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "health_timeout = \"300ms\"\n")
	k.daemon.SetUnhealthy("1.5.0")
	code, _, stderr := k.update(t, "apply", k.dist)
	if code != 1 || !strings.Contains(stderr, "rolled back") || !strings.Contains(stderr, "503") {
		t.Errorf("kiosk update apply: exit %d\n%s\nwant 1, rolled back, saying why", code, stderr)
	}
	if got := k.boots(t); got != "1.4.0" || k.daemon.Running() != "1.4.0" {
		t.Errorf("the kiosk boots %q, runs %s; want 1.4.0", got, k.daemon.Running())
	}
	if got, want := k.daemon.Restarts(), []string{"kioskd.service 1.5.0", "kioskd.service 1.4.0"}; !slices.Equal(got, want) {
		t.Errorf("restarts = %q; want %q", got, want)
	}
	code, out, _ := k.update(t, "status")
	if code != 0 || !strings.Contains(out, "bad       1.5.0 since ") || !strings.Contains(out, "rolled_back") {
		t.Errorf("kiosk update status: exit %d\n%s\nwant 1.5.0 bad, rolled back", code, out)
	}
	if code, out, _ := k.update(t, "recover"); code != 0 || out != "nothing to recover\n" {
		t.Errorf("kiosk update recover: exit %d, %q; want nothing to recover", code, out)
	}
	if code, _, stderr := k.update(t, "apply", k.dist); code != 1 || !strings.Contains(stderr, "marked bad") {
		t.Errorf("kiosk update apply of a bad release: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := k.update(t, "rollback"); code != 1 || !strings.Contains(stderr, "no previous release") {
		t.Errorf("kiosk update rollback: exit %d\n%s", code, stderr)
	}
	if n := len(k.daemon.Restarts()); n != 2 {
		t.Errorf("%d restarts; want still 2", n)
	}
}

// TestWaitsForIdle: apply waits while the daemon (over HTTP) shows a
// session, switches once it is idle; rollback by hand then returns to
// 1.4.0.
func TestWaitsForIdle(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "")
	k.daemon.SetScreens("confirm", "confirm", "success", "idle")
	code, out, stderr := k.update(t, "apply", k.dist)
	if code != 0 {
		t.Fatalf("kiosk update apply: exit %d\n%s%s", code, out, stderr)
	}
	if got := k.boots(t); got != "1.5.0" {
		t.Errorf("the kiosk boots %q; want 1.5.0", got)
	}
	k.daemon.SetScreens("help", "idle")
	code, out, stderr = k.update(t, "rollback")
	if code != 0 || out != "rolled back to 1.4.0; 1.5.0 is marked bad\n" {
		t.Fatalf("kiosk update rollback: exit %d\n%s%s", code, out, stderr)
	}
	if got := k.boots(t); got != "1.4.0" || k.daemon.Running() != "1.4.0" {
		t.Errorf("the kiosk boots %q, runs %s; want 1.4.0", got, k.daemon.Running())
	}
}

// TestNotIdle: a kiosk that stays in a session is not switched.
func TestNotIdle(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "idle_timeout = \"200ms\"\n")
	k.daemon.SetScreens("confirm")
	code, _, stderr := k.update(t, "apply", k.dist)
	if code != 1 || !strings.Contains(stderr, "did not become idle") || !strings.Contains(stderr, "nothing was switched") {
		t.Errorf("kiosk update apply: exit %d\n%s\nwant 1, not idle", code, stderr)
	}
	if got := k.boots(t); got != "1.4.0" || len(k.daemon.Restarts()) > 0 {
		t.Errorf("the kiosk boots %q after %q; want 1.4.0, no restart", got, k.daemon.Restarts())
	}
}

// TestUsage: what a mistake on the command line says.
func TestUsage(t *testing.T) {
	k := newKiosk(t, "1.4.0", "", "")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"apply"}, 2, "no SOURCE, and update.source is not set"},
		{[]string{"apply", "http://updates.example.gov/"}, 1, "want an https:// URL or a local path"},
		{[]string{"check", filepath.Join(k.dist, "nothing-here")}, 1, "no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := k.update(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("kiosk update %q: exit %d\n%s\nwant %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	if code, _, stderr := run(t, k.deps(), "update", "pack", "--key", "k", "--version", "1.5", "--min-from", "1.0.0", "--arch", "arm64", "--out", k.dist, "tree"); code != 2 || !strings.Contains(stderr, "--version") {
		t.Errorf("kiosk update pack --version 1.5: exit %d\n%s", code, stderr)
	}
	// Without a key nothing is checked, let alone applied.
	conf := filepath.Join(t.TempDir(), "kiosk.toml")
	os.WriteFile(conf, []byte("[update]\nsource = \"/media/usb\"\n"), 0o644)
	if code, _, stderr := run(t, k.deps(), "update", "apply", "--config", conf); code != 1 || !strings.Contains(stderr, "no release key") {
		t.Errorf("kiosk update apply without a key: exit %d\n%s", code, stderr)
	}
	// The nightly timer's run: nothing configured is nothing to do, and a
	// success; a source without a key is still a failure, for an admin to
	// see.
	if code, _, stderr := run(t, k.deps(), "update", "apply", "--if-configured", "--config", conf); code != 1 || !strings.Contains(stderr, "no release key") {
		t.Errorf("kiosk update apply --if-configured with a source and no key: exit %d\n%s", code, stderr)
	}
	bare := filepath.Join(t.TempDir(), "kiosk.toml")
	os.WriteFile(bare, []byte("[update]\n"), 0o644)
	if code, stdout, stderr := run(t, k.deps(), "update", "apply", "--if-configured", "--config", bare); code != 0 || !strings.Contains(stdout, "nothing to do") {
		t.Errorf("kiosk update apply --if-configured with no source: exit %d\n%s%s; want 0, nothing to do", code, stdout, stderr)
	}
}

// The defaults of [update] are update's.
func TestDefaults(t *testing.T) {
	c := config.Default()
	if c.UpdateHealthTimeout != update.DefaultHealthTimeout || c.UpdateIdleTimeout != update.DefaultIdleTimeout {
		t.Errorf("config's [update] timeouts %s, %s; update's defaults %s, %s",
			c.UpdateHealthTimeout, c.UpdateIdleTimeout, update.DefaultHealthTimeout, update.DefaultIdleTimeout)
	}
}

// helper is the child of TestCrashWithTheRealBinary: "kiosk update
// ARGS" on the root and configuration its environment names, stopping
// at a step until killed.
func helper() int {
	env := func(k string) string { return os.Getenv(helperEnv + "_" + k) }
	root := env("ROOT")
	stop := update.Step(env("STEP"))
	d := deps{root: root, services: updatetest.NewDaemon(root, filepath.Join(root, "run", "fake-kioskd")),
		hook: func(s update.Step) {
			if s == stop {
				fmt.Printf("at %s\n", s)
				select {}
			}
		}}
	env2 := &cli.Env{Stdin: os.Stdin, Stdout: os.Stderr, Stderr: os.Stderr, Getenv: os.Getenv}
	cmd := &cli.Command{Name: "kiosk", Subcommands: []*cli.Command{command(d)}}
	code := cli.Run(context.Background(), env2, cmd, []string{"update", "apply", "--config", env("CONF"), env("SRC")})
	fmt.Printf("never reached %s: exit %d\n", stop, code)
	return 3
}

// TestCrashWithTheRealBinary kills `kiosk update apply` (SIGKILL) between
// the rename of the current symlink and the sync of its directory, then
// runs `kiosk update recover` as the OnFailure unit would: the kiosk
// boots a whole release throughout, and ends on 1.5.0, confirmed.
func TestCrashWithTheRealBinary(t *testing.T) {
	k := newKiosk(t, "1.4.0", "1.5.0", "")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperEnv+"_ROOT="+k.root, helperEnv+"_CONF="+k.conf,
		helperEnv+"_SRC="+k.dist, helperEnv+"_STEP="+string(update.StepRenamed))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "at renamed\n" {
		t.Fatalf("the updater said %q; want at renamed", line)
	}
	if got := k.boots(t); got != "1.5.0" {
		t.Errorf("after the kill the kiosk boots %q; want 1.5.0 (the rename was made)", got)
	}
	if k.daemon.Running() != "1.4.0" {
		t.Errorf("after the kill the daemon runs %s; want 1.4.0 (killed before the restart)", k.daemon.Running())
	}
	code, stdout, stderr := k.update(t, "recover")
	if code != 0 || !strings.Contains(stdout, "recovered: apply 1.4.0 -> 1.5.0 confirmed; current 1.5.0") {
		t.Fatalf("kiosk update recover: exit %d\n%s%s", code, stdout, stderr)
	}
	if k.daemon.Running() != "1.5.0" {
		t.Errorf("after recover the daemon runs %s; want 1.5.0", k.daemon.Running())
	}
}
