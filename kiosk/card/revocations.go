package card

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// revocationDomain separates revocation entries from any other SHA-256 use.
const revocationDomain = "sdc-revocation-v1\x00"

// revocationEntry is the first 16 bytes of SHA-256 over revocationDomain,
// then iss and cti each preceded by its length as a 4-byte big-endian
// integer: a list of entries names no card without knowing its serial.
type revocationEntry [16]byte

func revocationEntryOf(iss string, cti []byte) revocationEntry {
	h := sha256.New()
	h.Write([]byte(revocationDomain))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(iss)))
	h.Write(n[:])
	h.Write([]byte(iss))
	binary.BigEndian.PutUint32(n[:], uint32(len(cti)))
	h.Write(n[:])
	h.Write(cti)
	var e revocationEntry
	copy(e[:], h.Sum(nil))
	return e
}

// Revocations is a sequence-numbered set of revoked cards, each named only by
// a hash of its issuer and serial (see FORMAT.md). A kiosk loads it only as a
// document signed by the root key (OpenRevocations). A nil *Revocations
// revokes nothing. Like Trust, build it and then share it read-only.
type Revocations struct {
	seq      uint64
	issuedAt time.Time
	entries  map[revocationEntry]struct{}
}

// NewRevocations returns an empty list with sequence number seq.
func NewRevocations(seq uint64) *Revocations {
	return &Revocations{seq: seq, entries: make(map[revocationEntry]struct{})}
}

// IssuedAt is when the list was signed: how fresh what it says is. It is
// zero for a list never signed.
func (r *Revocations) IssuedAt() time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.issuedAt
}

// SetIssuedAt sets the issue time Sign writes (whole seconds are kept).
func (r *Revocations) SetIssuedAt(t time.Time) { r.issuedAt = t.Truncate(time.Second) }

// Seq is the list's sequence number: a kiosk refuses a list older than the
// one it holds.
func (r *Revocations) Seq() uint64 {
	if r == nil {
		return 0
	}
	return r.seq
}

// Len is the number of entries.
func (r *Revocations) Len() int {
	if r == nil {
		return 0
	}
	return len(r.entries)
}

// Next returns a copy of r's entries with the sequence number one higher
// and no issue time: the next edition of the list, to Add to, SetIssuedAt
// and Sign.
func (r *Revocations) Next() *Revocations {
	n := NewRevocations(r.Seq() + 1)
	if r != nil {
		for e := range r.entries {
			n.entries[e] = struct{}{}
		}
	}
	return n
}

// Add revokes the card with issuer iss and serial serialHex (Card.Serial).
func (r *Revocations) Add(iss, serialHex string) error {
	cti, err := parseSerial(serialHex)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if iss == "" {
		return errors.New("revoke: empty issuer")
	}
	if r.entries == nil {
		r.entries = make(map[revocationEntry]struct{})
	}
	r.entries[revocationEntryOf(iss, cti)] = struct{}{}
	return nil
}

// Contains reports whether the card with issuer iss and serial serialHex is
// revoked. A serial that is not valid hex is never revoked.
func (r *Revocations) Contains(iss, serialHex string) bool {
	cti, err := parseSerial(serialHex)
	if err != nil {
		return false
	}
	return r.containsCTI(iss, cti)
}

func (r *Revocations) containsCTI(iss string, cti []byte) bool {
	if r == nil {
		return false
	}
	_, ok := r.entries[revocationEntryOf(iss, cti)]
	return ok
}

// revocationsDoc is the payload of a signed revocation list, with the
// integer keys FORMAT.md documents; unknown keys are ignored.
type revocationsDoc struct {
	Seq      *uint64   `cbor:"1,keyasint"`
	IssuedAt *int64    `cbor:"2,keyasint"`
	Entries  *[][]byte `cbor:"3,keyasint"`
}

// sortedEntries returns the entries in byte order, so that equal lists
// encode equally.
func (r *Revocations) sortedEntries() [][]byte {
	out := make([][]byte, 0, r.Len())
	if r != nil {
		for e := range r.entries {
			out = append(out, bytes.Clone(e[:]))
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// Sign signs the list with the root key, as a document of
// ContentTypeRevocations. The issue time (SetIssuedAt) is required: a kiosk
// judges the list's age by it.
func (r *Revocations) Sign(root crypto.Signer) ([]byte, error) {
	if r.IssuedAt().IsZero() {
		return nil, errors.New("sign revocation list: no issue time")
	}
	seq, iat, entries := r.Seq(), r.issuedAt.Unix(), r.sortedEntries()
	data, err := signDocument(root, ContentTypeRevocations, revocationsDoc{Seq: &seq, IssuedAt: &iat, Entries: &entries})
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	return data, nil
}

// OpenRevocations verifies data as a revocation list signed by root and
// decodes it. Every key is required; an entry of another length than 16
// bytes, or a duplicate, is an error.
func OpenRevocations(data []byte, root crypto.PublicKey) (*Revocations, error) {
	var doc revocationsDoc
	if err := openDocument(data, root, ContentTypeRevocations, &doc); err != nil {
		return nil, fmt.Errorf("open revocation list: %w", err)
	}
	if doc.Seq == nil || doc.IssuedAt == nil || doc.Entries == nil {
		return nil, errors.New("open revocation list: seq, issued_at and entries are required")
	}
	r := NewRevocations(*doc.Seq)
	r.issuedAt = time.Unix(*doc.IssuedAt, 0).UTC()
	for i, b := range *doc.Entries {
		var e revocationEntry
		if len(b) != len(e) {
			return nil, fmt.Errorf("open revocation list: entry %d of %d bytes, want %d", i, len(b), len(e))
		}
		copy(e[:], b)
		if _, dup := r.entries[e]; dup {
			return nil, fmt.Errorf("open revocation list: entry %d is a duplicate", i)
		}
		r.entries[e] = struct{}{}
	}
	return r, nil
}

// revocationsJSON is how a list is shown to a person; a kiosk never reads it.
type revocationsJSON struct {
	Seq      uint64   `json:"seq"`
	IssuedAt string   `json:"issued_at,omitempty"`
	Entries  []string `json:"entries"`
}

// MarshalJSON shows the list as {"seq":N,"issued_at":"RFC 3339",
// "entries":["<32 hex>",...]}, entries sorted, issued_at omitted for a list
// never signed. It is for display: a kiosk loads only the signed form.
func (r *Revocations) MarshalJSON() ([]byte, error) {
	out := revocationsJSON{Seq: r.Seq(), Entries: []string{}}
	if t := r.IssuedAt(); !t.IsZero() {
		out.IssuedAt = t.UTC().Format(time.RFC3339)
	}
	for _, e := range r.sortedEntries() {
		out.Entries = append(out.Entries, hex.EncodeToString(e))
	}
	return json.Marshal(out)
}

// ListsStale reports whether the revocation list is too old to trust at
// time at: older than MaxListAge, or missing while MaxListAge is set. A card
// that verifies is then StaleLists rather than Valid; staff see it too.
func (v *Verifier) ListsStale(at time.Time) bool {
	if v.MaxListAge <= 0 {
		return false
	}
	return v.Revocations == nil || at.Sub(v.Revocations.IssuedAt()) > v.MaxListAge
}

// staleness says why the lists are stale, once ListsStale said they are.
func (v *Verifier) staleness() error {
	if v.Revocations == nil {
		return fmt.Errorf("no revocation list, and lists may be at most %s old", v.MaxListAge)
	}
	return fmt.Errorf("revocation list issued at %s is older than %s", v.Revocations.IssuedAt().UTC().Format(time.RFC3339), v.MaxListAge)
}
