// Command mkdeb builds the kiosk's Debian package from a built binary:
//
//	go run ./packaging/mkdeb --version v1.4.0 --arch arm64 \
//	    --binary out/kiosk-v1.4.0-linux-arm64/bin/kiosk --out out
//
// It lays out the package's tree in a temporary directory, from the binary
// and the repository's systemd/ and packaging/deb/ files, and hands it to
// Debian's own dpkg-deb (--root-owner-group: every file root's). The tree:
//
//	/opt/kiosk/releases/1.4.0/bin/kiosk         the binary (0755)
//	/usr/bin/kiosk -> /opt/kiosk/current/bin/kiosk
//	/lib/systemd/system/*.service|path|timer    systemd/'s units, all of them
//	/lib/udev/rules.d/*.rules                   systemd/udev/
//	/usr/lib/sysusers.d/NAME.conf               systemd/NAME.sysusers.conf
//	/usr/lib/tmpfiles.d/NAME.conf               systemd/NAME.tmpfiles.conf
//	/usr/lib/modules-load.d/NAME.conf           systemd/NAME.modules-load.conf
//	/usr/lib/sysctl.d/90-NAME.conf              systemd/NAME.sysctl.conf
//	/etc/chromium/policies/managed/*.json       systemd/chromium/policies/managed/
//	/etc/kiosk/chromium-flags                   systemd/chromium/kiosk-flags
//	/etc/kiosk/kiosk.toml                       systemd/kiosk.toml, the sample
//	/usr/share/doc/kiosk/                       copyright, changelog, README...
//
// (the table layout, and systemd/README.md's for people).
// Every file under /etc is a conffile: an admin's edit survives upgrades.
// /opt/kiosk/current is not in the package: the updater switches it, and
// the postinst points it at the package's release (packaging/deb/).
// VERSION is the release as the binary reports it (v1.4.0); its directory
// is named without the v, as the updater names its own (1.4.0); the
// package's version is the Debian form (1.4.0; v1.5.0-rc.1 becomes
// 1.5.0~rc.1, which sorts before 1.5.0 as the pre-release it is).
//
// The binary is checked before it is packed: its ELF machine is the
// architecture's, and with --exec (or on the host's own architecture) it
// is run, and must say it is VERSION. The copyright file names every Go
// module the binary links, from its build information, with each module's
// licence read from the module cache. With SOURCE_DATE_EPOCH set, the same
// inputs make the same .deb, byte for byte.
//
// It uses the standard library only, and dpkg-deb (dpkg) and the go
// command (for the modules' licences) from PATH.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pkgName is the package's name, and its directory under /usr/share/doc.
const pkgName = "kiosk"

// defaultMaintainer is the control file's Maintainer unless --maintainer.
const defaultMaintainer = "Check-in kiosk maintainers <kiosk-maintainers@docket.example>"

// Where the package puts things: the layout shared with the updater
// (releases under /opt/kiosk, current, /usr/bin/kiosk through it).
const (
	optDir     = "opt/kiosk"
	releaseDir = optDir + "/releases"
	currentBin = "/opt/kiosk/current/bin/kiosk"
	unitDir    = "lib/systemd/system"
	udevDir    = "lib/udev/rules.d"
	docDir     = "usr/share/doc/" + pkgName
)

// archs maps a Debian architecture to the ELF machine of its binaries,
// and to Go's GOARCH, to tell whether the host can run one.
var archs = map[string]struct {
	machine elf.Machine
	class   elf.Class
	goarch  string
}{
	"arm64": {elf.EM_AARCH64, elf.ELFCLASS64, "arm64"},
	"armhf": {elf.EM_ARM, elf.ELFCLASS32, "arm"},
	"amd64": {elf.EM_X86_64, elf.ELFCLASS64, "amd64"},
}

// recommends are the packages a working kiosk wants beside the daemon: the
// browser and its compositor, fonts for every language of the page, and
// speech (systemd/README.md says why each). chromium, not Raspberry Pi
// OS's older chromium-browser: kiosk-browser.service runs /usr/bin/chromium.
var recommends = []string{"cage", "chromium", "fonts-noto-core", "fonts-noto-cjk",
	"speech-dispatcher", "speech-dispatcher-espeak-ng"}

