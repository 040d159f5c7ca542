package main

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// dpkgRoot is a throwaway root that dpkg installs into, its maintainer
// scripts running outside it with DPKG_ROOT set (--force-script-chrootless),
// as the scripts must allow.
type dpkgRoot struct {
	t   *testing.T
	dir string
}

func newDpkgRoot(t *testing.T) *dpkgRoot {
	t.Helper()
	testenv.LookPath(t, "dpkg", "dpkg")
	testenv.LookPath(t, "systemd-sysusers", "systemd")
	testenv.LookPath(t, "systemd-tmpfiles", "systemd")
	testenv.LookPath(t, "deb-systemd-helper", "init-system-helpers")
	if os.Geteuid() != 0 {
		// dpkg gives every file its owner, root: only root can.
		testenv.RequireOrSkip(t, "root, for dpkg --root to install files owned by root")
	}
	r := &dpkgRoot{t: t, dir: t.TempDir()}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"} {
		if err := os.MkdirAll(r.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(r.path(f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// path is p (absolute in the root, or relative) in the root.
func (r *dpkgRoot) path(p string) string { return filepath.Join(r.dir, filepath.FromSlash(p)) }

// dpkg runs dpkg on the root. The package's Depends (libc6, systemd) are
// the host's, not the root's: --force-depends.
func (r *dpkgRoot) dpkg(args ...string) string {
	r.t.Helper()
	argv := append([]string{"--root=" + r.dir, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)
	out, err := exec.Command("dpkg", argv...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// status is the package's dpkg status ("install ok installed").
func (r *dpkgRoot) status() string {
	r.t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+r.path("var/lib/dpkg"), "-W", "-f=${Status}", pkgName).CombinedOutput()
	if err != nil {
		return "not installed: " + strings.TrimSpace(string(out))
	}
	return string(out)
}

// current is where /opt/kiosk/current leads, "" when it does not exist.
func (r *dpkgRoot) current() string {
	l, _ := os.Readlink(r.path("opt/kiosk/current"))
	return l
}

// exists reports whether p exists in the root (a link, not followed).
func (r *dpkgRoot) exists(p string) bool {
	_, err := os.Lstat(r.path(p))
	return err == nil
}

// kioskVersion runs the binary /usr/bin/kiosk leads to, resolving its
// absolute link inside the root.
func (r *dpkgRoot) kioskVersion() string {
	r.t.Helper()
	l, err := os.Readlink(r.path("usr/bin/kiosk"))
	if err != nil {
		r.t.Fatalf("/usr/bin/kiosk: %v", err)
	}
	cur := r.current()
	if cur == "" || !strings.HasPrefix(l, "/opt/kiosk/current/") {
		r.t.Fatalf("/usr/bin/kiosk -> %s, /opt/kiosk/current -> %q; want a binary through current", l, cur)
	}
	bin := r.path(filepath.Join("opt/kiosk", cur, strings.TrimPrefix(l, "/opt/kiosk/current/")))
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		r.t.Fatalf("%s version: %v", bin, err)
	}
	return string(out)
}

// wanted are the [Install] links the units of the root's unit directory
// ask for: "multi-user.target.wants/kioskd.service" and so on.
func (r *dpkgRoot) wanted() []string {
	r.t.Helper()
	var links []string
	units, _ := filepath.Glob(r.path("lib/systemd/system/*"))
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			r.t.Fatal(err)
		}
		in := false
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				in = line == "[Install]"
			}
			if k, v, ok := strings.Cut(line, "="); in && ok && (k == "WantedBy" || k == "RequiredBy") {
				for _, target := range strings.Fields(v) {
					suffix := ".wants"
					if k == "RequiredBy" {
						suffix = ".requires"
					}
					links = append(links, target+suffix+"/"+filepath.Base(u))
				}
			}
		}
	}
	return links
}

// enabled reports whether link (from wanted) is in the root's
// /etc/systemd/system, leading to the unit in /lib/systemd/system.
func (r *dpkgRoot) enabled(link string) bool {
	l, err := os.Readlink(r.path("etc/systemd/system/" + link))
	return err == nil && l == "/lib/systemd/system/"+filepath.Base(link)
}

// copySource copies what mkdeb reads of the repository to a new
// directory, for a second release whose files differ.
func copySource(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, p := range []string{"go.mod", "go.sum", "README.md", "docs", "systemd", "packaging/deb"} {
		src := filepath.Join(repo, p)
		err := filepath.WalkDir(src, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repo, f)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendFile appends s to the file at p.
func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestInstallUpgradeRemove installs the package with dpkg into a
// throwaway root and follows it through its life: install, the same
// version again, an upgrade to a second release over an admin's edits,
// removal and purge. Each step is checked on the root's files, as the
// maintainer scripts left them.
func TestInstallUpgradeRemove(t *testing.T) {
	r := newDpkgRoot(t)
	v1 := buildDeb(t, repo, "v1.4.0", hostBinary(t, "v1.4.0"))

	// Install.
	r.dpkg("--install", v1)
	if s := r.status(); s != "install ok installed" {
		t.Fatalf("status after install: %q; want install ok installed", s)
	}
	if c := r.current(); c != "releases/1.4.0" {
		t.Errorf("/opt/kiosk/current -> %q; want releases/1.4.0", c)
	}
	if v := r.kioskVersion(); !strings.HasPrefix(v, "kiosk v1.4.0 ") {
		t.Errorf("/usr/bin/kiosk version: %q; want v1.4.0", v)
	}
	wanted := r.wanted()
	if !strings.Contains(strings.Join(wanted, " "), "multi-user.target.wants/kioskd.service") {
		t.Fatalf("the units ask for %q; want kioskd.service in multi-user.target", wanted)
	}
	for _, l := range wanted {
		if !r.enabled(l) {
			t.Errorf("after install, /etc/systemd/system/%s is missing; want every unit with [Install] enabled", l)
		}
	}
	passwd, _ := os.ReadFile(r.path("etc/passwd"))
	users := sysusersUsers(t, r.path("usr/lib/sysusers.d"))
	if len(users) == 0 {
		t.Fatal("the package's sysusers.d files name no user")
	}
	for _, u := range users {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(u) + `:x:\d+:\d+:`).Match(passwd) {
			t.Errorf("user %s is not in /etc/passwd:\n%s", u, passwd)
		}
	}
	for _, d := range tmpfilesDirs(t, r.path("usr/lib/tmpfiles.d")) {
		if info, err := os.Stat(r.path(d)); err != nil || !info.IsDir() {
			t.Errorf("tmpfiles.d directory %s: %v; want it made by postinst", d, err)
		}
	}

	// The same version again: nothing moves.
	r.dpkg("--install", v1)
	if s, c := r.status(), r.current(); s != "install ok installed" || c != "releases/1.4.0" {
		t.Errorf("after reinstall: status %q, current -> %q; want installed, releases/1.4.0", s, c)
	}
	for _, l := range wanted {
		if !r.enabled(l) {
			t.Errorf("after reinstall, /etc/systemd/system/%s is missing", l)
		}
	}

	// The admin edits the settings and disables the nightly update (if it
	// is there); the daemon has state the package must never touch.
	const edit = "\n# the admin's edit\n"
	appendFile(t, r.path("etc/kiosk/kiosk.toml"), edit)
	disabled := ""
	for _, l := range wanted {
		if strings.HasSuffix(l, "/kiosk-update.timer") {
			disabled = l
			if err := os.Remove(r.path("etc/systemd/system/" + l)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(r.path("var/lib/kiosk"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("var/lib/kiosk/kiosk.db"), []byte("check-ins not uploaded yet"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A second release whose chromium flags changed (the admin left them).
	src2 := copySource(t)
	const flags2 = "\n# v1.5.0's flags\n"
	flagsFile := filepath.Join(src2, "systemd", "chromium", "kiosk-flags")
	haveFlags := fileExists(flagsFile)
	if haveFlags {
		appendFile(t, flagsFile, flags2)
	}
	v2 := buildDeb(t, src2, "v1.5.0", hostBinary(t, "v1.5.0"))

	// Unpacked but not configured: the old postrm has already switched
	// current, so /usr/bin/kiosk never leads to the removed v1.4.0.
	r.dpkg("--unpack", v2)
	if c := r.current(); c != "releases/1.5.0" {
		t.Errorf("after unpack of v1.5.0, current -> %q; want releases/1.5.0 (the old postrm's switch)", c)
	}
	if r.exists("opt/kiosk/releases/1.4.0") {
		t.Error("after unpack of v1.5.0, /opt/kiosk/releases/1.4.0 is still there; want dpkg to have removed the old release")
	}
	if v := r.kioskVersion(); !strings.HasPrefix(v, "kiosk v1.5.0 ") {
		t.Errorf("after unpack, /usr/bin/kiosk version: %q; want v1.5.0", v)
	}
	r.dpkg("--configure", "--pending")
	if s, c := r.status(), r.current(); s != "install ok installed" || c != "releases/1.5.0" {
		t.Errorf("after upgrade: status %q, current -> %q; want installed, releases/1.5.0", s, c)
	}
	if b, _ := os.ReadFile(r.path("etc/kiosk/kiosk.toml")); !strings.HasSuffix(string(b), edit) {
		t.Error("after upgrade, /etc/kiosk/kiosk.toml lost the admin's edit")
	}
	if b, _ := os.ReadFile(r.path("etc/kiosk/chromium-flags")); haveFlags && !strings.HasSuffix(string(b), flags2) {
		t.Error("after upgrade, /etc/kiosk/chromium-flags is not v1.5.0's; want a conffile the admin left updated")
	}
	for _, l := range wanted {
		if l == disabled {
			if r.enabled(l) {
				t.Errorf("after upgrade, %s is enabled again; want the admin's disabling kept", l)
			}
		} else if !r.enabled(l) {
			t.Errorf("after upgrade, /etc/systemd/system/%s is missing", l)
		}
	}

	// Remove: the files go, the settings and the daemon's state stay.
	r.dpkg("--remove", pkgName)
	if s := r.status(); s != "deinstall ok config-files" {
		t.Errorf("status after remove: %q; want deinstall ok config-files", s)
	}
	for _, p := range []string{"usr/bin/kiosk", "opt/kiosk/releases/1.5.0", "opt/kiosk/current", "lib/systemd/system/kioskd.service"} {
		if r.exists(p) {
			t.Errorf("after remove, /%s is still there", p)
		}
	}
	for _, p := range []string{"etc/kiosk/kiosk.toml", "var/lib/kiosk/kiosk.db"} {
		if !r.exists(p) {
			t.Errorf("after remove, /%s is gone; want it kept", p)
		}
	}
	// Purge: the settings and the links go too; never the outbox.
	r.dpkg("--purge", pkgName)
	if s := r.status(); !strings.HasPrefix(s, "not installed") && s != "unknown ok not-installed" {
		t.Errorf("status after purge: %q; want not installed", s)
	}
	for _, p := range []string{"etc/kiosk/kiosk.toml", "opt/kiosk", "var/lib/kiosk-update"} {
		if r.exists(p) {
			t.Errorf("after purge, /%s is still there", p)
		}
	}
	for _, l := range wanted {
		if r.exists("etc/systemd/system/"+l) || r.exists("etc/systemd/system/"+filepath.Base(l)) {
			t.Errorf("after purge, a link of %s is still in /etc/systemd/system", filepath.Base(l))
		}
	}
	if !r.exists("var/lib/kiosk/kiosk.db") {
		t.Error("after purge, /var/lib/kiosk/kiosk.db is gone; want the outbox never removed")
	}
}

// sysusersUsers are the users ("u NAME ...") the sysusers.d files in dir
// create.
func sysusersUsers(t *testing.T, dir string) []string {
	t.Helper()
	var users []string
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "u" {
				users = append(users, f[1])
			}
		}
	}
	return users
}

// tmpfilesDirs are the directories ("d PATH ...") the tmpfiles.d files in
// dir make, but those under /run (not kept in a root on disk).
func tmpfilesDirs(t *testing.T, dir string) []string {
	t.Helper()
	var dirs []string
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "d" && !strings.HasPrefix(f[1], "/run/") {
				dirs = append(dirs, f[1])
			}
		}
	}
	return dirs
}

// fileExists reports whether f exists.
func fileExists(f string) bool {
	_, err := os.Stat(f)
	return err == nil
}
