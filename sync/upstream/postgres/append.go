package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// maxAttempts is how many times Append tries a batch whose transaction
// failed on a conflict with another's (see Append).
const maxAttempts = 4

// The hot queries of Append, named for the test that explains them.
const (
	// lockSQL takes the kiosk's lock and reads its counts.
	lockSQL = `SELECT held_max, held_count FROM chains WHERE kiosk_id = $1 FOR UPDATE`
	// heldSQL reads the records held at the seqs $2 of kiosk $1.
	heldSQL = `SELECT seq, id, prev, hash FROM checkins WHERE kiosk_id = $1 AND seq = ANY($2)`
)

// checkinColumns are the columns of checkins, in the order Append copies
// them.
var checkinColumns = []string{"id", "kiosk_id", "seq", "at", "clock", "outcome", "issuer", "serial", "received_at",
	"boot_id", "mono", "sealed", "prev", "hash", "sig", "a_number", "family_name", "given_name", "date_of_birth", "office"}

// Append stores a batch of kioskID's items in one transaction, each placed
// by upstream.Place against what the database holds, the batch's earlier
// records included.
//
// The transaction first takes the kiosk's row of chains FOR UPDATE: a
// batch of the same kiosk stored by any replica at the same moment waits
// for this one's commit, and then reads what it stored (READ COMMITTED:
// each statement reads what was committed when it began). Then one query
// reads the records held that Place needs: those at each record's seq and
// either side, below the highest seq held (nothing is held above). The
// records kept are copied in (COPY); forks, rejections and the kiosk's
// counts and last check-in (chains) are written in one batch of
// statements.
//
// A record's id is unique across kiosks. Looking up every id of every
// batch would cost a lookup per record to catch what only a broken kiosk
// sends, so the first attempt does not: a record whose id is held at
// another (kiosk, seq) fails the copy (unique violation), and the batch is
// placed again, this time with its ids looked up, and such a record is
// rejected wire.ReasonIDConflict. A deadlock (two kiosks' batches sharing
// ids) is tried again the same way.
func (s *Store) Append(ctx context.Context, kioskID string, items []upstream.Item, now time.Time) ([]upstream.Placement, error) {
	lookUpIDs := false
	for attempt := 1; ; attempt++ {
		placed, err := s.append(ctx, kioskID, items, now, lookUpIDs)
		if err == nil {
			return placed, nil
		}
		code := errorCode(err)
		if attempt == maxAttempts || code != uniqueViolation && code != deadlockDetected && code != serializationFailure {
			return nil, err
		}
		lookUpIDs = true
	}
}