// options are mkdeb's flags.
type options struct {
	Version    string // the release, v1.4.0
	Arch       string // Debian's: arm64, armhf, amd64
	Binary     string // the kiosk binary built for Arch
	Out        string // where the .deb is written
	Src        string // the repository: systemd/, packaging/deb/, docs
	Exec       string // runs a foreign binary: "qemu-aarch64-static -L /usr/aarch64-linux-gnu"
	Maintainer string
	// Time stamps the package's files and changelog: SOURCE_DATE_EPOCH's,
	// else now.
	Time time.Time
}

func main() {
	var o options
	flag.StringVar(&o.Version, "version", "", "the release `version`, as packaging/cross built it: v1.4.0 (required)")
	flag.StringVar(&o.Arch, "arch", "", "the Debian `architecture`: arm64, armhf or amd64 (required)")
	flag.StringVar(&o.Binary, "binary", "", "`path` of the kiosk binary built for it (required)")
	flag.StringVar(&o.Out, "out", ".", "`directory` the .deb is written to")
	flag.StringVar(&o.Src, "src", ".", "the repository's `directory`")
	flag.StringVar(&o.Exec, "exec", "", "`command` that runs a binary of another architecture, to check its version "+
		"(\"qemu-aarch64-static -L /usr/aarch64-linux-gnu\"); without it, only one of the host's is run")
	flag.StringVar(&o.Maintainer, "maintainer", defaultMaintainer, "the package's `maintainer`")
	flag.Parse()
	if o.Version == "" || o.Arch == "" || o.Binary == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mkdeb --version v1.4.0 --arch arm64|armhf|amd64 --binary PATH [--out DIR] [--src DIR] [--exec CMD]")
		os.Exit(2)
	}
	t, err := sourceDate(os.Getenv("SOURCE_DATE_EPOCH"), time.Now())
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(2)
	}
	o.Time = t
	deb, notes, err := build(o)
	for _, n := range notes {
		fmt.Fprintf(os.Stderr, "mkdeb: %s\n", n)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(deb)
}

// sourceDate is the time SOURCE_DATE_EPOCH says, or now when it is unset.
func sourceDate(epoch string, now time.Time) (time.Time, error) {
	if epoch == "" {
		return now.UTC().Truncate(time.Second), nil
	}
	s, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
	}
	return time.Unix(s, 0).UTC(), nil
}

// semver is a release version with its v, as packaging/cross takes it.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// debVersion is the Debian version of release v: without its v, the
// pre-release's "-" a "~", which Debian sorts before the release (so
// 1.5.0~rc.1 < 1.5.0, as v1.5.0-rc.1 < v1.5.0). The postrm maps it back.
func debVersion(v string) (string, error) {
	if !semver.MatchString(v) {
		return "", fmt.Errorf("version %q: want a semantic version with its v, like v1.4.0", v)
	}
	core, build, _ := strings.Cut(v[1:], "+")
	core = strings.Replace(core, "-", "~", 1)
	if build != "" {
		core += "+" + build
	}
	return core, nil
}

// releaseOf is the release directory of Debian version d: the release's
// version without its v, as the updater names its directories (update:
// Version.String), every "~" a "-" again; packaging/deb/postrm maps it the
// same way.
func releaseOf(d string) string { return strings.ReplaceAll(d, "~", "-") }

