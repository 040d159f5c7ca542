// Package lossyvfs is an SQLite VFS for tests that cuts the power: it
// proves that what SQLite was told is durable survives, and that what was
// only written does not have to.
//
// It wraps the default VFS ("unix") and lets every write and truncate go
// through to the real file, but keeps, per file, an undo log: the bytes each
// write overwrote since the file's last successful xSync, and the file's
// size at that sync. Crash then does to every file what a power cut does to
// a disk whose cache was lost: it puts back the old bytes, newest write
// first, and truncates the file to its synced size; from then on every
// operation on the handles open at the time fails, as the process has "lost
// power", and the VFS opens nothing until Recover. A test closes the
// crashed database and reopens it (through "unix" or, after Recover,
// through this VFS), and finds what a machine rebooted after the cut would
// find. It is the model of SQLite's own crash tests (src/test6.c): only
// synced data is on the disk. CrashTorn is the harsher variant of the same
// tests: each 512-byte sector of each unsynced write survives or not at
// random, in any combination, as when a disk wrote part of its cache out of
// order before the power went (truncations, metadata, are always taken
// back).
//
// What it does not model: directory entries (a file created or deleted is
// so at once, durably), and the wal-index (-shm), which is shared memory
// that the first connection to open a database after a crash rebuilds from
// the WAL anyway. An undo log is per file name, not per handle, as an fsync
// through any descriptor makes every write to the file durable; a file
// closed with unsynced writes keeps its log until the next Crash.
//
// FailWrites and FailSyncs make xWrite and xSync answer an error, such as
// SQLITE_FULL, until called again with 0: a disk that filled up or failed.
//
// The C code links against the SQLite that github.com/mattn/go-sqlite3
// compiles into the program (a program has one SQLite); it declares the few
// parts of SQLite's VFS interface it needs itself (sqlite3vfs.h) rather
// than needing a system sqlite3.h. Locking: see lossyvfs.c. The VFS is for
// tests only: it keeps every unsynced write's old bytes in memory.
package lossyvfs

