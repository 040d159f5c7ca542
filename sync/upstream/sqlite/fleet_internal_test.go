package sqlite

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// olderSchema returns the embedded migrations up to version n: what an
// older program made its files with.
func olderSchema(t *testing.T, n int) fs.FS {
	t.Helper()
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(names) <= n {
		t.Fatalf("migrations %v, %v; want more than %d", names, err, n)
	}
	older := fstest.MapFS{}
	for _, name := range names[:n] {
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		older[filepath.Base(name)] = &fstest.MapFile{Data: b}
	}
	return older
}

// A file of schema 4, made before offices and last check-ins, opens: its
// tokens and kiosks name no office, and its records give each kiosk's
// last check-in at once. Its tokens still enroll, and an office named
// from then on is kept.
func TestMigrateFleet(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), File)
	db, err := sqlitedb.Open(ctx, file, olderSchema(t, 4), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// k1's seq 2 was checked in before its seq 1: the kiosk's clock
		// went back.
		{`INSERT INTO checkins (id, kiosk_id, seq, at, outcome, issuer, serial, received_at) VALUES
			('r1', 'k1', 1, ?, 'checked_in', 'i', 's', 0),
			('r2', 'k1', 2, ?, 'checked_in', 'i', 's', 0),
			('r3', 'k2', 1, ?, 'checked_in', 'i', 's', 0)`,
			[]any{at.Add(time.Hour).UnixNano(), at.UnixNano(), at.Add(time.Minute).UnixNano()}},
		{`INSERT INTO device_keys (kiosk_id, public_key, enrolled_at) VALUES ('k1', x'01', 0), ('k3', x'03', 0)`, nil},
		{`INSERT INTO enroll_tokens (token_hash, kiosk_id, created_at, expires_at) VALUES (x'aa', 'k3', 0, ?)`,
			[]any{at.Add(time.Hour).UnixNano()}},
	} {
		if _, err := db.W.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.W.Close()
	db.R.Close()

	st, err := Open(file)
	if err != nil {
		t.Fatalf("Open(a file of schema 4) = %v", err)
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
		t.Errorf("Enroll(a token of schema 4) = %v, token %+v; want k3's, no office", err, seen)
	}
	hash := []byte{0xbb}
	if err := st.PutToken(ctx, hash, upstream.Token{KioskID: "k3", Office: "SFR", Expires: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Enroll(ctx, hash, make([]byte, 32), at, func(upstream.Token, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if offices, err := st.KioskOffices(ctx); err != nil || len(offices) != 1 || offices["k3"] != "SFR" {
		t.Errorf("KioskOffices() = %v, %v; want k3 at SFR", offices, err)
	}
}

// The fleet view's last check-ins are read from last_checkins, a row per
// kiosk: never from checkins.
func TestExplainLastCheckIns(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), File))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+lastCheckInsSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("EXPLAIN QUERY PLAN last check-ins:\n%s", strings.Join(plan, "\n"))
	if len(plan) != 1 || plan[0] != "SCAN last_checkins" {
		t.Errorf("plan %q; want one read of last_checkins, a row per kiosk", plan)
	}
}
