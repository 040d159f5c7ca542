package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// Holdings returns what is held of kioskID against a chain head at seq.
func (s *Store) Holdings(ctx context.Context, kioskID string, seq uint64) (upstream.Holdings, error) {
	var max sql.NullInt64
	var count int64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(seq), COUNT(*) FILTER (WHERE seq <= ?) FROM checkins WHERE kiosk_id = ?`,
		int64(seq), kioskID).Scan(&max, &count)
	if err != nil {
		return upstream.Holdings{}, fmt.Errorf("held seq: %w", err)
	}
	h := upstream.Holdings{Max: uint64(max.Int64), Count: uint64(count)}
	if seq > 0 {
		err := s.r.QueryRowContext(ctx, `SELECT hash FROM checkins WHERE kiosk_id = ? AND seq = ?`, kioskID, int64(seq)).Scan(&h.Hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return upstream.Holdings{}, fmt.Errorf("held hash: %w", err)
		}
	}
	return h, nil
}

// PutBeat keeps b as its kiosk's last heartbeat and returns the state of
// the one before.
func (s *Store) PutBeat(ctx context.Context, b upstream.Beat) (string, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var was string
	err = tx.QueryRowContext(ctx, `SELECT state FROM heads WHERE kiosk_id = ?`, b.Head.KioskID).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("last head: %w", err)
	}
	h := b.Head
	_, err = tx.ExecContext(ctx,
		`INSERT INTO heads (kiosk_id, seq, hash, at, sig, received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (kiosk_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at,
		   sig = excluded.sig, received_at = excluded.received_at, state = excluded.state`,
		h.KioskID, int64(h.Seq), h.Hash, nanos(h.At), h.Sig, nanos(b.Received), b.State)
	if err != nil {
		return "", fmt.Errorf("keep head: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return was, nil
}

// Beats returns every kiosk enrolled or heard from, by id, with its last
// heartbeat and its highest seq held.
func (s *Store) Beats(ctx context.Context) ([]upstream.KioskBeat, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT k.kiosk_id, h.seq, h.hash, h.at, h.sig, h.state, h.received_at,
		       (SELECT MAX(seq) FROM checkins c WHERE c.kiosk_id = k.kiosk_id)
		FROM (SELECT kiosk_id FROM device_keys UNION SELECT kiosk_id FROM heads) k
		LEFT JOIN heads h ON h.kiosk_id = k.kiosk_id
		ORDER BY k.kiosk_id`)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	defer rows.Close()
	var out []upstream.KioskBeat
	for rows.Next() {
		var kb upstream.KioskBeat
		var seq, at, received, heldMax sql.NullInt64
		var hash, sig []byte
		var state sql.NullString
		if err := rows.Scan(&kb.KioskID, &seq, &hash, &at, &sig, &state, &received, &heldMax); err != nil {
			return nil, fmt.Errorf("heads: %w", err)
		}
		kb.HeldMax = uint64(heldMax.Int64)
		if received.Valid {
			kb.Last = &upstream.Beat{State: state.String, Received: fromNanos(received.Int64)}
			kb.Last.Head.KioskID = kb.KioskID
			kb.Last.Head.Seq = uint64(seq.Int64)
			kb.Last.Head.Hash = hash
			kb.Last.Head.At = fromNanos(at.Int64)
			kb.Last.Head.Sig = sig
		}
		out = append(out, kb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	return out, nil
}
