package lossyvfs_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/lossyvfs"
)

// newVFS registers a VFS of the test's own, so tests do not crash each
// other's files.
func newVFS(t *testing.T) *lossyvfs.VFS {
	t.Helper()
	v, err := lossyvfs.New("lossy-" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// openDB opens path through vfs ("" for the default) with the given
// synchronous setting, in WAL mode, on one connection.
func openDB(t *testing.T, path, vfs, synchronous string) *sql.DB {
	t.Helper()
	q := url.Values{"_journal_mode": {"WAL"}, "_synchronous": {synchronous}, "_txlock": {"immediate"}}
	if vfs != "" {
		q.Set("vfs", vfs)
	}
	db, err := sql.Open("sqlite3", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v; want ok", res, err)
	}
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// commitRows creates table t and commits n rows, one per transaction.
func commitRows(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS t (i INTEGER PRIMARY KEY, pad BLOB)"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := db.Exec("INSERT INTO t (pad) VALUES (randomblob(300 + ?))", i); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
}

// TestCrash: with synchronous=FULL every commit survives the crash; with
// OFF, nothing since the database was created does (SQLite never synced),
// which is what shows the VFS drops unsynced writes.
func TestCrash(t *testing.T) {
	for _, tc := range []struct {
		sync string
		want int
	}{{"FULL", 40}, {"OFF", 0}} {
		t.Run(tc.sync, func(t *testing.T) {
			v := newVFS(t)
			path := filepath.Join(t.TempDir(), "db")
			db := openDB(t, path, v.Name(), tc.sync)
			commitRows(t, db, 40)
			if got := count(t, db); got != 40 {
				t.Fatalf("before the crash: %d rows; want 40", got)
			}
			if err := v.Crash(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("INSERT INTO t (pad) VALUES (1)"); err == nil {
				t.Error("insert after the crash succeeded")
			}
			if n := v.Stats().Crashes; n != 1 {
				t.Errorf("Stats().Crashes = %d; want 1", n)
			}
			db.Close()
			if n := v.Stats().OpenFiles; n != 0 {
				t.Errorf("%d files still open after Close", n)
			}

			db = openDB(t, path, "", "FULL")
			var got int
			err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&got)
			if tc.want == 0 {
				// Not even the table was synced.
				if err == nil && got != 0 {
					t.Errorf("after the crash: %d rows; want none", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			integrityOK(t, db)
			if got != tc.want {
				t.Errorf("after the crash: %d rows; want %d", got, tc.want)
			}
		})
	}
}

// TestCrashTorn: whatever sectors of the unsynced writes survive, a
// database with synchronous=FULL reopens consistent with every commit.
func TestCrashTorn(t *testing.T) {
	v := newVFS(t)
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			v.Recover()
			path := filepath.Join(t.TempDir(), "db")
			db := openDB(t, path, v.Name(), "FULL")
			commitRows(t, db, 30)
			// Leave a transaction's pages written but unsynced: with a
			// tiny cache a big one spills frames to the WAL.
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("PRAGMA cache_size = 2"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("INSERT INTO t (pad) SELECT randomblob(4000) FROM t"); err != nil {
				t.Fatal(err)
			}
			if n := v.Stats().UnsyncedFiles; n == 0 {
				t.Fatal("no unsynced writes before the crash: the test tears nothing")
			}
			if err := v.CrashTorn(seed, 0.5); err != nil {
				t.Fatal(err)
			}
			tx.Rollback()
			db.Close()
			db = openDB(t, path, "", "FULL")
			integrityOK(t, db)
			if got := count(t, db); got != 30 {
				t.Errorf("after the crash: %d rows; want 30", got)
			}
		})
	}
}

// TestFail: an injected SQLITE_FULL fails the commit and changes nothing;
// once it stops, commits go through again.
func TestFail(t *testing.T) {
	v := newVFS(t)
	db := openDB(t, filepath.Join(t.TempDir(), "db"), v.Name(), "FULL")
	commitRows(t, db, 3)
	for _, tc := range []struct {
		name  string
		fail  func(int)
		code  int
		wantE sqlite3.ErrNo
	}{
		{"write full", v.FailWrites, lossyvfs.Full, sqlite3.ErrFull},
		{"write ioerr", v.FailWrites, lossyvfs.IOErrWrite, sqlite3.ErrIoErr},
		{"sync ioerr", v.FailSyncs, lossyvfs.IOErrFsync, sqlite3.ErrIoErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, db)
			tc.fail(tc.code)
			_, err := db.Exec("INSERT INTO t (pad) VALUES (1)")
			tc.fail(lossyvfs.NoErr)
			var se sqlite3.Error
			if !errors.As(err, &se) || se.Code != tc.wantE {
				t.Fatalf("insert with %s = %v; want sqlite error %v", tc.name, err, tc.wantE)
			}
			// The connection may need a moment of its own to recover
			// from an I/O error; it must not have recorded the row.
			if got := count(t, db); got != before {
				t.Errorf("rows after a failed insert = %d; want %d", got, before)
			}
			commitRows(t, db, 1)
			if got := count(t, db); got != before+1 {
				t.Errorf("rows after the fault cleared = %d; want %d", got, before+1)
			}
			integrityOK(t, db)
		})
	}
}