/*
#cgo CFLAGS: -std=gnu11 -O2 -Wall
#include <stdlib.h>
#include "lossyvfs.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	_ "github.com/mattn/go-sqlite3" // the SQLite this VFS registers with
)

// SQLite result codes to fail with.
const (
	NoErr      = 0             // stop failing
	IOErr      = 10            // SQLITE_IOERR
	Full       = 13            // SQLITE_FULL: the disk is full
	IOErrWrite = 10 | (3 << 8) // SQLITE_IOERR_WRITE
	IOErrFsync = 10 | (4 << 8) // SQLITE_IOERR_FSYNC
)

// VFS is one registered lossy VFS. Its methods are safe for concurrent use,
// also while SQLite is inside a write or a sync: a Crash comes wholly before
// or wholly after each of them.
type VFS struct {
	name string
	c    *C.lossy_vfs
}

var (
	mu         sync.Mutex
	registered = map[string]*VFS{}
)

// New registers a lossy VFS named name, wrapping SQLite's default VFS, and
// returns it. Registering a name twice returns the first one. A VFS is never
// unregistered: tests make few.
func New(name string) (*VFS, error) {
	mu.Lock()
	defer mu.Unlock()
	if v, ok := registered[name]; ok {
		return v, nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var c *C.lossy_vfs
	switch rc := C.lossy_register(cname, &c); rc {
	case 0:
	case -1:
		return nil, fmt.Errorf("register vfs %s: no SQLite linked into the program", name)
	case -2:
		return nil, fmt.Errorf("register vfs %s: the name is taken", name)
	case -3:
		return nil, fmt.Errorf("register vfs %s: SQLite has no default VFS", name)
	default:
		return nil, fmt.Errorf("register vfs %s: sqlite error %d", name, int(rc))
	}
	v := &VFS{name: name, c: c}
	registered[name] = v
	return v, nil
}

// Name returns the name the VFS is registered under.
func (v *VFS) Name() string { return v.name }

// Crash reverts every write made to a file through v since that file's last
// successful sync, truncates it to its size at that sync, and makes every
// further operation on the handles open through v fail; new opens fail
// until Recover. An error means a revert could not be written, and the
// files are not what a power cut would have left.
func (v *VFS) Crash() error { return v.crash(0, 0) }

// CrashTorn is Crash where each 512-byte sector of each unsynced write
// survives with probability keep (0 to 1), chosen by seed.
func (v *VFS) CrashTorn(seed uint64, keep float64) error {
	return v.crash(seed, keepPercent(keep))
}

func (v *VFS) crash(seed uint64, keepPct int) error {
	if rc := C.lossy_crash(v.c, C.ulonglong(seed), C.int(keepPct)); rc != 0 {
		return fmt.Errorf("vfs %s: crash: revert failed: sqlite error %d", v.name, int(rc))
	}
	return nil
}

// CrashAt arms v to cut the power itself just before its disk operation
// number op (as counted by Stats().Ops: writes, truncates and syncs, from
// the VFS's registration), whichever goroutine makes it: a crash at an exact
// point, say between a transaction's last write and its sync. The
// operation fails. With keep above 0 the crash is torn, as CrashTorn. Op 0
// disarms. Stats().CrashErr says whether the revert succeeded.
func (v *VFS) CrashAt(op int64, seed uint64, keep float64) {
	C.lossy_crash_at(v.c, C.longlong(op), C.ulonglong(seed), C.int(keepPercent(keep)))
}

func keepPercent(keep float64) int {
	return min(max(int(keep*100+0.5), 0), 100)
}

// MakeDefault makes v SQLite's default VFS, the one every database opened
// without a vfs= parameter goes through, until the returned function puts
// the VFS it wraps back. A test can so put a power cut under code that opens
// its databases itself; it must not run in parallel with tests that expect
// the real VFS.
func (v *VFS) MakeDefault() (restore func(), err error) {
	if rc := C.lossy_make_default(v.c, 1); rc != 0 {
		return nil, fmt.Errorf("vfs %s: make default: sqlite error %d", v.name, int(rc))
	}
	return func() { C.lossy_make_default(v.c, 0) }, nil
}

// SkipSyncs, while on, makes every xSync through v succeed without reaching
// the disk, and keeps no undo log: a crash then takes nothing back. It is
// for filling a database fast in a benchmark's setup, never for a test of
// durability.
func (v *VFS) SkipSyncs(on bool) {
	var c C.int
	if on {
		c = 1
	}
	C.lossy_skip_syncs(v.c, c)
}

// Recover lets v open files again after a Crash: the power is back. Handles
// open at the crash stay dead; close them first.
func (v *VFS) Recover() { C.lossy_recover(v.c) }

// FailWrites makes every xWrite through v answer code (Full, IOErr…), and
// change nothing, until FailWrites(NoErr).
func (v *VFS) FailWrites(code int) { v.fail(&code, nil) }

// FailSyncs makes every xSync through v answer code, without syncing, until
// FailSyncs(NoErr).
func (v *VFS) FailSyncs(code int) { v.fail(nil, &code) }

func (v *VFS) fail(write, sync *int) {
	mu.Lock() // read-modify-write of both codes
	defer mu.Unlock()
	st := v.Stats()
	w, s := st.failWrite, st.failSync
	if write != nil {
		w = *write
	}
	if sync != nil {
		s = *sync
	}
	C.lossy_fail(v.c, C.int(w), C.int(s))
}

// Stats counts what went through a VFS.
type Stats struct {
	Opens         int64 // files opened
	Ops           int64 // writes, truncates and syncs attempted (CrashAt counts these)
	Writes        int64 // writes that went through
	Syncs         int64 // syncs that went through
	FailedWrites  int64 // writes answered with a FailWrites code
	FailedSyncs   int64 // syncs answered with a FailSyncs code
	Crashes       int64
	RevertedFiles int64 // files that had unsynced writes to revert at a crash
	OpenFiles     int   // handles open now
	UnsyncedFiles int   // files with writes not yet synced now
	// CrashErr is the failure of the last crash's revert, if it failed:
	// then the files are not what a power cut would have left.
	CrashErr error

	failWrite, failSync int
}

// Stats returns v's counters.
func (v *VFS) Stats() Stats {
	var s C.struct_lossy_stats
	C.lossy_stats(v.c, &s)
	var crashErr error
	if s.crash_rc != 0 {
		crashErr = fmt.Errorf("vfs %s: crash: revert failed: sqlite error %d", v.name, int(s.crash_rc))
	}
	return Stats{
		CrashErr:      crashErr,
		Opens:         int64(s.opens),
		Ops:           int64(s.ops),
		Writes:        int64(s.writes),
		Syncs:         int64(s.syncs),
		FailedWrites:  int64(s.failed_writes),
		FailedSyncs:   int64(s.failed_syncs),
		Crashes:       int64(s.crashes),
		RevertedFiles: int64(s.reverted_files),
		OpenFiles:     int(s.open_files),
		UnsyncedFiles: int(s.unsynced_files),
		failWrite:     int(s.fail_write),
		failSync:      int(s.fail_sync),
	}
}
