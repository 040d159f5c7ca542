package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// testEpoch is the SOURCE_DATE_EPOCH of the tests' builds: 2001-09-09.
const (
	testEpoch     = "1000000000"
	testBuildDate = "2001-09-09"
)

// repo is the repository's root.
var repo = func() string {
	d, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return d
}()

// binDir holds the binaries the tests build, one per version, for all
// of them: a build is the slow part.
var (
	binDir string
	binMu  sync.Mutex
	bins   = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mkdeb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hostTarget and hostArch are the host's packaging/cross target and
// Debian architecture.
func hostTarget(t *testing.T) (target, arch string) {
	switch runtime.GOARCH {
	case "amd64":
		return "amd64", "amd64"
	case "arm64":
		return "arm64", "arm64"
	case "arm":
		return "armv7", "armhf"
	}
	testenv.RequireOrSkip(t, "a host packaging/cross builds for (amd64, arm64, arm), not %s", runtime.GOARCH)
	return "", ""
}

// hostBinary builds the kiosk binary for the host with packaging/cross,
// at version, as a release is built.
func hostBinary(t *testing.T, version string) string {
	t.Helper()
	testenv.LookPath(t, "bash", "bash")
	testenv.LookPath(t, "gcc", "gcc")
	target, _ := hostTarget(t)
	binMu.Lock()
	defer binMu.Unlock()
	if b, ok := bins[version]; ok {
		return b
	}
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(repo, "packaging", "cross"), version, binDir, target)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+testEpoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packaging/cross %s: %v\n%s", version, err, out)
	}
	t.Logf("packaging/cross %s %s: %v", version, target, time.Since(start).Round(time.Second))
	b := filepath.Join(binDir, "kiosk-"+version+"-linux-"+target, "bin", "kiosk")
	bins[version] = b
	return b
}

// buildDeb packs bin as version from src, into a new directory.
func buildDeb(t *testing.T, src, version, bin string) string {
	t.Helper()
	testenv.LookPath(t, "dpkg-deb", "dpkg")
	_, arch := hostTarget(t)
	epoch, _ := sourceDate(testEpoch, time.Time{})
	deb, notes, err := build(options{Version: version, Arch: arch, Binary: bin, Out: t.TempDir(), Src: src,
		Maintainer: defaultMaintainer, Time: epoch})
	if err != nil {
		t.Fatalf("build(%s) = %v", version, err)
	}
	if len(notes) > 0 {
		t.Errorf("build(%s) noted %q; want the host's binary run and checked", version, notes)
	}
	return deb
}

// run runs a command and returns its output, failing the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDebVersion(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"v1.4.0", "1.4.0"},
		{"v0.1.0", "0.1.0"},
		{"v1.5.0-rc.1", "1.5.0~rc.1"},
		{"v1.5.0-rc-1", "1.5.0~rc-1"},
		{"v2.0.0+pi.3", "2.0.0+pi.3"},
		{"1.4.0", ""},
		{"v1.4", ""},
		{"v01.4.0", ""},
		{"v1.4.0 ", ""},
		{"v1.4.0/../x", ""},
	} {
		got, err := debVersion(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("debVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if want := strings.TrimPrefix(tt.in, "v"); err == nil && releaseOf(got) != want {
			t.Errorf("releaseOf(%q) = %q; want %q", got, releaseOf(got), want)
		}
	}
}

// TestDebVersionOrder: Debian orders the package versions as semantic
// versioning orders the releases, so apt upgrades a pre-release to its
// release and never the other way. dpkg itself compares.
func TestDebVersionOrder(t *testing.T) {
	dpkg := testenv.LookPath(t, "dpkg", "dpkg")
	order := []string{"v1.4.0", "v1.5.0-rc.1", "v1.5.0-rc.2", "v1.5.0", "v1.10.0", "v2.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := debVersion(order[i-1])
		b, _ := debVersion(order[i])
		if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg --compare-versions %s lt %s: %v; want %s before %s", a, b, err, order[i-1], order[i])
		}
	}
}

