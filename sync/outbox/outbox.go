// Package outbox is the kiosk's SQLite store. Its checkins table is the
// outbox: a check-in is committed there before the person is told it is
// recorded, stays there pending until the upstream acknowledges it, and is
// then marked uploaded; it is deleted only once acknowledged and older than
// the retention (Options.Retention), and the newest record is always kept,
// as the anchor of the chain.
//
// One writer connection takes every write in a write transaction (BEGIN
// IMMEDIATE, or a commit's lone INSERT, which takes the write lock as it
// starts) on a WAL file with synchronous=FULL, so Commit returns only once
// the record is on stable storage. Readers (Pending, Stats, LastCheckIn) use a
// separate read-only pool and never hold a transaction open past their
// return.
//
// A record (wire.Record) is hash-chained to the one before and signed with
// the kiosk's device key (Options.Device). Nothing personal is stored in
// clear: the person's A-number, names, date of birth and office are sealed
// with HPKE to the upstream's public key (Options.SealKey), an epoch of
// records at a time (Options.SealEpochRecords), and cannot be read from the
// kiosk's files at all; what the kiosk needs to answer "already checked in
// today" is a keyed hash (Options.DupKey) of card issuer, A-number and local
// date, cleared once the day is over. A store cannot be opened without a
// seal key: a kiosk takes no check-ins before it is enrolled.
//
// The table is laid out for commit speed: the sequence number is the rowid,
// so a commit appends to one B-tree without any index to update. Pending
// records are found by a rowid range scan from a low-water mark that Ack
// keeps up to date; LastCheckIn scans back from the newest record over the
// last days only.
//
// A file that fails its integrity check at Open is moved aside, never
// silently recreated: see ErrCorrupt and Options.RecoverCorrupt.
//
// A full disk is seen before a person is asked to confirm, not after:
// Health says whether the store can take a commit now, from the free space
// of its file system (Options.Reserve) and, after a Commit failed, from a
// write it tries itself; Failed signals a failed Commit at once. Note that
// a commit needs no new space while the WAL has room (it is laid out ahead,
// see sqlitedb.PreallocateWAL): on a full disk, commits go on succeeding,
// durably, until the WAL is full, and only then fail.
package outbox

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/sqlitedb"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var (
	_ kiosk.Store       = (*Store)(nil)
	_ kiosk.PriorLookup = (*Store)(nil)
)

// ErrCorrupt is wrapped by the error of Open when the database failed its
// integrity check. The error is then a *CorruptError naming where the file
// was kept.
var ErrCorrupt = sqlitedb.ErrCorrupt

// CorruptError says which file failed its integrity check and where it was
// moved (with its -wal and -shm).
type CorruptError = sqlitedb.CorruptError

// ErrTooNew is wrapped by the error of Open when the database was written
// by a newer release that declared this one unable to read it.
var ErrTooNew = sqlitedb.ErrTooNew

// Options configures a Store.
type Options struct {
	// KioskID names this kiosk in every record it commits (see
	// wire.ValidKioskID). A store belongs to one kiosk id for good: Open
	// refuses another.
	KioskID string
	// Device signs every record and chain head. Required.
	Device *device.Identity
	// SealKey is the upstream's public key the person data is sealed to
	// (from enrollment). Required: without it there is nowhere to put a
	// name that a thief could not read, so there is no store.
	SealKey hpke.PublicKey
	// DupKey keys the same-day duplicate hashes. Nil: a key made on first
	// open and kept in the store. A key kept elsewhere (a secure element)
	// is better: whoever holds the file and its key can test guessed
	// A-numbers against today's hashes.
	DupKey []byte
	// SealEpochRecords and SealEpochAge bound an epoch of sealing (see
	// sync/wire: Sealer): the records whose people are sealed under one
	// key, which the kiosk holds in memory only while the epoch lasts. An
	// epoch ends after this many records (0: DefaultSealEpochRecords) or
	// this long after its first (0: DefaultSealEpochAge), whichever comes
	// first; the upstream pays one key decapsulation per epoch. The age is
	// told by Now when a record comes; when none comes, a timer of the
	// process's own clock ends the epoch at its age all the same, so an idle
	// kiosk does not keep the key in memory, whatever Now says.
	SealEpochRecords int
	SealEpochAge     time.Duration
	// Reserve is how many bytes must stay free on the file system of the
	// store's directory for Health to report the store fit to commit
	// (0: DefaultReserve; 1: only a full file system is low). Below it,
	// the store still commits what it is given, while it can: the reserve
	// is room for the check-ins already under way, the WAL's growth and
	// the housekeeping.
	Reserve uint64
	// Retention is how long acknowledged records are kept (Checkpoint
	// purges older ones); 0 keeps them for good. Unacknowledged records
	// are never purged.
	Retention time.Duration
	// Location is the kiosk's time zone: "same day" is a local date.
	// Nil: time.Local.
	Location *time.Location
	// VFS names an SQLite VFS to open the file through; "" for the
	// default. For tests.
	VFS string
	// RecoverCorrupt: when the file fails its integrity check, keep it
	// aside and start a new, empty store (see Recovered). The new store
	// starts a new chain at seq 1, which the upstream will see as a fork
	// of the kiosk's history: re-enroll the kiosk under a new id.
	RecoverCorrupt bool
	// Log receives what the store does on its own (a corrupt file kept
	// aside, records purged). Nil discards. It never gets personal data.
	Log *slog.Logger
	// Now tells the time for chain heads, purges, the age of a sealing
	// epoch and the name of a file kept aside; nil: time.Now.
	Now func() time.Time
}