// build builds the package and returns its path, and what it noted on the
// way (a check it could not make).
func build(o options) (deb string, notes []string, err error) {
	dv, err := debVersion(o.Version)
	if err != nil {
		return "", nil, err
	}
	if releaseOf(dv) != strings.TrimPrefix(o.Version, "v") {
		return "", nil, fmt.Errorf("version %s: its Debian form %s does not map back to it", o.Version, dv)
	}
	glibc, err := checkBinary(o.Binary, o.Arch)
	if err != nil {
		return "", nil, err
	}
	checked, err := checkVersion(o)
	if err != nil {
		return "", nil, err
	}
	if !checked {
		notes = append(notes, fmt.Sprintf("%s binary not run (no --exec): its version is not checked", o.Arch))
	}
	stage, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", notes, fmt.Errorf("make staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	p := &pkg{root: filepath.Join(stage, "root"), o: o, debVersion: dv, release: releaseOf(dv)}
	if err := p.lay(); err != nil {
		return "", notes, err
	}
	if err := p.writeCopyright(); err != nil {
		return "", notes, err
	}
	if err := p.control(glibc); err != nil {
		return "", notes, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", notes, fmt.Errorf("make output directory: %w", err)
	}
	deb = filepath.Join(o.Out, fmt.Sprintf("%s_%s_%s.deb", pkgName, dv, o.Arch))
	if err := p.stamp(); err != nil {
		return "", notes, err
	}
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", p.root, deb)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(o.Time.Unix(), 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", notes, fmt.Errorf("dpkg-deb --build: %w\n%s", err, out)
	}
	return deb, notes, nil
}

// checkBinary checks the binary is an ELF executable for arch, and returns
// the newest glibc symbol version it needs ("" for none): the package's
// dependency on libc6, as dpkg-shlibdeps would find it.
func checkBinary(file, arch string) (glibc string, err error) {
	want, ok := archs[arch]
	if !ok {
		return "", fmt.Errorf("architecture %q: want arm64, armhf or amd64", arch)
	}
	f, err := elf.Open(file)
	if err != nil {
		return "", fmt.Errorf("read binary: %w", err)
	}
	defer f.Close()
	if f.Machine != want.machine || f.Class != want.class || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("binary %s is a %v %v %v; want an executable for %s (%v %v)", file, f.Class, f.Machine, f.Type, arch, want.class, want.machine)
	}
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", fmt.Errorf("read binary's dynamic symbols: %w", err)
	}
	for _, s := range syms {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok && versionLess(glibc, v) {
			glibc = v
		}
	}
	return glibc, nil
}

// versionLess compares dotted numeric versions ("2.17" < "2.34").
func versionLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// checkVersion runs "BINARY version" (through o.Exec when set) and holds it
// to o.Version: a package must never claim a release its binary does not
// report, or the updater's health check would fail it. It reports false
// when it could not run the binary: another architecture and no --exec.
func checkVersion(o options) (bool, error) {
	var argv []string
	switch {
	case o.Exec != "":
		argv = append(strings.Fields(o.Exec), o.Binary, "version")
	case archs[o.Arch].goarch == runtime.GOARCH:
		argv = []string{o.Binary, "version"}
	default:
		return false, nil
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		return false, fmt.Errorf("run %s version: %w", o.Binary, err)
	}
	if !strings.HasPrefix(string(out), "kiosk "+o.Version+" ") {
		return false, fmt.Errorf("%s version says %q; want kiosk %s (build it with packaging/cross)", o.Binary, strings.TrimSpace(string(out)), o.Version)
	}
	return true, nil
}

// pkg is a package being laid out in root.
type pkg struct {
	root       string
	o          options
	debVersion string
	release    string // the release directory's name: 1.4.0

	units      []string // the unit files shipped, by name
	enable     []string // those with an [Install] section
	subsystems []string // the udev subsystems the rules name
	sysusers   []string // the sysusers.d files, by name
	tmpfiles   []string // the tmpfiles.d files, by name
	modules    []string // the modules-load.d files, by name
	sysctl     []string // the sysctl.d files, by name
}

// placement says where files of the repository go in the package: the
// files matching any of Globs (relative to the repository, by
// filepath.Match), renamed by Name when not nil, in Dir. systemd/README.md
// has the same table for people; the test holds every file of systemd/
// to having a place here.
type placement struct {
	Globs []string
	Dir   string
	Name  func(string) string
}

