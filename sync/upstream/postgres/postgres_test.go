package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/docketkiosk/checkin-kiosk/internal/pgtest"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/postgres"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/storetest"
)

// One cluster for the package's run; a database per test.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on the database at dsn, closed when t ends.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStore(t *testing.T) {
	var dsns sync.Map // by store: its database
	storetest.Run(t, storetest.Stores{
		New: func(t *testing.T) upstream.Store {
			dsn := pgtest.Shared(t).NewDatabase(t)
			st := open(t, dsn)
			dsns.Store(st, dsn)
			return st
		},
		Replica: func(t *testing.T, st upstream.Store) upstream.Store {
			dsn, _ := dsns.Load(st)
			return open(t, dsn.(string))
		},
	})
}

// query returns the single int64 sql returns in the database at dsn.
func query(t testing.TB, dsn, sql string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Replicas starting together on an empty database migrate it once: none
// fails on a table another is creating.
func TestReplicasMigrateAtOnce(t *testing.T) {
	c := pgtest.Shared(t)
	for range 5 {
		dsn := c.NewDatabase(t)
		const replicas = 4
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				var st *postgres.Store
				st, errs[i] = postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
				if st != nil {
					st.Close()
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: Open() = %v", i, err)
			}
		}
		if n := query(t, dsn, `SELECT COUNT(*) FROM schema_migrations`); n != 2 {
			t.Errorf("schema_migrations holds %d rows; want 2 (0001, 0002)", n)
		}
	}
}

// A database migrated by a newer program opens if that program says this
// one can still use it (min_reader), and is refused otherwise.
func TestNewerSchema(t *testing.T) {
	c := pgtest.Shared(t)
	dsn := c.NewDatabase(t)
	open(t, dsn).Close()
	// Versions after this program's newest, whatever it is.
	query(t, dsn, `INSERT INTO schema_migrations (version, name, min_reader)
		SELECT MAX(version) + 1, 'compatible.sql', 0 FROM schema_migrations RETURNING 0`)
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("Open(a newer schema, min_reader 0) = %v", err)
	}
	st.Close()
	query(t, dsn, `INSERT INTO schema_migrations (version, name, min_reader)
		SELECT MAX(version) + 1, 'breaking.sql', MAX(version) + 1 FROM schema_migrations RETURNING 0`)
	if st, err := postgres.Open(context.Background(), dsn, postgres.Options{}); err == nil {
		st.Close()
		t.Error("Open(a newer schema, min_reader itself) = nil; want refused")
	}
}
