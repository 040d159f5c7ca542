package sqlitedb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
)

// TestCheckpointer checks that a Checkpointer copies the WAL into the
// database file once kicked, while the writer's commits do not, and that a
// reader sees every row throughout.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "db")
	migrations := fstest.MapFS{"0001_t.sql": {Data: []byte("CREATE TABLE t (v BLOB NOT NULL);")}}
	db, err := sqlitedb.Open(ctx, file, migrations, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.R.Close()
	defer db.W.Close()
	cp, err := sqlitedb.StartCheckpointer(ctx, file, db, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()

	size := func() int64 {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	const rows = 300 // 1.2 MB of rows: below the writer's own threshold
	for range rows {
		if _, err := db.W.ExecContext(ctx, "INSERT INTO t (v) VALUES (zeroblob(4000))"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := size(); got != before {
		t.Fatalf("database file %d bytes before any Kick; want %d: nothing checkpointed", got, before)
	}
	cp.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for size() < before+rows*4000 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes 5 s after %d rows of 4000 bytes (from %d): the WAL was not checkpointed", size(), rows, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != rows {
		t.Errorf("rows read = %d, %v; want %d", n, err, rows)
	}
	if err := cp.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := cp.Stop(); err != nil {
		t.Errorf("Stop again = %v", err)
	}
}