// Defaults of Options.SealEpochRecords and SealEpochAge: whoever reads a
// running kiosk's memory can open at most the last 64 records or the last
// ten minutes of them, and the upstream opens a busy kiosk's backlog at one
// decapsulation per 64 records.
const (
	DefaultSealEpochRecords = 64
	DefaultSealEpochAge     = 10 * time.Minute
)

// DefaultReserve is the default of Options.Reserve: about a hundred
// thousand records, and a WAL laid out fifty times over.
const DefaultReserve = 64 << 20

// pageSize is the page size of a new store. A commit appends one row of
// about 500 bytes to the rightmost leaf of checkins, and the WAL gets that
// whole page (two pages when the leaf splits): with SQLite's 4096-byte
// pages a commit writes and syncs a 4120-byte frame, which on ext4 costs
// markedly more to sync than the ~1 KB of a 1024-byte page (measured ~100
// µs of a ~200 µs fsync; see BenchmarkFsyncFloor). A row still fits a page
// whole (up to 989 bytes of payload), so no record spills to an overflow
// page. A store made with another page size keeps it.
const pageSize = 1024

// Keys of kiosk_state the store keeps for itself.
const (
	stateKioskID     = "outbox.kiosk_id"    // the kiosk the store belongs to
	stateDupKey      = "outbox.dup_key"     // hex, when Options.DupKey is nil
	stateLastAck     = "outbox.last_ack"    // Unix nanoseconds of the latest acknowledgement
	stateLowWater    = "outbox.low_water"   // no pending record has a lower seq
	stateQuarantined = "outbox.quarantined" // how many records are quarantined
	stateProbe       = "outbox.probe"       // Unix nanoseconds of Health's last write after a failed commit
)

// Store is the kiosk's durable store. Its methods are safe for concurrent use.
type Store struct {
	w, r      *sql.DB
	dir       string // the store's directory, whose free space Health measures
	reserve   uint64
	kioskID   string
	key       ed25519.PrivateKey
	sealKey   hpke.PublicKey
	dupKey    []byte
	bootID    string
	retention time.Duration
	loc       *time.Location
	log       *slog.Logger
	now       func() time.Time
	recovered *CorruptError
	changed   chan struct{}
	failed    chan struct{}

	commitMu sync.Mutex // one commit at a time: ids sort in seq order
	ids      uuidGen
	// The chain head (seq and hash of the newest record), under commitMu,
	// so a commit reads nothing before it writes. Loaded by the first
	// commit, kept up to date by each one that succeeds, and dropped by any
	// that fails (its outcome is then whatever the file says). A record
	// another writer appended meanwhile makes the INSERT fail on seq, the
	// rowid: the cache can cost a commit, never chain one wrongly.
	head headCache

	// The epoch of sealing under way, under commitMu: its sealer, when
	// its first record was sealed (by Options.Now), and the timer that
	// ends it at its age limit even if no commit comes. Nil between epochs.
	seal         *wire.Sealer
	sealStart    time.Time
	sealTimer    *time.Timer
	epochRecords int
	epochAge     time.Duration

	// The sealer of the next epoch, made ahead by prepareSealers (owned
	// by the store: started by Open, ended by Close) while the kiosk waits
	// for a person, so a commit does not pay for the key encapsulation.
	sealers   chan *wire.Sealer
	done      chan struct{}
	bg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex
	lowWater int64   // no pending record has a lower seq; only grows
	erased   erasure // what Checkpoint erased that the WAL may still hold
	dupFrom  int64   // no record below has a dup hash left
	lastErr  error   // of the last Commit; nil after a success or a probe that succeeded
	failures uint64  // how many Commits failed: a probe clears only the failure it followed
}

// Open opens the store at path, creating it (and its directory) if needed
// and bringing its schema up to date.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, nil)
}

