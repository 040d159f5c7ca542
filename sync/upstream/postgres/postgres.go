// Package postgres is the upstream's store for an agency: an
// upstream.Store in a PostgreSQL database (github.com/jackc/pgx/v5, a
// pgxpool of connections), which any number of upstream replicas share.
//
// Any replica may receive any batch of any kiosk, and a retry may reach
// another replica than the first try: exactly-once and order are the
// database's, not a process's. Every record is unique by id and by (kiosk,
// seq) (constraints); Append takes the kiosk's row of the table chains FOR
// UPDATE before it reads what is held, so the batches of one kiosk are
// placed one at a time, each seeing what the one before stored, whichever
// replica stores them: a gap, a fork or a duplicate is found the same way
// as in the one SQLite file. What a kiosk's records are is upstream.Place's
// rule, applied here to what the database holds.
//
// Migrations (migrations/NNNN_name.sql, embedded) only go forward. A
// replica starting applies those the database lacks, each in its own
// transaction, holding a session advisory lock: replicas starting together
// apply each once. The table schema_migrations says which are applied.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultMaxConns is the connections a Store opens at most when
// Options.MaxConns is 0. A batch holds one for the few milliseconds it is
// stored, and a replica on two cores stores about as many batches at once:
// 8 leaves room for heartbeats and enrollment, and keeps a dozen replicas
// under PostgreSQL's default max_connections (100).
const DefaultMaxConns = 8

// migrationLock is the key of the session advisory lock held while
// migrating ("kiosk" in ASCII): one replica migrates at a time.
const migrationLock int64 = 0x6b696f736b

// Options configures Open.
type Options struct {
	// Log is where the store logs the migrations it applies; nil discards.
	Log *slog.Logger
	// MaxConns is how many connections the store opens at most; 0:
	// DefaultMaxConns. The DSN's pool_max_conns, if given, is overridden.
	MaxConns int32
}

// Store is an upstream.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

var _ upstream.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as libpq takes it; PG* environment variables fill what it does
// not say) and brings its schema up to date.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	cfg, err := pgxpool.ParseConfig(dsn) // its errors hide the password
	if err != nil {
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	s := &Store{pool: pool, log: o.Log}
	ms, err := migrations()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	if err := s.migrate(ctx, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open upstream store: %w", err)
	}
	return s, nil
}

// Opener returns what upstream.DirOptions.OpenStore takes, opening the
// database at dsn: the state directory it is given holds no part of this
// store.
func Opener(dsn string, o Options) func(dir string) (upstream.Store, error) {
	return func(string) (upstream.Store, error) {
		s, err := Open(context.Background(), dsn, o)
		if err != nil {
			return nil, err // not a nil *Store in a non-nil interface
		}
		return s, nil
	}
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Stats counts the records held, the gaps, the forks and the rejections,
// from each kiosk's counts (chains): it reads a row per kiosk, not one per
// record.
func (s *Store) Stats(ctx context.Context) (wire.Stats, error) {
	var st wire.Stats
	err := s.pool.QueryRow(ctx, `SELECT
		COALESCE(SUM(held_count), 0)::bigint,
		COUNT(*) FILTER (WHERE held_count > 0),
		COALESCE(SUM(held_max - held_count), 0)::bigint,
		(SELECT COUNT(*) FROM forks),
		(SELECT COALESCE(SUM(n), 0)::bigint FROM rejections)
		FROM chains`).Scan(&st.CheckIns, &st.Kiosks, &st.Gaps, &st.Forks, &st.Rejected)
	if err != nil {
		return wire.Stats{}, fmt.Errorf("count: %w", err)
	}
	return st, nil
}

// A migration is one file of migrations/.
type migration struct {
	version   int
	name      string
	sql       string
	minReader int // the oldest schema version whose programs can use the database after it
}

// minReaderLine raises min_reader, as in sync/internal/sqlitedb: a
// migration that older programs cannot live with says "-- min_reader: N".
var minReaderLine = regexp.MustCompile(`(?m)^--\s*min_reader:\s*(\d+)\s*$`)

// migrations reads the embedded migrations, in order, checking their
// names (NNNN_name.sql, from 0001, without a hole).
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for i, name := range names {
		base := path.Base(name)
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(base, want) {
			return nil, fmt.Errorf("migration %s: want a name starting %s", base, want)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		m := migration{version: i + 1, name: base, sql: string(b)}
		if sm := minReaderLine.FindStringSubmatch(m.sql); sm != nil {
			m.minReader, _ = strconv.Atoi(sm[1])
		}
		out = append(out, m)
	}
	return out, nil
}

// migrate applies the migrations of ms (migrations(), or the first of
// them, to make a database of an older schema) the database lacks,
// holding the migration lock: a replica that waited for it finds them
// applied. A database migrated beyond ms is used as it is if its
// min_reader allows this program's schema, and refused otherwise.
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
			// The lock ends with the session: drop the connection.
			conn.Hijack().Close(context.Background())
		}
	}()
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		min_reader integer     NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied, minReader int
	err = conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0), COALESCE(MAX(min_reader), 0) FROM schema_migrations`).Scan(&applied, &minReader)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if newest := len(ms); applied > newest {
		if minReader > newest {
			return fmt.Errorf("database schema %d needs a program of schema %d or later; this one is %d", applied, minReader, newest)
		}
		s.log.Info("database schema newer than the program, readable by it", "schema", applied, "program_schema", newest)
		return nil
	}
	for _, m := range ms[applied:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, min_reader) VALUES ($1, $2, $3)`,
				m.version, m.name, m.minReader)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		s.log.Info("database migrated", "migration", m.name)
	}
	return nil
}

// errorCode returns the SQLSTATE of err, "" if it has none.
func errorCode(err error) string {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		return pe.SQLState()
	}
	return ""
}

// SQLSTATEs the store acts on.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)
