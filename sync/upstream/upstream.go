// Package upstream is the reference upstream server: the upload API of
// sync/API.md, implemented plainly, with its own SQLite store. It is the
// API's executable specification; the tests and the demo run it in process,
// and `kiosk upstream` serves it.
//
// Every record is kept once, by id and by (kiosk id, seq), for good: a
// record sent again, however late, is answered "duplicate" and not stored
// twice. A record that cannot be kept is "rejected" on its own; the rest of
// its batch goes through.
//
// A record is kept only if it is signed by the device key registered for
// its kiosk (RegisterDevice; a batch of an unknown kiosk is refused whole),
// chains to the record before it when that one is held, and its sealed
// person opens with the server's key. A record whose (kiosk, seq) is held
// with another hash is a fork of the kiosk's history: refused and recorded.
// A record whose predecessor is not held leaves a gap: kept, and counted
// until the gap fills. That is not in itself a fault, and not logged as
// one: a kiosk has two batches in flight, and the later one may be stored
// first, its first record a gap until the earlier one fills it a moment
// later. A gap the kiosk's own chain head shows to be a loss (the head is
// held, a record below it is not) is warned of by Heartbeat.
package upstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
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
	"path/filepath"
	"runtime"
	"sync"
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

// checkpointInterval is how soon after storing a batch the server copies its
// WAL into its database file, from a connection of its own
// (sqlitedb.Checkpointer), so that storing a batch does not: at 20,000
// records/s the WAL grows by about 4 MB in this time, the 1000 pages at
// which SQLite would checkpoint.
const checkpointInterval = 200 * time.Millisecond

// openerEpochs is how many sealing epochs' keys the server keeps: a
// kiosk's epoch spans at most a few batches, and many kiosks' uploads
// interleave. About a kilobyte each.
const openerEpochs = 1024

// Server is the upstream. Its methods and handler are safe for concurrent
// use; batches are applied one at a time, each in its own transaction.
type Server struct {
	w       *sql.DB // the one writer connection
	r       *sql.DB // read-only pool
	cp      *sqlitedb.Checkpointer
	log     *slog.Logger
	now     func() time.Time
	sealKey hpke.PrivateKey
	opener  *wire.Opener // sealKey's, keeping the keys of recent sealing epochs
	order   sequencer    // a kiosk's batches handled at once store in seq order
	t       transport    // device authentication, enrollment, heartbeats, downloads
}

// Options configures a Server.
type Options struct {
	// SealKey opens the person data kiosks seal (wire.Seal). Nil: the key
	// kept next to the store (SealKeyFile), made on first start.
	SealKey hpke.PrivateKey
}

