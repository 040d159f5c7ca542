package wire

import (
	"bytes"
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
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

// Person data is sealed with HPKE (RFC 9180) to the upstream's public key,
// one epoch of records at a time.
//
// A record's person cannot be sealed on its own at an acceptable cost: an
// HPKE key encapsulation is two X25519 operations for the kiosk and one for
// the upstream, several times the rest of a record's cost on either side,
// and the upstream pays it for every record of a backlog. So a kiosk makes
// one encapsulation per epoch (a Sealer) and seals the epoch's records with
// a key exported from it (RFC 9180 §5.3, the export-only mode of §5.3 and
// §7.3): the upstream opens an epoch once (Opener). The epoch key lives
// only in the kiosk's memory, never on its disk, and the kiosk drops it
// once the epoch is over (a number of records or a time, see
// outbox.Options): a stolen SD card reveals nothing, and whoever reads the
// memory of a running kiosk reads at most the records of the epoch under
// way, as well as whoever reads its screen.
//
// Sealed blobs of version 2 (the Sealer's):
//
//	0x02 ‖ enc (32 bytes) ‖ counter (4 bytes, big-endian) ‖ AES-256-GCM ciphertext
//
// where enc is the epoch's encapsulated key (DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, export only, info "sdc-person-v2\0" ‖ kiosk id as a field),
// the AES key is the 32 bytes exported with context "sdc-person-v2 key",
// the nonce is 8 zero bytes ‖ counter, which the Sealer never repeats
// within an epoch, and the additional data is the record's id. The
// plaintext is the Person in CBOR (RFC 8949), a map with the keys of its
// JSON form.
//
// Version 1 blobs, which earlier releases wrote, are one base-mode HPKE
// message per record (enc ‖ AES-256-GCM ciphertext, info "sdc-person-v1\0"
// ‖ kiosk id, the record's id as additional data, the Person's JSON as
// plaintext); Open and Opener still open them.
var (
	sealKEM  = hpke.DHKEM(ecdh.X25519())
	sealKDF  = hpke.HKDFSHA256()
	sealAEAD = hpke.AES256GCM() // version 1
)

const (
	sealV2        byte = 0x02
	sealEncSize        = 32 // an X25519 public key: the encapsulated key
	sealV2Header       = 1 + sealEncSize + 4
	sealKeyExport      = "sdc-person-v2 key"

	// MaxEpochRecords is the most records one Sealer seals: its counter
	// is the GCM nonce, which must never repeat under one key.
	MaxEpochRecords = math.MaxUint32
)

// GenerateSealKey makes the upstream's key pair for sealed person data.
func GenerateSealKey() (hpke.PrivateKey, error) { return sealKEM.GenerateKey() }

// ParseSealPublicKey reads the upstream's public sealing key, as sent at
// enrollment (the raw X25519 public key).
func ParseSealPublicKey(b []byte) (hpke.PublicKey, error) { return sealKEM.NewPublicKey(b) }

// ParseSealPrivateKey reads the upstream's private sealing key.
func ParseSealPrivateKey(b []byte) (hpke.PrivateKey, error) { return sealKEM.NewPrivateKey(b) }

// sealInfo is the HPKE info of a kiosk's sealed person data, for a version
// ("v1", "v2"): the sealed blob of one kiosk cannot be opened as another's.
func sealInfo(version, kioskID string) []byte {
	return appendField([]byte("sdc-person-"+version+"\x00"), []byte(kioskID))
}

// A Sealer seals the people of one epoch of a kiosk's records. Making it
// costs the HPKE key encapsulation, the bulk of sealing, so a kiosk can
// make the next one while it waits for people; sealing with it then costs
// one AES-GCM. A Sealer is not safe for concurrent use.
type Sealer struct {
	enc   []byte
	aead  cipher.AEAD
	limit uint32
	n     uint32 // records sealed; the next one's counter
}

// NewSealer begins an epoch of at most limit records of kioskID (at most
// MaxEpochRecords), sealed to the upstream's public key.
func NewSealer(pub hpke.PublicKey, kioskID string, limit int) (*Sealer, error) {
	if limit < 1 || uint64(limit) > MaxEpochRecords { // uint64: an int is 32 bits on armv7
		return nil, fmt.Errorf("seal: epoch of %d records; want 1 to %d", limit, uint32(MaxEpochRecords))
	}
	enc, s, err := hpke.NewSender(pub, sealKDF, hpke.ExportOnly(), sealInfo("v2", kioskID))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if len(enc) != sealEncSize {
		return nil, fmt.Errorf("seal: encapsulated key of %d bytes; want %d", len(enc), sealEncSize)
	}
	aead, err := exportedAEAD(s.Export)
	if err != nil {
		return nil, err
	}
	return &Sealer{enc: enc, aead: aead, limit: uint32(limit)}, nil
}

// exportedAEAD makes the AES-256-GCM of an epoch from its HPKE context.
func exportedAEAD(export func(string, int) ([]byte, error)) (cipher.AEAD, error) {
	key, err := export(sealKeyExport, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// Full reports whether the Sealer has sealed its limit.
func (sl *Sealer) Full() bool { return sl.n >= sl.limit }

// Seal seals p for the record id (the blob cannot be moved to another
// record). It fails once the Sealer is Full.
func (sl *Sealer) Seal(id string, p Person) ([]byte, error) {
	if sl.Full() {
		return nil, errors.New("seal: the epoch is full")
	}
	plain, err := cborEnc.Marshal(p)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, sealV2Header+len(plain)+sl.aead.Overhead())
	out = append(out, sealV2)
	out = append(out, sl.enc...)
	out = binary.BigEndian.AppendUint32(out, sl.n)
	nonce := sealNonce(sl.n)
	sl.n++
	return sl.aead.Seal(out, nonce[:], plain, []byte(id)), nil
}

func sealNonce(counter uint32) [12]byte {
	var n [12]byte
	binary.BigEndian.PutUint32(n[8:], counter)
	return n
}

// Seal seals p to the upstream's public key for the record (kioskID, id),
// in an epoch of its own.
func Seal(pub hpke.PublicKey, kioskID, id string, p Person) ([]byte, error) {
	sl, err := NewSealer(pub, kioskID, 1)
	if err != nil {
		return nil, err
	}
	return sl.Seal(id, p)
}

// Open opens the person data of record (kioskID, id). It decapsulates the
// blob's key every time: to open many records, use an Opener.
func Open(priv hpke.PrivateKey, kioskID, id string, sealed []byte) (Person, error) {
	return NewOpener(priv, 0).Open(kioskID, id, sealed)
}

// An Opener opens sealed person data with the upstream's private key,
// keeping the keys of the epochs it opened, so that the records of an epoch
// cost one decapsulation between them. It is safe for concurrent use.
type Opener struct {
	priv hpke.PrivateKey
	max  int

	mu   sync.Mutex
	keys map[epochKey]cipher.AEAD
}

type epochKey struct {
	kioskID string
	enc     [sealEncSize]byte
}

// NewOpener returns an Opener that keeps the keys of up to max epochs (it
// forgets them all when it has more); 0 keeps none.
func NewOpener(priv hpke.PrivateKey, max int) *Opener {
	return &Opener{priv: priv, max: max, keys: map[epochKey]cipher.AEAD{}}
}

// Open opens the person data of record (kioskID, id).
func (o *Opener) Open(kioskID, id string, sealed []byte) (Person, error) {
	var p Person
	var errV2 error
	if len(sealed) > sealV2Header && sealed[0] == sealV2 {
		plain, err := o.openV2(kioskID, id, sealed)
		if err == nil {
			if err := cborDec.Unmarshal(plain, &p); err != nil {
				return Person{}, fmt.Errorf("sealed person: %w", err)
			}
			return p, nil
		}
		errV2 = err // unless it is a version 1 blob whose key begins with 0x02
	}
	plain, err := o.openV1(kioskID, id, sealed)
	if err != nil {
		return Person{}, fmt.Errorf("open sealed person: %w", cmp.Or(errV2, err))
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		return Person{}, fmt.Errorf("sealed person: %w", err)
	}
	return p, nil
}

func (o *Opener) openV2(kioskID, id string, sealed []byte) ([]byte, error) {
	k := epochKey{kioskID: kioskID}
	copy(k.enc[:], sealed[1:1+sealEncSize])
	o.mu.Lock()
	aead := o.keys[k]
	o.mu.Unlock()
	if aead == nil {
		r, err := hpke.NewRecipient(k.enc[:], o.priv, sealKDF, hpke.ExportOnly(), sealInfo("v2", kioskID))
		if err != nil {
			return nil, err
		}
		if aead, err = exportedAEAD(r.Export); err != nil {
			return nil, err
		}
	}
	counter := binary.BigEndian.Uint32(sealed[1+sealEncSize:])
	nonce := sealNonce(counter)
	plain, err := aead.Open(nil, nonce[:], sealed[sealV2Header:], []byte(id))
	if err != nil {
		return nil, err
	}
	if o.max > 0 { // keep only a key that opened a record: no one fills the cache with junk
		o.mu.Lock()
		if len(o.keys) >= o.max {
			clear(o.keys)
		}
		o.keys[k] = aead
		o.mu.Unlock()
	}
	return plain, nil
}

func (o *Opener) openV1(kioskID, id string, sealed []byte) ([]byte, error) {
	if len(sealed) < sealEncSize {
		return nil, errors.New("too short")
	}
	r, err := hpke.NewRecipient(sealed[:sealEncSize], o.priv, sealKDF, sealAEAD, sealInfo("v1", kioskID))
	if err != nil {
		return nil, err
	}
	return r.Open([]byte(id), sealed[sealEncSize:])
}
