package update

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrUnsafe is the error of a tarball entry unpack refuses: a path that
// is absolute or climbs out ("..", "/etc/passwd"), a link, a device or
// any other kind but a file or a directory, a file the manifest does not
// list, or one listed twice.
var ErrUnsafe = errors.New("unsafe tarball entry")

// ErrHash is the error of a tarball, or a file in it, whose size or
// SHA-256 is not the manifest's.
var ErrHash = errors.New("hash mismatch")

// unpack unpacks the tarball at tarball, which m describes, into
// releases/.VERSION.tmp: every entry checked before anything is written
// for it, every file's size and hash checked as it is written, every file
// and directory synced; then renames it to releases/VERSION and syncs
// releases/. A crash leaves either no releases/VERSION or a complete one;
// a .tmp left behind is removed by the next run (cleanup).
func (u *Updater) unpack(m *Manifest, tarball string) error {
	rel := u.l.releases()
	tmp := filepath.Join(rel, "."+m.Version+tmpSuffix)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	if err := os.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	if err := u.extract(m, tarball, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	u.step(StepUnpackedTmp)
	if err := os.Rename(tmp, u.l.release(m.Version)); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	u.step(StepReleaseRenamed)
	if err := syncDir(rel); err != nil {
		return fmt.Errorf("unpack %s: %w", m.Version, err)
	}
	return nil
}

// extract writes the files of the tarball into dir, which is empty, and
// syncs them and every directory it made.
func (u *Updater) extract(m *Manifest, tarball, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%w: gzip: %w", ErrUnsafe, err)
	}
	want := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	done := make(map[string]bool, len(m.Files))
	dirs := []string{dir}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tarball: %w", err)
		}
		name, err := entryName(h)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if _, isFile := want[name]; isFile {
				return fmt.Errorf("%w: %q is a file of the manifest, and a directory here", ErrUnsafe, h.Name)
			}
			made, err := mkdirs(dir, name)
			if err != nil {
				return err
			}
			dirs = append(dirs, made...)
		case tar.TypeReg:
			f, ok := want[name]
			if !ok {
				return fmt.Errorf("%w: %q is not in the manifest", ErrUnsafe, h.Name)
			}
			if done[name] {
				return fmt.Errorf("%w: %q twice", ErrUnsafe, h.Name)
			}
			done[name] = true
			made, err := mkdirs(dir, path.Dir(name))
			if err != nil {
				return err
			}
			dirs = append(dirs, made...)
			if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), tr, f); err != nil {
				return err
			}
			if len(done) == 1 {
				u.step(StepUnpacking)
			}
		default:
			// Links could lead a later entry out of dir, devices and
			// fifos have no place in a release: files and directories
			// only.
			return fmt.Errorf("%w: %q is of type %q; want files and directories only", ErrUnsafe, h.Name, string(h.Typeflag))
		}
	}
	for _, f := range m.Files {
		if !done[f.Path] {
			return fmt.Errorf("%w: %s is missing from the tarball", ErrHash, f.Path)
		}
	}
	// Deepest first, so that each directory's sync follows its entries'.
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// entryName returns the clean relative name of a tarball entry, "./" and
// a directory's trailing slash dropped, or ErrUnsafe for one that is
// absolute or climbs out.
func entryName(h *tar.Header) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
	if !localPath(name) || path.Clean(name) != name {
		return "", fmt.Errorf("%w: %q is not a clean relative path", ErrUnsafe, h.Name)
	}
	return name, nil
}

// mkdirs makes the directories of the relative path rel below dir that do
// not exist (0755), and returns those it made. Nothing below dir is ever
// a link (extract makes none), so none of them can lead out of it.
func mkdirs(dir, rel string) ([]string, error) {
	if rel == "." {
		return nil, nil
	}
	var made []string
	p := dir
	for _, part := range strings.Split(rel, "/") {
		p = filepath.Join(p, part)
		err := os.Mkdir(p, 0o755)
		switch {
		case err == nil:
			made = append(made, p)
		case errors.Is(err, fs.ErrExist):
			if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("%w: %q is a file of the release and a directory of another", ErrUnsafe, rel)
			}
		default:
			return nil, err
		}
	}
	return made, nil
}

// writeFile writes the next entry of a tarball, r, to p as the manifest's
// f says: never more than its size, its hash checked, its mode set, and
// synced.
func writeFile(p string, r io.Reader, f File) error {
	perm, _ := f.perm()
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.Size+1))
	if err == nil && n != f.Size {
		err = fmt.Errorf("%w: %s is %d bytes in the tarball; the manifest says %d", ErrHash, f.Path, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); err == nil && got != f.SHA256 {
		err = fmt.Errorf("%w: %s has sha256 %s; the manifest says %s", ErrHash, f.Path, got, f.SHA256)
	}
	if err == nil {
		// Chmod, not the mode of open(2): a umask must not change it.
		err = out.Chmod(perm)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