// append is one attempt of Append; with lookUpIDs, it looks up which ids of
// the batch are held already.
func (s *Store) append(ctx context.Context, kioskID string, items []upstream.Item, now time.Time, lookUpIDs bool) ([]upstream.Placement, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	// The kiosk's lock, and its counts.
	var held0 struct{ max, count int64 }
	lock := &pgx.Batch{}
	lock.Queue(`INSERT INTO chains (kiosk_id) VALUES ($1) ON CONFLICT (kiosk_id) DO NOTHING`, kioskID)
	lock.Queue(lockSQL, kioskID).
		QueryRow(func(row pgx.Row) error { return row.Scan(&held0.max, &held0.count) })
	if err := tx.SendBatch(ctx, lock).Close(); err != nil {
		return nil, fmt.Errorf("lock kiosk: %w", err)
	}

	p := placer{kioskID: kioskID, heldMax: uint64(held0.max), held: map[uint64]*upstream.Held{}, ids: map[string]bool{}}
	if err := p.lookUp(ctx, tx, items, lookUpIDs); err != nil {
		return nil, err
	}
	placed, rows, forks := p.place(items, now)
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"checkins"}, checkinColumns, pgx.CopyFromRows(rows)); err != nil {
			return nil, fmt.Errorf("copy check-ins: %w", err)
		}
	}

	writes := &pgx.Batch{}
	if len(forks.seq) > 0 {
		writes.Queue(`INSERT INTO forks (kiosk_id, seq, hash, id, held_hash, received_at)
			SELECT $1::text, * FROM unnest($2::bigint[], $3::bytea[], $4::text[], $5::bytea[]) AS f, (VALUES ($6::bigint)) AS r
			ON CONFLICT DO NOTHING`, kioskID, forks.seq, forks.hash, forks.id, forks.heldHash, now.UnixNano())
	}
	rejected := map[string]int64{}
	for _, pl := range placed {
		if pl.Result.Status == wire.StatusRejected {
			rejected[pl.Result.Reason]++
		}
	}
	for reason, n := range rejected {
		writes.Queue(`INSERT INTO rejections (reason, n) VALUES ($1, $2)
			ON CONFLICT (reason) DO UPDATE SET n = rejections.n + excluded.n`, reason, n)
	}
	if len(rows) > 0 {
		writes.Queue(`UPDATE chains SET held_max = $2, held_count = held_count + $3, last_at = GREATEST(last_at, $4)
			WHERE kiosk_id = $1`, kioskID, int64(p.heldMax), int64(len(rows)), p.lastAt)
	}
	if writes.Len() > 0 {
		if err := tx.SendBatch(ctx, writes).Close(); err != nil {
			return nil, fmt.Errorf("store forks and counts: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return placed, nil
}

// placer places the items of one batch of one kiosk, in order, against
// the records held that it looked up and those the batch keeps.
type placer struct {
	kioskID string
	heldMax uint64                    // the highest seq held of the kiosk, the batch's included
	held    map[uint64]*upstream.Held // by seq: those looked up, and those the batch keeps
	ids     map[string]bool           // ids held (looked up) or kept by the batch
	lastAt  int64                     // the greatest at of the records the batch keeps (Unix nanoseconds)
}

// lookUp reads the records held that placing items can ask for: at each
// record's seq, seq-1 and seq+1, those up to the highest seq held. With
// ids, it also reads which of the records' ids are held.
func (p *placer) lookUp(ctx context.Context, tx pgx.Tx, items []upstream.Item, ids bool) error {
	var seqs []int64
	var idList []string
	for _, it := range items {
		if it.Reason != "" {
			continue
		}
		for _, seq := range []uint64{it.Record.Seq - 1, it.Record.Seq, it.Record.Seq + 1} {
			if seq >= 1 && seq <= p.heldMax {
				seqs = append(seqs, int64(seq))
			}
		}
		idList = append(idList, it.Record.ID)
	}
	if len(seqs) == 0 && !ids {
		return nil // all above what is held: the usual batch
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	b := &pgx.Batch{}
	if len(seqs) > 0 {
		b.Queue(heldSQL, p.kioskID, seqs).
			Query(func(rows pgx.Rows) error {
				var seq int64
				var h upstream.Held
				_, err := pgx.ForEachRow(rows, []any{&seq, &h.ID, &h.Prev, &h.Hash}, func() error {
					held := h
					p.held[uint64(seq)] = &held
					return nil
				})
				return err
			})
	}
	if ids {
		b.Queue(`SELECT id FROM checkins WHERE id = ANY($1)`, idList).Query(func(rows pgx.Rows) error {
			var id string
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
				p.ids[id] = true
				return nil
			})
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("look up %s's records held: %w", p.kioskID, err)
	}
	return nil
}

// forkRows are the forks of a batch, as the columns of forks.
type forkRows struct {
	seq            []int64
	hash, heldHash [][]byte
	id             []string
}

// place places each item, in order, and returns the placements, the rows
// of the records to keep and the forks to record.
func (p *placer) place(items []upstream.Item, now time.Time) ([]upstream.Placement, [][]any, forkRows) {
	placed := make([]upstream.Placement, len(items))
	var rows [][]any
	var forks forkRows
	for i, it := range items {
		heldMax := p.heldMax // before this record
		rec := it.Record
		switch {
		case it.Reason != "":
			placed[i].Result = wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: it.Reason}
		default:
			var before *upstream.Held
			if rec.Seq > 1 {
				before = p.held[rec.Seq-1]
			}
			placed[i] = upstream.Place(rec, p.held[rec.Seq], before, p.held[rec.Seq+1])
		}
		switch pl := &placed[i]; {
		case pl.Fork:
			forks.seq = append(forks.seq, int64(rec.Seq))
			forks.hash = append(forks.hash, rec.Hash)
			forks.id = append(forks.id, rec.ID)
			forks.heldHash = append(forks.heldHash, pl.ForkOf)
		case pl.Keep && p.ids[rec.ID]:
			// The (kiosk, seq) is free: the id is another record's.
			*pl = upstream.Placement{Result: wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: wire.ReasonIDConflict}}
		case pl.Keep:
			per := it.Person
			rows = append(rows, []any{rec.ID, rec.KioskID, int64(rec.Seq), rec.At.UnixNano(), rec.Clock, rec.Outcome,
				rec.Issuer, rec.Serial, now.UnixNano(), rec.BootID, rec.Mono, rec.Sealed, rec.Prev, rec.Hash, rec.Sig,
				per.ANumber, per.FamilyName, per.GivenName, per.DateOfBirth, per.Office})
			p.held[rec.Seq] = &upstream.Held{ID: rec.ID, Prev: rec.Prev, Hash: rec.Hash}
			p.ids[rec.ID] = true
			p.heldMax = max(p.heldMax, rec.Seq)
			if at := rec.At.UnixNano(); len(rows) == 1 || at > p.lastAt {
				p.lastAt = at
			}
		}
		placed[i].HeldMax = heldMax
	}
	return placed, rows, forks
}
