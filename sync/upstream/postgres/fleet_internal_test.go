package postgres

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/docketkiosk/checkin-kiosk/internal/pgtest"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// A database of schema 1, made before offices and last check-ins, is
// migrated when a replica opens it: its tokens and kiosks name no office,
// and each kiosk's last check-in is filled from its records. Its tokens
// still enroll, and the records stored from then on keep it.
func TestMigrateFleet(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDatabase(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{pool: pool, log: slog.New(slog.DiscardHandler)}
	if err := old.migrate(ctx, ms[:1]); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	// k1's seq 2 was checked in before its seq 1: the kiosk's clock went
	// back. k3 is enrolled, with no record.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO checkins (id, kiosk_id, seq, at, clock, outcome, issuer, serial, received_at, boot_id, mono, sealed, prev, hash, sig)
			SELECT id, kiosk_id, seq, at, 'synced', 'checked_in', 'i', 's', 0, '', 0, '', '', '', ''
			FROM (VALUES ('r1', 'k1', 1, $1::bigint), ('r2', 'k1', 2, $2), ('r3', 'k2', 1, $3)) AS r (id, kiosk_id, seq, at)`,
			[]any{at.Add(time.Hour).UnixNano(), at.UnixNano(), at.Add(time.Minute).UnixNano()}},
		{`INSERT INTO chains (kiosk_id, held_max, held_count) VALUES ('k1', 2, 2), ('k2', 1, 1)`, nil},
		{`INSERT INTO device_keys (kiosk_id, public_key, enrolled_at) VALUES ('k1', '\x01', 0), ('k3', '\x03', 0)`, nil},
		{`INSERT INTO enroll_tokens (token_hash, kiosk_id, created_at, expires_at) VALUES ('\xaa', 'k3', 0, $1)`,
			[]any{at.Add(time.Hour).UnixNano()}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	pool.Close()

	st, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open(a database of schema 1) = %v", err)
	}
	defer st.Close()
	last, err := st.LastCheckIns(ctx)
	if err != nil || len(last) != 2 || !last["k1"].Equal(at.Add(time.Hour)) || !last["k2"].Equal(at.Add(time.Minute)) {
		t.Errorf("LastCheckIns() = %v, %v; want k1 %v, k2 %v", last, err, at.Add(time.Hour), at.Add(time.Minute))
	}
	if offices, err := st.KioskOffices(ctx); err != nil || len(offices) != 0 {
		t.Errorf("KioskOffices() = %v, %v; want none", offices, err)
	}
	var seen upstream.Token
	err = st.Enroll(ctx, []byte{0xaa}, make([]byte, 32), at, func(tok upstream.Token, found bool) error {
		seen = tok
		return nil
	})
	if err != nil || seen.KioskID != "k3" || seen.Office != "" {
		t.Errorf("Enroll(a token of schema 1) = %v, token %+v; want k3's, no office", err, seen)
	}

	// A record stored now, checked in earlier than k1's newest, leaves it.
	items := records("k1", 3, 1, make([]byte, 32))
	items[0].Record.At = at.Add(30 * time.Minute)
	if _, err := st.Append(ctx, "k1", items, at); err != nil {
		t.Fatal(err)
	}
	if last, err := st.LastCheckIns(ctx); err != nil || !last["k1"].Equal(at.Add(time.Hour)) {
		t.Errorf("LastCheckIns() after an older record = %v, %v; want k1 %v", last, err, at.Add(time.Hour))
	}
}
