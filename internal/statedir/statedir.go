// Package statedir guards the kiosk's state directory: one kiosk process
// at a time may use it (Lock), and how much room is left on its file system
// is known before a check-in needs it (Free).
//
// The lock is an advisory flock(2) on the file LockFile in the directory,
// the same lock flock(1) takes, so a maintenance script can wait for the
// kiosk to stop with `flock /var/lib/kiosk/lock …`. The kernel releases it
// when its holder exits, however it exits: a crashed kiosk leaves no stale
// lock behind. The holder's pid is written into the file, for the message
// another process gets; it is never trusted for anything else.
//
// Off Linux, Lock and Free return errors.ErrUnsupported.
package statedir

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// LockFile is the name of the lock file in a state directory.
const LockFile = "lock"

// Dir is a state directory locked by this process, until Close.
type Dir struct {
	path string
	f    *os.File
	once sync.Once
	err  error
}

// LockedError is the error of Lock when another process, or another Lock
// in this one, holds the directory.
type LockedError struct {
	Dir string // the state directory
	PID int    // the holder's process id; 0 when it could not be read
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("state directory %s is in use by another kiosk process (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("state directory %s is in use by another kiosk process", e.Dir)
}

// Lock takes the state directory dir for this process, creating it (0700)
// and its lock file (0600) if needed. It does not wait: when the directory
// is held already, the error is a *LockedError. Close releases it.
func Lock(dir string) (*Dir, error) {
	return lock(dir)
}

// Path returns the directory's path, as given to Lock.
func (d *Dir) Path() string { return d.path }

// Close releases the directory. It empties the lock file first, so that the
// next holder's pid, not ours, is what a process that finds it held reads.
// Calling it again does nothing.
func (d *Dir) Close() error {
	d.once.Do(func() {
		terr := d.f.Truncate(0)
		d.err = d.f.Close() // closing the last descriptor releases the flock
		if d.err == nil && terr != nil {
			d.err = fmt.Errorf("unlock state directory %s: %w", d.path, terr)
		}
	})
	return d.err
}

// writePID records our pid in the lock file we hold.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID returns the pid written in the lock file by its holder, 0 when
// there is none (the holder has not written it yet) or it is not a number.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
