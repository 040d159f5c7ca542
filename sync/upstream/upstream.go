// Package upstream is the reference upstream server: the upload API of
// sync/API.md, implemented plainly, with its own SQLite store. It is the
// API's executable specification; the tests and the demo run it in process,
// and `kiosk upstream` serves it.
//
// Every record is kept once, by id and by (kiosk id, seq), for good: a
// record sent again, however late, is answered "duplicate" and not stored
// twice. A record that cannot be kept is "rejected" on its own; the rest of
// its batch goes through.
package upstream

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Field limits: longer values are rejected (wire.ReasonBadField).
const (
	maxOutcomeLen = 64
	maxIssuerLen  = 256
	maxSerialLen  = 256
)

// Server is the upstream. Its methods and handler are safe for concurrent
// use; batches are applied one at a time, each in its own transaction.
type Server struct {
	w   *sql.DB // the one writer connection
	r   *sql.DB // read-only pool
	log *slog.Logger
	now func() time.Time
}

// Open opens the server's store at path, creating it if needed. A nil log
// discards.
func Open(path string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	w, r, err := sqlitedb.Open(context.Background(), path, migrations)
	if err != nil {
		return nil, fmt.Errorf("open upstream: %w", err)
	}
	return &Server{w: w, r: r, log: log, now: time.Now}, nil
}

// Close closes the store. Call it after the HTTP server has shut down.
func (s *Server) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathCheckIns, s.postCheckIns)
	mux.HandleFunc("GET "+wire.PathStats, s.getStats)
	mux.HandleFunc("GET "+wire.PathHealth, s.getHealth)
	return mux
}

