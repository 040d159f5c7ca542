// Package sqlite is the upstream's embedded store: an upstream.Store in
// one SQLite file, kept by the discipline of sync/internal/sqlitedb (WAL,
// synchronous=FULL, one writer connection, a read-only pool, migrations).
// One server process writes it at a time (upstream.OpenDir holds the state
// directory's lock); `kiosk upstream token` writes beside it, as SQLite
// allows.
//
// It keeps what the server decides and decides nothing itself: which
// record is a duplicate, a fork or breaks the chain is upstream.Place's
// rule, applied here to what the file holds.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// File is the name of the store in an upstream's state directory.
const File = "upstream.db"

// checkpointInterval is how soon after storing a batch the store copies its
// WAL into its database file, from a connection of its own
// (sqlitedb.Checkpointer), so that storing a batch does not: at 20,000
// records/s the WAL grows by about 4 MB in this time, the 1000 pages at
// which SQLite would checkpoint.
const checkpointInterval = 200 * time.Millisecond

// Store is an upstream.Store in an SQLite file.
type Store struct {
	w  *sql.DB // the one writer connection
	r  *sql.DB // read-only pool
	cp *sqlitedb.Checkpointer
}

var _ upstream.Store = (*Store)(nil)

// Open opens the store at path, creating it if needed.
func Open(path string) (*Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(context.Background(), path, migrations, sqlitedb.Options{})
	if err != nil {
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	cp, err := sqlitedb.StartCheckpointer(context.Background(), path, db, checkpointInterval)
	if err != nil {
		db.W.Close()
		db.R.Close()
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	return &Store{w: db.W, r: db.R, cp: cp}, nil
}

// OpenIn opens the store kept in the upstream state directory dir (File):
// it is what upstream.DirOptions.OpenStore takes.
func OpenIn(dir string) (upstream.Store, error) {
	s, err := Open(filepath.Join(dir, File))
	if err != nil {
		return nil, err // not a nil *Store in a non-nil interface
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error {
	return errors.Join(s.cp.Stop(), s.r.Close(), s.w.Close())
}

// Ping reports whether the store can be read.
func (s *Store) Ping(ctx context.Context) error {
	return s.r.PingContext(ctx)
}

// Stats counts the records held, the gaps, the forks and the rejections.
func (s *Store) Stats(ctx context.Context) (wire.Stats, error) {
	var st wire.Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM checkins),
		(SELECT COUNT(DISTINCT kiosk_id) FROM checkins),
		(SELECT COALESCE(SUM(m - n), 0) FROM (SELECT MAX(seq) AS m, COUNT(*) AS n FROM checkins GROUP BY kiosk_id)),
		(SELECT COUNT(*) FROM forks),
		(SELECT COALESCE(SUM(n), 0) FROM rejections)`).Scan(&st.CheckIns, &st.Kiosks, &st.Gaps, &st.Forks, &st.Rejected)
	if err != nil {
		return wire.Stats{}, fmt.Errorf("count: %w", err)
	}
	return st, nil
}

// nanos is t as the store keeps times: Unix nanoseconds.
func nanos(t time.Time) int64 { return t.UnixNano() }

// fromNanos is the time kept as n Unix nanoseconds.
func fromNanos(n int64) time.Time { return time.Unix(0, n) }
