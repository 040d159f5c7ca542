package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// holdingsSQL reads what is held of kiosk $1 against a head at seq $2.
const holdingsSQL = `SELECT c.held_max,
		CASE WHEN $2 >= c.held_max THEN c.held_count
		     ELSE (SELECT COUNT(*) FROM checkins WHERE kiosk_id = $1 AND seq <= $2) END,
		(SELECT hash FROM checkins WHERE kiosk_id = $1 AND seq = $2)
		FROM chains c WHERE c.kiosk_id = $1`

// Holdings returns what is held of kioskID against a chain head at seq, in
// one query: the kiosk's counts (chains), and only when the head is below
// the highest seq held, the records up to it counted.
func (s *Store) Holdings(ctx context.Context, kioskID string, seq uint64) (upstream.Holdings, error) {
	var h upstream.Holdings
	var max, count int64
	err := s.pool.QueryRow(ctx, holdingsSQL, kioskID, int64(seq)).Scan(&max, &count, &h.Hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return upstream.Holdings{}, nil // nothing ever stored of the kiosk
	case err != nil:
		return upstream.Holdings{}, fmt.Errorf("held records: %w", err)
	}
	h.Max, h.Count = uint64(max), uint64(count)
	return h, nil
}

// PutBeat keeps b as its kiosk's last heartbeat and returns the state of
// the one before, in one statement, which reads the row as it was when
// the statement began. Two heartbeats of one kiosk kept at the same moment
// by two replicas may both return the state before them: the state only
// decides what is logged when it changes.
func (s *Store) PutBeat(ctx context.Context, b upstream.Beat) (string, error) {
	h := b.Head
	var was *string
	err := s.pool.QueryRow(ctx, `WITH was AS (SELECT state FROM heads WHERE kiosk_id = $1)
		INSERT INTO heads (kiosk_id, seq, hash, at, sig, received_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (kiosk_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at,
		  sig = excluded.sig, received_at = excluded.received_at, state = excluded.state
		RETURNING (SELECT state FROM was)`,
		h.KioskID, int64(h.Seq), h.Hash, h.At.UnixNano(), h.Sig, b.Received.UnixNano(), b.State).Scan(&was)
	if err != nil {
		return "", fmt.Errorf("keep head: %w", err)
	}
	if was == nil {
		return "", nil
	}
	return *was, nil
}

// Beats returns every kiosk enrolled or heard from, by id (in byte order,
// whatever the database's collation), with its last heartbeat and its
// highest seq held.
func (s *Store) Beats(ctx context.Context) ([]upstream.KioskBeat, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT k.kiosk_id, h.seq, h.hash, h.at, h.sig, h.state, h.received_at, COALESCE(c.held_max, 0)
		FROM (SELECT kiosk_id FROM device_keys UNION SELECT kiosk_id FROM heads) k
		LEFT JOIN heads h ON h.kiosk_id = k.kiosk_id
		LEFT JOIN chains c ON c.kiosk_id = k.kiosk_id
		ORDER BY k.kiosk_id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	var out []upstream.KioskBeat
	var kb upstream.KioskBeat
	var seq, at, received *int64
	var hash, sig []byte
	var state *string
	var heldMax int64
	_, err = pgx.ForEachRow(rows, []any{&kb.KioskID, &seq, &hash, &at, &sig, &state, &received, &heldMax}, func() error {
		b := upstream.KioskBeat{KioskID: kb.KioskID, HeldMax: uint64(heldMax)}
		if received != nil {
			b.Last = &upstream.Beat{State: *state, Received: time.Unix(0, *received)}
			b.Last.Head.KioskID = kb.KioskID
			b.Last.Head.Seq = uint64(*seq)
			b.Last.Head.Hash = hash
			b.Last.Head.At = time.Unix(0, *at)
			b.Last.Head.Sig = sig
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	return out, nil
}
