// Package outbox is the kiosk's SQLite store. Its checkins table is the
// outbox: a check-in is committed there before the person is told it is
// recorded, stays there pending until the upstream acknowledges it, and is
// then marked uploaded, never deleted.
//
// One writer connection takes every write in a BEGIN IMMEDIATE transaction
// on a WAL file with synchronous=FULL, so Commit returns only once the
// record is on stable storage. Readers (Pending, Stats) use a separate
// read-only pool and never hold a transaction open past their return.
//
// A record keeps only what the upload needs in clear: ids, sequence, time,
// outcome, card issuer and serial. The person's name, A-number and date of
// birth are not stored.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var _ kiosk.Store = (*Store)(nil)

// Options configures a Store.
type Options struct {
	// KioskID names this kiosk in every record it commits (see
	// wire.ValidKioskID). Sequence numbers count per kiosk id.
	KioskID string
}

// Store is the kiosk's durable store. Its methods are safe for concurrent use.
type Store struct {
	w       *sql.DB // the one writer connection
	r       *sql.DB // read-only pool
	kioskID string
	ids     uuidGen
	changed chan struct{}
}

// Open opens the store at path, creating it (and its directory) if needed
// and bringing its schema up to date.
func Open(path string, opts Options) (*Store, error) {
	if !wire.ValidKioskID(opts.KioskID) {
		return nil, fmt.Errorf("open outbox: invalid kiosk id %q", opts.KioskID)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	w, r, err := sqlitedb.Open(context.Background(), path, migrations)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	return &Store{w: w, r: r, kioskID: opts.KioskID, changed: make(chan struct{}, 1)}, nil
}

// Close closes the store. Nothing is lost: every Commit that returned is
// already durable.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Commit records c in its own transaction and returns once the transaction
// is durable. An error means nothing was recorded.
func (s *Store) Commit(ctx context.Context, c kiosk.CheckIn) (kiosk.Committed, error) {
	if c.Outcome == "" {
		return kiosk.Committed{}, errors.New("commit: no outcome")
	}
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	if y := at.Year(); y < 1678 || y > 2261 { // Unix nanoseconds fit int64
		return kiosk.Committed{}, fmt.Errorf("commit: time out of range: %v", at)
	}

	clock := c.Clock
	if clock == "" {
		clock = kiosk.ClockUnsynced
	}

	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: begin: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	err = tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(seq), 0) + 1 FROM checkins WHERE kiosk_id = ?`, s.kioskID).Scan(&seq)
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: next seq: %w", err)
	}
	id := s.ids.next(time.Now())
	_, err = tx.ExecContext(ctx,
		`INSERT INTO checkins (id, kiosk_id, seq, at, clock, outcome, issuer, serial) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, s.kioskID, seq, at.UnixNano(), string(clock), string(c.Outcome), c.Card.Issuer, c.Card.Serial)
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: %w", err)
	}
	select {
	case s.changed <- struct{}{}:
	default: // a signal is already waiting; one is enough
	}
	return kiosk.Committed{ID: id, Seq: uint64(seq)}, nil
}

// Changed signals after a commit. It holds at most one signal, which stands
// for every commit since it was last received: a reader wakes up and reads
// Pending, it does not count signals.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Pending returns up to limit records not yet acknowledged by the upstream,
// oldest first (in sequence order for each kiosk id).
func (s *Store) Pending(ctx context.Context, limit int) ([]wire.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, kiosk_id, seq, at, clock, outcome, issuer, serial FROM checkins
		 WHERE uploaded_at IS NULL ORDER BY n LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	defer rows.Close()
	var recs []wire.Record
	for rows.Next() {
		var r wire.Record
		var seq, at int64
		if err := rows.Scan(&r.ID, &r.KioskID, &seq, &at, &r.Clock, &r.Outcome, &r.Issuer, &r.Serial); err != nil {
			return nil, fmt.Errorf("pending: %w", err)
		}
		r.Seq = uint64(seq)
		r.At = time.Unix(0, at).UTC()
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	// Closing the rows ends the read transaction before the caller goes
	// to the network.
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	return recs, nil
}

// Ack marks the records with these ids uploaded at the given time. Ids
// already acknowledged or unknown are ignored, so Ack may be repeated.
func (s *Store) Ack(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ack: begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx,
		`UPDATE checkins SET uploaded_at = ? WHERE id = ? AND uploaded_at IS NULL`)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, at.UnixNano(), id); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// Stats is a summary of the outbox.
type Stats struct {
	Pending    int64     // records not yet acknowledged
	Uploaded   int64     // records ever acknowledged
	LastUpload time.Time // the latest acknowledgement; zero if none
}

// Stats returns a consistent summary of the outbox.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var total int64
	var last sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM checkins WHERE uploaded_at IS NULL),
		(SELECT COUNT(*) FROM checkins),
		(SELECT MAX(uploaded_at) FROM checkins)`).Scan(&st.Pending, &total, &last)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	st.Uploaded = total - st.Pending
	if last.Valid {
		st.LastUpload = time.Unix(0, last.Int64).UTC()
	}
	return st, nil
}
