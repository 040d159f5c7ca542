// Package statedirtest gives tests a real file system that fills up: a
// small tmpfs mounted for the test (Tmpfs), and a file that fills it (Fill).
package statedirtest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// Tmpfs mounts a tmpfs of size bytes on a new directory and returns it;
// it is unmounted when the test ends (after the cleanups registered later,
// such as closing a store opened on it). Mounting needs root, or
// CAP_SYS_ADMIN: without it the test is skipped, or fails under
// KIOSK_REQUIRE_ALL=1.
func Tmpfs(t testing.TB, size uint64) string {
	t.Helper()
	dir := t.TempDir()
	if err := mount(dir, size); err != nil {
		testenv.RequireOrSkip(t, "needs a tmpfs mount for a real full disk (root): %v", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes the file "filler" in dir until dir's file system has at most
// leave bytes free (0: until a write fails for want of space), and returns
// its name. Removing it gives the space back.
func Fill(t testing.TB, dir string, leave uint64) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		free, err := statedir.Free(dir)
		if err != nil {
			t.Fatal(err)
		}
		if free <= leave {
			return name
		}
		n := min(uint64(len(block)), free-leave)
		if _, err := f.Write(block[:n]); errors.Is(err, syscall.ENOSPC) {
			return name
		} else if err != nil {
			t.Fatal(err)
		}
	}
}
