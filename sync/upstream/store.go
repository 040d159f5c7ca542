package upstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Store keeps what the upstream holds: every record accepted, for good,
// unique by id and by (kiosk, seq); the forks refused and the rejections
// counted; each kiosk's device key, its last chain head; the enrollment
// tokens. The Server decides what is kept, with Place for the chains and
// its own checks for the rest; a Store keeps it, each call in a
// transaction of its own. sync/upstream/sqlite is the embedded one.
//
// A Server takes its Store over: Server.Close closes it. Exactly-once and
// order are the store's: Append places one kiosk's batch at a time, whichever
// process calls it (sqlite: one writer; postgres: the kiosk's row locked),
// against what is held, so that several replicas sharing one database give
// the same answers, whichever stores a batch. The server's sequencer only
// spares a note when a kiosk's batches in flight arrive out of order.
type Store interface {
	// Append stores the items of one batch of kioskID, in order, in one
	// transaction, and returns one Placement per item: an item already
	// rejected (Reason set) as rejected, the others as Place says given
	// what is held around each — the records before it in the batch
	// included — and with HeldMax set. A record Place keeps whose id is
	// held at another seq is rejected wire.ReasonIDConflict; a fork is
	// recorded once. Every rejection is counted (Stats.Rejected). When
	// Append returns an error, nothing of the batch is kept.
	Append(ctx context.Context, kioskID string, items []Item, now time.Time) ([]Placement, error)
	// Stats counts the records held, the kiosks they are of, the gaps
	// below each kiosk's highest seq held, the forks recorded and the
	// rejections counted.
	Stats(ctx context.Context) (wire.Stats, error)
	// Holdings returns what is held of kioskID against a chain head at
	// seq.
	Holdings(ctx context.Context, kioskID string, seq uint64) (Holdings, error)

	// PutBeat keeps b as its kiosk's last heartbeat, replacing the one
	// before, and returns the state that one was found in ("" if none).
	PutBeat(ctx context.Context, b Beat) (previous string, err error)
	// Beats returns, by kiosk id, every kiosk enrolled or heard from,
	// with its last heartbeat and its highest seq held.
	Beats(ctx context.Context) ([]KioskBeat, error)

	// PutDevice enrolls pub as kioskID's device key at time at, replacing
	// the key before; the same key again changes nothing. A key enrolled
	// as another kiosk fails with an error wrapping ErrKeyInUse.
	PutDevice(ctx context.Context, kioskID string, pub ed25519.PublicKey, at time.Time) error
	// DeviceKey returns kioskID's device key; false if none is enrolled.
	DeviceKey(ctx context.Context, kioskID string) (ed25519.PublicKey, bool, error)
	// DeviceKiosk returns the kiosk pub is enrolled as; false if none.
	DeviceKiosk(ctx context.Context, pub ed25519.PublicKey) (string, bool, error)

	// PutToken keeps an enrollment token by its hash (tokenHash).
	PutToken(ctx context.Context, hash []byte, t Token) error
	// Enroll, in one transaction, reads the token whose hash is hash and
	// lets check refuse it (found false: no such token; an error from
	// check is returned as it is); then marks it used at now and enrolls
	// pub as the token's kiosk, as PutDevice does, and, if the token names
	// an office, keeps it as the kiosk's (KioskOffices); a token without
	// one leaves the kiosk's office as it was. When it returns an error,
	// nothing changed.
	Enroll(ctx context.Context, hash []byte, pub ed25519.PublicKey, now time.Time, check func(t Token, found bool) error) error

	// KioskOffices returns, by kiosk id, the office each enrolled kiosk
	// belongs to, as its enrollment token named it (Token.Office); a kiosk
	// no token named an office for is not in it.
	KioskOffices(ctx context.Context) (map[string]string, error)
	// LastCheckIns returns, by kiosk id, the newest time at which a record
	// held of the kiosk was checked in: the greatest Record.At, the
	// kiosk's clock, whatever order the records came in. A kiosk with no
	// record held is not in it. It is read for the fleet view, so it is
	// cheap: it reads a row or an index lookup per kiosk, never the
	// records whole.
	LastCheckIns(ctx context.Context) (map[string]time.Time, error)

	// Ping reports whether the store can be read.
	Ping(ctx context.Context) error
	// Close closes the store.
	Close() error
}

