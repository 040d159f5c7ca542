package sqlitedb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
)

var migrations = fstest.MapFS{
	"0001_t.sql": {Data: []byte(`CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB NOT NULL) STRICT;`)},
}

func walSize(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func count(t *testing.T, db *sqlitedb.DB) int {
	t.Helper()
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPreallocateWAL: the WAL is laid out to a round of automatic
// checkpoints at open and keeps that length while commits go round it, and
// a WAL extended past frames not yet checkpointed still gives them all
// back when read from the file alone, as after a power cut.
func TestPreallocateWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "db")
	db, err := sqlitedb.Open(ctx, file, migrations, sqlitedb.Options{PageSize: 1024, PreallocateWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.R.Close()
	defer db.W.Close()
	want := int64(32 + (1000+250)*(24+1024)) // wal_autocheckpoint 1000
	if got := walSize(t, file); got != want {
		t.Fatalf("WAL of %d bytes after open; want %d", got, want)
	}

	// Three rounds of automatic checkpoints, a commit at a time.
	row := make([]byte, 400)
	for i := range 3000 {
		if _, err := db.W.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, row); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	if got := walSize(t, file); got != want {
		t.Errorf("WAL of %d bytes after 3000 commits; want it to keep its %d", got, want)
	}

	// Frames past the last checkpoint, then the WAL extended after them.
	if _, err := db.W.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := db.W.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.W.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 1000`); err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.PreallocateWAL(ctx, db.W); err != nil {
		t.Fatal(err)
	}
	if got := walSize(t, file); got != want {
		t.Fatalf("WAL of %d bytes after a truncating checkpoint and PreallocateWAL; want %d", got, want)
	}
	if n := count(t, db); n != 3020 {
		t.Fatalf("%d rows; want 3020", n)
	}

	// The files as a power cut would leave them: the database, and the WAL
	// with its 20 frames and zeros after them; no wal-index.
	crashed := filepath.Join(t.TempDir(), "db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(file + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db2, err := sqlitedb.Open(ctx, crashed, migrations, sqlitedb.Options{PreallocateWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.R.Close()
	defer db2.W.Close()
	if n := count(t, db2); n != 3020 {
		t.Errorf("%d rows recovered from the WAL; want 3020", n)
	}
}