func open(path string, opts Options, migrations fs.FS) (*Store, error) {
	switch {
	case !wire.ValidKioskID(opts.KioskID):
		return nil, fmt.Errorf("open outbox: invalid kiosk id %q", opts.KioskID)
	case opts.Device == nil:
		return nil, errors.New("open outbox: no device key")
	case opts.SealKey == nil:
		return nil, errors.New("open outbox: no seal key: the kiosk is not enrolled with an upstream")
	}
	if migrations == nil {
		var err error
		if migrations, err = fs.Sub(migrationFiles, "migrations"); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	s := &Store{
		dir:       filepath.Dir(abs),
		reserve:   cmp.Or(opts.Reserve, DefaultReserve),
		kioskID:   opts.KioskID,
		key:       opts.Device.PrivateKey(),
		sealKey:   opts.SealKey,
		bootID:    device.BootID(),
		retention: opts.Retention,
		loc:       opts.Location,
		log:       opts.Log,
		now:       opts.Now,
		changed:   make(chan struct{}, 1),
		failed:    make(chan struct{}, 1),
		sealers:   make(chan *wire.Sealer, 1),
		done:      make(chan struct{}),

		epochRecords: cmp.Or(opts.SealEpochRecords, DefaultSealEpochRecords),
		epochAge:     cmp.Or(opts.SealEpochAge, DefaultSealEpochAge),
	}
	if s.epochRecords < 1 || uint64(s.epochRecords) > wire.MaxEpochRecords || s.epochAge < 0 {
		return nil, fmt.Errorf("open outbox: sealing epoch of %d records or %v", s.epochRecords, s.epochAge)
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, path, migrations, sqlitedb.Options{
		VFS: opts.VFS, RecoverCorrupt: opts.RecoverCorrupt, Now: s.now, PageSize: pageSize,
		PreallocateWAL: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	s.w, s.r, s.recovered = db.W, db.R, db.Recovered
	if s.recovered != nil {
		s.log.Error("outbox failed its integrity check: kept aside, starting an empty store",
			"file", s.recovered.File, "kept_at", s.recovered.KeptAt, "problem", s.recovered.Problem)
	}
	if err := s.init(ctx, opts.DupKey); err != nil {
		s.Close()
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	s.bg.Go(s.prepareSealers)
	return s, nil
}

// prepareSealers keeps the sealer of the next epoch ready until Close.
func (s *Store) prepareSealers() {
	for {
		sl, err := wire.NewSealer(s.sealKey, s.kioskID, s.epochRecords)
		if err != nil {
			return // Commit makes its own, and reports the error
		}
		select {
		case s.sealers <- sl:
		case <-s.done:
			return
		}
	}
}

// sealer returns the sealer of the epoch under way, beginning a new epoch
// when there is none or the last is over. Requires commitMu.
func (s *Store) sealer() (*wire.Sealer, error) {
	now := s.now()
	if s.seal != nil && !s.seal.Full() && now.Sub(s.sealStart) < s.epochAge {
		return s.seal, nil
	}
	s.endEpoch()
	var sl *wire.Sealer
	select {
	case sl = <-s.sealers:
	default:
		var err error
		if sl, err = wire.NewSealer(s.sealKey, s.kioskID, s.epochRecords); err != nil {
			return nil, err
		}
	}
	s.seal, s.sealStart = sl, now
	// The timer runs on the process's clock, not Now: it bounds how long
	// the key stays in memory, and that is real time whatever Now says.
	s.sealTimer = time.AfterFunc(s.epochAge, func() {
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		if s.seal == sl {
			s.endEpoch()
		}
	})
	return sl, nil
}

// endEpoch drops the sealer of the epoch under way, and with it the
// epoch's key (Go cannot wipe an AES key schedule; unreferenced, it is
// garbage). Requires commitMu.
func (s *Store) endEpoch() {
	if s.sealTimer != nil {
		s.sealTimer.Stop()
	}
	s.seal, s.sealTimer = nil, nil
}

// init binds the store to its kiosk, loads or makes the duplicate key, signs
// records of schema 2 into the chain and finds the low-water mark.
func (s *Store) init(ctx context.Context, dupKey []byte) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	switch owner, ok, err := getState(ctx, tx, stateKioskID); {
	case err != nil:
		return err
	case !ok:
		if err := putState(ctx, tx, stateKioskID, s.kioskID); err != nil {
			return err
		}
	case owner != s.kioskID:
		return fmt.Errorf("the store belongs to kiosk %q, not %q", owner, s.kioskID)
	}

	s.dupKey = dupKey
	if s.dupKey == nil {
		v, ok, err := getState(ctx, tx, stateDupKey)
		if err != nil {
			return err
		}
		if ok {
			if s.dupKey, err = hex.DecodeString(v); err != nil || len(s.dupKey) < 16 {
				return fmt.Errorf("duplicate key in the store is damaged")
			}
		} else {
			s.dupKey = make([]byte, 32)
			rand.Read(s.dupKey)
			if err := putState(ctx, tx, stateDupKey, hex.EncodeToString(s.dupKey)); err != nil {
				return err
			}
		}
	}

	if err := s.signUnsigned(ctx, tx); err != nil {
		return fmt.Errorf("sign records of schema 2: %w", err)
	}

	v, ok, err := getState(ctx, tx, stateLowWater)
	if err != nil {
		return err
	}
	if ok {
		s.lowWater, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("low-water mark %q: %w", v, err)
		}
	} else {
		// Once, after the migration: a full scan.
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(
			(SELECT MIN(seq) FROM checkins WHERE uploaded_at IS NULL AND quarantine IS NULL),
			(SELECT MAX(seq) + 1 FROM checkins), 1)`).Scan(&s.lowWater)
		if err != nil {
			return err
		}
		if err := putState(ctx, tx, stateLowWater, strconv.FormatInt(s.lowWater, 10)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// signUnsigned chains and signs the records migrated from schema 2, which
// had neither. They are the oldest, so the first record tells.
func (s *Store) signUnsigned(ctx context.Context, tx *sql.Tx) error {
	var unsigned bool
	err := tx.QueryRowContext(ctx, `SELECT hash IS NULL FROM checkins ORDER BY seq LIMIT 1`).Scan(&unsigned)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !unsigned {
		return nil
	} else if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+recordColumns+` FROM checkins WHERE hash IS NULL ORDER BY seq`)
	if err != nil {
		return err
	}
	recs, err := s.scanRecords(rows)
	if err != nil {
		return err
	}
	prev := wire.GenesisPrev
	if len(recs) > 0 && recs[0].Seq > 1 {
		err := tx.QueryRowContext(ctx, `SELECT hash FROM checkins WHERE seq = ?`, int64(recs[0].Seq-1)).Scan(&prev)
		if err != nil {
			return fmt.Errorf("record before %d: %w", recs[0].Seq, err)
		}
	}
	for i := range recs {
		r := &recs[i]
		r.Prev = prev
		r.Sign(s.key)
		if _, err := tx.ExecContext(ctx, `UPDATE checkins SET prev = ?, hash = ?, sig = ? WHERE seq = ?`,
			r.Prev, r.Hash, r.Sig, int64(r.Seq)); err != nil {
			return err
		}
		prev = r.Hash
	}
	s.log.Info("records of schema 2 signed into the chain", "records", len(recs))
	return nil
}

// Close closes the store. Nothing is lost: every Commit that returned is
// already durable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.bg.Wait()
		s.commitMu.Lock()
		s.endEpoch()
		s.commitMu.Unlock()
	})
	return errors.Join(s.r.Close(), s.w.Close())
}

// Recovered reports the corrupt file this store replaced when it was opened
// with Options.RecoverCorrupt; nil if it did not.
func (s *Store) Recovered() *CorruptError { return s.recovered }

// Commit records c in its own transaction and returns once the transaction
// is durable. An error means nothing was recorded, and the store is as it
// was: a later Commit can succeed (once the disk has room again, say). A
// failure (but for a cancelled ctx) is kept for LastError and Health, and
// signalled on Failed.
func (s *Store) Commit(ctx context.Context, c kiosk.CheckIn) (kiosk.Committed, error) {
	if c.Outcome == "" {
		return kiosk.Committed{}, errors.New("commit: no outcome")
	}
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	if y := at.Year(); y < 1678 || y > 2261 { // Unix nanoseconds fit int64
		return kiosk.Committed{}, fmt.Errorf("commit: time out of range: %v", at)
	}
	clock := c.Clock
	if clock == "" {
		clock = kiosk.ClockUnsynced
	}

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	rec := wire.Record{
		ID:      s.ids.next(time.Now()),
		KioskID: s.kioskID,
		At:      at.UTC(),
		Clock:   string(clock),
		Outcome: string(c.Outcome),
		Issuer:  c.Card.Issuer,
		Serial:  c.Card.Serial,
		BootID:  s.bootID,
	}
	sl, err := s.sealer()
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: %w", err)
	}
	rec.Sealed, err = sl.Seal(rec.ID, wire.Person{
		ANumber: c.Card.ANumber, FamilyName: c.Card.FamilyName, GivenName: c.Card.GivenName,
		DateOfBirth: c.Card.DateOfBirth, Office: c.Card.Office,
	})
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: seal: %w", err)
	}
	dup := s.dupHash(c.Card, at)

	err = s.insert(ctx, &rec, dup)
	if ctx.Err() == nil { // a cancelled commit says nothing of the store's health
		s.mu.Lock()
		s.lastErr = err
		if err != nil {
			s.failures++
		}
		s.mu.Unlock()
		if err != nil {
			select {
			case s.failed <- struct{}{}:
			default: // a signal is already waiting; one is enough
			}
		}
	}
	if err != nil {
		return kiosk.Committed{}, fmt.Errorf("commit: %w", err)
	}
	select {
	case s.changed <- struct{}{}:
	default: // a signal is already waiting; one is enough
	}
	return kiosk.Committed{ID: rec.ID, Seq: rec.Seq}, nil
}

// headCache is the chain head a commit chains its record to.
type headCache struct {
	ok   bool
	seq  int64
	hash []byte
}

// chainHead returns the seq and hash of the newest record (0 and
// GenesisPrev in an empty store), from the cache when it holds them.
// Requires commitMu.
func (s *Store) chainHead(ctx context.Context) (int64, []byte, error) {
	if s.head.ok {
		return s.head.seq, s.head.hash, nil
	}
	seq, hash, err := newestRecord(ctx, s.w)
	if err != nil {
		return 0, nil, fmt.Errorf("chain head: %w", err)
	}
	s.head = headCache{ok: true, seq: seq, hash: hash}
	return seq, hash, nil
}

// newestRecord returns the seq and hash of the newest record, 0 and
// GenesisPrev in an empty store.
func newestRecord(ctx context.Context, db *sql.DB) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := db.QueryRowContext(ctx, `SELECT seq, hash FROM checkins ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, wire.GenesisPrev, nil
	}
	return seq, hash, err
}

// insert chains rec to the newest record, signs it and stores it in its own
// transaction. The record is chained and signed before the transaction
// begins (under commitMu, which keeps the head from moving), so the
// transaction holds the write lock only for the INSERT and the commit's
// sync. Requires commitMu.
//
// The INSERT is its own transaction (autocommit), not one between BEGIN and
// COMMIT: SQLite takes the write lock when the statement starts, waiting
// for it as BEGIN IMMEDIATE does (the busy timeout), and syncs the WAL
// before the statement returns, as COMMIT does; a failed INSERT rolls
// itself back. It saves a round trip through database/sql and cgo and the
// parsing of two statements each commit (about 40 µs, a third of a
// commit's CPU time).
func (s *Store) insert(ctx context.Context, rec *wire.Record, dup []byte) (err error) {
	defer func() {
		if err != nil {
			s.head = headCache{} // the next commit asks the file
		}
	}()
	seq, prev, err := s.chainHead(ctx)
	if err != nil {
		return err
	}
	rec.Seq, rec.Prev = uint64(seq)+1, prev
	rec.Mono = int64(device.SinceBoot())
	rec.Sign(s.key)

	_, err = s.w.ExecContext(ctx, insertRecord,
		int64(rec.Seq), rec.ID, rec.At.UnixNano(), rec.Clock, rec.Outcome, rec.Issuer, rec.Serial,
		rec.BootID, rec.Mono, rec.Sealed, rec.Prev, rec.Hash, rec.Sig, dup)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	s.head = headCache{ok: true, seq: int64(rec.Seq), hash: rec.Hash}
	return nil
}

// insertRecord is a commit's one statement. The seq is given, not left to
// SQLite: a seq already taken (by a writer the chain head did not know of)
// fails the INSERT rather than forking the chain.
const insertRecord = `INSERT INTO checkins
	(seq, id, at, clock, outcome, issuer, serial, boot_id, mono, sealed, prev, hash, sig, dup)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// LastError returns the error of the last Commit, or nil if it succeeded
// (or none was tried, or Health has since shown the store can commit
// again): what the staff status shows while the kiosk cannot record
// check-ins (disk full, I/O error).
func (s *Store) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Failed signals after a Commit failed (one not cancelled by its context).
// It holds at most one signal, which stands for every failure since it was
// last received: the daemon wakes up and asks Health, at once rather than at
// its next look.
func (s *Store) Failed() <-chan struct{} { return s.failed }

// LowSpaceError is Health's error while the store's file system has less
// free space than Options.Reserve.
type LowSpaceError struct {
	Dir     string // the store's directory
	Free    uint64 // bytes free to the kiosk's user
	Reserve uint64 // bytes that should be
}

func (e *LowSpaceError) Error() string {
	return fmt.Sprintf("low disk space: %s has %d bytes free, below the reserve of %d", e.Dir, e.Free, e.Reserve)
}

// CommitError is Health's error while the store cannot commit: the last
// Commit failed, and the write Health tried since failed too.
type CommitError struct {
	Err   error // of the last Commit
	Probe error // of Health's write; nil when a Commit failed again while it wrote
}

func (e *CommitError) Error() string {
	if e.Probe == nil {
		return fmt.Sprintf("cannot commit: %v", e.Err)
	}
	return fmt.Sprintf("cannot commit: %v; a write since: %v", e.Err, e.Probe)
}

func (e *CommitError) Unwrap() []error {
	if e.Probe == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Probe}
}

// Health reports whether the store can take a commit now: nil when it can.
// The error is a *LowSpaceError when the file system holding the store has
// less free space than Options.Reserve, a *CommitError when the last Commit
// failed and the store still cannot write, and another error when the free
// space cannot be measured (or ctx ended).
//
// When all is well it costs one statfs, and writes nothing. After a failed
// Commit, once there is room again, it proves the store can commit by
// committing a write of its own (a kiosk_state row, synced as a commit is);
// when that succeeds, the failure is over (LastError is nil again), and the
// kiosk returns to service by itself.
func (s *Store) Health(ctx context.Context) error {
	free, err := statedir.Free(s.dir)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		// Unknown off Linux: the probe still tells a failed store.
	case err != nil:
		return fmt.Errorf("health: %w", err)
	case free < s.reserve:
		return &LowSpaceError{Dir: s.dir, Free: free, Reserve: s.reserve}
	}
	s.mu.Lock()
	last, failures := s.lastErr, s.failures
	s.mu.Unlock()
	if last == nil {
		return nil
	}
	if err := s.probe(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("health: %w", ctx.Err())
		}
		return &CommitError{Err: last, Probe: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures != failures { // a Commit failed while the probe wrote
		if s.lastErr != nil {
			return &CommitError{Err: s.lastErr}
		}
		return nil // and another succeeded since
	}
	s.lastErr = nil
	s.log.Info("the store commits again", "after", last)
	return nil
}

// probe commits a write transaction of one kiosk_state row (BEGIN
// IMMEDIATE, synced at COMMIT, as a record's commit): the store can commit
// again. It proves the WAL takes a transaction, not that every commit will
// fit; Options.Reserve keeps the room for those.
func (s *Store) probe(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("probe: begin: %w", err)
	}
	defer tx.Rollback()
	if err := putState(ctx, tx, stateProbe, strconv.FormatInt(s.now().UnixNano(), 10)); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("probe: commit: %w", err)
	}
	return nil
}

// dupHash is the keyed hash that finds a person's check-in of the same day:
// HMAC-SHA256(DupKey, "sdc-dup-v1" ‖ issuer ‖ person ‖ local date), each
// length-prefixed, truncated to 16 bytes. The person is the A-number, or the
// card serial on a card without one.
func (s *Store) dupHash(c card.Card, at time.Time) []byte {
	person := "a:" + c.ANumber
	if c.ANumber == "" {
		person = "s:" + c.Serial
	}
	m := hmac.New(sha256.New, s.dupKey)
	b := []byte("sdc-dup-v1\x00")
	for _, f := range []string{c.Issuer, person, at.In(s.loc).Format(time.DateOnly)} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	m.Write(b)
	return m.Sum(nil)[:16]
}

// How far back LastCheckIn looks: records ordered by seq are nearly ordered
// by time, but a kiosk's clock can step, so it reads back past the day
// before, and at most a number of records no kiosk takes in a day.
const (
	priorSlack   = 48 * time.Hour
	priorMaxRows = 20000
)

// LastCheckIn finds the check-in of the person on card c on the local date
// of at, if the store holds one: a second scan the same day shows it rather
// than recording twice. Another day's check-in does not count.
func (s *Store) LastCheckIn(ctx context.Context, c card.Card, at time.Time) (kiosk.Prior, bool, error) {
	dup := s.dupHash(c, at)
	local := at.In(s.loc)
	dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.loc)
	stop := dayStart.Add(-priorSlack).UnixNano()
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, at, dup FROM checkins ORDER BY seq DESC LIMIT ?`, priorMaxRows)
	if err != nil {
		return kiosk.Prior{}, false, fmt.Errorf("last check-in: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p kiosk.Prior
		var seq, t int64
		var d []byte
		if err := rows.Scan(&seq, &p.ID, &t, &d); err != nil {
			return kiosk.Prior{}, false, fmt.Errorf("last check-in: %w", err)
		}
		if hmac.Equal(d, dup) {
			p.Seq, p.At = uint64(seq), time.Unix(0, t).In(at.Location())
			return p, true, nil
		}
		if t < stop {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return kiosk.Prior{}, false, fmt.Errorf("last check-in: %w", err)
	}
	return kiosk.Prior{}, false, nil
}

// Changed signals after a commit. It holds at most one signal, which stands
// for every commit since it was last received: a reader wakes up and reads
// Pending, it does not count signals.
func (s *Store) Changed() <-chan struct{} { return s.changed }

const recordColumns = `seq, id, at, clock, outcome, issuer, serial, boot_id, mono, sealed, prev, hash, sig`

// scanRecords reads rows of recordColumns and closes them.
func (s *Store) scanRecords(rows *sql.Rows) ([]wire.Record, error) {
	defer rows.Close()
	var recs []wire.Record
	for rows.Next() {
		r := wire.Record{KioskID: s.kioskID}
		var seq, at int64
		err := rows.Scan(&seq, &r.ID, &at, &r.Clock, &r.Outcome, &r.Issuer, &r.Serial,
			&r.BootID, &r.Mono, &r.Sealed, &r.Prev, &r.Hash, &r.Sig)
		if err != nil {
			return nil, err
		}
		r.Seq = uint64(seq)
		r.At = time.Unix(0, at).UTC()
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return recs, rows.Close()
}

func (s *Store) lowWaterMark() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lowWater
}

// Pending returns up to limit records not yet acknowledged by the upstream,
// oldest first, whole: sealed, chained and signed.
func (s *Store) Pending(ctx context.Context, limit int) ([]wire.Record, error) {
	return s.PendingAfter(ctx, 0, limit)
}

// PendingAfter is Pending from the record after seq on: the uploader reads
// the next batch while the upstream stores the one before.
func (s *Store) PendingAfter(ctx context.Context, seq uint64, limit int) ([]wire.Record, error) {
	if limit <= 0 || seq >= math.MaxInt64 {
		return nil, nil
	}
	from := max(s.lowWaterMark(), int64(seq)+1)
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM checkins
		WHERE seq >= ? AND uploaded_at IS NULL AND quarantine IS NULL ORDER BY seq LIMIT ?`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	// scanRecords closes the rows, ending the read transaction before the
	// caller goes to the network.
	recs, err := s.scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	return recs, nil
}

// ackWindow is how many pending records past the number acknowledged Ack
// looks through for their ids before it looks at every pending record: the
// uploader acknowledges the oldest pending records, bar a few rejected ones.
const ackWindow = 1000

// Ack marks the records with these ids uploaded at the given time. Ids
// already acknowledged or unknown are ignored, so Ack may be repeated.
func (s *Store) Ack(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	distinct := len(slices.Compact(slices.Sorted(slices.Values(ids))))
	list, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ack: begin: %w", err)
	}
	defer tx.Rollback()
	// One statement marks them all: the ids sought are a table
	// (json_each), looked up as the rows of the window go by. Only when
	// some are not in the window (acknowledged already, unknown, or behind
	// many rejected records) does it look at the rest.
	low := s.lowWaterMark()
	end := low + int64(distinct) + ackWindow
	const mark = `UPDATE checkins SET uploaded_at = ?
		WHERE seq >= ? AND seq < ? AND uploaded_at IS NULL AND quarantine IS NULL
		AND id IN (SELECT value FROM json_each(?))`
	res, err := tx.ExecContext(ctx, mark, at.UnixNano(), low, end, list)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	n, err := res.RowsAffected()
	if err == nil && n < int64(distinct) {
		res, err = tx.ExecContext(ctx, mark, at.UnixNano(), end, int64(math.MaxInt64), list)
		if err == nil {
			var more int64
			more, err = res.RowsAffected()
			n += more
		}
	}
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	if n == 0 {
		return nil
	}
	last, _, err := getState(ctx, tx, stateLastAck)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	if n, _ := strconv.ParseInt(last, 10, 64); at.UnixNano() > n {
		if err := putState(ctx, tx, stateLastAck, strconv.FormatInt(at.UnixNano(), 10)); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
	newLow, err := advanceLowWater(ctx, tx, low)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	s.raiseLowWater(newLow)
	return nil
}

// advanceLowWater finds and keeps the low-water mark after records at or
// above low stopped being pending.
func advanceLowWater(ctx context.Context, tx *sql.Tx, low int64) (int64, error) {
	var newLow int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(
		(SELECT MIN(seq) FROM checkins WHERE seq >= ? AND uploaded_at IS NULL AND quarantine IS NULL),
		(SELECT MAX(seq) + 1 FROM checkins))`, low).Scan(&newLow)
	if err != nil {
		return 0, fmt.Errorf("low-water mark: %w", err)
	}
	return newLow, putState(ctx, tx, stateLowWater, strconv.FormatInt(newLow, 10))
}

func (s *Store) raiseLowWater(low int64) {
	s.mu.Lock()
	s.lowWater = max(s.lowWater, low)
	s.mu.Unlock()
}

// Quarantine sets aside a pending record the upstream rejected, with the
// reason it gave: it is no longer pending (so it cannot hold up the
// records behind it), it is counted in Stats, and it is kept for good, for
// staff to look into. A record not pending is left as it is.
func (s *Store) Quarantine(ctx context.Context, id, reason string) error {
	if reason == "" {
		reason = "rejected"
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("quarantine: begin: %w", err)
	}
	defer tx.Rollback()
	low := s.lowWaterMark()
	res, err := tx.ExecContext(ctx, `UPDATE checkins SET quarantine = ?
		WHERE seq >= ? AND id = ? AND uploaded_at IS NULL AND quarantine IS NULL`, reason, low, id)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	} else if n == 0 {
		return nil // not pending
	}
	v, _, err := getState(ctx, tx, stateQuarantined)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	if err := putState(ctx, tx, stateQuarantined, strconv.FormatInt(n+1, 10)); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	newLow, err := advanceLowWater(ctx, tx, low)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	s.raiseLowWater(newLow)
	return nil
}