// TestPostrmMapsVersionBack: the postrm finds the new release's directory
// from the Debian version as releaseOf does. Its own line, run by sh.
func TestPostrmMapsVersionBack(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, "packaging", "deb", "postrm"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^\s*new="\$\(.*\)"$`).Find(b)
	if line == nil {
		t.Fatal(`packaging/deb/postrm has no new="$(...)" line`)
	}
	for _, v := range []string{"v1.4.0", "v1.5.0-rc.1", "v2.0.0+pi.3"} {
		d, _ := debVersion(v)
		out := run(t, "sh", "-c", string(line)+`; printf %s "$new"`, "postrm", "upgrade", d)
		if want := strings.TrimPrefix(v, "v"); out != want || releaseOf(d) != want {
			t.Errorf("postrm maps %s to %q, releaseOf to %q; want %s", d, out, releaseOf(d), want)
		}
	}
}

func TestHasInstallSection(t *testing.T) {
	for _, tt := range []struct {
		unit string
		want bool
	}{
		{"[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n", true},
		{"[Install]\nWantedBy=kioskd.service\n", true},
		{"[Install]\nAlias=x.service\n", true},
		{"[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n", false},
		{"[Unit]\nWantedBy=multi-user.target\n", false},
		{"[Install]\nWantedBy=\n", false},
		{"[Install]\n# WantedBy=multi-user.target\n", false},
	} {
		if got := hasInstallSection(tt.unit); got != tt.want {
			t.Errorf("hasInstallSection(%q) = %v; want %v", tt.unit, got, tt.want)
		}
	}
}

func TestIdentifyLicense(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Apache License\n  Version 2.0, January 2004", "Apache-2.0"},
		{"Copyright (c) 2013 X\n\nPermission is hereby granted, free of charge, to any person", "Expat"},
		{"Redistribution and use in source and binary forms, with or without\nmodification... Neither the name of Google", "BSD-3-clause"},
		{"Redistribution and use in source and\n binary forms, with or without modification", "BSD-2-clause"},
		{"Mozilla Public License Version 2.0", "MPL-2.0"},
		{"GNU GENERAL PUBLIC LICENSE Version 3", ""},
		{"", ""},
	} {
		got, ok := identifyLicense(tt.text)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("identifyLicense(%.30q) = %q, %v; want %q", tt.text, got, ok, tt.want)
		}
	}
	got := copyrightLines("Copyright (c) 2016 Caleb Spare\nCopyright [yyyy] [name of copyright owner]\n" +
		"  the above copyright notice and\nCopyright 2009 The Go Authors.\nCopyright (c) 2016 Caleb Spare\n")
	if want := []string{"2016 Caleb Spare", "2009 The Go Authors."}; !slices.Equal(got, want) {
		t.Errorf("copyrightLines() = %q; want %q", got, want)
	}
}

func TestFill(t *testing.T) {
	got, err := fill("a='@RELEASE@' b='@UNITS@' c=user@host", map[string]string{"RELEASE": "v1.4.0", "UNITS": "x.service y.timer"})
	if err != nil || got != "a='v1.4.0' b='x.service y.timer' c=user@host" {
		t.Errorf("fill() = %q, %v", got, err)
	}
	if _, err := fill("a='@RELEASE@' b='@NEW_FIELD@'", map[string]string{"RELEASE": "v1"}); err == nil || !strings.Contains(err.Error(), "@NEW_FIELD@") {
		t.Errorf("fill() with a field unknown = %v; want an error naming it", err)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(repo, "packaging", "deb", s))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fieldRE.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains([]string{"RELEASE", "SYSUSERS", "TMPFILES", "UNITS", "START_UNITS", "ALL_UNITS", "SUBSYSTEMS", "MODULES", "SYSCTL"}, m[1]) {
				t.Errorf("packaging/deb/%s: field %s that mkdeb does not fill", s, m[0])
			}
		}
		run(t, "sh", "-n", filepath.Join(repo, "packaging", "deb", s))
	}
}

// TestEverySystemdFileHasAPlace: a file added to systemd/ either goes into
// the package (layout, docs) or is a test; none is silently left out.
func TestEverySystemdFileHasAPlace(t *testing.T) {
	var unplaced []string
	n := 0
	err := filepath.WalkDir(filepath.Join(repo, "systemd"), func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(f, "_test.go") {
			return err
		}
		n++
		rel, _ := filepath.Rel(repo, f)
		rel = filepath.ToSlash(rel)
		for _, pl := range layout {
			for _, g := range pl.Globs {
				if ok, _ := filepath.Match(g, rel); ok {
					return nil
				}
			}
		}
		for _, doc := range docs {
			if doc.src == rel {
				return nil
			}
		}
		unplaced = append(unplaced, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("found %d files in systemd/; want the units and their files", n)
	}
	if len(unplaced) > 0 {
		t.Errorf("files of systemd/ the package does not ship: %q; give each its place in packaging/mkdeb's layout (and systemd/README.md's table)", unplaced)
	}
}

func TestCheckBinaryRefusesAnotherArch(t *testing.T) {
	bin := hostBinary(t, "v1.4.0")
	_, arch := hostTarget(t)
	glibc, err := checkBinary(bin, arch)
	if err != nil || !regexp.MustCompile(`^2\.[0-9]+$`).MatchString(glibc) {
		t.Errorf("checkBinary(host binary, %s) = %q, %v; want a glibc version", arch, glibc, err)
	}
	for other := range archs {
		if other == arch {
			continue
		}
		if _, err := checkBinary(bin, other); err == nil {
			t.Errorf("checkBinary(%s binary, %s) = nil; want it refused", arch, other)
		}
	}
	if _, err := checkBinary(bin, "i386"); err == nil {
		t.Error("checkBinary(i386) = nil; want an unknown architecture refused")
	}
	// The binary must say it is the version the package claims.
	_, _, err = build(options{Version: "v9.9.9", Arch: arch, Binary: bin, Out: t.TempDir(), Src: repo, Time: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "want kiosk v9.9.9") {
		t.Errorf("build(v1.4.0 binary as v9.9.9) = %v; want it refused", err)
	}
}

// entry is a line of dpkg-deb -c.
type entry struct {
	mode, owner, path, link string
}

func listDeb(t *testing.T, deb string) map[string]entry {
	t.Helper()
	entries := map[string]entry{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "dpkg-deb", "-c", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", sc.Text())
		}
		e := entry{mode: f[0], owner: f[1], path: strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")}
		if len(f) == 8 && f[6] == "->" {
			e.link = f[7]
		}
		entries[e.path] = e
	}
	return entries
}

// TestPackage builds the package from a freshly built host binary and
// checks what it holds, as dpkg-deb reads it: every file root's with its
// mode, the links, the control fields, the conffiles, the copyright of
// every module the binary links; and lintian's verdict.
func TestPackage(t *testing.T) {
	bin := hostBinary(t, "v1.4.0")
	out := run(t, bin, "version")
	if !regexp.MustCompile(`^kiosk v1\.4\.0 \(commit ([0-9a-f]{12}(-dirty)?|unknown), built ` + testBuildDate + `\)\n$`).MatchString(out) {
		t.Errorf("kiosk version = %q; want v1.4.0, the commit and built %s (packaging/cross's -X)", out, testBuildDate)
	}
	_, arch := hostTarget(t)
	deb := buildDeb(t, repo, "v1.4.0", bin)
	if filepath.Base(deb) != "kiosk_1.4.0_"+arch+".deb" {
		t.Errorf("package file %s; want kiosk_1.4.0_%s.deb", filepath.Base(deb), arch)
	}
	entries := listDeb(t, deb)

	want := map[string]string{ // path: mode
		"/opt/kiosk/releases/1.4.0/bin/kiosk":            "-rwxr-xr-x",
		"/usr/bin/kiosk":                                 "lrwxrwxrwx",
		"/etc/kiosk/kiosk.toml":                          "-rw-r--r--",
		"/usr/share/doc/kiosk/copyright":                 "-rw-r--r--",
		"/usr/share/doc/kiosk/changelog.gz":              "-rw-r--r--",
		"/usr/share/doc/kiosk/README.md.gz":              "-rw-r--r--",
		"/usr/share/man/man1/kiosk.1.gz":                 "-rw-r--r--",
		"/usr/share/lintian/overrides/kiosk":             "-rw-r--r--",
		"/lib/systemd/system/kioskd.service":             "-rw-r--r--",
		"/usr/lib/sysusers.d/kiosk.conf":                 "-rw-r--r--",
		"/lib/udev/rules.d/70-kiosk-scanner.rules":       "-rw-r--r--",
		"/opt/kiosk/releases/1.4.0":                      "drwxr-xr-x",
		"/usr/share/doc/kiosk":                           "drwxr-xr-x",
		"/etc/chromium/policies/managed":                 "drwxr-xr-x",
		"/usr/lib/tmpfiles.d":                            "drwxr-xr-x",
		"/lib/udev/rules.d/71-kiosk-devices.rules":       "-rw-r--r--",
		"/opt/kiosk/releases":                            "drwxr-xr-x",
		"/usr/share/doc/kiosk/systemd.md.gz":             "-rw-r--r--",
		"/usr/lib/tmpfiles.d/kiosk.conf":                 "-rw-r--r--",
		"/etc/chromium/policies/managed/kiosk.json":      "-rw-r--r--",
		"/etc/kiosk/chromium-flags":                      "-rw-r--r--",
		"/usr/lib/sysctl.d/90-kiosk.conf":                "-rw-r--r--",
		"/usr/lib/modules-load.d/kiosk.conf":             "-rw-r--r--",
		"/lib/systemd/system/kiosk-browser.service":      "-rw-r--r--",
		"/lib/systemd/system/kiosk-update.timer":         "-rw-r--r--",
		"/lib/systemd/system/kiosk-browser-restart.path": "-rw-r--r--",
	}
	// Every unit and udev rule of the repository, whatever it holds today.
	for _, g := range []string{"systemd/*.service", "systemd/*.path", "systemd/*.timer", "systemd/udev/*.rules"} {
		m, _ := filepath.Glob(filepath.Join(repo, filepath.FromSlash(g)))
		for _, f := range m {
			dir := "/lib/systemd/system/"
			if strings.HasSuffix(f, ".rules") {
				dir = "/lib/udev/rules.d/"
			}
			want[dir+filepath.Base(f)] = "-rw-r--r--"
		}
	}
	for p, mode := range want {
		e, ok := entries[p]
		if !ok {
			// The browser's and the updater's files are another part's:
			// required only once they exist in systemd/.
			if src := sourceOf(p); src != "" {
				if _, err := os.Stat(filepath.Join(repo, src)); err != nil {
					continue
				}
			}
			t.Errorf("package lacks %s", p)
			continue
		}
		if e.mode != mode {
			t.Errorf("%s: mode %s; want %s", p, e.mode, mode)
		}
	}
	for p, e := range entries {
		if e.owner != "root/root" {
			t.Errorf("%s: owner %s; want root/root", p, e.owner)
		}
		if e.mode[0] == 'd' && e.mode != "drwxr-xr-x" || e.mode[0] == '-' && e.mode != "-rw-r--r--" && p != "/opt/kiosk/releases/1.4.0/bin/kiosk" {
			t.Errorf("%s: mode %s; want 0755 directories and 0644 files but the binary", p, e.mode)
		}
	}
	if e := entries["/usr/bin/kiosk"]; e.link != "/opt/kiosk/current/bin/kiosk" {
		t.Errorf("/usr/bin/kiosk -> %q; want /opt/kiosk/current/bin/kiosk", e.link)
	}
	if _, ok := entries["/opt/kiosk/current"]; ok {
		t.Error("package ships /opt/kiosk/current; want it made by postinst, as the updater switches it")
	}

	// The control fields.
	field := func(name string) string { return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name)) }
	for name, want := range map[string]string{"Package": "kiosk", "Version": "1.4.0", "Architecture": arch,
		"Maintainer": defaultMaintainer, "Section": "misc", "Priority": "optional"} {
		if got := field(name); got != want {
			t.Errorf("control %s: %q; want %q", name, got, want)
		}
	}
	if got := field("Depends"); !regexp.MustCompile(`^libc6 \(>= 2\.[0-9]+\), systemd$`).MatchString(got) {
		t.Errorf("control Depends: %q; want libc6 (>= the glibc the binary needs), systemd", got)
	}
	for _, r := range []string{"cage", "chromium", "fonts-noto-core", "fonts-noto-cjk", "speech-dispatcher"} {
		if !slices.Contains(strings.Split(field("Recommends"), ", "), r) {
			t.Errorf("control Recommends: %q; want %s", field("Recommends"), r)
		}
	}
	info := run(t, "dpkg-deb", "--info", deb)
	for _, s := range []string{"postinst", "prerm", "postrm", "conffiles", "md5sums"} {
		if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+(\*\s+)?` + s + `\b`).MatchString(info) {
			t.Errorf("dpkg-deb --info lists no %s:\n%s", s, info)
		}
	}

	// The conffiles: every file under /etc, and nothing else.
	conffiles := strings.Fields(run(t, "sh", "-c", `dpkg-deb --ctrl-tarfile "$1" | tar -xO ./conffiles`, "sh", deb))
	var underEtc []string
	for p, e := range entries {
		if strings.HasPrefix(p, "/etc/") && e.mode[0] == '-' {
			underEtc = append(underEtc, p)
		}
	}
	slices.Sort(conffiles)
	slices.Sort(underEtc)
	if !slices.Equal(conffiles, underEtc) || !slices.Contains(conffiles, "/etc/kiosk/kiosk.toml") {
		t.Errorf("conffiles %q; want every file under /etc: %q", conffiles, underEtc)
	}

	// The copyright file names every module the binary links, as go
	// version -m reads them, and SQLite.
	copyright := run(t, "sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/share/doc/kiosk/copyright`, "sh", deb)
	mods := regexp.MustCompile(`(?m)^\s+dep\s+(\S+)\s+(\S+)`).FindAllStringSubmatch(run(t, "go", "version", "-m", bin), -1)
	if len(mods) < 5 {
		t.Fatalf("go version -m found %d modules in the binary; want its dependencies", len(mods))
	}
	for _, m := range mods {
		if !strings.Contains(copyright, "\nFiles: go-modules/"+m[1]+"/*\n") || !strings.Contains(copyright, m[1]+"@"+m[2]) {
			t.Errorf("copyright does not name module %s %s", m[1], m[2])
		}
	}
	for _, s := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
		"\nFiles: go-modules/std/*\n", "sqlite3-binding.c", "\nLicense: public-domain\n", "\nFiles: kiosk/card/testdata/dgc-common/*\n"} {
		if !strings.Contains(copyright, s) {
			t.Errorf("copyright lacks %q", s)
		}
	}
	if strings.Contains(copyright, "License: Apache-2.0\n") && !strings.Contains(copyright, "\nLicense: Apache-2.0\n On Debian systems") {
		t.Error("copyright names Apache-2.0 without its stand-alone paragraph pointing at /usr/share/common-licenses")
	}

	// systemd/README.md's table says where each file goes: the package
	// agrees.
	readme, err := os.ReadFile(filepath.Join(repo, "systemd", "README.md"))
	if err == nil {
		rows := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]+)`( \\(conffile\\))? \\|").FindAllStringSubmatch(string(readme), -1)
		if len(rows) == 0 {
			t.Error("systemd/README.md has no table of files and where they go")
		}
		for _, r := range rows {
			if _, ok := entries[r[2]]; !ok {
				t.Errorf("systemd/README.md installs %s as %s; the package has no %s", r[1], r[2], r[2])
			}
			// Every file under /etc is a conffile (Debian policy 10.7.2);
			// a row that says so must be right.
			if r[3] != "" && !slices.Contains(conffiles, r[2]) {
				t.Errorf("systemd/README.md: %s is a conffile; the package's conffiles %q lack it", r[2], conffiles)
			}
		}
	}

	// Lintian: no error and no warning but those overridden with a reason.
	if testenv.LookPath(t, "lintian", "lintian") != "" {
		out, err := exec.Command("lintian", "--fail-on", "error,warning", "--display-info", deb).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		if err != nil {
			t.Errorf("lintian --fail-on error,warning: %v\n%s", err, out)
		}
	}
}

// sourceOf is the file of systemd/ a packaged path comes from, for the
// files another part of the appliance writes; "" for the rest.
func sourceOf(p string) string {
	switch {
	case strings.HasPrefix(p, "/lib/systemd/system/"):
		return filepath.Join("systemd", filepath.Base(p))
	case p == "/etc/kiosk/chromium-flags":
		return "systemd/chromium/kiosk-flags"
	case p == "/etc/chromium/policies/managed/kiosk.json" || p == "/etc/chromium/policies/managed":
		return "systemd/chromium/policies/managed/kiosk.json"
	case p == "/usr/lib/tmpfiles.d/kiosk.conf" || p == "/usr/lib/tmpfiles.d":
		return "systemd/kiosk.tmpfiles.conf"
	case p == "/usr/lib/sysctl.d/90-kiosk.conf":
		return "systemd/kiosk.sysctl.conf"
	case p == "/usr/lib/modules-load.d/kiosk.conf":
		return "systemd/kiosk.modules-load.conf"
	case p == "/usr/share/doc/kiosk/systemd.md.gz":
		return "systemd/README.md"
	}
	return ""
}

// TestReproducible: the same binary and sources, at the same
// SOURCE_DATE_EPOCH, make the same package, byte for byte.
func TestReproducible(t *testing.T) {
	bin := hostBinary(t, "v1.4.0")
	a, err := os.ReadFile(buildDeb(t, repo, "v1.4.0", bin))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(buildDeb(t, repo, "v1.4.0", bin))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two builds of the same package differ (%d and %d bytes)", len(a), len(b))
	}
}
