package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docketkiosk/checkin-kiosk/internal/pgtest"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// batchSize is a full batch, as a kiosk with a backlog sends.
const batchSize = 500

// records returns records first to first+n-1 of kiosk k, chained from
// prev, as wide as a real one (a sealed person of about 200 bytes).
func records(k string, first uint64, n int, prev []byte) []upstream.Item {
	out := make([]upstream.Item, n)
	kh := sha256.Sum256([]byte(k))
	for i := range out {
		seq := first + uint64(i)
		r := wire.Record{
			ID: fmt.Sprintf("01977420-4c00-7000-8000-%04x%08x", kh[:2], seq), KioskID: k, Seq: seq,
			At: time.Unix(1772614800, int64(seq)), Clock: "synced", Outcome: "checked_in", Issuer: "US-DHS-TEST",
			Serial: fmt.Sprintf("%016x", seq), BootID: "6f1c6a1e-8a9b-4c39-9f1e-2b1e0f4f7a11", Mono: int64(seq) * 1e9,
			Sealed: make([]byte, 200), Prev: prev, Sig: make([]byte, 64),
		}
		r.Hash = r.Digest()
		prev = r.Hash
		out[i] = upstream.Item{Record: r, Person: wire.Person{ANumber: "A000000000", FamilyName: "Family",
			GivenName: "Given", DateOfBirth: "1990-01-01", Office: "Office"}}
	}
	return out
}

// BenchmarkAppend stores batches of 500 new records of one kiosk, each
// batch following the one before: the path of a kiosk draining its
// backlog. Compare with BenchmarkCopyFloor.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, pgtest.Shared(b).NewDatabase(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	prev, seq := wire.GenesisPrev, uint64(1)
	now := time.Now()
	for b.Loop() {
		b.StopTimer()
		batch := records("k1", seq, batchSize, prev)
		prev, seq = batch[batchSize-1].Record.Hash, seq+batchSize
		b.StartTimer()
		ps, err := st.Append(ctx, "k1", batch, now)
		if err != nil || ps[0].Result.Status != wire.StatusAccepted {
			b.Fatalf("Append() = %+v, %v", ps[0], err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCopyFloor copies the rows BenchmarkAppend stores, each batch in
// a transaction of its own, into a table of the same shape (its
// constraints too) with pgx's CopyFrom: what no Append can beat.
func BenchmarkCopyFloor(b *testing.B) {
	ctx := context.Background()
	dsn := pgtest.Shared(b).NewDatabase(b)
	st, err := Open(ctx, dsn, Options{})
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE floor (LIKE checkins INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	prev, seq := wire.GenesisPrev, uint64(1)
	now := time.Now()
	for b.Loop() {
		b.StopTimer()
		batch := records("k1", seq, batchSize, prev)
		prev, seq = batch[batchSize-1].Record.Hash, seq+batchSize
		p := placer{held: map[uint64]*upstream.Held{}, ids: map[string]bool{}}
		_, rows, _ := p.place(batch, now)
		b.StartTimer()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"floor"}, checkinColumns, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
}

// TestExplainHotQueries logs the plans of the queries run per batch and
// per heartbeat, against 50 kiosks of 2,000 records each, and checks
// that none reads a table whole.
func TestExplainHotQueries(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDatabase(t)
	st, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for k := range 50 {
		prev := wire.GenesisPrev
		for first := uint64(1); first < 2000; first += batchSize {
			batch := records(fmt.Sprintf("k%d", k), first, batchSize, prev)
			prev = batch[batchSize-1].Record.Hash
			if _, err := st.Append(ctx, batch[0].Record.KioskID, batch, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := st.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, 0, 3*batchSize)
	for s := int64(1500); s < 1500+3*batchSize/3; s++ {
		seqs = append(seqs, s)
	}
	for _, q := range []struct {
		name string
		sql  string
		args []any
	}{
		{"lock (Append)", lockSQL, []any{"k7"}},
		{"held (Append, a batch retried)", heldSQL, []any{"k7", seqs}},
		{"holdings (Heartbeat, head below the highest held)", holdingsSQL, []any{"k7", int64(1000)}},
		{"holdings (Heartbeat, in sync)", holdingsSQL, []any{"k7", int64(2000)}},
		{"last check-ins (the fleet view: a row of chains per kiosk)", lastCheckInsSQL, nil},
	} {
		tx, err := st.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		tx.Rollback(ctx)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		plan := strings.Join(lines, "\n")
		t.Logf("%s:\n%s", q.name, plan)
		if strings.Contains(plan, "Seq Scan on checkins") {
			t.Errorf("%s reads checkins whole", q.name)
		}
	}
}
