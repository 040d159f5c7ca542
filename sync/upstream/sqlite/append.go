package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Append stores a batch of kioskID's items in one transaction, each placed
// by upstream.Place against what the file holds, the batch's earlier
// records included.
func (s *Store) Append(ctx context.Context, kioskID string, items []upstream.Item, now time.Time) ([]upstream.Placement, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	c := chainer{kioskID: kioskID, now: nanos(now), tx: tx}
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	defer c.close()
	var heldMax int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM checkins WHERE kiosk_id = ?`, kioskID).Scan(&heldMax); err != nil {
		return nil, fmt.Errorf("held seq: %w", err)
	}
	c.heldMax = uint64(heldMax)
	placed := make([]upstream.Placement, len(items))
	rejected := map[string]int64{}
	for i, it := range items {
		heldMax := c.heldMax // before this record
		if it.Reason == "" {
			if placed[i], err = c.store(ctx, it.Record, it.Person); err != nil {
				return nil, err
			}
		} else {
			placed[i].Result = wire.ItemResult{ID: it.Record.ID, Status: wire.StatusRejected, Reason: it.Reason}
		}
		placed[i].HeldMax = heldMax
		if res := placed[i].Result; res.Status == wire.StatusRejected {
			rejected[res.Reason]++
		}
	}
	if c.kept {
		_, err := tx.ExecContext(ctx, `INSERT INTO last_checkins (kiosk_id, last_at) VALUES (?, ?)
			ON CONFLICT (kiosk_id) DO UPDATE SET last_at = MAX(last_at, excluded.last_at)`, kioskID, c.lastAt)
		if err != nil {
			return nil, fmt.Errorf("keep last check-in: %w", err)
		}
	}
	for reason, n := range rejected {
		_, err := tx.ExecContext(ctx, `INSERT INTO rejections (reason, n) VALUES (?, ?)
			ON CONFLICT (reason) DO UPDATE SET n = n + excluded.n`, reason, n)
		if err != nil {
			return nil, fmt.Errorf("count rejections: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	s.cp.Kick()
	return placed, nil
}

// chainer stores the verified records of one batch of one kiosk, in
// order, looking up what upstream.Place needs — only what can be held:
// records arrive mostly in order, above everything held, and then need
// no lookup at all.
type chainer struct {
	kioskID string
	now     int64
	heldMax uint64 // the highest seq held of the kiosk
	tx      *sql.Tx

	// The record stored or found last in this batch: usually the one
	// before the next, which then needs no lookup.
	lastSeq  uint64
	lastHash []byte

	// kept: the batch keeps a record; lastAt: the greatest at of those it
	// keeps (Unix nanoseconds), for last_checkins.
	kept   bool
	lastAt int64

	// Statements prepared for the batch (prepare).
	bySeq, insert *sql.Stmt
}

// prepare prepares the statements store runs.
func (c *chainer) prepare(ctx context.Context) error {
	var err error
	if c.bySeq, err = c.tx.PrepareContext(ctx, `SELECT id, prev, hash FROM checkins WHERE kiosk_id = ? AND seq = ?`); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	c.insert, err = c.tx.PrepareContext(ctx, `INSERT INTO checkins
		(id, kiosk_id, seq, at, clock, outcome, issuer, serial, received_at,
		 boot_id, mono, sealed, prev, hash, sig, a_number, family_name, given_name, date_of_birth, office)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

// close closes the prepared statements.
func (c *chainer) close() {
	for _, st := range []*sql.Stmt{c.bySeq, c.insert} {
		if st != nil {
			st.Close()
		}
	}
}

// held returns the record held at seq, nil if none.
func (c *chainer) held(ctx context.Context, seq uint64) (*upstream.Held, error) {
	var h upstream.Held
	err := c.bySeq.QueryRowContext(ctx, c.kioskID, int64(seq)).Scan(&h.ID, &h.Prev, &h.Hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up %s seq %d: %w", c.kioskID, seq, err)
	}
	return &h, nil
}

// store places rec, whose hash and signature are verified, and keeps it
// or records its fork as upstream.Place says.
func (c *chainer) store(ctx context.Context, rec wire.Record, p wire.Person) (upstream.Placement, error) {
	var same, before, after *upstream.Held
	var err error
	// Nothing is held above heldMax, but what this batch stored.
	if rec.Seq <= c.heldMax || c.lastSeq >= rec.Seq {
		if same, err = c.held(ctx, rec.Seq); err != nil {
			return upstream.Placement{}, err
		}
	}
	if same == nil && rec.Seq > 1 {
		if c.lastSeq == rec.Seq-1 && c.lastHash != nil {
			before = &upstream.Held{Hash: c.lastHash}
		} else if before, err = c.held(ctx, rec.Seq-1); err != nil {
			return upstream.Placement{}, err
		}
	}
	if same == nil && rec.Seq < c.heldMax {
		if after, err = c.held(ctx, rec.Seq+1); err != nil {
			return upstream.Placement{}, err
		}
	}
	pl := upstream.Place(rec, same, before, after)
	switch {
	case pl.Result.Status == wire.StatusDuplicate:
		c.lastSeq, c.lastHash = rec.Seq, rec.Hash
	case pl.Fork:
		_, err := c.tx.ExecContext(ctx, `INSERT INTO forks (kiosk_id, seq, hash, id, held_hash, received_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.kioskID, int64(rec.Seq), rec.Hash, rec.ID, pl.ForkOf, c.now)
		if err != nil {
			return upstream.Placement{}, fmt.Errorf("record fork: %w", err)
		}
	case pl.Keep:
		res, err := c.insert.ExecContext(ctx,
			rec.ID, rec.KioskID, int64(rec.Seq), rec.At.UnixNano(), rec.Clock, rec.Outcome, rec.Issuer, rec.Serial, c.now,
			rec.BootID, rec.Mono, rec.Sealed, rec.Prev, rec.Hash, rec.Sig, p.ANumber, p.FamilyName, p.GivenName, p.DateOfBirth, p.Office)
		if err != nil {
			return upstream.Placement{}, fmt.Errorf("insert: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return upstream.Placement{}, fmt.Errorf("insert: %w", err)
		} else if n == 0 {
			// The (kiosk, seq) is free (looked up above): the id is
			// another record's.
			return upstream.Placement{Result: wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: wire.ReasonIDConflict}}, nil
		}
		c.lastSeq, c.lastHash = rec.Seq, rec.Hash
		c.heldMax = max(c.heldMax, rec.Seq)
		if at := rec.At.UnixNano(); !c.kept || at > c.lastAt {
			c.kept, c.lastAt = true, at
		}
	}
	return pl, nil
}
