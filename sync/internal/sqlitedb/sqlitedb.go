// Package sqlitedb opens the SQLite files of the kiosk's outbox and of the
// reference upstream with one discipline: WAL, synchronous=FULL, one writer
// connection, a read-only pool, an integrity check at open that keeps a
// damaged file aside, and embedded forward-only migrations keyed by PRAGMA
// user_version that an older program can still read when they say so.
package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

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

// Options adjusts Open.
type Options struct {
	// VFS names the SQLite VFS to open the file through ("" for the
	// default). Tests register one that loses unsynced writes.
	VFS string
	// RecoverCorrupt: when the file fails its integrity check, start a new
	// empty database after keeping the old one aside (DB.Recovered says
	// where). Without it, Open keeps it aside and fails with ErrCorrupt.
	RecoverCorrupt bool
	// Now gives the time in the name of a file kept aside; nil: time.Now.
	Now func() time.Time
	// PageSize is the page size (a power of two, 512 to 65536) a new file
	// is made with; 0 keeps SQLite's default (4096). A file that exists
	// keeps its own. Each commit writes whole pages to the WAL, so a page
	// near the size of what a commit changes writes (and syncs) less.
	PageSize int
	// PreallocateWAL lays the WAL file out, zero-filled, to the length it
	// reaches between two automatic checkpoints (see PreallocateWAL), so
	// that a commit overwrites blocks the file already has.
	PreallocateWAL bool
}

// DB is an open database: its writer connection and its read-only pool.
type DB struct {
	W *sql.DB // the one writer connection
	R *sql.DB // read-only pool
	// Recovered is set when the file failed its integrity check and was
	// replaced by a new database (Options.RecoverCorrupt).
	Recovered *CorruptError
}

// ErrCorrupt is wrapped by the error of Open when the file fails its
// integrity check.
var ErrCorrupt = errors.New("database failed its integrity check")

// ErrTooNew is wrapped by the error of Open when the file's schema is newer
// than the program's and declares that programs as old cannot read it.
var ErrTooNew = errors.New("database schema too new for this program")

