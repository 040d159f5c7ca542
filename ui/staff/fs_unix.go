//go:build unix

package staff

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on path (made if need be), waiting for
// it, and returns its release. Two `kiosk staff` commands run at once then
// change accounts.json one after the other, neither losing the other's
// change.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// giveToDirOwner gives path to the owner of dir when root made it: an
// admin who runs `sudo kiosk staff add` writes files the daemon, running
// as its own user, owns the directory of, and must be able to read.
func giveToDirOwner(path, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}
