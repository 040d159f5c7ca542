// Package atomicfile writes a file whole or not at all, durably: a power
// cut leaves either the old file or the new one (Write), or no file or the
// whole new one (Create), never a mix. Both write a temporary file in the
// same directory, sync it, and only then give it its name; the directory is
// synced last, so that the name survives a power cut too.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to path with mode perm, replacing any file there in one
// step: to a temporary file in the same directory, synced, renamed over
// path, and the directory synced so that the rename survives a power cut.
func Write(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp) // after a successful rename, there is nothing to remove
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Create writes data to path with mode perm, once: it never replaces a
// file. When path exists, the error wraps fs.ErrExist and the file is left
// as it was. The file appears whole or not at all, and is on stable storage
// when Create returns.
//
// It is for what must never be overwritten, such as a key that may be the
// only copy: the temporary file is hard-linked to path rather than renamed,
// as a link, unlike a rename, fails when the name is taken, so two
// processes creating the same file cannot both succeed.
func Create(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp) // on every error path; a no-op after the Remove below
	if testHookBeforeLink != nil {
		testHookBeforeLink(tmp)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	// Removed before the directory is synced, so that the sync keeps the
	// removal too: no second name of the file is left behind.
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// testHookBeforeLink, when set (by this package's tests only), runs
// between the temporary file's sync and its link to the final name: the
// moment a crash must leave no final file.
var testHookBeforeLink func(tmp string)

// writeTemp writes data to a new temporary file beside path, with mode
// perm, synced and closed, and returns its name. Its name starts with a dot
// and path's base name, so a file left by a crash says whose it was.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	// Chmod, not the mode of an open(2): a umask cannot narrow or widen it.
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync: %w", err)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// syncDir syncs the directory dir, so that the names made or removed in it
// survive a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