// layout is where the repository's files go. Every file under etc/ is a
// conffile.
var layout = []placement{
	{[]string{"systemd/*.service", "systemd/*.path", "systemd/*.timer"}, unitDir, nil},
	{[]string{"systemd/udev/*.rules"}, udevDir, nil},
	{[]string{"systemd/*.sysusers.conf"}, sysusersDir, replaceSuffix(".sysusers.conf", ".conf", "")},
	{[]string{"systemd/*.tmpfiles.conf"}, tmpfilesDir, replaceSuffix(".tmpfiles.conf", ".conf", "")},
	{[]string{"systemd/*.modules-load.conf"}, modulesDir, replaceSuffix(".modules-load.conf", ".conf", "")},
	// 90-: after the distribution's settings, so that the kiosk's win.
	{[]string{"systemd/*.sysctl.conf"}, sysctlDir, replaceSuffix(".sysctl.conf", ".conf", "90-")},
	{[]string{"systemd/chromium/policies/managed/*.json"}, "etc/chromium/policies/managed", nil},
	{[]string{"systemd/chromium/kiosk-flags"}, "etc/kiosk", func(string) string { return "chromium-flags" }},
	{[]string{"systemd/kiosk.toml"}, "etc/kiosk", nil},
}

// Where the system's configuration directories are, in the package.
const (
	sysusersDir = "usr/lib/sysusers.d"
	tmpfilesDir = "usr/lib/tmpfiles.d"
	modulesDir  = "usr/lib/modules-load.d"
	sysctlDir   = "usr/lib/sysctl.d"
)

// docs are the documents installed in /usr/share/doc/kiosk/, under the
// name given; those but README.md may be missing.
var docs = []struct{ src, name string }{
	{"README.md", "README.md"},
	{"docs/INSTALL.md", "INSTALL.md"},
	{"docs/HARDWARE.md", "HARDWARE.md"},
	{"systemd/README.md", "systemd.md"},
	// The agency's server, not the kiosk's: a sample for whoever runs
	// `kiosk upstream`, never a file in /etc of a kiosk.
	{"systemd/upstream.toml", "upstream.toml.sample"},
}

// replaceSuffix renames NAME+from to prefix+NAME+to.
func replaceSuffix(from, to, prefix string) func(string) string {
	return func(n string) string { return prefix + strings.TrimSuffix(n, from) + to }
}

// lay copies the binary and the repository's files into the tree.
func (p *pkg) lay() error {
	src := p.o.Src
	release := path.Join(releaseDir, p.release)
	if err := p.copyFile(p.o.Binary, path.Join(release, "bin", pkgName), 0o755); err != nil {
		return err
	}
	if err := p.symlink(currentBin, "usr/bin/"+pkgName); err != nil {
		return err
	}
	placed := map[string][]string{} // by Dir: the names placed there
	for _, pl := range layout {
		for _, g := range pl.Globs {
			m, err := filepath.Glob(filepath.Join(src, filepath.FromSlash(g)))
			if err != nil {
				return err
			}
			for _, f := range m {
				name := filepath.Base(f)
				if pl.Name != nil {
					name = pl.Name(name)
				}
				if err := p.copyFile(f, path.Join(pl.Dir, name), 0o644); err != nil {
					return err
				}
				placed[pl.Dir] = append(placed[pl.Dir], name)
			}
		}
	}
	for _, names := range placed {
		slices.Sort(names)
	}
	p.units, p.sysusers, p.tmpfiles = placed[unitDir], placed[sysusersDir], placed[tmpfilesDir]
	p.modules, p.sysctl = placed[modulesDir], placed[sysctlDir]
	if !slices.Contains(p.units, "kioskd.service") {
		return errors.New("no systemd/kioskd.service: the package would not run the daemon")
	}
	if len(p.sysusers) == 0 {
		return errors.New("no systemd/*.sysusers.conf: the units' users would not exist")
	}
	for _, u := range p.units {
		b, err := os.ReadFile(filepath.Join(p.root, unitDir, u))
		if err != nil {
			return err
		}
		if hasInstallSection(string(b)) {
			p.enable = append(p.enable, u)
		}
	}
	for _, r := range placed[udevDir] {
		b, err := os.ReadFile(filepath.Join(p.root, udevDir, r))
		if err != nil {
			return err
		}
		for _, m := range subsystemRE.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(p.subsystems, m[1]) {
				p.subsystems = append(p.subsystems, m[1])
			}
		}
	}
	slices.Sort(p.subsystems)
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(d.src)))
		if errors.Is(err, fs.ErrNotExist) && d.src != "README.md" {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", d.src, err)
		}
		if err := p.writeDoc(d.name, b); err != nil {
			return err
		}
	}
	changelog := fmt.Sprintf("%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n",
		pkgName, p.debVersion, p.o.Version, p.o.Maintainer, p.o.Time.Format(time.RFC1123Z))
	if err := p.writeFile(docDir+"/changelog.gz", gzipped([]byte(changelog)), 0o644); err != nil {
		return err
	}
	if err := p.copyFile(filepath.Join(src, "packaging", "deb", "kiosk.1"), "usr/share/man/man1/kiosk.1.gz", 0o644); err != nil {
		return err
	}
	return p.copyFile(filepath.Join(src, "packaging", "deb", "lintian-overrides"), "usr/share/lintian/overrides/"+pkgName, 0o644)
}

