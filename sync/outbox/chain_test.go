package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

func TestChainAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s := open(t, path)
	for range 3 {
		commit(t, s, time.Now())
	}
	s.Close()
	s = open(t, path)
	for range 3 {
		commit(t, s, time.Now())
	}
	recs := pending(t, s)
	if len(recs) != 6 {
		t.Fatalf("Pending = %d records; want 6", len(recs))
	}
	verifyChain(t, recs)
}

func TestHead(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 9, 15, 0, 0, time.UTC)
	opts := options()
	opts.Now = func() time.Time { return now }
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	pub := testDevice().Public()

	h, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 0 || string(h.Hash) != string(wire.GenesisPrev) || h.KioskID != "kiosk-01" || !h.At.Equal(now) || h.Verify(pub) != nil {
		t.Errorf("Head(empty store) = %+v; want seq 0, the genesis hash, signed at %v", h, now)
	}
	for range 3 {
		commit(t, s, time.Now())
	}
	recs := pending(t, s)
	h, err = s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 3 || string(h.Hash) != string(recs[2].Hash) {
		t.Errorf("Head() = seq %d hash %x; want 3 and %x", h.Seq, h.Hash, recs[2].Hash)
	}
	if err := h.Verify(pub); err != nil {
		t.Errorf("Head().Verify = %v", err)
	}
	h.Seq = 2
	if err := h.Verify(pub); err == nil {
		t.Error("Verify(head with seq changed) = nil; want an error")
	}
}

