package upstream

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Heartbeats (sync/API.md, "Heartbeats"): a kiosk sends its signed chain
// head — the seq and hash of its newest record — every minute and after
// each upload. Compared with the records held, it tells a quiet kiosk (a
// recent head, nothing new) from a silent one (no head), records still
// pending (head ahead: behind) from a deleted tail (head below what is held)
// or a fork (the head's seq held with another hash).

// DefaultSilentAfter is how long without a heartbeat makes a kiosk silent:
// three missed heartbeats at the kiosk's default interval.
const DefaultSilentAfter = 3 * time.Minute

// held is what the upstream holds of a kiosk, against its chain head.
type held struct {
	max   uint64 // the highest seq held
	count uint64 // how many records are held up to the head's seq
	hash  []byte // the hash held at the head's seq; nil when not held or unknown
}

// compareHead says how head stands against the records held.
func compareHead(head wire.Head, h held) string {
	switch {
	case head.Seq < h.max:
		return wire.HeadTailDeleted
	case head.Seq > h.max:
		return wire.HeadBehind
	case head.Seq > 0 && h.hash != nil && string(h.hash) != string(head.Hash):
		return wire.HeadFork
	case h.count < head.Seq:
		return wire.HeadGaps
	}
	return wire.HeadInSync
}

// holdings returns what is held of kioskID against a head at seq.
func (s *Server) holdings(ctx context.Context, kioskID string, seq uint64) (held, error) {
	var max sql.NullInt64
	var count int64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(seq), COUNT(*) FILTER (WHERE seq <= ?) FROM checkins WHERE kiosk_id = ?`,
		int64(seq), kioskID).Scan(&max, &count)
	if err != nil {
		return held{}, fmt.Errorf("held seq: %w", err)
	}
	h := held{max: uint64(max.Int64), count: uint64(count)}
	if seq > 0 {
		err := s.r.QueryRowContext(ctx, `SELECT hash FROM checkins WHERE kiosk_id = ? AND seq = ?`, kioskID, int64(seq)).Scan(&h.hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return held{}, fmt.Errorf("held hash: %w", err)
		}
		if len(h.hash) == 0 {
			h.hash = nil // a record stored before hashes were kept
		}
	}
	return h, nil
}

// Heartbeat takes a kiosk's chain head, signed by device key pub, and says
// how it compares with the records held. A tail deleted or a fork is logged
// as an alert. Records missing below a head that is held (gaps) are warned
// of when the kiosk's state turns to gaps, and noted when it turns back: a
// kiosk sends its head after an upload that left nothing pending, so a gap
// it shows is a record the kiosk no longer offers (rejected, or deleted),
// or one still on its way after a failed upload, which the next heartbeat
// after it arrives shows filled.
func (s *Server) Heartbeat(ctx context.Context, head wire.Head, pub ed25519.PublicKey) (wire.HeartbeatResult, error) {
	if err := head.Verify(pub); err != nil {
		return wire.HeartbeatResult{}, err
	}
	h, err := s.holdings(ctx, head.KioskID, head.Seq)
	if err != nil {
		return wire.HeartbeatResult{}, err
	}
	var was string // the state of the kiosk's last heartbeat; "" if none
	err = s.r.QueryRowContext(ctx, `SELECT state FROM heads WHERE kiosk_id = ?`, head.KioskID).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return wire.HeartbeatResult{}, fmt.Errorf("last head: %w", err)
	}
	heldMax := h.max
	state := compareHead(head, h)
	_, err = s.w.ExecContext(ctx,
		`INSERT INTO heads (kiosk_id, seq, hash, at, sig, received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (kiosk_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at,
		   sig = excluded.sig, received_at = excluded.received_at, state = excluded.state`,
		head.KioskID, int64(head.Seq), head.Hash, head.At.UnixNano(), head.Sig, s.now().UnixNano(), state)
	if err != nil {
		return wire.HeartbeatResult{}, fmt.Errorf("keep head: %w", err)
	}
	switch {
	case state == wire.HeadTailDeleted, state == wire.HeadFork:
		s.log.Error("ALERT: kiosk chain head disagrees with the records held", "kiosk", head.KioskID,
			"state", state, "head_seq", head.Seq, "held_seq", heldMax)
	case state == wire.HeadGaps && was != wire.HeadGaps:
		s.log.Warn("gap in a kiosk's sequence: records below its chain head are missing", "kiosk", head.KioskID,
			"head_seq", head.Seq, "held", h.count, "missing", head.Seq-h.count)
	case state == wire.HeadInSync && was == wire.HeadGaps:
		s.log.Info("gap in a kiosk's sequence filled", "kiosk", head.KioskID, "head_seq", head.Seq)
	}
	return wire.HeartbeatResult{State: state, HeldSeq: heldMax}, nil
}

func (s *Server) postHeartbeat(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(w, r) {
		return
	}
	d, ok := deviceFrom(r.Context())
	if !ok {
		writeError(w, http.StatusForbidden, "heartbeats need device authentication")
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var head wire.Head
	if err := dec.Decode(&head); err != nil {
		writeError(w, http.StatusBadRequest, "bad head: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad head: data after the JSON object")
		return
	}
	if head.KioskID != d.kioskID {
		writeError(w, http.StatusForbidden, "head of another kiosk than the device's")
		return
	}
	if len(head.Hash) != wire.HashSize || head.Seq > 1<<63-1 || head.At.IsZero() {
		writeError(w, http.StatusBadRequest, "bad head: hash, seq or at")
		return
	}
	res, err := s.Heartbeat(r.Context(), head, d.key)
	if err != nil {
		if errors.Is(err, wire.ErrBadSignature) {
			writeError(w, http.StatusBadRequest, "bad head: "+err.Error())
			return
		}
		s.log.Error("heartbeat", "kiosk", d.kioskID, "err", err)
		writeError(w, http.StatusInternalServerError, "heartbeat not kept")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Health returns what the heartbeats say of each kiosk that sent one or
// is enrolled, at the server's time now: silent after silentAfter without
// a heartbeat (0: DefaultSilentAfter).
func (s *Server) Health(ctx context.Context, silentAfter time.Duration) ([]wire.KioskHealth, error) {
	if silentAfter <= 0 {
		silentAfter = DefaultSilentAfter
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT k.kiosk_id, h.seq, h.hash, h.state, h.received_at, (SELECT MAX(seq) FROM checkins c WHERE c.kiosk_id = k.kiosk_id)
		FROM (SELECT kiosk_id FROM device_keys UNION SELECT kiosk_id FROM heads) k
		LEFT JOIN heads h ON h.kiosk_id = k.kiosk_id
		ORDER BY k.kiosk_id`)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []wire.KioskHealth
	type head struct {
		hash  []byte
		state string // as the heartbeat was received
	}
	var heads []head
	for rows.Next() {
		var kh wire.KioskHealth
		var seq, received, heldMax sql.NullInt64
		var hd head
		var state sql.NullString
		if err := rows.Scan(&kh.KioskID, &seq, &hd.hash, &state, &received, &heldMax); err != nil {
			return nil, fmt.Errorf("health: %w", err)
		}
		hd.state = state.String
		heads = append(heads, hd)
		kh.HeldSeq = uint64(heldMax.Int64)
		kh.Silent = true
		if received.Valid {
			t := time.Unix(0, received.Int64).UTC()
			kh.LastHeartbeat = &t
			kh.HeadSeq = uint64(seq.Int64)
			kh.Silent = now.Sub(t) > silentAfter
		}
		out = append(out, kh)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	rows.Close()
	// The state against what is held now: "behind" turns "in_sync" as the
	// records arrive, without another heartbeat. Records above the head
	// that arrived after it make it stale, not a deleted tail: only a head
	// below what was held when it came is one.
	for i := range out {
		kh := &out[i]
		if kh.LastHeartbeat == nil {
			continue
		}
		h, err := s.holdings(ctx, kh.KioskID, kh.HeadSeq)
		if err != nil {
			return nil, err
		}
		if heads[i].state != wire.HeadTailDeleted {
			h.max = min(h.max, kh.HeadSeq)
		}
		kh.State = compareHead(wire.Head{Seq: kh.HeadSeq, Hash: heads[i].hash}, h)
	}
	return out, nil
}

// StatsReport is the body of GET /v1/stats: the counts and each kiosk's
// heartbeats.
type StatsReport struct {
	wire.Stats
	Heads []wire.KioskHealth `json:"heads"`
}

func (s *Server) getStatsReport(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err == nil {
		var heads []wire.KioskHealth
		if heads, err = s.Health(r.Context(), s.t.silentAfter); err == nil {
			writeJSON(w, http.StatusOK, StatsReport{Stats: st, Heads: append([]wire.KioskHealth{}, heads...)})
			return
		}
	}
	s.log.Error("stats", "err", err)
	writeError(w, http.StatusInternalServerError, "stats unavailable")
}