// subsystemRE finds what a udev rule matches on: SUBSYSTEM=="tty".
var subsystemRE = regexp.MustCompile(`SUBSYSTEM=="([a-z0-9_-]+)"`)

// hasInstallSection reports whether a unit file can be enabled: an
// [Install] section with something to link (WantedBy=, RequiredBy=,
// UpheldBy=, Alias=, Also=). Units without one are started by others
// (a path unit, OnFailure=) and have nothing to enable.
func hasInstallSection(unit string) bool {
	in := false
	for line := range strings.Lines(unit) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == "[Install]"
			continue
		}
		for _, k := range []string{"WantedBy=", "RequiredBy=", "UpheldBy=", "Alias=", "Also="} {
			if in && strings.HasPrefix(line, k) && strings.TrimSpace(line[len(k):]) != "" {
				return true
			}
		}
	}
	return false
}

// copyFile copies src to rel in the tree; a rel ending in .gz is gzipped.
func (p *pkg) copyFile(src, rel string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if strings.HasSuffix(rel, ".gz") && !strings.HasSuffix(src, ".gz") {
		b = gzipped(b)
	}
	return p.writeFile(rel, b, mode)
}

// writeDoc writes a document to /usr/share/doc/kiosk/, gzipped past 4 KiB
// as Debian policy (12.3) asks.
func (p *pkg) writeDoc(name string, b []byte) error {
	if len(b) > 4096 {
		return p.writeFile(docDir+"/"+name+".gz", gzipped(b), 0o644)
	}
	return p.writeFile(docDir+"/"+name, b, 0o644)
}

