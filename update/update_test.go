package update_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/docketkiosk/checkin-kiosk/update"
)

// TestApply: a good update from a local directory (a USB stick) unpacks
// the release whole, switches current, restarts kioskd once onto it,
// confirms it, and leaves nothing behind; the binary /usr/bin/kiosk
// leads to is the new one.
func TestApply(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	old := pack(t, k, scriptTree(t, "1.4.0"), "1.4.0", t.TempDir())
	next := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	if err := update.VerifyRelease(filepath.Join(ks.root, update.ReleasesDir, "1.4.0"), old.Manifest); err != nil {
		t.Fatalf("the installed release: %v", err)
	}
	var last update.Progress
	u := ks.updater(func(c *update.Config) { c.Progress = func(p update.Progress) { last = p } })

	plan, err := u.Apply(context.Background(), src, update.ApplyOptions{})
	if err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if plan.Manifest.Version != "1.5.0" || plan.Current != "1.4.0" {
		t.Errorf("Apply's plan = %s over %s; want 1.5.0 over 1.4.0", plan.Manifest.Version, plan.Current)
	}
	if got := ks.current(); got != "1.5.0" {
		t.Errorf("current = %s; want 1.5.0", got)
	}
	if got := ks.runs(); got != "1.5.0" {
		t.Errorf("/usr/bin/kiosk version = %s; want 1.5.0", got)
	}
	if err := update.VerifyRelease(filepath.Join(ks.root, update.ReleasesDir, "1.5.0"), next.Manifest); err != nil {
		t.Error(err)
	}
	if got, want := ks.daemon.Restarts(), []string{"kioskd.service 1.5.0"}; !slices.Equal(got, want) {
		t.Errorf("restarts = %q; want %q", got, want)
	}
	st := ks.state()
	if st.Current != "1.5.0" || st.Previous != "1.4.0" || st.Last.Phase != update.PhaseConfirmed || len(st.Bad) != 0 {
		t.Errorf("state = %+v, last %+v; want 1.5.0 confirmed over 1.4.0, none bad", st, st.Last)
	}
	if last.Done != next.Manifest.Tarball.Size || last.Total != last.Done {
		t.Errorf("last progress = %+v; want all of %d bytes", last, next.Manifest.Tarball.Size)
	}
	if left := ks.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	if tarballs, _ := filepath.Glob(filepath.Join(ks.root, update.StateDir, "download", "*")); len(tarballs) > 0 {
		t.Errorf("downloads kept after the unpack: %q", tarballs)
	}

	// Again: up to date, nothing done.
	plan, err = u.Apply(context.Background(), src, update.ApplyOptions{})
	if err != nil || !plan.UpToDate {
		t.Errorf("Apply again = %+v, %v; want up to date", plan, err)
	}
	if n := len(ks.daemon.Restarts()); n != 1 {
		t.Errorf("%d restarts after an apply of the current release; want still 1", n)
	}
}

// TestApplyHTTPS: the same from an https:// directory, over real TLS;
// and an http:// source is refused before anything is fetched.
func TestApplyHTTPS(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	var paths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		http.StripPrefix("/releases/", http.FileServer(http.Dir(src))).ServeHTTP(w, r)
	}))
	defer srv.Close()
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	u := ks.updater(func(c *update.Config) { c.Client = srv.Client() })

	if _, err := u.Apply(context.Background(), "http://"+srv.Listener.Addr().String()+"/releases/", update.ApplyOptions{}); !errors.Is(err, update.ErrSource) {
		t.Errorf("Apply(http://) = %v; want ErrSource", err)
	}
	if len(paths) > 0 {
		t.Errorf("fetched %q for an http:// source", paths)
	}
	if _, err := u.Apply(context.Background(), srv.URL+"/releases", update.ApplyOptions{}); err != nil {
		t.Fatalf("Apply(https://) = %v", err)
	}
	if got := ks.current(); got != "1.5.0" {
		t.Errorf("current = %s; want 1.5.0", got)
	}
	want := []string{"/releases/" + update.LatestName(arch) + ".minisig", "/releases/" + update.LatestName(arch),
		"/releases/" + update.TarballName("1.5.0", arch)}
	if !slices.Equal(paths, want) {
		t.Errorf("fetched %q; want %q", paths, want)
	}
}