func TestLastCheckIn(t *testing.T) {
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	opts := options()
	opts.Location = ny
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s := openWith(t, path, opts)
	morning := time.Date(2026, 3, 4, 9, 14, 0, 0, ny)
	first := commit(t, s, morning)
	later := commit(t, s, morning.Add(2*time.Hour)) // the same person, again
	other := testCard
	other.ANumber, other.Serial = "A000000001", "aa"
	commitCard(t, s, morning.Add(3*time.Hour), other)

	otherIssuer := testCard
	otherIssuer.Issuer = "US-DOS-TEST"
	sameCardAgain := testCard
	sameCardAgain.Serial = "ffff" // a new card of the same person
	tests := []struct {
		name   string
		card   card.Card
		at     time.Time
		want   kiosk.Committed
		wantOK bool
	}{
		{"same day, later", testCard, morning.Add(5 * time.Hour), later, true},
		{"same day, a new card", sameCardAgain, morning.Add(5 * time.Hour), later, true},
		{"late the same local day (next day in UTC)", testCard, time.Date(2026, 3, 4, 23, 30, 0, 0, ny), later, true},
		{"next day", testCard, morning.AddDate(0, 0, 1), kiosk.Committed{}, false},
		{"day before", testCard, morning.AddDate(0, 0, -1), kiosk.Committed{}, false},
		{"another person", card.Card{Issuer: testCard.Issuer, ANumber: "A999999999"}, morning, kiosk.Committed{}, false},
		{"same A-number, another issuer", otherIssuer, morning, kiosk.Committed{}, false},
	}
	check := func(when string) {
		for _, tt := range tests {
			p, ok, err := s.LastCheckIn(ctx, tt.card, tt.at)
			if err != nil || ok != tt.wantOK || p.ID != tt.want.ID || p.Seq != tt.want.Seq {
				t.Errorf("%s: LastCheckIn(%s) = %+v, %v, %v; want %+v, %v", when, tt.name, p, ok, err, tt.want, tt.wantOK)
			}
			if ok && !p.At.Equal(morning.Add(2*time.Hour)) {
				t.Errorf("%s: LastCheckIn(%s).At = %v; want %v", when, tt.name, p.At, morning.Add(2*time.Hour))
			}
		}
	}
	check("open")
	_ = first
	s.Close()
	s = openWith(t, path, opts) // the duplicate key is kept
	check("reopened")

	// Once the day is over, its hashes are forgotten.
	opts.Now = func() time.Time { return morning.AddDate(0, 0, 1) }
	s.Close()
	s = openWith(t, path, opts)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.LastCheckIn(ctx, testCard, morning.Add(5*time.Hour)); ok || err != nil {
		t.Errorf("LastCheckIn(a past day) after Checkpoint = %+v, %v, %v; want none: the hashes are cleared", p, ok, err)
	}
	today := commit(t, s, morning.AddDate(0, 0, 1))
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.LastCheckIn(ctx, testCard, morning.AddDate(0, 0, 1)); !ok || err != nil || p.ID != today.ID {
		t.Errorf("LastCheckIn(today) after Checkpoint = %+v, %v, %v; want %s: today's hashes stay", p, ok, err, today.ID)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	now := t0
	opts := options()
	opts.Retention = 24 * time.Hour
	opts.Now = func() time.Time { return now }
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	var ids []string
	for range 6 {
		ids = append(ids, commit(t, s, t0).ID)
	}
	// 1, 2 and 4 acknowledged early, 5 late; 3 and 6 pending.
	if err := s.Ack(ctx, []string{ids[0], ids[1], ids[3]}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, []string{ids[4]}, t0.Add(20*time.Hour)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		after      time.Duration
		wantPurged int64
		wantLeft   int // records held
	}{
		{23 * time.Hour, 0, 6},
		{25 * time.Hour, 2, 4}, // 4 is acknowledged and old, but above a pending record: kept until the pending one is acknowledged
		{50 * time.Hour, 0, 4},
	}
	for _, tt := range tests {
		now = t0.Add(tt.after)
		n, err := s.Purge(ctx)
		if err != nil || n != tt.wantPurged {
			t.Errorf("Purge at +%v = %d, %v; want %d", tt.after, n, err, tt.wantPurged)
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := (outbox.Stats{Pending: 2, Uploaded: 4, LastUpload: t0.Add(20 * time.Hour), OldestPending: t0}); st != want {
			t.Errorf("Stats at +%v = %+v; want %+v (purging changes no count)", tt.after, st, want)
		}
	}
	recs := pending(t, s)
	if len(recs) != 2 || recs[0].ID != ids[2] || recs[1].ID != ids[5] {
		t.Errorf("Pending after purges = %v; want records 3 and 6", recs)
	}

	// Everything acknowledged: all old records go but the newest, the anchor
	// the next commit chains to.
	if err := s.Ack(ctx, []string{ids[2], ids[5]}, t0); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(100 * time.Hour)
	if n, err := s.Purge(ctx); err != nil || n != 3 {
		t.Errorf("Purge with everything acknowledged = %d, %v; want 3 (all but the newest)", n, err)
	}
	c := commit(t, s, now)
	recs = pending(t, s)
	if c.Seq != 7 || len(recs) != 1 {
		t.Fatalf("after purging: commit seq %d, %d pending; want 7, 1", c.Seq, len(recs))
	}
	h, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 7 || string(h.Hash) != string(recs[0].Hash) {
		t.Errorf("Head after purging = %d %x; want 7 %x", h.Seq, h.Hash, recs[0].Hash)
	}

	// Without a retention, nothing goes.
	opts.Retention = 0
	s2 := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	id := commit(t, s2, t0).ID
	commit(t, s2, t0)
	if err := s2.Ack(ctx, []string{id}, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s2.Purge(ctx); err != nil || n != 0 {
		t.Errorf("Purge without retention = %d, %v; want 0", n, err)
	}
}

func TestDiskFullThenSpace(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	for range 3 {
		commit(t, s, time.Now())
	}
	outbox.LimitPages(t, s, 0)
	var err error
	for i := 0; i < 100 && err == nil; i++ { // until a commit needs a new page
		_, err = s.Commit(ctx, kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn, Card: testCard})
	}
	if err == nil {
		t.Fatal("100 commits succeeded on a full disk")
	}
	if got := s.LastError(); got == nil {
		t.Errorf("LastError() after a failed commit = nil; want the error")
	}
	held := pending(t, s)
	verifyChain(t, held)
	if v := outbox.QuickCheck(t, s); v != "ok" {
		t.Errorf("quick_check after the failed commit = %q; want ok", v)
	}

	outbox.LimitPages(t, s, -1) // space again
	c := commit(t, s, time.Now())
	if want := uint64(len(held) + 1); c.Seq != want {
		t.Errorf("seq after space returned = %d; want %d (the failed commit left no trace)", c.Seq, want)
	}
	if got := s.LastError(); got != nil {
		t.Errorf("LastError() after a good commit = %v; want nil", got)
	}
	verifyChain(t, pending(t, s))
}

func TestAckOutOfOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	var ids []string
	for range 5 {
		ids = append(ids, commit(t, s, time.Now()).ID)
	}
	for _, ack := range [][]string{{ids[4]}, {ids[0], ids[2]}, {ids[1]}} {
		if err := s.Ack(ctx, ack, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	recs := pending(t, s)
	if len(recs) != 1 || recs[0].ID != ids[3] {
		t.Errorf("Pending = %v; want only record 4", recs)
	}
	commit(t, s, time.Now())
	if err := s.Ack(ctx, []string{ids[3]}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if recs := pending(t, s); len(recs) != 1 || recs[0].Seq != 6 {
		t.Errorf("Pending = %v; want only record 6", recs)
	}
}

// schema2 makes a store of schema 2 (the release before sealing) at path,
// holding rows of the given kiosk ids, each row uploaded or not.
func schema2(t *testing.T, path string, rows []schema2Row) {
	t.Helper()
	migs := outbox.Migrations(t)
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"0001_checkins.sql", "0002_state_and_clock.sql"} {
		b, err := fs.ReadFile(migs, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		var up any
		if r.uploaded {
			up = int64(1_772_600_000_000_000_000) + int64(i)
		}
		_, err := db.Exec(`INSERT INTO checkins (id, kiosk_id, seq, at, clock, outcome, issuer, serial, uploaded_at)
			VALUES (?, ?, ?, ?, 'synced', 'checked_in', 'US-DHS-TEST', ?, ?)`,
			r.id, r.kiosk, r.seq, int64(1_772_600_000_000_000_000)+int64(i)*1e9, "serial"+r.id[len(r.id)-2:], up)
		if err != nil {
			t.Fatal(err)
		}
	}
}

type schema2Row struct {
	id       string
	kiosk    string
	seq      int
	uploaded bool
}

func TestMigrateFromSchema2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kiosk.db")
	ids := outbox.NewIDs(time.UnixMilli(1_772_600_000_000), time.UnixMilli(1_772_600_001_000), time.UnixMilli(1_772_600_002_000))
	schema2(t, path, []schema2Row{{ids[0], "kiosk-01", 1, true}, {ids[1], "kiosk-01", 2, false}, {ids[2], "kiosk-01", 3, false}})

	s := open(t, path)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Row 2 (at +1 s) is the oldest pending.
	if want := (outbox.Stats{Pending: 2, Uploaded: 1, LastUpload: time.Unix(0, 1_772_600_000_000_000_000).UTC(),
		OldestPending: time.Unix(0, 1_772_600_001_000_000_000).UTC()}); st != want {
		t.Errorf("Stats after migration = %+v; want %+v", st, want)
	}
	recs := pending(t, s)
	if len(recs) != 2 || recs[0].ID != ids[1] || recs[0].Seq != 2 || recs[1].ID != ids[2] ||
		recs[0].Clock != "synced" || recs[0].Serial != "serial"+ids[1][34:] || !recs[0].At.Equal(time.Unix(0, 1_772_600_001_000_000_000)) {
		t.Fatalf("Pending after migration = %+v; want rows 2 and 3 as they were", recs)
	}
	c := commit(t, s, time.Now())
	if c.Seq != 4 {
		t.Errorf("first commit after migration: seq %d; want 4", c.Seq)
	}
	// The old rows were signed into the chain; the new one follows them.
	verifyChain(t, outbox.All(t, s))
	for _, r := range outbox.All(t, s)[:3] {
		if len(r.Sealed) != 0 {
			t.Errorf("migrated record %d has sealed data; want none (schema 2 kept no person data)", r.Seq)
		}
	}
	s.Close()
	s = open(t, path) // signed once: reopening changes nothing
	verifyChain(t, outbox.All(t, s))
}

func TestMigrateFromSchema2TwoKiosks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	ids := outbox.NewIDs(time.UnixMilli(1_772_600_000_000), time.UnixMilli(1_772_600_001_000))
	schema2(t, path, []schema2Row{{ids[0], "kiosk-01", 1, false}, {ids[1], "kiosk-02", 1, false}})
	if s, err := outbox.Open(path, options()); err == nil {
		s.Close()
		t.Fatal("Open of a schema-2 store of two kiosks succeeded; want the migration to fail")
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v, n int
	if err := db.QueryRow(`SELECT (SELECT user_version FROM pragma_user_version), (SELECT COUNT(*) FROM checkins)`).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != 2 || n != 2 {
		t.Errorf("after the failed migration: schema %d with %d rows; want 2 with 2, as it was", v, n)
	}
}

// TestRollbackSafety runs a newer release (the embedded migrations and one
// more) and then this one again on the same file, as a rollback does.
func TestRollbackSafety(t *testing.T) {
	ctx := context.Background()
	current := outbox.Migrations(t)
	future := func(body string) fs.FS {
		m := fstest.MapFS{}
		names, _ := fs.Glob(current, "*.sql")
		for _, n := range names {
			b, _ := fs.ReadFile(current, n)
			m[n] = &fstest.MapFile{Data: b}
		}
		m["0004_future.sql"] = &fstest.MapFile{Data: []byte(body)}
		return m
	}
	tests := []struct {
		name      string
		migration string
		wantOpen  bool
	}{
		{"compatible: a column with a default", "ALTER TABLE checkins ADD COLUMN lane TEXT NOT NULL DEFAULT '';", true},
		{"compatible: a new table", "CREATE TABLE notes (k TEXT PRIMARY KEY) STRICT;", true},
		{"incompatible: says so", "-- min_reader: 4\nALTER TABLE checkins ADD COLUMN lane TEXT NOT NULL DEFAULT '';", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kiosk.db")
			s, err := outbox.OpenMigrations(path, options(), future(tt.migration))
			if err != nil {
				t.Fatalf("newer release: Open = %v", err)
			}
			first := commitCard(t, s, time.Now(), testCard)
			s.Close()

			s, err = outbox.Open(path, options()) // the older release
			if !tt.wantOpen {
				if err == nil {
					s.Close()
					t.Fatal("older release opened a schema that says it cannot")
				}
				if !errors.Is(err, outbox.ErrTooNew) {
					t.Errorf("older release: Open = %v; want ErrTooNew", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("older release: Open = %v; want it to read the newer schema's queue", err)
			}
			defer s.Close()
			second := commitCard(t, s, time.Now(), testCard)
			recs := pending(t, s)
			if len(recs) != 2 || recs[0].ID != first.ID || recs[1].ID != second.ID {
				t.Errorf("older release: Pending = %v; want %s and %s", recs, first.ID, second.ID)
			}
			verifyChain(t, recs)
			if err := s.Ack(ctx, []string{first.ID}, time.Now()); err != nil {
				t.Errorf("older release: Ack = %v", err)
			}
			s.Close()

			// Forward again: the newer release reads what the older one wrote.
			s, err = outbox.OpenMigrations(path, options(), future(tt.migration))
			if err != nil {
				t.Fatalf("newer release again: Open = %v", err)
			}
			defer s.Close()
			if recs := pending(t, s); len(recs) != 1 || recs[0].ID != second.ID {
				t.Errorf("newer release again: Pending = %v; want %s", recs, second.ID)
			}
		})
	}
}

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	opts := options()
	opts.Retention = time.Hour
	opts.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	var ids []string
	for range 4 {
		ids = append(ids, commit(t, s, t0).ID)
	}
	for range 2 { // a second time changes nothing
		if err := s.Quarantine(ctx, ids[0], wire.ReasonChainBroken); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ack(ctx, []string{ids[1], ids[2]}, t0); err != nil {
		t.Fatal(err)
	}
	recs := pending(t, s)
	if len(recs) != 1 || recs[0].ID != ids[3] {
		t.Errorf("Pending = %v; want only record 4 (1 quarantined, 2 and 3 acknowledged)", recs)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The one pending record (4) is the oldest pending: the quarantined
	// one is not pending.
	if want := (outbox.Stats{Pending: 1, Uploaded: 2, Quarantined: 1, LastUpload: t0, OldestPending: t0}); st != want {
		t.Errorf("Stats = %+v; want %+v", st, want)
	}
	if n, err := s.Purge(ctx); err != nil || n != 2 {
		t.Errorf("Purge = %d, %v; want 2 (the acknowledged, not the quarantined)", n, err)
	}
	if all := outbox.All(t, s); len(all) != 2 || all[0].ID != ids[0] {
		t.Errorf("after Purge the store holds %d records, first %s; want 2, the quarantined first", len(all), all[0].ID)
	}
}