// An Item is a record of a batch after the checks that need no store: its
// decoding, fields, hash, signature and sealed person (Server.checkBatch).
type Item struct {
	Record wire.Record
	Person wire.Person // opened from Record.Sealed; the upstream keeps it
	Reason string      // a rejection reason, or "" for a record to place
}

// Held is a record as a store holds it, as far as its chain goes. Prev and
// Hash are empty for a record stored before records were hashed: there is
// nothing to check against it.
type Held struct {
	ID         string
	Prev, Hash []byte
}

// A Placement is what became, or is to become, of an item of a batch.
type Placement struct {
	Result wire.ItemResult
	// Keep: Place accepts the record, and a store stores it.
	Keep bool
	// Fork: the record's (kiosk, seq) is held with another hash (Held
	// hash ForkOf); a store records the fork.
	Fork   bool
	ForkOf []byte
	// GapBelow: accepted while its predecessor is not held. FilledGap:
	// accepted between two held records.
	GapBelow, FilledGap bool
	// HeldMax is the highest seq held of the kiosk before the item, set by
	// Store.Append.
	HeldMax uint64
}

// Place says what becomes of a verified record given what is held around
// it: same at its (kiosk, seq), before at seq-1 and after at seq+1, each
// nil when nothing is held there. It is the chain's rule, the same for
// every Store (sync/API.md):
//
//   - held already with the same id and hash: duplicate; with another: a
//     fork, refused and recorded;
//   - its prev must be the hash held at seq-1 (32 zero bytes for seq 1);
//     nothing held there is a gap, and the record is kept all the same;
//   - the record held at seq+1, if any, must chain to it.
func Place(rec wire.Record, same, before, after *Held) Placement {
	reject := func(reason string) Placement {
		return Placement{Result: wire.ItemResult{ID: rec.ID, Status: wire.StatusRejected, Reason: reason}}
	}
	if same != nil {
		if same.ID == rec.ID && (bytes.Equal(same.Hash, rec.Hash) || len(same.Hash) == 0) {
			return Placement{Result: wire.ItemResult{ID: rec.ID, Status: wire.StatusDuplicate}}
		}
		p := reject(wire.ReasonFork)
		p.Fork, p.ForkOf = true, same.Hash
		return p
	}
	prev, held, check := wire.GenesisPrev, true, true
	switch {
	case rec.Seq == 1:
	case before == nil:
		held, check = false, false
	case len(before.Hash) == 0: // held from before records were hashed
		check = false
	default:
		prev = before.Hash
	}
	if check && !rec.Follows(rec.Seq-1, prev) {
		return reject(wire.ReasonChainBroken)
	}
	if after != nil && len(after.Prev) > 0 && !bytes.Equal(after.Prev, rec.Hash) {
		return reject(wire.ReasonChainBroken)
	}
	return Placement{
		Result:    wire.ItemResult{ID: rec.ID, Status: wire.StatusAccepted},
		Keep:      true,
		GapBelow:  !held,
		FilledGap: held && after != nil,
	}
}

// Holdings is what a store holds of a kiosk against a chain head.
type Holdings struct {
	Max   uint64 // the highest seq held
	Count uint64 // how many records are held up to the head's seq
	Hash  []byte // the hash held at the head's seq; nil when not held, or held without one
}

// A Beat is a kiosk's heartbeat as kept: its signed chain head, when it
// came (the server's clock), and how it compared with the records held
// then (a wire.Head* state).
type Beat struct {
	Head     wire.Head
	Received time.Time
	State    string
}

// A KioskBeat is what Beats returns of one kiosk.
type KioskBeat struct {
	KioskID string
	Last    *Beat  // nil: never heard from
	HeldMax uint64 // the highest seq held, 0 if none
}

// Token is an enrollment token as kept, without the token itself.
type Token struct {
	KioskID          string    // the kiosk it enrolls
	Created, Expires time.Time // it is refused from Expires on
	Used             time.Time // zero until used, once
	// Office is the office the kiosk belongs to, as the agency names it
	// ("SFR", "Newark field office"), kept with the kiosk when the token
	// enrolls it; "" says nothing. A label of the agency's, never personal
	// data (ValidOffice).
	Office string
}
