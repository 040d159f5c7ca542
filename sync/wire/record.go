package wire

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The integrity of the queue. Every record is hash-chained to the kiosk's
// previous record and signed with the kiosk's Ed25519 device key, and the
// kiosk sends its signed chain head as a heartbeat, so the upstream can tell
// a record altered, a record deleted from the middle (a gap that never
// fills), a deleted tail (a head that goes back) and a quiet kiosk (a head
// that stays put) apart.

// HashSize is the size of a record hash.
const HashSize = sha256.Size

// Digest returns the hash of r: SHA-256 over a domain-separation label and
// every field but Hash and Sig, each length-prefixed, so no two records
// share an encoding.
func (r *Record) Digest() []byte {
	h := sha256.New()
	b := []byte("sdc-record-v1\x00")
	b = appendField(b, []byte(r.ID))
	b = appendField(b, []byte(r.KioskID))
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = appendField(b, []byte(r.BootID))
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Mono))
	b = appendField(b, []byte(r.Clock))
	b = appendField(b, []byte(r.Outcome))
	b = appendField(b, []byte(r.Issuer))
	b = appendField(b, []byte(r.Serial))
	b = appendField(b, r.Sealed)
	b = appendField(b, r.Prev)
	h.Write(b)
	return h.Sum(nil)
}

// Sign sets r's Hash and Sig with the device key.
func (r *Record) Sign(key ed25519.PrivateKey) {
	r.Hash = r.Digest()
	r.Sig = ed25519.Sign(key, r.Hash)
}

// Errors of Verify and VerifyChain.
var (
	ErrBadHash      = errors.New("record hash does not match its contents")
	ErrBadSignature = errors.New("record signature does not verify")
	ErrChainBroken  = errors.New("record does not chain to the previous one")
	ErrSeqGap       = errors.New("record sequence numbers are not consecutive")
)

// Verify checks that r's Hash is its digest and Sig the device's signature
// of it: the error wraps ErrBadHash or ErrBadSignature. It does not look at
// the chain: see VerifyChain and Follows.
func (r *Record) Verify(pub ed25519.PublicKey) error {
	if len(r.Hash) != HashSize || !bytes.Equal(r.Hash, r.Digest()) {
		return fmt.Errorf("record %d: %w", r.Seq, ErrBadHash)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.Hash, r.Sig) {
		return fmt.Errorf("record %d: %w", r.Seq, ErrBadSignature)
	}
	return nil
}

// Follows reports whether r comes right after the record with sequence
// number seq and hash prev in the kiosk's chain (seq 0 and GenesisPrev for
// the first record). It trusts r.Hash: call Verify first.
func (r *Record) Follows(seq uint64, prev []byte) bool {
	return r.Seq == seq+1 && len(r.Prev) == HashSize && bytes.Equal(r.Prev, prev)
}

// ChainError is the first fault VerifyChain found.
type ChainError struct {
	Index int    // in the slice given to VerifyChain
	Seq   uint64 // of the faulty record
	Err   error  // ErrBadHash, ErrBadSignature, ErrChainBroken or ErrSeqGap
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("record #%d (seq %d): %v", e.Index, e.Seq, e.Err)
}

func (e *ChainError) Unwrap() error { return e.Err }

// VerifyChain checks that recs are consecutive records of one kiosk, each
// signed by pub and chained to the one before, the first to the record with
// sequence number seq and hash prev (0 and GenesisPrev when recs start the
// chain). The error, if any, is a *ChainError naming the first bad record.
func VerifyChain(pub ed25519.PublicKey, seq uint64, prev []byte, recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if err := r.Verify(pub); err != nil {
			return &ChainError{Index: i, Seq: r.Seq, Err: errors.Unwrap(err)}
		}
		if r.Seq != seq+1 {
			return &ChainError{Index: i, Seq: r.Seq, Err: ErrSeqGap}
		}
		if !r.Follows(seq, prev) {
			return &ChainError{Index: i, Seq: r.Seq, Err: ErrChainBroken}
		}
		seq, prev = r.Seq, r.Hash
	}
	return nil
}

// GenesisPrev is the Prev of a kiosk's first record.
var GenesisPrev = make([]byte, HashSize)

// Head is a kiosk's signed chain head: the seq and hash of its newest
// record, at a time. Sent as a heartbeat (PathHeartbeats).
type Head struct {
	KioskID string    `json:"kiosk_id"`
	Seq     uint64    `json:"seq"`  // 0: no record yet
	Hash    []byte    `json:"hash"` // GenesisPrev when Seq is 0
	At      time.Time `json:"at"`
	Sig     []byte    `json:"sig"`
}

