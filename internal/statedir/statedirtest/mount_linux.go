package statedirtest

import (
	"fmt"
	"syscall"
)

func mount(dir string, size uint64) error {
	return syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
}

// unmount detaches the file system even while a file on it is still open
// (a test that failed before closing it): the test's temporary directory
// can then be removed.
func unmount(dir string) error { return syscall.Unmount(dir, syscall.MNT_DETACH) }
