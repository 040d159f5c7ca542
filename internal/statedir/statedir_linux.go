package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func lock(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	name := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := flock(f); errors.Is(err, syscall.EWOULDBLOCK) {
		pid := readPID(f)
		f.Close()
		return nil, &LockedError{Dir: dir, PID: pid}
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory: flock %s: %w", name, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory: %s: %w", name, err)
	}
	return &Dir{path: dir, f: f}, nil
}

// flock takes an exclusive flock on f without waiting for it. The lock
// belongs to the open file description: a second open of the same file,
// in this process too, does not get it.
func flock(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = sc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// Free returns the bytes of dir's file system that an unprivileged process
// may still write (statfs: f_bavail blocks of f_frsize bytes; a file system
// keeps some blocks for root, which the kiosk, not root, cannot use).
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	for {
		err := syscall.Statfs(dir, &st)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return 0, fmt.Errorf("statfs %s: %w", dir, err)
		}
	}
	size := uint64(st.Frsize)
	if size == 0 {
		size = uint64(st.Bsize)
	}
	return st.Bavail * size, nil
}
