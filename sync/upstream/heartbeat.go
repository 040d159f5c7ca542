package upstream

import (
	"context"
	"crypto/ed25519"
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

// compareHead says how head stands against the records held.
func compareHead(head wire.Head, h Holdings) string {
	switch {
	case head.Seq < h.Max:
		return wire.HeadTailDeleted
	case head.Seq > h.Max:
		return wire.HeadBehind
	case head.Seq > 0 && h.Hash != nil && string(h.Hash) != string(head.Hash):
		return wire.HeadFork
	case h.Count < head.Seq:
		return wire.HeadGaps
	}
	return wire.HeadInSync
}

// holdings returns what is held of kioskID against a head at seq.
func (s *Server) holdings(ctx context.Context, kioskID string, seq uint64) (Holdings, error) {
	h, err := s.store.Holdings(ctx, kioskID, seq)
	if err != nil {
		return Holdings{}, fmt.Errorf("held records: %w", err)
	}
	if len(h.Hash) == 0 {
		h.Hash = nil // not held, or a record stored before hashes were kept
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
	heldMax := h.Max
	state := compareHead(head, h)
	// was: the state of the kiosk's last heartbeat; "" if none.
	was, err := s.store.PutBeat(ctx, Beat{Head: head, Received: s.now(), State: state})
	if err != nil {
		return wire.HeartbeatResult{}, fmt.Errorf("keep head: %w", err)
	}
	switch {
	case state == wire.HeadTailDeleted, state == wire.HeadFork:
		s.log.Error("ALERT: kiosk chain head disagrees with the records held", "kiosk", head.KioskID,
			"state", state, "head_seq", head.Seq, "held_seq", heldMax)
	case state == wire.HeadGaps && was != wire.HeadGaps:
		s.log.Warn("gap in a kiosk's sequence: records below its chain head are missing", "kiosk", head.KioskID,
			"head_seq", head.Seq, "held", h.Count, "missing", head.Seq-h.Count)
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
	beats, err := s.store.Beats(ctx)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	now := s.now()
	out := make([]wire.KioskHealth, 0, len(beats))
	for _, b := range beats {
		kh := wire.KioskHealth{KioskID: b.KioskID, HeldSeq: b.HeldMax, Silent: true}
		if b.Last == nil {
			out = append(out, kh)
			continue
		}
		t := b.Last.Received.UTC()
		kh.LastHeartbeat = &t
		kh.HeadSeq = b.Last.Head.Seq
		kh.Silent = now.Sub(t) > silentAfter
		// The state against what is held now: "behind" turns "in_sync"
		// as the records arrive, without another heartbeat. Records above
		// the head that arrived after it make it stale, not a deleted
		// tail: only a head below what was held when it came is one.
		h, err := s.holdings(ctx, kh.KioskID, kh.HeadSeq)
		if err != nil {
			return nil, err
		}
		if b.Last.State != wire.HeadTailDeleted {
			h.Max = min(h.Max, kh.HeadSeq)
		}
		kh.State = compareHead(wire.Head{Seq: kh.HeadSeq, Hash: b.Last.Head.Hash}, h)
		out = append(out, kh)
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
