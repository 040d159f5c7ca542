// Package upstream is the reference upstream server: the upload API of
// sync/API.md, implemented plainly. It is the API's executable
// specification; the tests and the demo run it in process, and `kiosk
// upstream` serves it (Serve). What it holds it keeps in a Store:
// sync/upstream/sqlite is the embedded one.
//
// Every record is kept once, by id and by (kiosk id, seq), for good: a
// record sent again, however late, is answered "duplicate" and not stored
// twice. A record that cannot be kept is "rejected" on its own; the rest of
// its batch goes through.
//
// A record is kept only if it is signed by the device key registered for
// its kiosk (RegisterDevice; a batch of an unknown kiosk is refused whole),
// chains to the record before it when that one is held (Place), and its
// sealed person opens with the server's key. A record whose (kiosk, seq)
// is held with another hash is a fork of the kiosk's history: refused and
// recorded. A record whose predecessor is not held leaves a gap: kept, and
// counted until the gap fills. That is not in itself a fault, and not
// logged as one: a kiosk has two batches in flight, and the later one may
// be stored first, its first record a gap until the earlier one fills it a
// moment later. A gap the kiosk's own chain head shows to be a loss (the
// head is held, a record below it is not) is warned of by Heartbeat.
//
// Every request but enrollment, stats and health must come from an
// enrolled device (Handler): there is no handler without authentication.
package upstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Field limits: longer values are rejected (wire.ReasonBadField).
const (
	maxOutcomeLen = 64
	maxIssuerLen  = 256
	maxSerialLen  = 256
)

// openerEpochs is how many sealing epochs' keys the server keeps: a
// kiosk's epoch spans at most a few batches, and many kiosks' uploads
// interleave. About a kilobyte each.
const openerEpochs = 1024

// Server is the upstream. Its methods and handler are safe for concurrent
// use; batches are applied one at a time, each in its own transaction.
type Server struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	sealKey hpke.PrivateKey
	opener  *wire.Opener // sealKey's, keeping the keys of recent sealing epochs
	order   sequencer    // a kiosk's batches handled here at once store in seq order: fewer gaps noted, not correctness
	auth    func(*http.Request) (ed25519.PublicKey, error)
	t       transport     // enrollment, heartbeats, downloads
	ops     operatorState // operator endpoints: admin tokens, metrics (admin.go)
}

// Options configures a Server.
type Options struct {
	// SealKey opens the person data kiosks seal (wire.Seal). Required
	// (LoadOrCreateSealKey keeps one in a file).
	SealKey hpke.PrivateKey
	// Log is where the server logs; nil discards.
	Log *slog.Logger
	// Authenticate returns the device key a request proves it holds. Nil:
	// the key of the request's TLS client certificate
	// (ClientCertificateKey), as `kiosk upstream` serves. Either way the
	// key must be enrolled, and a request that proves none is refused.
	// Tests that serve plain HTTP say here, explicitly, which device their
	// requests come from; nothing authenticates by default.
	Authenticate func(r *http.Request) (ed25519.PublicKey, error)
}

// New returns a server keeping what it holds in st, which it takes over:
// Close closes it.
func New(st Store, o Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("new upstream: no store")
	}
	if o.SealKey == nil {
		return nil, errors.New("new upstream: no seal key")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Authenticate == nil {
		o.Authenticate = ClientCertificateKey
	}
	return &Server{
		store: st, log: o.Log, now: time.Now, auth: o.Authenticate,
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
	if err := s.store.PutDevice(ctx, kioskID, pub, s.now()); err != nil {
		return fmt.Errorf("register device %s: %w", kioskID, err)
	}
	return nil
}

// deviceKey returns the device key registered for kioskID.
func (s *Server) deviceKey(ctx context.Context, kioskID string) (ed25519.PublicKey, error) {
	pub, ok, err := s.store.DeviceKey(ctx, kioskID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("device key of %s: %w", kioskID, err)
	case !ok:
		return nil, ErrUnknownKiosk
	}
	return pub, nil
}

// Close closes the store. Call it after the HTTP server has shut down.
func (s *Server) Close() error {
	return s.store.Close()
}

// Handler serves the API. The operator endpoints (stats, fleet, metrics)
// need an admin token (SetAdmin, admin.go); every other request but
// enrollment and health must come from an enrolled device
// (Options.Authenticate: by default its TLS client certificate), else it
// is answered 403; the kiosk the device
// was enrolled as is the only one it may post batches and heartbeats for.
// Served over plain HTTP without Options.Authenticate, it refuses every
// kiosk request.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+wire.PathCheckIns, s.observeBatches(http.HandlerFunc(s.postCheckIns)))
	mux.HandleFunc("GET "+wire.PathHealth, s.getHealth)
	s.transportRoutes(mux)
	// Operator endpoints take an admin token, not a device (admin.go).
	top := http.NewServeMux()
	top.Handle("/", s.authenticate(mux))
	s.operatorRoutes(top)
	return top
}

