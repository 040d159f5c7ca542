package outbox

import (
	"context"
	"crypto/hpke"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// WriterPragmas returns settings of the writer connection itself (PRAGMAs
// such as synchronous are per connection).
func WriterPragmas(t testing.TB, s *Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, p := range []string{"journal_mode", "synchronous", "journal_size_limit", "page_size"} {
		var v string
		if err := s.w.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", p, err)
		}
		got[p] = v
	}
	return got
}

// NewIDs returns ids from one generator, one made at each of times.
func NewIDs(times ...time.Time) []string {
	var g uuidGen
	ids := make([]string, len(times))
	for i, t := range times {
		ids[i] = g.next(t)
	}
	return ids
}

// OpenMigrations opens a store with another set of migrations than the
// embedded one: a release older or newer than this one.
func OpenMigrations(path string, opts Options, migrations fs.FS) (*Store, error) {
	return open(path, opts, migrations)
}

// Migrations returns the embedded migrations.
func Migrations(t testing.TB) fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// LimitPages caps the file at n pages more than it has now (PRAGMA
// max_page_count, for the writer connection): SQLite then fails writes that
// need more with SQLITE_FULL, as on a full disk. A negative n lifts the cap.
func LimitPages(t testing.TB, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	limit := pages + n
	if n < 0 {
		limit = 1 << 30
	}
	var got int
	if err := s.w.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", limit)).Scan(&got); err != nil {
		t.Fatal(err)
	}
}

// QuickCheck runs PRAGMA quick_check on the writer and returns its verdict.
func QuickCheck(t testing.TB, s *Store) string {
	t.Helper()
	var v string
	if err := s.w.QueryRowContext(context.Background(), "PRAGMA quick_check").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The device key and the upstream's seal key of every test store, made once
// per test binary.
var (
	DeviceForTest = sync.OnceValue(func() *device.Identity {
		id, err := device.Generate()
		if err != nil {
			panic(err)
		}
		return id
	})
	SealKeyForTest = sync.OnceValue(func() hpke.PrivateKey {
		k, err := wire.GenerateSealKey()
		if err != nil {
			panic(err)
		}
		return k
	})
)

// OptionsForTest returns the options of a test store of kiosk kioskID, with
// DeviceForTest and SealKeyForTest.
func OptionsForTest(kioskID string) Options {
	return Options{KioskID: kioskID, Device: DeviceForTest(), SealKey: SealKeyForTest().PublicKey()}
}

// All returns every record the store holds, acknowledged or not, in seq order.
func All(t testing.TB, s *Store) []wire.Record {
	t.Helper()
	rows, err := s.r.Query(`SELECT ` + recordColumns + ` FROM checkins ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.scanRecords(rows)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// InEpoch reports whether the store holds the key of a sealing epoch.
func InEpoch(s *Store) bool {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.seal != nil
}