// Stats is a summary of the outbox.
type Stats struct {
	Pending     int64     // records not yet acknowledged
	Uploaded    int64     // records ever acknowledged (purged ones included)
	Quarantined int64     // records the upstream rejected, set aside (see Quarantine)
	LastUpload  time.Time // the latest acknowledgement; zero if none
	// OldestPending is when the oldest record not yet acknowledged was
	// recorded; zero if none. Its age is how far behind the upstream is.
	OldestPending time.Time
}

// Stats returns a consistent summary of the outbox.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var total int64
	var last, quarantined sql.NullString
	var oldest sql.NullInt64
	// Seqs run from 1 without gaps, and only acknowledged records are
	// purged: every seq up to the newest is pending, quarantined or was
	// acknowledged. The oldest pending record is the one of lowest seq.
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM checkins WHERE seq >= ?1 AND uploaded_at IS NULL AND quarantine IS NULL),
		(SELECT COALESCE(MAX(seq), 0) FROM checkins),
		(SELECT value FROM kiosk_state WHERE key = ?2),
		(SELECT value FROM kiosk_state WHERE key = ?3),
		(SELECT at FROM checkins WHERE seq >= ?1 AND uploaded_at IS NULL AND quarantine IS NULL ORDER BY seq LIMIT 1)`,
		s.lowWaterMark(), stateLastAck, stateQuarantined).Scan(&st.Pending, &total, &last, &quarantined, &oldest)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	st.Quarantined, _ = strconv.ParseInt(quarantined.String, 10, 64)
	st.Uploaded = total - st.Pending - st.Quarantined
	if n, err := strconv.ParseInt(last.String, 10, 64); last.Valid && err == nil {
		st.LastUpload = time.Unix(0, n).UTC()
	}
	if oldest.Valid {
		st.OldestPending = time.Unix(0, oldest.Int64).UTC()
	}
	return st, nil
}

// Head returns the kiosk's chain head, the seq and hash of its newest
// record, signed with the device key at the current time: the heartbeat
// that lets the upstream tell a deleted tail from a quiet kiosk.
func (s *Store) Head(ctx context.Context) (wire.Head, error) {
	seq, hash, err := newestRecord(ctx, s.r)
	if err != nil {
		return wire.Head{}, fmt.Errorf("head: %w", err)
	}
	h := wire.Head{KioskID: s.kioskID, Seq: uint64(seq), Hash: hash, At: s.now().UTC()}
	h.Sign(s.key)
	return h, nil
}

// erasure is what Checkpoint erased from the database that frames of the
// WAL may still hold, until it truncates the WAL.
type erasure struct {
	hashes, records bool      // duplicate hashes cleared, records purged
	truncatedAt     time.Time // when the WAL was last truncated
}

// Checkpoint does the store's housekeeping; the daemon calls it every few
// minutes while the kiosk shows its idle screen, as it takes the writer for
// longer than a commit. It purges acknowledged records older than the
// retention, clears the duplicate hashes of past days, and checkpoints the
// WAL into the database.
//
// When it cleared hashes (once a day), or purged records and has not
// truncated for a day, the checkpoint truncates the WAL, so that no frame
// of them stays in the file, and lays it out again zeroed (see
// sqlitedb.PreallocateWAL). Otherwise it is passive and the WAL keeps its
// length: an idle kiosk persists its clock every minute, and truncating and
// laying out the WAL at every idle checkpoint would write about 1.3 MB every
// five minutes, a third of a gigabyte a day, to an SD card (and with a
// retention set, some record passes it nearly every time).
func (s *Store) Checkpoint(ctx context.Context) error {
	purged, err := s.Purge(ctx)
	if err != nil {
		return err
	}
	cleared, err := s.clearDups(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	s.erased.hashes = s.erased.hashes || cleared > 0
	s.erased.records = s.erased.records || purged > 0
	truncate := s.erased.hashes || s.erased.records && !now.Before(s.erased.truncatedAt.Add(24*time.Hour))
	s.mu.Unlock()
	if !truncate {
		if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	}
	var busy, logPages, done int
	err = s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("checkpoint: a reader held the WAL, which still holds frames of erased data; the next checkpoint truncates it")
	}
	s.mu.Lock()
	s.erased = erasure{truncatedAt: now}
	s.mu.Unlock()
	if err := sqlitedb.PreallocateWAL(ctx, s.w); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Purge deletes the records acknowledged longer than the retention ago,
// and returns how many. It keeps every pending record and the newest record
// (the chain's anchor); with no retention set, it keeps everything.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	if s.retention <= 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-s.retention).UnixNano()
	res, err := s.w.ExecContext(ctx, `DELETE FROM checkins
		WHERE seq < MIN(?, (SELECT MAX(seq) FROM checkins)) AND uploaded_at IS NOT NULL AND uploaded_at < ?`,
		s.lowWaterMark(), cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if n > 0 {
		s.log.Info("acknowledged records purged", "records", n, "retention", s.retention)
	}
	return n, nil
}

// clearDups forgets the duplicate hashes of records from before today: they
// serve only on the day, and a hash kept is an A-number to guess. It
// returns how many it cleared.
func (s *Store) clearDups(ctx context.Context) (int64, error) {
	now := s.now().In(s.loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.loc).UnixNano()
	s.mu.Lock()
	from := s.dupFrom
	s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("clear duplicate hashes: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE checkins SET dup = NULL WHERE seq >= ? AND dup IS NOT NULL AND at < ?`, from, today)
	if err != nil {
		return 0, fmt.Errorf("clear duplicate hashes: %w", err)
	}
	cleared, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear duplicate hashes: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(
		(SELECT MIN(seq) FROM checkins WHERE seq >= ? AND dup IS NOT NULL),
		(SELECT MAX(seq) + 1 FROM checkins), 0)`, from).Scan(&from)
	if err != nil {
		return 0, fmt.Errorf("clear duplicate hashes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("clear duplicate hashes: %w", err)
	}
	s.mu.Lock()
	s.dupFrom = max(s.dupFrom, from)
	s.mu.Unlock()
	return cleared, nil
}