func (h *Head) signed() []byte {
	b := []byte("sdc-head-v1\x00")
	b = appendField(b, []byte(h.KioskID))
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = appendField(b, h.Hash)
	return binary.BigEndian.AppendUint64(b, uint64(h.At.UnixNano()))
}

// Sign sets h's Sig with the device key.
func (h *Head) Sign(key ed25519.PrivateKey) { h.Sig = ed25519.Sign(key, h.signed()) }

// Verify checks h's signature.
func (h *Head) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, h.signed(), h.Sig) {
		return fmt.Errorf("head of %s at seq %d: %w", h.KioskID, h.Seq, ErrBadSignature)
	}
	return nil
}

func appendField(b, f []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// Person is what a check-in says of the person: sealed to the upstream in
// Record.Sealed, never stored or sent in clear.
type Person struct {
	ANumber     string `json:"a_number"`
	FamilyName  string `json:"family_name,omitempty"`
	GivenName   string `json:"given_name,omitempty"`
	DateOfBirth string `json:"date_of_birth"`
	Office      string `json:"office"`
}

// The HPKE suite (RFC 9180) person data is sealed with: DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
var (
	sealKEM  = hpke.DHKEM(ecdh.X25519())
	sealKDF  = hpke.HKDFSHA256()
	sealAEAD = hpke.AES256GCM()
)

// GenerateSealKey makes the upstream's key pair for sealed person data.
func GenerateSealKey() (hpke.PrivateKey, error) { return sealKEM.GenerateKey() }

// ParseSealPublicKey reads the upstream's public sealing key, as sent at
// enrollment (the raw X25519 public key).
func ParseSealPublicKey(b []byte) (hpke.PublicKey, error) { return sealKEM.NewPublicKey(b) }

// ParseSealPrivateKey reads the upstream's private sealing key.
func ParseSealPrivateKey(b []byte) (hpke.PrivateKey, error) { return sealKEM.NewPrivateKey(b) }

// sealInfo is the HPKE info of a kiosk's sealed person data: the sealed
// blob of one kiosk cannot be opened as another's.
func sealInfo(kioskID string) []byte {
	return appendField([]byte("sdc-person-v1\x00"), []byte(kioskID))
}

// sealEncSize is the size of the encapsulated key at the head of a sealed
// blob (an X25519 public key).
const sealEncSize = 32

// A Sealer seals one person for one kiosk. Making it costs the HPKE key
// encapsulation (two X25519 operations, the bulk of sealing), so a kiosk
// can make the next one while it waits for a person; sealing with it then
// costs one AES-GCM. Use it once.
type Sealer struct {
	enc  []byte
	s    *hpke.Sender
	used bool
}

// NewSealer prepares the sealing of one person of kioskID to the upstream's
// public key.
func NewSealer(pub hpke.PublicKey, kioskID string) (*Sealer, error) {
	enc, s, err := hpke.NewSender(pub, sealKDF, sealAEAD, sealInfo(kioskID))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if len(enc) != sealEncSize {
		return nil, fmt.Errorf("seal: encapsulated key of %d bytes; want %d", len(enc), sealEncSize)
	}
	return &Sealer{enc: enc, s: s}, nil
}

// Seal seals p for the record id: the blob is the encapsulated key followed
// by the AES-256-GCM ciphertext of p's JSON, with id as additional data, so
// the blob cannot be moved to another record. A Sealer seals once.
func (sl *Sealer) Seal(id string, p Person) ([]byte, error) {
	if sl.used {
		return nil, errors.New("seal: sealer already used")
	}
	sl.used = true
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	ct, err := sl.s.Seal([]byte(id), plain)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return append(bytes.Clone(sl.enc), ct...), nil
}

// Seal seals p to the upstream's public key for the record (kioskID, id).
func Seal(pub hpke.PublicKey, kioskID, id string, p Person) ([]byte, error) {
	sl, err := NewSealer(pub, kioskID)
	if err != nil {
		return nil, err
	}
	return sl.Seal(id, p)
}

// Open opens the person data of record (kioskID, id).
func Open(priv hpke.PrivateKey, kioskID, id string, sealed []byte) (Person, error) {
	if len(sealed) < sealEncSize {
		return Person{}, errors.New("open sealed person: too short")
	}
	r, err := hpke.NewRecipient(sealed[:sealEncSize], priv, sealKDF, sealAEAD, sealInfo(kioskID))
	if err != nil {
		return Person{}, fmt.Errorf("open sealed person: %w", err)
	}
	plain, err := r.Open([]byte(id), sealed[sealEncSize:])
	if err != nil {
		return Person{}, fmt.Errorf("open sealed person: %w", err)
	}
	var p Person
	if err := json.Unmarshal(plain, &p); err != nil {
		return Person{}, fmt.Errorf("sealed person: %w", err)
	}
	return p, nil
}
