// Package wire holds the types of the upload API (sync/API.md): what a kiosk
// sends to the upstream and what it gets back. Both ends import it, the
// uploader (sync/upload) and the reference server (sync/upstream), so the
// JSON and CBOR (cbor.go) they exchange is declared once.
//
// A Record carries no personal data in clear: no name, A-number or date of
// birth. What identifies the person travels sealed to the upstream's key
// (Seal, HPKE), and every record is hash-chained to the kiosk's previous one
// and signed with the kiosk's device key (record.go).
package wire

import "time"

// The API's paths.
const (
	PathCheckIns = "/v1/checkins" // POST a Batch, get a BatchResult
	PathStats    = "/v1/stats"    // GET Stats
	PathHealth   = "/healthz"     // GET: 200 while the server can serve
)

// Limits of a POST to PathCheckIns.
const (
	MaxBatch     = 500     // records in one Batch
	MaxBodyBytes = 4 << 20 // bytes in one request body
)

// ContentType is the media type of every request and response body, but
// for batches, which may also be BatchContentType.
const ContentType = "application/json"

// Record is one check-in as the kiosk uploads it. ID and (KioskID, Seq) each
// identify it: the upstream keeps a record once, however often it is sent.
type Record struct {
	ID      string    `json:"id"`       // UUIDv7, lower-case canonical form
	KioskID string    `json:"kiosk_id"` // the kiosk that recorded it
	Seq     uint64    `json:"seq"`      // the kiosk's sequence number, from 1, without gaps
	At      time.Time `json:"at"`       // wall time of the check-in, RFC 3339 with nanoseconds
	Clock   string    `json:"clock"`    // how far At can be trusted: one of Clocks
	Outcome string    `json:"outcome"`  // what happened, e.g. "checked_in"
	Issuer  string    `json:"issuer"`   // the card's issuing authority
	Serial  string    `json:"serial"`   // the card serial (lower-case hex)

	BootID string `json:"boot_id"` // the kiosk's kernel boot id when it recorded this
	Mono   int64  `json:"mono_ns"` // nanoseconds since that boot: orders records whatever the wall clock did
	Sealed []byte `json:"sealed"`  // the Person, sealed to the upstream (Seal); base64 in JSON
	Prev   []byte `json:"prev"`    // Hash of the kiosk's previous record; GenesisPrev for seq 1
	Hash   []byte `json:"hash"`    // Digest of this record
	Sig    []byte `json:"sig"`     // Ed25519 signature of Hash by the kiosk's device key
}

// Clocks are the values of Record.Clock: the kiosk's clock was synchronized,
// plausible but not known to be synchronized, or behind the last time the
// kiosk trusted (At is then that trusted time, and is unverified).
var Clocks = []string{"synced", "unsynced", "implausible"}

// ValidClock reports whether s is one of Clocks.
func ValidClock(s string) bool {
	for _, c := range Clocks {
		if s == c {
			return true
		}
	}
	return false
}

// Batch is the body of a POST to PathCheckIns: up to MaxBatch records of one
// kiosk, each with KioskID equal to the batch's.
type Batch struct {
	KioskID string   `json:"kiosk_id"`
	Records []Record `json:"records"`
}

// BatchResult is the reply to a Batch: one ItemResult per record, in the
// order of the batch.
type BatchResult struct {
	Results []ItemResult `json:"results"`
}

// ItemResult is what became of one record of a Batch.
type ItemResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`           // StatusAccepted, StatusDuplicate or StatusRejected
	Reason string `json:"reason,omitempty"` // with StatusRejected: one of the Reason* codes
}

// The statuses of an ItemResult. Accepted and duplicate both mean the
// upstream holds the record: the kiosk may mark it uploaded.
const (
	StatusAccepted  = "accepted"  // stored now
	StatusDuplicate = "duplicate" // already stored, identical
	StatusRejected  = "rejected"  // not stored; Reason says why; sending it again will not help
)

// The reasons of a rejected record.
const (
	ReasonMalformed     = "malformed"      // not a JSON record (wrong type, unknown field)
	ReasonBadID         = "bad_id"         // missing, or not a lower-case UUIDv7
	ReasonKioskMismatch = "kiosk_mismatch" // kiosk_id differs from the batch's
	ReasonBadSeq        = "bad_seq"        // 0, or above 2^63-1
	ReasonBadTime       = "bad_time"       // missing, or outside the years 1678 to 2261
	ReasonBadField      = "bad_field"      // outcome missing, or a field too long
	ReasonIDConflict    = "id_conflict"    // the id is held with other contents
	ReasonSeqConflict   = "seq_conflict"   // (kiosk_id, seq) is held with another id (unsigned records; see ReasonFork)
	ReasonBadSignature  = "bad_signature"  // hash or signature does not verify with the kiosk's device key
	ReasonChainBroken   = "chain_broken"   // prev is not the hash of the held record before it (or the held one after it does not chain to it)
	ReasonFork          = "fork"           // (kiosk_id, seq) is held with another signed hash: the kiosk's history forked
	ReasonUnsealable    = "unsealable"     // the sealed person data cannot be opened with the upstream's key
)

// Stats is the counts of a GET to PathStats (whose body adds each kiosk's
// heartbeats: upstream.StatsReport).
type Stats struct {
	CheckIns int64 `json:"check_ins"` // records held
	Kiosks   int64 `json:"kiosks"`    // distinct kiosks they came from
	Gaps     int64 `json:"gaps"`      // sequence numbers missing below each kiosk's highest held
	Forks    int64 `json:"forks"`     // records refused because their (kiosk, seq) is held with another hash
	Rejected int64 `json:"rejected"`  // records answered "rejected", every answer counted
}

// Error is the body of a response other than 200.
type Error struct {
	Message string `json:"error"`
}

// MaxKioskIDLen is the longest kiosk id.
const MaxKioskIDLen = 64

// ValidKioskID reports whether s can name a kiosk: 1 to MaxKioskIDLen
// letters, digits, '.', '_' or '-'.
func ValidKioskID(s string) bool {
	if s == "" || len(s) > MaxKioskIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidID reports whether s is a record id: a UUID version 7 (RFC 9562) in
// lower-case canonical form, xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx with y one
// of 8, 9, a, b.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		case 14:
			if c != '7' {
				return false
			}
		case 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