// CorruptError says which file failed its integrity check and where it was
// kept. It wraps ErrCorrupt.
type CorruptError struct {
	File    string // the database file
	KeptAt  string // where it was moved, with its -wal and -shm: KeptAt, KeptAt+"-wal", KeptAt+"-shm"
	Problem string // what SQLite said
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: %v (%s); kept at %s", e.File, ErrCorrupt, e.Problem, e.KeptAt)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Open opens the SQLite file at path for one writer and many readers, as
// the durability rule requires: WAL, synchronous=FULL (mattn/go-sqlite3 sets
// NORMAL unless told), BEGIN IMMEDIATE, one writer connection so writers
// queue in Go rather than fail with SQLITE_BUSY, and a separate read-only
// pool so a reader never holds the writer. secure_delete is on, so content
// deleted or overwritten is zeroed in the file. The directory is created
// 0700 and the file 0600 (SQLite gives the -wal and -shm files the same
// mode).
//
// A file that fails PRAGMA quick_check (or is not a database at all) is
// moved aside with its -wal and -shm to PATH.corrupt-TIMESTAMP and never
// silently recreated: Open fails with a *CorruptError, unless
// opts.RecoverCorrupt asks for a new database in its place.
//
// The schema is brought up to date by migrations (see migrate). A file whose
// schema is newer than the program's is opened as it is when its
// schema_info says this program can read it (rollback safety), and refused
// with ErrTooNew otherwise.
func Open(ctx context.Context, file string, migrations fs.FS, opts Options) (*DB, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	w, err := openWriter(ctx, file, opts)
	var recovered *CorruptError
	if ce, ok := errors.AsType[*CorruptError](err); ok && opts.RecoverCorrupt {
		recovered = ce
		w, err = openWriter(ctx, file, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if opts.PreallocateWAL {
		if err := PreallocateWAL(ctx, w); err != nil {
			w.Close()
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}

	q := url.Values{"mode": {"ro"}, "_busy_timeout": {"5000"}}
	if opts.VFS != "" {
		q.Set("vfs", opts.VFS)
	}
	r := sql.OpenDB(connector{drv: &sqlite3.SQLiteDriver{}, dsn: fileURI(file, q)})
	r.SetMaxOpenConns(4)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("%s: open read-only: %w", file, err)
	}
	return &DB{W: w, R: r, Recovered: recovered}, nil
}

// openWriter opens the writer connection and checks the file. A corrupt
// file is moved aside and reported as a *CorruptError.
func openWriter(ctx context.Context, file string, opts Options) (*sql.DB, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if fi.Size() == 0 && opts.PageSize != 0 {
		if err := initPageSize(ctx, file, opts); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	q := url.Values{
		"_journal_mode":  {"WAL"},
		"_synchronous":   {"FULL"},
		"_txlock":        {"immediate"},
		"_busy_timeout":  {"5000"},
		"_secure_delete": {"on"},
		// Prepared once per statement: a commit's are the same each time.
		"_stmt_cache_size": {"32"},
	}
	if opts.VFS != "" {
		q.Set("vfs", opts.VFS)
	}
	w := sql.OpenDB(connector{
		drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", journalSizeLimit), nil)
			return err
		}},
		dsn: fileURI(file, q),
	})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	err = checkDB(ctx, w)
	if err == nil {
		return w, nil
	}
	w.Close()
	problem, corrupt := corruption(err)
	if !corrupt {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	kept, merr := keepAside(file, now())
	if merr != nil {
		return nil, fmt.Errorf("%s: %v: %s; keeping it aside failed: %w", file, ErrCorrupt, problem, merr)
	}
	return nil, &CorruptError{File: file, KeptAt: kept, Problem: problem}
}

// walHeaderSize and walFrameHeaderSize are the sizes of the WAL file's
// header and of the header of each frame (a page) in it.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
)

// PreallocateWAL makes the WAL file of w, a database's one writer
// connection, at least as long as the WAL grows between two automatic
// checkpoints (PRAGMA wal_autocheckpoint pages, and a quarter more for the
// commit that crosses the mark and a checkpoint a reader holds back). It
// writes zeros past the file's end and syncs them.
//
// A commit's sync then makes durable only the frames it wrote over blocks
// the file already has: fsync on a file that grew must also commit the
// file system's journal (the new size, the new blocks). On ext4 on a
// virtual disk, the sync of a commit's frames appended to the WAL measured
// 1.0 to 1.25 times an append and fsync of a record (BenchmarkFsyncFloor in
// sync/outbox), and the same frames written over a laid-out WAL 0.76 to
// 0.93 times, the two taking turns in one run. SQLite writes the WAL from its
// start again after each checkpoint, and shrinks it only to
// journal_size_limit, so once laid out the file keeps its length until a
// truncating checkpoint or the last connection's close.
//
// Zeros past SQLite's frames are harmless: recovery reads frames from the
// start and stops at the first whose salt and checksum do not match, and a
// file whose header is zeros is read as an empty WAL. The zeros are written
// inside a write transaction, which holds the WAL's write lock, so no other
// connection, in this process or another, appends a frame meanwhile. They
// are written through the operating system, not the connection's VFS: a
// test VFS that drops unsynced writes (lossyvfs) may drop them at a cut,
// which leaves a shorter WAL holding the same frames.
func PreallocateWAL(ctx context.Context, w *sql.DB) error {
	tx, err := w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the WAL's write lock
	if err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	defer tx.Rollback()
	var pageSize, pages, seq int
	var schema, file string
	if err := tx.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &schema, &file); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if pages <= 0 || file == "" {
		return nil // no automatic checkpoints, or no file: nothing to size
	}
	want := int64(walHeaderSize) + int64(pages+pages/4)*int64(walFrameHeaderSize+pageSize)
	f, err := os.OpenFile(file+"-wal", os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // SQLite makes it at the first write
	} else if err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if fi.Size() >= want {
		return nil
	}
	if _, err := f.WriteAt(make([]byte, want-fi.Size()), fi.Size()); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	return tx.Commit()
}

// initPageSize gives the empty file its page size, which SQLite fixes when
// it writes the file's first page and, in WAL mode, never changes: it sets
// page_size and then WAL mode, which writes that page. Lost in a power cut,
// the file is empty again and the next open does it again.
func initPageSize(ctx context.Context, file string, opts Options) error {
	if n := opts.PageSize; n < 512 || n > 65536 || n&(n-1) != 0 {
		return fmt.Errorf("page size %d: want a power of two from 512 to 65536", n)
	}
	q := url.Values{"_synchronous": {"FULL"}}
	if opts.VFS != "" {
		q.Set("vfs", opts.VFS)
	}
	db := sql.OpenDB(connector{drv: &sqlite3.SQLiteDriver{}, dsn: fileURI(file, q)})
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", opts.PageSize)); err != nil {
		return fmt.Errorf("page size: %w", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("page size: %w", err)
	}
	return db.Close()
}

// errIntegrity is what checkDB found wrong in a file SQLite could read.
type errIntegrity string

func (e errIntegrity) Error() string { return "quick_check: " + string(e) }

// corruption reports whether err says the file is damaged (rather than, say,
// unreadable for lack of permission), and what SQLite said.
func corruption(err error) (string, bool) {
	if e, ok := errors.AsType[errIntegrity](err); ok {
		return string(e), true
	}
	if e, ok := errors.AsType[sqlite3.Error](err); ok && (e.Code == sqlite3.ErrNotADB || e.Code == sqlite3.ErrCorrupt) {
		return e.Error(), true
	}
	return "", false
}

// keepAside moves file and its -wal and -shm to file.corrupt-TIMESTAMP
// (with the same suffixes), so it can be examined or recovered, and syncs
// the directory. A name already taken gets a counter.
func keepAside(file string, now time.Time) (string, error) {
	base := file + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	kept := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(kept); errors.Is(err, fs.ErrNotExist) {
			break
		}
		kept = fmt.Sprintf("%s-%d", base, i)
	}
	for _, suffix := range []string{"-wal", "-shm", ""} { // the main file last: it names the set
		if err := os.Rename(file+suffix, kept+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	d, err := os.Open(filepath.Dir(file))
	if err != nil {
		return "", err
	}
	defer d.Close()
	return kept, d.Sync()
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
		return errIntegrity(strings.Join(problems, "; "))
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
//
// Rollback safety: the table schema_info holds min_reader, the oldest schema
// version whose programs can still use this file. A migration that older
// programs cannot live with (a column they would not fill, a table rebuilt)
// raises it with a line "-- min_reader: N" (N its own version, usually); one
// that keeps them working (a column with a default, a new table) leaves it.
// A program whose newest migration is older than the file's schema opens the
// file, without migrating, when its version is at least min_reader.
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

var minReaderLine = regexp.MustCompile(`(?m)^--\s*min_reader:\s*(\d+)\s*$`)

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
		var minReader int
		err := tx.QueryRowContext(ctx, `SELECT value FROM schema_info WHERE key = 'min_reader'`).Scan(&minReader)
		if err != nil {
			return false, fmt.Errorf("schema version %d is newer than this program's %d, and says nothing of older readers (%v): %w", v, len(names), err, ErrTooNew)
		}
		if len(names) < minReader {
			return false, fmt.Errorf("schema version %d needs a program of schema %d or later; this one's is %d: %w", v, minReader, len(names), ErrTooNew)
		}
		return true, nil
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
	_, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_info (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT`)
	if err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	if m := minReaderLine.FindStringSubmatch(string(body)); m != nil {
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_info (key, value) VALUES ('min_reader', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, m[1])
		if err != nil {
			return false, fmt.Errorf("migration %s: %w", names[v], err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", names[v], err)
	}
	return false, nil
}
