package card

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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
// a hash of its issuer and serial (see FORMAT.md). A nil *Revocations revokes
// nothing. Like Trust, build it and then share it read-only.
type Revocations struct {
	seq     uint64
	entries map[revocationEntry]struct{}
}

// NewRevocations returns an empty list with sequence number seq.
func NewRevocations(seq uint64) *Revocations {
	return &Revocations{seq: seq, entries: make(map[revocationEntry]struct{})}
}

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

// Next returns a copy of r with the sequence number one higher: the next
// edition of the list, to Add to.
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

// revocationsJSON is the file form of a list.
type revocationsJSON struct {
	Seq     *uint64  `json:"seq"`
	Entries []string `json:"entries"`
}

// MarshalJSON encodes the list as {"seq":N,"entries":["<32 hex>",...]}, the
// entries sorted so that equal lists encode equally.
func (r *Revocations) MarshalJSON() ([]byte, error) {
	seq := r.Seq()
	out := revocationsJSON{Seq: &seq, Entries: []string{}}
	if r != nil {
		for e := range r.entries {
			out.Entries = append(out.Entries, hex.EncodeToString(e[:]))
		}
	}
	slices.Sort(out.Entries)
	return json.Marshal(out)
}

// ParseRevocations decodes the form MarshalJSON writes. It is strict: both
// fields are required, unknown fields and duplicate or malformed entries
// are errors.
func ParseRevocations(data []byte) (*Revocations, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in revocationsJSON
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("parse revocations: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse revocations: trailing data")
	}
	if in.Seq == nil || in.Entries == nil {
		return nil, errors.New(`parse revocations: "seq" and "entries" are required`)
	}
	r := NewRevocations(*in.Seq)
	for i, s := range in.Entries {
		var e revocationEntry
		if len(s) != 2*len(e) || strings.ToLower(s) != s {
			return nil, fmt.Errorf("parse revocations: entry %d is not %d lower-case hex digits", i, 2*len(e))
		}
		if _, err := hex.Decode(e[:], []byte(s)); err != nil {
			return nil, fmt.Errorf("parse revocations: entry %d: %w", i, err)
		}
		if _, dup := r.entries[e]; dup {
			return nil, fmt.Errorf("parse revocations: entry %d is a duplicate", i)
		}
		r.entries[e] = struct{}{}
	}
	return r, nil
}