// Open opens the server's store at path, creating it if needed. A nil log
// discards. At most one Options may be given.
func Open(path string, log *slog.Logger, opts ...Options) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(opts) > 1 {
		return nil, errors.New("open upstream: more than one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.SealKey == nil {
		k, err := LoadOrCreateSealKey(filepath.Join(filepath.Dir(path), SealKeyFile))
		if err != nil {
			return nil, fmt.Errorf("open upstream: %w", err)
		}
		o.SealKey = k
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(context.Background(), path, migrations, sqlitedb.Options{})
	if err != nil {
		return nil, fmt.Errorf("open upstream: %w", err)
	}
	cp, err := sqlitedb.StartCheckpointer(context.Background(), path, db, checkpointInterval)
	if err != nil {
		db.W.Close()
		db.R.Close()
		return nil, fmt.Errorf("open upstream: %w", err)
	}
	return &Server{
		w: db.W, r: db.R, cp: cp, log: log, now: time.Now,
		sealKey: o.SealKey, opener: wire.NewOpener(o.SealKey, openerEpochs),
	}, nil
}

// SealPublicKey returns the raw X25519 public key kiosks seal person data
// to, as enrollment hands it out (wire.ParseSealPublicKey reads it).
func (s *Server) SealPublicKey() []byte { return s.sealKey.PublicKey().Bytes() }

// ErrUnknownKiosk is returned for a kiosk with no registered device key.
var ErrUnknownKiosk = errors.New("unknown kiosk: no device key registered")

// RegisterDevice registers pub as the device key kioskID's records are
// signed with, replacing any key registered before (enrollment calls it;
// the demo and tests call it directly). A key registered for another kiosk
// is refused.
func (s *Server) RegisterDevice(ctx context.Context, kioskID string, pub ed25519.PublicKey) error {
	if !wire.ValidKioskID(kioskID) {
		return fmt.Errorf("register device: invalid kiosk id %q", kioskID)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("register device: key of %d bytes; want %d", len(pub), ed25519.PublicKeySize)
	}
	if err := putDeviceKey(ctx, s.w, kioskID, pub, s.now().UnixNano()); err != nil {
		return fmt.Errorf("register device %s: %w", kioskID, err)
	}
	return nil
}

// putDeviceKey registers pub as kioskID's device key, enrolled at (Unix
// nanoseconds), replacing the one before; the same key again changes
// nothing.
func putDeviceKey(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, kioskID string, pub ed25519.PublicKey, at int64) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO device_keys (kiosk_id, public_key, enrolled_at) VALUES (?, ?, ?)
		 ON CONFLICT (kiosk_id) DO UPDATE SET public_key = excluded.public_key, enrolled_at = excluded.enrolled_at
		 WHERE public_key != excluded.public_key`,
		kioskID, []byte(pub), at)
	return err
}

// deviceKey returns the device key registered for kioskID.
func (s *Server) deviceKey(ctx context.Context, kioskID string) (ed25519.PublicKey, error) {
	var pub []byte
	err := s.r.QueryRowContext(ctx, `SELECT public_key FROM device_keys WHERE kiosk_id = ?`, kioskID).Scan(&pub)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrUnknownKiosk
	case err != nil:
		return nil, fmt.Errorf("device key of %s: %w", kioskID, err)
	}
	return ed25519.PublicKey(pub), nil
}

// Close closes the store. Call it after the HTTP server has shut down.
func (s *Server) Close() error {
	return errors.Join(s.cp.Stop(), s.r.Close(), s.w.Close())
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathCheckIns, s.postCheckIns)
	mux.HandleFunc("GET "+wire.PathStats, s.getStatsReport)
	mux.HandleFunc("GET "+wire.PathHealth, s.getHealth)
	s.transportRoutes(mux)
	return mux
}

// Stats counts the records held, the gaps in each kiosk's sequence, the
// forks refused and the records rejected.
func (s *Server) Stats(ctx context.Context) (wire.Stats, error) {
	var st wire.Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM checkins),
		(SELECT COUNT(DISTINCT kiosk_id) FROM checkins),
		(SELECT COALESCE(SUM(m - n), 0) FROM (SELECT MAX(seq) AS m, COUNT(*) AS n FROM checkins GROUP BY kiosk_id)),
		(SELECT COUNT(*) FROM forks),
		(SELECT COALESCE(SUM(n), 0) FROM rejections)`).Scan(&st.CheckIns, &st.Kiosks, &st.Gaps, &st.Forks, &st.Rejected)
	if err != nil {
		return wire.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func (s *Server) postCheckIns(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != wire.ContentType && mt != wire.BatchContentType {
		writeError(w, http.StatusUnsupportedMediaType, "content type must be "+wire.BatchContentType+" or "+wire.ContentType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", wire.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "bad batch: "+err.Error())
		return
	}
	b, err := wire.DecodeBatch(mt, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad batch: "+err.Error())
		return
	}
	if !wire.ValidKioskID(b.KioskID) {
		writeError(w, http.StatusBadRequest, "bad batch: invalid kiosk_id")
		return
	}
	if !mayPost(r, b.KioskID) {
		writeError(w, http.StatusForbidden, "batch of another kiosk than the device's")
		return
	}
	if len(b.Records) > wire.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d records", wire.MaxBatch))
		return
	}

	results, err := s.apply(r.Context(), b)
	if errors.Is(err, ErrUnknownKiosk) {
		writeError(w, http.StatusForbidden, "unknown kiosk: no device key registered for "+b.KioskID)
		return
	}
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

// checked is a record of a batch after the checks that need no store: its
// decoding, hash, signature and sealed person.
type checked struct {
	rec    wire.Record
	person wire.Person
	reason string // a rejection reason, or ""
}

// apply stores a batch in one transaction and returns one result per record.
// The records are checked first, in parallel and outside the transaction:
// that is most of the work (checkBatch).
func (s *Server) apply(ctx context.Context, b wire.RawBatch) ([]wire.ItemResult, error) {
	pub, err := s.deviceKey(ctx, b.KioskID)
	if err != nil {
		return nil, err
	}
	first, ok := b.FirstSeq()
	if ok {
		defer s.order.enter(b.KioskID, first)()
	}
	items := s.checkBatch(b, pub)
	if ok {
		s.order.waitTurn(ctx, b.KioskID, first)
	}

	// The batch is stored whole even if the kiosk hangs up meanwhile (it
	// will send it again, and be told "duplicate"): a transaction of
	// hundreds of statements takes milliseconds, and a context that cannot
	// be cancelled spares the driver a goroutine per statement.
	ctx = context.WithoutCancel(ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	c := chainer{kioskID: b.KioskID, now: s.now().UnixNano()}
	if err := c.prepare(ctx, tx); err != nil {
		return nil, err
	}
	defer c.close()
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM checkins WHERE kiosk_id = ?`, b.KioskID).Scan(&c.heldMax); err != nil {
		return nil, fmt.Errorf("held seq: %w", err)
	}
	results := make([]wire.ItemResult, len(items))
	rejected := map[string]int64{}
	for i, it := range items {
		heldMax := c.heldMax // before this record
		if it.reason == "" {
			results[i], err = c.store(ctx, it.rec, it.person)
			if err != nil {
				return nil, err
			}
		} else {
			results[i] = wire.ItemResult{ID: it.rec.ID, Status: wire.StatusRejected, Reason: it.reason}
		}
		switch res := results[i]; {
		case res.Status == wire.StatusRejected:
			rejected[res.Reason]++
			s.log.Warn("record rejected", "kiosk", b.KioskID, "index", i, "id", it.rec.ID, "seq", it.rec.Seq, "reason", res.Reason)
		case res.Status == wire.StatusAccepted && c.gapBelow:
			// The record before it may be in the batch the kiosk sent
			// just before this one, or never come: only the kiosk's
			// head can tell (Heartbeat), so this is no warning.
			s.log.Info("record stored before its predecessor", "kiosk", b.KioskID, "seq", it.rec.Seq, "held_max", heldMax)
		case res.Status == wire.StatusAccepted && c.filledGap:
			s.log.Info("gap filled", "kiosk", b.KioskID, "seq", it.rec.Seq, "held_max", heldMax)
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
	return results, nil
}

// checkBatch decodes and checks the records of b, verifies their
// signatures with the kiosk's device key pub and opens their people, in
// parallel.
//
// Signatures are verified per chained run (sync/API.md): every record's
// hash must be its digest; a record whose prev is the hash of the record
// right before it in the batch, with the next seq, continues that record's
// run. Only the last record of each run has its signature verified: it
// signs its hash, which commits to its prev, and so to every record of the
// run. When that signature fails, each record of the run is verified on its
// own, so the results are those of verifying every record.
func (s *Server) checkBatch(b wire.RawBatch, pub ed25519.PublicKey) []checked {
	items := make([]checked, len(b.Records))
	unsealable := make([]bool, len(items))
	// Decoding, fields, hash and person: a record's own work. A record
	// whose signature turns out bad is opened for nothing; that costs
	// only a kiosk that sends them.
	parallel(len(items), func(i int) {
		rec, reason := decodeRecord(b, i)
		if reason == "" && (len(rec.Hash) != wire.HashSize || !bytes.Equal(rec.Hash, rec.Digest())) {
			reason = wire.ReasonBadSignature
		}
		items[i] = checked{rec: rec, reason: reason}
		if reason == "" {
			p, err := s.opener.Open(rec.KioskID, rec.ID, rec.Sealed)
			items[i].person, unsealable[i] = p, err != nil
		}
	})
	// Runs, and the signature of the last record of each.
	link := make([]bool, len(items)+1) // link[i]: items[i] continues items[i-1]'s run
	for i := 1; i < len(items); i++ {
		r, p := &items[i].rec, &items[i-1].rec
		link[i] = items[i].reason == "" && items[i-1].reason == "" &&
			r.Seq == p.Seq+1 && len(r.Prev) == wire.HashSize && bytes.Equal(r.Prev, p.Hash)
	}
	var ends []int
	for end := range items {
		if items[end].reason == "" && !link[end+1] {
			ends = append(ends, end)
		}
	}
	parallel(len(ends), func(j int) {
		end := ends[j]
		if ed25519.Verify(pub, items[end].rec.Hash, items[end].rec.Sig) {
			return
		}
		start := end
		for link[start] {
			start--
		}
		for i := start; i <= end; i++ { // find the culprits
			if !ed25519.Verify(pub, items[i].rec.Hash, items[i].rec.Sig) {
				items[i].reason = wire.ReasonBadSignature
			}
		}
	})
	for i := range items {
		if items[i].reason == "" && unsealable[i] {
			items[i].reason = wire.ReasonUnsealable
		}
	}
	return items
}

// parallel calls f(0) to f(n-1) on as many goroutines as there are
// processors, each taking a contiguous share (consecutive records are of
// one sealing epoch, opened once per goroutine at most).
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// decodeRecord decodes and checks record i of b. It returns a rejection
// reason, or "" for a record that may be stored.
func decodeRecord(b wire.RawBatch, i int) (wire.Record, string) {
	rec, badTime, err := b.DecodeRecord(i)
	switch {
	case err != nil && badTime:
		return rec, wire.ReasonBadTime
	case err != nil:
		return rec, wire.ReasonMalformed
	}
	return rec, checkRecord(&rec, b.KioskID)
}

// checkRecord checks the fields of a decoded record of a batch of kioskID.
// It returns a rejection reason, or "" for a record that may be stored.
func checkRecord(rec *wire.Record, kioskID string) string {
	switch {
	case !wire.ValidID(rec.ID):
		return wire.ReasonBadID
	case rec.KioskID != kioskID:
		return wire.ReasonKioskMismatch
	case rec.Seq == 0 || rec.Seq > math.MaxInt64:
		return wire.ReasonBadSeq
	case rec.At.IsZero() || rec.At.Year() < 1678 || rec.At.Year() > 2261: // Unix nanoseconds fit int64
		return wire.ReasonBadTime
	case !wire.ValidClock(rec.Clock):
		return wire.ReasonBadField
	case rec.Outcome == "" || len(rec.Outcome) > maxOutcomeLen || len(rec.Issuer) > maxIssuerLen || len(rec.Serial) > maxSerialLen:
		return wire.ReasonBadField
	}
	return ""
}

// chainer stores the verified records of one batch of one kiosk, in
// order, checking each against the chain held.
type chainer struct {
	kioskID string
	now     int64
	heldMax int64 // the highest seq held of the kiosk

	// The record stored or found last in this batch: usually the one
	// before the next, which then needs no lookup.
	lastSeq  uint64
	lastHash []byte

	gapBelow  bool // the last record accepted left a gap below it
	filledGap bool // the last record accepted closed a gap: the records on both sides of it are held

	// Statements prepared for the batch (prepare).
	byKioskSeq, prevOf, insert *sql.Stmt
	tx                         *sql.Tx
}

// prepare prepares the statements store runs, in tx.
func (c *chainer) prepare(ctx context.Context, tx *sql.Tx) error {
	c.tx = tx
	var err error
	if c.byKioskSeq, err = tx.PrepareContext(ctx, `SELECT id, hash FROM checkins WHERE kiosk_id = ? AND seq = ?`); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if c.prevOf, err = tx.PrepareContext(ctx, `SELECT prev FROM checkins WHERE kiosk_id = ? AND seq = ?`); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	c.insert, err = tx.PrepareContext(ctx, `INSERT INTO checkins
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
	for _, st := range []*sql.Stmt{c.byKioskSeq, c.prevOf, c.insert} {
		if st != nil {
			st.Close()
		}
	}
}

// store keeps rec unless it is held already, and says which. rec's hash
// and signature are verified.
func (c *chainer) store(ctx context.Context, rec wire.Record, p wire.Person) (wire.ItemResult, error) {
	accepted := wire.ItemResult{ID: rec.ID, Status: wire.StatusAccepted}
	reject := func(reason string) (wire.ItemResult, error) {
		return wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: reason}, nil
	}
	c.gapBelow, c.filledGap = false, false
	seq := int64(rec.Seq)

	// Held already: the same record, a fork of it, or an id clash.
	if seq <= c.heldMax || c.lastSeq >= rec.Seq {
		var id string
		var hash []byte
		err := c.byKioskSeq.QueryRowContext(ctx, c.kioskID, seq).Scan(&id, &hash)
		switch {
		case err == nil && id == rec.ID && (bytes.Equal(hash, rec.Hash) || len(hash) == 0):
			c.lastSeq, c.lastHash = rec.Seq, rec.Hash
			return wire.ItemResult{ID: rec.ID, Status: wire.StatusDuplicate}, nil
		case err == nil:
			_, err := c.tx.ExecContext(ctx, `INSERT INTO forks (kiosk_id, seq, hash, id, held_hash, received_at)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.kioskID, seq, rec.Hash, rec.ID, hash, c.now)
			if err != nil {
				return wire.ItemResult{}, fmt.Errorf("record fork: %w", err)
			}
			return reject(wire.ReasonFork)
		case !errors.Is(err, sql.ErrNoRows):
			return wire.ItemResult{}, fmt.Errorf("look up %s seq %d: %w", c.kioskID, seq, err)
		}
	}

	// The record before it, held or in this batch, must be the one it
	// chains to. Not held: a gap, accepted (its record may come later).
	prev, held, check := wire.GenesisPrev, true, true
	switch {
	case rec.Seq == 1:
	case c.lastSeq == rec.Seq-1 && c.lastHash != nil:
		prev = c.lastHash
	default:
		var id string
		err := c.byKioskSeq.QueryRowContext(ctx, c.kioskID, seq-1).Scan(&id, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			held, check = false, false
		case err != nil:
			return wire.ItemResult{}, fmt.Errorf("look up %s seq %d: %w", c.kioskID, seq-1, err)
		case len(prev) == 0: // held from before records were hashed: nothing to check against
			check = false
		}
	}
	if check && !rec.Follows(rec.Seq-1, prev) {
		return reject(wire.ReasonChainBroken)
	}
	// And the record after it, when held (it filled a gap), must chain to it.
	var nextHeld bool
	if seq < c.heldMax {
		var next []byte
		err := c.prevOf.QueryRowContext(ctx, c.kioskID, seq+1).Scan(&next)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return wire.ItemResult{}, fmt.Errorf("look up %s seq %d: %w", c.kioskID, seq+1, err)
		}
		if len(next) > 0 && !bytes.Equal(next, rec.Hash) {
			return reject(wire.ReasonChainBroken)
		}
		nextHeld = err == nil
	}

	res, err := c.insert.ExecContext(ctx,
		rec.ID, rec.KioskID, seq, rec.At.UnixNano(), rec.Clock, rec.Outcome, rec.Issuer, rec.Serial, c.now,
		rec.BootID, rec.Mono, rec.Sealed, rec.Prev, rec.Hash, rec.Sig, p.ANumber, p.FamilyName, p.GivenName, p.DateOfBirth, p.Office)
	if err != nil {
		return wire.ItemResult{}, fmt.Errorf("insert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wire.ItemResult{}, fmt.Errorf("insert: %w", err)
	} else if n == 0 {
		// The (kiosk, seq) is free (looked up above): the id is another
		// record's.
		return reject(wire.ReasonIDConflict)
	}
	c.gapBelow = !held
	c.filledGap = held && nextHeld
	c.lastSeq, c.lastHash = rec.Seq, rec.Hash
	c.heldMax = max(c.heldMax, seq)
	return accepted, nil
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