// writeFile writes rel in the tree with mode, making its directories 0755.
func (p *pkg) writeFile(rel string, b []byte, mode fs.FileMode) error {
	f := filepath.Join(p.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	if err := os.WriteFile(f, b, mode); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	// WriteFile's mode passes through the umask; the package's must not.
	if err := os.Chmod(f, mode); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	return nil
}

// symlink makes rel in the tree a symbolic link to target.
func (p *pkg) symlink(target, rel string) error {
	f := filepath.Join(p.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	if err := os.Symlink(target, f); err != nil {
		return fmt.Errorf("stage %s: %w", rel, err)
	}
	return nil
}

// gzipped is b compressed as Debian's tools do it: best compression, and
// no name or time in the header, so the same input makes the same bytes.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// control writes DEBIAN/: control, conffiles, md5sums and the maintainer
// scripts, filled in from what the tree holds.
func (p *pkg) control(glibc string) error {
	var conffiles, sums []string
	var kib int64
	err := filepath.WalkDir(p.root, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(p.root, f)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if !d.Type().IsRegular() {
			kib++ // dpkg-gencontrol counts a directory or a link as 1 KiB
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		kib += (info.Size() + 1023) / 1024
		if strings.HasPrefix(rel, "etc/") {
			// dpkg keeps the conffiles' sums itself, and md5sums leaves
			// them out, as dh_md5sums does.
			conffiles = append(conffiles, "/"+rel)
			return nil
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sum := md5.Sum(b)
		sums = append(sums, hex.EncodeToString(sum[:])+"  "+rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk the tree: %w", err)
	}
	depends := "libc6, systemd"
	if glibc != "" {
		depends = "libc6 (>= " + glibc + "), systemd"
	}
	control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: %s
Maintainer: %s
Installed-Size: %d
Depends: %s
Recommends: %s
Section: misc
Priority: optional
Description: Secure Docket Card check-in kiosk
 Firmware for a self-service check-in kiosk: a person scans the QR code of
 their Secure Docket Card, the kiosk verifies it offline, asks them to
 confirm on a touchscreen, records the check-in durably and uploads it.
 .
 This package installs the kiosk daemon (kioskd.service), the locked-down
 browser that shows its page (kiosk-browser.service), the updater's units,
 the udev rules that give the daemon its scanner and panel, and the sample
 configuration, /etc/kiosk/kiosk.toml.
`, pkgName, p.debVersion, p.o.Arch, p.o.Maintainer, kib, depends, strings.Join(recommends, ", "))
	if err := p.writeFile("DEBIAN/control", []byte(control), 0o644); err != nil {
		return err
	}
	if err := p.writeFile("DEBIAN/conffiles", []byte(strings.Join(conffiles, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if err := p.writeFile("DEBIAN/md5sums", []byte(strings.Join(sums, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	var start, rest []string
	for _, u := range p.units {
		if strings.HasSuffix(u, ".timer") || strings.HasSuffix(u, ".path") {
			start = append(start, u)
		} else {
			rest = append(rest, u)
		}
	}
	fields := map[string]string{
		"RELEASE":     p.release,
		"SYSUSERS":    strings.Join(p.sysusers, " "),
		"TMPFILES":    strings.Join(p.tmpfiles, " "),
		"UNITS":       strings.Join(p.enable, " "),
		"START_UNITS": strings.Join(slices.DeleteFunc(slices.Clone(start), func(u string) bool { return !slices.Contains(p.enable, u) }), " "),
		"ALL_UNITS":   strings.Join(append(start, rest...), " "),
		"SUBSYSTEMS":  strings.Join(p.subsystems, " "),
		"MODULES":     strings.Join(p.modules, " "),
		"SYSCTL":      strings.Join(p.sysctl, " "),
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(p.o.Src, "packaging", "deb", script))
		if err != nil {
			return fmt.Errorf("read maintainer script: %w", err)
		}
		s, err := fill(string(b), fields)
		if err != nil {
			return fmt.Errorf("packaging/deb/%s: %w", script, err)
		}
		if err := p.writeFile("DEBIAN/"+script, []byte(s), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// fieldRE is a field of a maintainer script: @NAME@.
var fieldRE = regexp.MustCompile(`@([A-Z_]+)@`)

// fill replaces the script's @NAME@ fields; a field it has no value for
// is an error, so that no script ships with one left in.
func fill(script string, fields map[string]string) (string, error) {
	var missing []string
	s := fieldRE.ReplaceAllStringFunc(script, func(m string) string {
		v, ok := fields[m[1:len(m)-1]]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// stamp sets every file's time to the package's, for a reproducible build
// (dpkg-deb clamps the links' to SOURCE_DATE_EPOCH).
func (p *pkg) stamp() error {
	return filepath.WalkDir(p.root, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(f, p.o.Time, p.o.Time)
	})
}

// binaryModules are the Go modules linked into the binary, from its build
// information, and the Go version that built it.
func binaryModules(file string) (goVersion string, mods []string, err error) {
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("read binary's build information: %w", err)
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		mods = append(mods, m.Path+"@"+m.Version)
	}
	slices.Sort(mods)
	return bi.GoVersion, slices.Compact(mods), nil
}

// readFirst returns the first of names that exists in dir, and its text.
func readFirst(dir string, names ...string) (string, string, error) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			return n, string(b), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
	}
	return "", "", fs.ErrNotExist
}