// noChange fails the test unless the kiosk is as installed: 1.4.0
// current, no release 1.5.0 (nor a part of one), no restart.
func noChange(t *testing.T, ks *kiosk) {
	t.Helper()
	if got := ks.current(); got != "1.4.0" {
		t.Errorf("current = %s; want 1.4.0", got)
	}
	if _, err := os.Lstat(filepath.Join(ks.root, update.ReleasesDir, "1.5.0")); err == nil {
		t.Error("release 1.5.0 unpacked")
	}
	if left := ks.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	if r := ks.daemon.Restarts(); len(r) > 0 {
		t.Errorf("restarts = %q; want none", r)
	}
}

// TestApplyBadSignature: a manifest signed by another key, or changed
// after it was signed, is refused before anything is downloaded.
func TestApplyBadSignature(t *testing.T) {
	k := newKeys(t)
	tests := []struct {
		name   string
		tamper func(t *testing.T, src string, p *update.Packed)
	}{
		{"another key", func(t *testing.T, src string, p *update.Packed) {
			other := newKeys(t)
			pack(t, other, scriptTree(t, "1.5.0"), "1.5.0", src) // over the first: signed by other
		}},
		{"manifest changed", func(t *testing.T, src string, p *update.Packed) {
			doc, _ := os.ReadFile(p.Path)
			doc = bytes.Replace(doc, []byte(`"min_from": "1.0.0"`), []byte(`"min_from": "1.0.1"`), 1)
			os.WriteFile(p.Path, doc, 0o644)
		}},
		{"no signature", func(t *testing.T, src string, p *update.Packed) {
			os.Remove(p.Path + update.SignatureSuffix)
		}},
		{"signature truncated", func(t *testing.T, src string, p *update.Packed) {
			os.WriteFile(p.Path+update.SignatureSuffix, p.Signature[:len(p.Signature)/2], 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
			tt.tamper(t, src, p)
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			_, err := ks.updater().Apply(context.Background(), p.Path, update.ApplyOptions{})
			if err == nil {
				t.Fatal("Apply = nil; want the manifest refused")
			}
			if tt.name != "no signature" {
				wantErr(t, "Apply", err, update.ErrSignature)
			}
			noChange(t, ks)
			if _, err := os.Stat(filepath.Join(ks.root, update.StateDir, "download")); err == nil {
				t.Error("a download began for an unverified manifest")
			}
		})
	}
}

// TestApplyHashMismatch: a tarball that is not the manifest's, or a file
// in it that is not, is refused; nothing is switched, and no part of the
// release is left.
func TestApplyHashMismatch(t *testing.T) {
	k := newKeys(t)
	tests := []struct {
		name   string
		tamper func(t *testing.T, p *update.Packed)
	}{
		{"tarball byte flipped", func(t *testing.T, p *update.Packed) {
			b, _ := os.ReadFile(p.Tarball)
			b[len(b)/2] ^= 1
			os.WriteFile(p.Tarball, b, 0o644)
		}},
		{"tarball longer", func(t *testing.T, p *update.Packed) {
			b, _ := os.ReadFile(p.Tarball)
			os.WriteFile(p.Tarball, append(b, 0), 0o644)
		}},
		{"a file's hash", func(t *testing.T, p *update.Packed) {
			m := *p.Manifest
			m.Files = slices.Clone(m.Files)
			m.Files[0].SHA256 = strings.Repeat("0", 64)
			resign(t, k, p, &m)
		}},
		{"a file's size", func(t *testing.T, p *update.Packed) {
			m := *p.Manifest
			m.Files = slices.Clone(m.Files)
			m.Files[1].Size--
			resign(t, k, p, &m)
		}},
		{"a file missing from the tarball", func(t *testing.T, p *update.Packed) {
			m := *p.Manifest
			m.Files = append(slices.Clone(m.Files), update.File{Path: "share/extra", SHA256: m.Files[0].SHA256, Size: 1, Mode: "0644"})
			resign(t, k, p, &m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
			tt.tamper(t, p)
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			_, err := ks.updater().Apply(context.Background(), p.Path, update.ApplyOptions{})
			wantErr(t, "Apply", err, update.ErrHash)
			noChange(t, ks)
			if st := ks.state(); st.Last == nil || st.Last.Phase != update.PhaseFailed || st.Last.Error == "" {
				t.Errorf("journal = %+v; want failed, saying why", st.Last)
			}
		})
	}
}

// resign writes m as p's manifest, signed with k: a release whose signer
// made it wrong.
func resign(t *testing.T, k keys, p *update.Packed, m *update.Manifest) {
	t.Helper()
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var priv minisign.PrivateKey
	if err := priv.UnmarshalText(bytes.TrimSpace(k.priv)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path+update.SignatureSuffix, minisign.Sign(priv, doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApplyRefusals: an older release is refused unless allowed; one for
// another arch, one that needs a newer current release, and one marked
// bad are refused.
func TestApplyRefusals(t *testing.T) {
	k := newKeys(t)
	tests := []struct {
		name    string
		version string
		edit    func(*update.PackConfig)
		opts    update.ApplyOptions
		want    error // nil: applied
	}{
		{"downgrade", "1.3.0", nil, update.ApplyOptions{}, update.ErrDowngrade},
		{"downgrade allowed", "1.3.0", nil, update.ApplyOptions{AllowDowngrade: true}, nil},
		{"prerelease of the current", "1.4.0-rc.1", nil, update.ApplyOptions{}, update.ErrDowngrade},
		{"another arch", "1.5.0", func(c *update.PackConfig) { c.Arch = "otherarch" }, update.ApplyOptions{}, update.ErrArch},
		{"min_from above current", "1.5.0", func(c *update.PackConfig) { c.MinFrom = "1.4.1" }, update.ApplyOptions{}, update.ErrMinFrom},
		{"min_from equal to current", "1.5.0", func(c *update.PackConfig) { c.MinFrom = "1.4.0" }, update.ApplyOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			c := update.PackConfig{Key: k.priv, Version: tt.version, MinFrom: "1.0.0", Arch: arch, Tree: scriptTree(t, tt.version), Out: src}
			if tt.edit != nil {
				tt.edit(&c)
			}
			p, err := update.Pack(c)
			if err != nil {
				t.Fatal(err)
			}
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			_, err = ks.updater().Apply(context.Background(), p.Path, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Apply = %v; want applied", err)
				}
				if got := ks.current(); got != tt.version {
					t.Errorf("current = %s; want %s", got, tt.version)
				}
				return
			}
			wantErr(t, "Apply", err, tt.want)
			noChange(t, ks)
			if _, err := os.Lstat(filepath.Join(ks.root, update.ReleasesDir, tt.version)); err == nil {
				t.Errorf("release %s unpacked", tt.version)
			}
		})
	}
}

// TestApplyUnhealthyRollsBack: a release that does not answer healthy in
// time is switched back, kioskd restarted onto the old one, and marked
// bad; a later apply of it is refused unless forced; the rollback unit's
// recover, run after the failed apply, does nothing.
func TestApplyUnhealthyRollsBack(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	ks.daemon.SetUnhealthy("1.5.0")
	u := ks.updater(func(c *update.Config) { c.HealthTimeout = 100 * time.Millisecond })

	_, err := u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply", err, update.ErrUnhealthy)
	if got := ks.current(); got != "1.4.0" {
		t.Errorf("current = %s; want 1.4.0 again", got)
	}
	if got, want := ks.daemon.Restarts(), []string{"kioskd.service 1.5.0", "kioskd.service 1.4.0"}; !slices.Equal(got, want) {
		t.Errorf("restarts = %q; want %q", got, want)
	}
	if got := ks.daemon.Running(); got != "1.4.0" {
		t.Errorf("running %s; want 1.4.0", got)
	}
	st := ks.state()
	if !st.IsBad("1.5.0") || st.Last.Phase != update.PhaseRolledBack || st.Current != "" {
		t.Errorf("state = %+v, last %+v; want 1.5.0 bad, rolled back, none confirmed", st, st.Last)
	}

	did, err := u.Recover(context.Background())
	if did || err != nil {
		t.Errorf("Recover after a rollback = %v, %v; want nothing done", did, err)
	}
	_, err = u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply of a bad release", err, update.ErrMarkedBad)
	if n := len(ks.daemon.Restarts()); n != 2 {
		t.Errorf("%d restarts; want still 2", n)
	}

	// Fixed (the double answers healthy now): forced, it applies.
	ks.daemon.SetUnhealthy()
	if _, err := u.Apply(context.Background(), src, update.ApplyOptions{Force: true}); err != nil {
		t.Fatalf("Apply --force = %v", err)
	}
	if got := ks.current(); got != "1.5.0" {
		t.Errorf("current = %s; want 1.5.0", got)
	}
}

// TestApplyRestartFails: a release whose daemon does not start (its
// binary does not run) is rolled back as an unhealthy one.
func TestApplyRestartFails(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.WriteFile(filepath.Join(tree, "bin", "kiosk"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	pack(t, k, tree, "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	_, err := ks.updater().Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply", err, update.ErrUnhealthy)
	if got := ks.current(); got != "1.4.0" || ks.daemon.Running() != "1.4.0" || !ks.state().IsBad("1.5.0") {
		t.Errorf("current %s, running %s, bad %v; want 1.4.0, 1.4.0, 1.5.0 bad", got, ks.daemon.Running(), ks.state().Bad)
	}
}

// TestApplyWaitsForIdle: the switch waits while the daemon, asked over
// HTTP on loopback, shows a session's screens, and comes once it shows
// idle; a kiosk that stays busy is not switched, and the release
// unpacked meanwhile is used by the next apply without a download.
func TestApplyWaitsForIdle(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	client := update.NewDaemonClient(ks.daemon.Serve(t))

	// Busy throughout: nothing switched.
	ks.daemon.SetScreens("confirm")
	u := ks.updater(func(c *update.Config) { c.Idle, c.IdleTimeout = client, 100*time.Millisecond })
	_, err := u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply while busy", err, update.ErrNotIdle)
	if !strings.Contains(err.Error(), `"confirm"`) {
		t.Errorf("Apply = %v; want it to name the screen", err)
	}
	if got := ks.current(); got != "1.4.0" || len(ks.daemon.Restarts()) > 0 {
		t.Errorf("current %s, restarts %q; want 1.4.0, none", got, ks.daemon.Restarts())
	}
	if st := ks.state(); st.Last.Phase != update.PhaseFailed {
		t.Errorf("journal = %+v; want failed", st.Last)
	}

	// A session under way, then idle: switched once it is idle. The
	// tarball is gone from the source: the release unpacked before is
	// used as it is.
	os.Remove(p.Tarball)
	ks.daemon.SetScreens("confirm", "challenge", "success", "idle")
	u = ks.updater(func(c *update.Config) { c.Idle = client })
	if _, err := u.Apply(context.Background(), src, update.ApplyOptions{}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if got := ks.current(); got != "1.5.0" {
		t.Errorf("current = %s; want 1.5.0", got)
	}
	if s, _ := client.Screen(context.Background()); s != "idle" {
		t.Errorf("after the apply the daemon shows %q; want the session's screens all asked through to idle", s)
	}

	// A daemon that is not running has no session to interrupt.
	ks2 := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	stopped := update.NewDaemonClient(closedPort(t))
	u = ks2.updater(func(c *update.Config) { c.Idle, c.IdleTimeout = stopped, time.Minute })
	p2 := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", t.TempDir())
	if _, err := u.Apply(context.Background(), p2.Path, update.ApplyOptions{}); err != nil {
		t.Errorf("Apply with no daemon listening = %v", err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

// TestHealthOverHTTP: the real health check reads /healthz: 200 with the
// version is healthy; 503 is not, and says why.
func TestHealthOverHTTP(t *testing.T) {
	k := newKeys(t)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	c := update.NewDaemonClient(ks.daemon.Serve(t))
	if v, err := c.Check(context.Background()); err != nil || v != "1.4.0" {
		t.Errorf("Check = %q, %v; want 1.4.0", v, err)
	}
	ks.daemon.SetUnhealthy("1.4.0")
	if v, err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Check of an unhealthy daemon = %q, %v; want a 503 error", v, err)
	}
	_, err := update.NewDaemonClient(closedPort(t)).Check(context.Background())
	wantErr(t, "Check with nothing listening", err, update.ErrNotRunning)
}

// TestUnsafeTarball: a signed release whose tarball climbs out of its
// directory, holds a link, a device or a file the manifest does not
// list, is refused, and nothing of it is written, in the releases or
// outside.
func TestUnsafeTarball(t *testing.T) {
	k := newKeys(t)
	bin := []byte("#!/bin/sh\necho kiosk 1.5.0\n")
	good := tar.Header{Typeflag: tar.TypeReg, Name: "bin/kiosk", Mode: 0o755, Size: int64(len(bin))}
	tests := []struct {
		name    string
		entries []tar.Header // bodies: bin for a regular file of its size
		want    error
	}{
		{"dot-dot", []tar.Header{good, {Typeflag: tar.TypeReg, Name: "../escaped", Mode: 0o644, Size: int64(len(bin))}}, update.ErrUnsafe},
		{"dot-dot inside", []tar.Header{good, {Typeflag: tar.TypeReg, Name: "bin/../../escaped", Mode: 0o644, Size: int64(len(bin))}}, update.ErrUnsafe},
		{"absolute", []tar.Header{good, {Typeflag: tar.TypeReg, Name: "/escaped", Mode: 0o644, Size: int64(len(bin))}}, update.ErrUnsafe},
		{"symlink out", []tar.Header{{Typeflag: tar.TypeSymlink, Name: "bin", Linkname: "../../.."}, good}, update.ErrUnsafe},
		{"symlink in", []tar.Header{good, {Typeflag: tar.TypeSymlink, Name: "kiosk", Linkname: "bin/kiosk"}}, update.ErrUnsafe},
		{"hard link", []tar.Header{good, {Typeflag: tar.TypeLink, Name: "escaped", Linkname: "/etc/passwd"}}, update.ErrUnsafe},
		{"device", []tar.Header{good, {Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}}, update.ErrUnsafe},
		{"fifo", []tar.Header{good, {Typeflag: tar.TypeFifo, Name: "fifo"}}, update.ErrUnsafe},
		{"a file not listed", []tar.Header{good, {Typeflag: tar.TypeReg, Name: "extra", Mode: 0o644, Size: int64(len(bin))}}, update.ErrUnsafe},
		{"a file twice", []tar.Header{good, good}, update.ErrUnsafe},
		{"a listed file as a directory", []tar.Header{{Typeflag: tar.TypeDir, Name: "bin/kiosk/", Mode: 0o755}, good}, update.ErrUnsafe},
		{"control: files and directories", []tar.Header{{Typeflag: tar.TypeDir, Name: "./bin/", Mode: 0o755}, good}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			signRelease(t, k, src, "1.5.0", tt.entries, bin)
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			_, err := ks.updater().Apply(context.Background(), filepath.Join(src, update.ManifestName("1.5.0", arch)), update.ApplyOptions{})
			for _, p := range []string{"escaped", "opt/escaped", "opt/kiosk/escaped", "opt/kiosk/releases/escaped"} {
				if _, err := os.Lstat(filepath.Join(ks.root, p)); err == nil {
					t.Errorf("%s written", p)
				}
			}
			if tt.want == nil {
				if err != nil || ks.current() != "1.5.0" {
					t.Fatalf("Apply = %v, current %s; want 1.5.0 applied", err, ks.current())
				}
				return
			}
			wantErr(t, "Apply", err, tt.want)
			noChange(t, ks)
		})
	}
}

// signRelease writes a release of version to dir whose tarball holds
// entries (regular files with body) and whose signed manifest lists
// bin/kiosk alone: what a signer fooled into signing a hostile tarball
// would publish.
func signRelease(t *testing.T, k keys, dir, version string, entries []tar.Header, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(body)
		}
	}
	tw.Close()
	zw.Close()
	fileSum := sha256.Sum256(body)
	tarSum := sha256.Sum256(buf.Bytes())
	m := update.Manifest{Version: version, Arch: arch, MinFrom: "1.0.0", Created: "2026-03-04T09:00:00Z",
		Files:   []update.File{{Path: "bin/kiosk", SHA256: hex.EncodeToString(fileSum[:]), Size: int64(len(body)), Mode: "0755"}},
		Tarball: update.Blob{Name: update.TarballName(version, arch), SHA256: hex.EncodeToString(tarSum[:]), Size: int64(buf.Len())}}
	if err := os.WriteFile(filepath.Join(dir, m.Tarball.Name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	resign(t, k, &update.Packed{Path: filepath.Join(dir, update.ManifestName(version, arch))}, &m)
}

// TestRollback: rollback by hand returns to the previous release,
// health-gated, and marks the one it left bad so that the next apply
// does not bring it back.
func TestRollback(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	u := ks.updater()
	wantErr(t, "Rollback with no previous release", u.Rollback(context.Background()), update.ErrNoPrevious)
	if _, err := u.Apply(context.Background(), src, update.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := u.Rollback(context.Background()); err != nil {
		t.Fatalf("Rollback = %v", err)
	}
	if got := ks.current(); got != "1.4.0" || ks.daemon.Running() != "1.4.0" {
		t.Errorf("current %s, running %s; want 1.4.0", got, ks.daemon.Running())
	}
	st := ks.state()
	if st.Current != "1.4.0" || st.Previous != "1.5.0" || !st.IsBad("1.5.0") || st.Last.Kind != update.KindRollback {
		t.Errorf("state = %+v; want 1.4.0 current, 1.5.0 previous and bad", st)
	}
	_, err := u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply after the rollback", err, update.ErrMarkedBad)

	// A previous release that does not answer healthy: back to the
	// current one.
	ks.daemon.SetUnhealthy("1.5.0")
	u = ks.updater(func(c *update.Config) { c.HealthTimeout = 100 * time.Millisecond })
	wantErr(t, "Rollback to an unhealthy release", u.Rollback(context.Background()), update.ErrUnhealthy)
	if got := ks.current(); got != "1.4.0" || ks.daemon.Running() != "1.4.0" {
		t.Errorf("current %s, running %s; want 1.4.0", got, ks.daemon.Running())
	}
}

// TestPrune: at most three releases stay on disk: the current one, the
// previous one and the newest other; a bad one goes first.
func TestPrune(t *testing.T) {
	k := newKeys(t)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	u := ks.updater()
	for _, v := range []string{"1.5.0", "1.6.0", "1.7.0", "1.8.0"} {
		p := pack(t, k, scriptTree(t, v), v, t.TempDir())
		if _, err := u.Apply(context.Background(), p.Path, update.ApplyOptions{}); err != nil {
			t.Fatalf("Apply %s = %v", v, err)
		}
	}
	s, err := update.ReadStatus(ks.root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1.6.0", "1.7.0", "1.8.0"}; !slices.Equal(s.Releases, want) {
		t.Errorf("releases = %q; want %q", s.Releases, want)
	}
	kept, _ := filepath.Glob(filepath.Join(ks.root, update.StateDir, "manifests", "*.json"))
	if len(kept) != 3 {
		t.Errorf("manifests kept = %q; want those of the three releases", kept)
	}
	// A bad one is not kept as the third.
	ks.daemon.SetUnhealthy("1.9.0")
	p := pack(t, k, scriptTree(t, "1.9.0"), "1.9.0", t.TempDir())
	u = ks.updater(func(c *update.Config) { c.HealthTimeout = 50 * time.Millisecond })
	u.Apply(context.Background(), p.Path, update.ApplyOptions{})
	p = pack(t, k, scriptTree(t, "1.10.0"), "1.10.0", t.TempDir())
	if _, err := u.Apply(context.Background(), p.Path, update.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, _ = update.ReadStatus(ks.root); !slices.Equal(s.Releases, []string{"1.7.0", "1.8.0", "1.10.0"}) {
		t.Errorf("releases = %q; want 1.7.0 1.8.0 1.10.0", s.Releases)
	}
}

// TestPackLatest: pack keeps the directory's latest manifest the newest
// release's, whatever order releases are packed in.
func TestPackLatest(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	for _, v := range []string{"1.5.0", "1.6.0", "1.5.1"} {
		pack(t, k, scriptTree(t, v), v, src)
	}
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	plan, err := ks.updater().Check(context.Background(), src, update.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Manifest.Version != "1.6.0" || plan.Refusal != nil {
		t.Errorf("Check(dir) = %s, refusal %v; want 1.6.0, applicable", plan.Manifest.Version, plan.Refusal)
	}
}

// TestBinLink: an apply is refused when /usr/bin/kiosk does not lead
// through current, as switching would not change what runs.
func TestBinLink(t *testing.T) {
	k := newKeys(t)
	p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", t.TempDir())
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	bin := filepath.Join(ks.root, update.BinLink)
	os.Remove(bin)
	os.Symlink("../../opt/kiosk/releases/1.4.0/bin/kiosk", bin)
	_, err := ks.updater().Apply(context.Background(), p.Path, update.ApplyOptions{})
	wantErr(t, "Apply", err, update.ErrBinLink)
	noChange(t, ks)
}

// TestConcurrentUpdaters: a second updater waits for no one: it is told
// the state is in use.
func TestConcurrentUpdaters(t *testing.T) {
	k := newKeys(t)
	p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", t.TempDir())
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	second := ks.updater()
	var inner error
	first := ks.updater(func(c *update.Config) {
		c.Hook = func(s update.Step) {
			if s == update.StepUnpacked {
				_, inner = second.Apply(context.Background(), p.Path, update.ApplyOptions{})
			}
		}
	})
	if _, err := first.Apply(context.Background(), p.Path, update.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if inner == nil || !strings.Contains(inner.Error(), "in use") {
		t.Errorf("a second Apply during the first = %v; want the state in use", inner)
	}
}

// TestApplyWhileOutOfService: a kiosk out of service for a reason that is
// not its release's (the scanner unplugged overnight) is updated, the new
// release answering out of service for that reason alone; a release out
// of service for a reason of its own is rolled back.
func TestApplyWhileOutOfService(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)

	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	ks.daemon.SetOutOfService("scanner_unavailable")
	if _, err := ks.updater().Apply(context.Background(), src, update.ApplyOptions{}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if st := ks.state(); ks.current() != "1.5.0" || st.Last.Baseline != "scanner_unavailable" || st.Last.Phase != update.PhaseConfirmed {
		t.Errorf("current %s, journal %+v; want 1.5.0 confirmed over the baseline scanner_unavailable", ks.current(), st.Last)
	}

	ks = install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	ks.daemon.SetOutOfService("scanner_unavailable")
	ks.daemon.SetUnhealthy("1.5.0") // record_failed: its own
	u := ks.updater(func(c *update.Config) { c.HealthTimeout = 100 * time.Millisecond })
	_, err := u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply of a release failing on its own", err, update.ErrUnhealthy)
	if st := ks.state(); ks.current() != "1.4.0" || !st.IsBad("1.5.0") || st.Last.Phase != update.PhaseRolledBack || strings.Contains(st.Last.Error, "after the rollback") {
		t.Errorf("current %s, journal %+v; want 1.4.0 rolled back to, and answering as before", ks.current(), st.Last)
	}

	// In service before the switch: out of service after it is not
	// healthy, whatever the reason.
	ks = install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	u = ks.updater(func(c *update.Config) {
		c.HealthTimeout = 100 * time.Millisecond
		c.Hook = func(s update.Step) {
			if s == update.StepSwitching {
				ks.daemon.SetOutOfService("scanner_unavailable")
			}
		}
	})
	_, err = u.Apply(context.Background(), src, update.ApplyOptions{})
	wantErr(t, "Apply of a release out of service after an in-service one", err, update.ErrUnhealthy)
}

// TestDebRelease: a release the .deb installed, its directory and its
// binary's version spelt with a "v" (releases/v1.4.0), is updated from,
// rolled back to, and counted among the releases kept.
func TestDebRelease(t *testing.T) {
	k := newKeys(t)
	ks := install(t, k, "v1.4.0", scriptTree(t, "v1.4.0"))
	u := ks.updater()
	p := pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", t.TempDir())
	if _, err := u.Apply(context.Background(), p.Path, update.ApplyOptions{}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if err := u.Rollback(context.Background()); err != nil {
		t.Fatalf("Rollback = %v", err)
	}
	if got := ks.current(); got != "v1.4.0" || ks.runs() != "v1.4.0" {
		t.Errorf("current %s, runs %s; want v1.4.0", got, ks.runs())
	}
	s, err := update.ReadStatus(ks.root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"v1.4.0", "1.5.0"}; !slices.Equal(s.Releases, want) {
		t.Errorf("releases = %q; want %q", s.Releases, want)
	}
	// The same version packed is the current one: nothing to do.
	p = pack(t, k, scriptTree(t, "1.4.0"), "1.4.0", t.TempDir())
	if plan, err := u.Apply(context.Background(), p.Path, update.ApplyOptions{}); err != nil || !plan.UpToDate {
		t.Errorf("Apply of 1.4.0 over v1.4.0 = %+v, %v; want up to date", plan, err)
	}
}
