// Package sqlitedb opens the SQLite files of the kiosk's outbox and of the
// reference upstream with one discipline: WAL, synchronous=FULL, one writer
// connection, a read-only pool, an integrity check at open, and embedded
// forward-only migrations keyed by PRAGMA user_version.
package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// journalSizeLimit caps the WAL file left behind after a checkpoint.
const journalSizeLimit = 64 << 20

// connector opens connections to one SQLite file through mattn/go-sqlite3,
// without registering a driver name globally.
type connector struct {
	drv *sqlite3.SQLiteDriver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// fileURI is path as an SQLite URI filename with query q. url.URL escapes
// what SQLite would otherwise read as the query ('?', '#', '%').
func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Open opens the SQLite file at path for one writer and many readers, as
// the durability rule requires: WAL, synchronous=FULL (mattn/go-sqlite3 sets
// NORMAL unless told), BEGIN IMMEDIATE, one writer connection so writers
// queue in Go rather than fail with SQLITE_BUSY, and a separate read-only
// pool so a reader never holds the writer. The directory is created 0700 and
// the file 0600 (SQLite gives the -wal and -shm files the same mode). A file
// that fails PRAGMA quick_check is an error: it is never recreated.
func Open(ctx context.Context, file string, migrations fs.FS) (writer, reader *sql.DB, err error) {
	file, err = filepath.Abs(file)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}

	w := sql.OpenDB(connector{
		drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", journalSizeLimit), nil)
			return err
		}},
		dsn: fileURI(file, url.Values{
			"_journal_mode": {"WAL"},
			"_synchronous":  {"FULL"},
			"_txlock":       {"immediate"},
			"_busy_timeout": {"5000"},
		}),
	})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := checkDB(ctx, w); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}

	r := sql.OpenDB(connector{
		drv: &sqlite3.SQLiteDriver{},
		dsn: fileURI(file, url.Values{"mode": {"ro"}, "_busy_timeout": {"5000"}}),
	})
	r.SetMaxOpenConns(4)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("%s: open read-only: %w", file, err)
	}
	return w, r, nil
}

// checkDB verifies the file's integrity and that the writer runs with the
// settings durability depends on, so a change of DSN or driver that loses
// them fails at open rather than in a power cut.
func checkDB(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("quick_check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("quick_check: %s", strings.Join(problems, "; "))
	}
	var mode string
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("journal_mode: %w", err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("synchronous: %w", err)
	}
	if mode != "wal" || sync != 2 {
		return fmt.Errorf("journal_mode=%s synchronous=%d; want wal and 2 (FULL)", mode, sync)
	}
	return nil
}

// migrate brings the schema to the newest version. Migrations are the files
// NNNN_name.sql of fsys, applied in order, each in its own transaction with
// the PRAGMA user_version it leads to; they only go forward.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(path.Base(name), want) {
			return fmt.Errorf("migration %s: want a name starting %s", name, want)
		}
	}
	for {
		done, err := migrateOne(ctx, db, fsys, names)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the migration after the current user_version, reading
// that version inside the write transaction so two processes opening the
// same file cannot both apply it.
func migrateOne(ctx context.Context, db *sql.DB, fsys fs.FS, names []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	switch {
	case v > len(names):
		return false, fmt.Errorf("schema version %d is newer than this program's %d", v, len(names))
	case v == len(names):
		return true, nil
	}
	body, err := fs.ReadFile(fsys, names[v])
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	return false, nil
}
