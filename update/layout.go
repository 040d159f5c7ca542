package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The appliance's layout, as paths below a root ("/" on a kiosk): every
// unit runs /usr/bin/kiosk, a symlink to /opt/kiosk/current/bin/kiosk,
// and current is a symlink to releases/VERSION, so that one rename of
// current switches what every unit runs next.
const (
	OptDir      = "opt/kiosk"                    // the releases and the current symlink
	ReleasesDir = "opt/kiosk/releases"           // one directory per version, as unpacked
	CurrentLink = "opt/kiosk/current"            // symlink to "releases/VERSION"
	BinLink     = "usr/bin/kiosk"                // symlink to /opt/kiosk/current/bin/kiosk
	StateDir    = "var/lib/kiosk-update"         // the updater's state (kiosk-update.service's StateDirectory)
	binTarget   = "/opt/kiosk/current/bin/kiosk" // where BinLink must lead
	currentNew  = "current.new"                  // the symlink made beside current, then renamed over it
	tmpSuffix   = ".tmp"                         // releases/.VERSION.tmp: a release being unpacked
	delSuffix   = ".del"                         // releases/.VERSION.del: a release being removed
)

// DaemonUnit is the unit restarted onto a new release.
const DaemonUnit = "kioskd.service"

// Errors of the layout.
var (
	// ErrNoCurrent: there is no current release to update from (or to
	// return to): install one first (the .deb).
	ErrNoCurrent = errors.New("no current release")
	// ErrBinLink: /usr/bin/kiosk does not lead through the current
	// symlink, so switching it would not change what runs.
	ErrBinLink = errors.New("/usr/bin/kiosk is not a symlink to " + binTarget)
	// ErrRelease: a release directory does not hold what its manifest
	// says, exactly.
	ErrRelease = errors.New("release does not match its manifest")
)

// layout is the layout's paths below one root.
type layout struct{ root string }

func (l layout) path(rel string) string { return filepath.Join(l.root, filepath.FromSlash(rel)) }
func (l layout) releases() string       { return l.path(ReleasesDir) }
func (l layout) release(v string) string {
	return filepath.Join(l.releases(), v)
}
func (l layout) state() string { return l.path(StateDir) }

// current returns the version the current symlink points at, or
// ErrNoCurrent. Its target must be releases/VERSION (or the absolute
// /opt/kiosk/releases/VERSION), VERSION a version.
func (l layout) current() (string, error) {
	target, err := os.Readlink(l.path(CurrentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: /%s is missing", ErrNoCurrent, CurrentLink)
	}
	if err != nil {
		return "", fmt.Errorf("read /%s: %w", CurrentLink, err)
	}
	rel := strings.TrimPrefix(target, "/"+OptDir+"/")
	dir, v, ok := strings.Cut(rel, "/")
	if !ok || dir != "releases" || strings.Contains(v, "/") {
		return "", fmt.Errorf("%w: /%s points at %q, not releases/VERSION", ErrNoCurrent, CurrentLink, target)
	}
	if _, err := ParseVersion(v); err != nil {
		return "", fmt.Errorf("%w: /%s points at %q: %w", ErrNoCurrent, CurrentLink, target, err)
	}
	return v, nil
}

// checkBinLink returns ErrBinLink unless /usr/bin/kiosk is a symlink
// that leads to current/bin/kiosk (absolute, or relative to /usr/bin).
func (l layout) checkBinLink() error {
	link := l.path(BinLink)
	target, err := os.Readlink(link)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBinLink, err)
	}
	resolved := filepath.Join(filepath.Dir(link), target)
	if filepath.IsAbs(target) {
		resolved = filepath.Join(l.root, target)
	}
	if filepath.Clean(resolved) != l.path(binTarget) {
		return fmt.Errorf("%w: it points at %q", ErrBinLink, target)
	}
	return nil
}

// switchTo points current at releases/version in one step: a new symlink
// current.new, renamed over current, then /opt/kiosk synced so that the
// rename survives a power cut. A crash leaves current at the old release
// or the new one, both complete; a stale current.new is removed first.
// The hooks name the moments between, for the crash tests.
func (u *Updater) switchTo(version string, afterSymlink, afterRename Step) error {
	opt := u.l.path(OptDir)
	tmp := filepath.Join(opt, currentNew)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	if err := os.Symlink("releases/"+version, tmp); err != nil {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	u.step(afterSymlink)
	if err := os.Rename(tmp, u.l.path(CurrentLink)); err != nil {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	u.step(afterRename)
	if err := syncDir(opt); err != nil {
		return fmt.Errorf("switch to %s: %w", version, err)
	}
	return nil
}

// VerifyRelease checks that dir holds exactly the files of m: each
// regular, with its size, hash and mode, and nothing else but the
// directories that hold them (no other file, no symlink, no device).
func VerifyRelease(dir string, m *Manifest) error {
	want := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		f, ok := want[rel]
		if !ok || !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not one of its files", ErrRelease, rel)
		}
		seen++
		return checkFile(p, f)
	})
	if err != nil {
		return fmt.Errorf("verify release %s: %w", m.Version, err)
	}
	if seen != len(want) {
		return fmt.Errorf("verify release %s: %w: %d of its %d files", m.Version, ErrRelease, seen, len(want))
	}
	return nil
}

// checkFile checks the file at p against f: size, mode and hash.
func checkFile(p string, f File) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	perm, _ := f.perm()
	if !fi.Mode().IsRegular() || fi.Size() != f.Size || fi.Mode().Perm() != perm {
		return fmt.Errorf("%w: %s is %d bytes, mode %v; want %d, %v", ErrRelease, f.Path, fi.Size(), fi.Mode().Perm(), f.Size, perm)
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return fmt.Errorf("read %s: %w", f.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s; want %s", ErrRelease, f.Path, got, f.SHA256)
	}
	return nil
}

// syncDir syncs the directory dir, so that the names made, renamed or
// removed in it survive a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