// Stats counts the records held, the gaps in each kiosk's sequence, the
// forks refused and the records rejected.
func (s *Server) Stats(ctx context.Context) (wire.Stats, error) {
	st, err := s.store.Stats(ctx)
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
	placed, err := s.store.Append(context.WithoutCancel(ctx), b.KioskID, items, s.now())
	if err != nil {
		return nil, fmt.Errorf("store batch: %w", err)
	}
	if len(placed) != len(items) {
		return nil, fmt.Errorf("store batch: %d results for %d records", len(placed), len(items))
	}
	results := make([]wire.ItemResult, len(placed))
	for i, p := range placed {
		results[i] = p.Result
		rec := items[i].Record
		switch res := p.Result; {
		case res.Status == wire.StatusRejected:
			s.log.Warn("record rejected", "kiosk", b.KioskID, "index", i, "id", rec.ID, "seq", rec.Seq, "reason", res.Reason)
		case res.Status == wire.StatusAccepted && p.GapBelow:
			// The record before it may be in the batch the kiosk sent
			// just before this one, or never come: only the kiosk's
			// head can tell (Heartbeat), so this is no warning.
			s.log.Info("record stored before its predecessor", "kiosk", b.KioskID, "seq", rec.Seq, "held_max", p.HeldMax)
		case res.Status == wire.StatusAccepted && p.FilledGap:
			s.log.Info("gap filled", "kiosk", b.KioskID, "seq", rec.Seq, "held_max", p.HeldMax)
		}
	}
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
func (s *Server) checkBatch(b wire.RawBatch, pub ed25519.PublicKey) []Item {
	items := make([]Item, len(b.Records))
	unsealable := make([]bool, len(items))
	// Decoding, fields, hash and person: a record's own work. A record
	// whose signature turns out bad is opened for nothing; that costs
	// only a kiosk that sends them.
	parallel(len(items), func(i int) {
		rec, reason := decodeRecord(b, i)
		if reason == "" && (len(rec.Hash) != wire.HashSize || !bytes.Equal(rec.Hash, rec.Digest())) {
			reason = wire.ReasonBadSignature
		}
		items[i] = Item{Record: rec, Reason: reason}
		if reason == "" {
			p, err := s.opener.Open(rec.KioskID, rec.ID, rec.Sealed)
			items[i].Person, unsealable[i] = p, err != nil
		}
	})
	// Runs, and the signature of the last record of each.
	link := make([]bool, len(items)+1) // link[i]: items[i] continues items[i-1]'s run
	for i := 1; i < len(items); i++ {
		r, p := &items[i].Record, &items[i-1].Record
		link[i] = items[i].Reason == "" && items[i-1].Reason == "" &&
			r.Seq == p.Seq+1 && len(r.Prev) == wire.HashSize && bytes.Equal(r.Prev, p.Hash)
	}
	var ends []int
	for end := range items {
		if items[end].Reason == "" && !link[end+1] {
			ends = append(ends, end)
		}
	}
	parallel(len(ends), func(j int) {
		end := ends[j]
		if ed25519.Verify(pub, items[end].Record.Hash, items[end].Record.Sig) {
			return
		}
		start := end
		for link[start] {
			start--
		}
		for i := start; i <= end; i++ { // find the culprits
			if !ed25519.Verify(pub, items[i].Record.Hash, items[i].Record.Sig) {
				items[i].Reason = wire.ReasonBadSignature
			}
		}
	})
	for i := range items {
		if items[i].Reason == "" && unsealable[i] {
			items[i].Reason = wire.ReasonUnsealable
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

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
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