// Stats counts the records held.
func (s *Server) Stats(ctx context.Context) (wire.Stats, error) {
	var st wire.Stats
	err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), COUNT(DISTINCT kiosk_id) FROM checkins`).Scan(&st.CheckIns, &st.Kiosks)
	if err != nil {
		return wire.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// batch is a wire.Batch whose records are decoded one by one, so that one
// malformed record is rejected alone instead of failing its batch.
type batch struct {
	KioskID string            `json:"kiosk_id"`
	Records []json.RawMessage `json:"records"`
}

func (s *Server) postCheckIns(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != wire.ContentType {
		writeError(w, http.StatusUnsupportedMediaType, "content type must be "+wire.ContentType)
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxBodyBytes))
	dec.DisallowUnknownFields()
	var b batch
	if err := dec.Decode(&b); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", wire.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "bad batch: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad batch: data after the JSON object")
		return
	}
	if !wire.ValidKioskID(b.KioskID) {
		writeError(w, http.StatusBadRequest, "bad batch: invalid kiosk_id")
		return
	}
	if len(b.Records) > wire.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d records", wire.MaxBatch))
		return
	}

	results, err := s.apply(r.Context(), b)
	if err != nil {
		s.log.Error("batch not stored", "kiosk", b.KioskID, "records", len(b.Records), "err", err)
		writeError(w, http.StatusInternalServerError, "batch not stored")
		return
	}
	var accepted, duplicate, rejected int
	for _, res := range results {
		switch res.Status {
		case wire.StatusAccepted:
			accepted++
		case wire.StatusDuplicate:
			duplicate++
		default:
			rejected++
		}
	}
	s.log.Info("batch", "kiosk", b.KioskID, "accepted", accepted, "duplicate", duplicate, "rejected", rejected)
	writeJSON(w, http.StatusOK, wire.BatchResult{Results: results})
}

// apply stores a batch in one transaction and returns one result per record.
func (s *Server) apply(ctx context.Context, b batch) ([]wire.ItemResult, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UnixNano()
	results := make([]wire.ItemResult, len(b.Records))
	for i, raw := range b.Records {
		rec, reason := decodeRecord(raw, b.KioskID)
		if reason == "" {
			results[i], err = store(ctx, tx, rec, now)
			if err != nil {
				return nil, err
			}
		} else {
			results[i] = wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: reason}
		}
		if results[i].Status == wire.StatusRejected {
			s.log.Warn("record rejected", "kiosk", b.KioskID, "index", i, "id", rec.ID, "seq", rec.Seq, "reason", results[i].Reason)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return results, nil
}

// decodeRecord decodes and checks one record of a batch of kioskID. It
// returns a rejection reason, or "" for a record that may be stored.
func decodeRecord(raw json.RawMessage, kioskID string) (wire.Record, string) {
	var rec wire.Record
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		// Say which record, when its id can be read, and whether the
		// time was the trouble.
		var partial struct {
			ID any             `json:"id"`
			At json.RawMessage `json:"at"`
		}
		json.Unmarshal(raw, &partial)
		id, _ := partial.ID.(string)
		var t time.Time
		if partial.At != nil && json.Unmarshal(partial.At, &t) != nil {
			return wire.Record{ID: id}, wire.ReasonBadTime
		}
		return wire.Record{ID: id}, wire.ReasonMalformed
	}
	switch {
	case !wire.ValidID(rec.ID):
		return rec, wire.ReasonBadID
	case rec.KioskID != kioskID:
		return rec, wire.ReasonKioskMismatch
	case rec.Seq == 0 || rec.Seq > math.MaxInt64:
		return rec, wire.ReasonBadSeq
	case rec.At.IsZero() || rec.At.Year() < 1678 || rec.At.Year() > 2261: // Unix nanoseconds fit int64
		return rec, wire.ReasonBadTime
	case !wire.ValidClock(rec.Clock):
		return rec, wire.ReasonBadField
	case rec.Outcome == "" || len(rec.Outcome) > maxOutcomeLen || len(rec.Issuer) > maxIssuerLen || len(rec.Serial) > maxSerialLen:
		return rec, wire.ReasonBadField
	}
	return rec, ""
}

// store keeps rec unless it is held already, and says which.
func store(ctx context.Context, tx *sql.Tx, rec wire.Record, now int64) (wire.ItemResult, error) {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO checkins (id, kiosk_id, seq, at, clock, outcome, issuer, serial, received_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		rec.ID, rec.KioskID, int64(rec.Seq), rec.At.UnixNano(), rec.Clock, rec.Outcome, rec.Issuer, rec.Serial, now)
	if err != nil {
		return wire.ItemResult{}, fmt.Errorf("insert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wire.ItemResult{}, fmt.Errorf("insert: %w", err)
	} else if n == 1 {
		return wire.ItemResult{ID: rec.ID, Status: wire.StatusAccepted}, nil
	}

	// Held already: the same record, or a clash on id or (kiosk, seq).
	var held wire.Record
	var seq, at int64
	err = tx.QueryRowContext(ctx,
		`SELECT kiosk_id, seq, at, clock, outcome, issuer, serial FROM checkins WHERE id = ?`, rec.ID).
		Scan(&held.KioskID, &seq, &at, &held.Clock, &held.Outcome, &held.Issuer, &held.Serial)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: wire.ReasonSeqConflict}, nil
	case err != nil:
		return wire.ItemResult{}, fmt.Errorf("look up %s: %w", rec.ID, err)
	}
	if held.KioskID == rec.KioskID && seq == int64(rec.Seq) && at == rec.At.UnixNano() && held.Clock == rec.Clock &&
		held.Outcome == rec.Outcome && held.Issuer == rec.Issuer && held.Serial == rec.Serial {
		return wire.ItemResult{ID: rec.ID, Status: wire.StatusDuplicate}, nil
	}
	return wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: wire.ReasonIDConflict}, nil
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		s.log.Error("stats", "err", err)
		writeError(w, http.StatusInternalServerError, "stats unavailable")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.r.PingContext(r.Context()); err != nil {
		s.log.Error("health", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", wire.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, wire.Error{Message: msg})
}
