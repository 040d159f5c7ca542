package card

import (
	"crypto"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The roster and the notices are both sealed sets: a signed,
// sequence-numbered map from keyed lookups to sealed entries, with the salt
// that keys both. Only their lookups, seals and contents differ.

const (
	sealedSetSaltLen = 16
	sealedNonceLen   = 12 // AES-GCM standard nonce
	sealedTagLen     = 16 // AES-GCM tag
)

// lookupKey is an entry's lookup key: a truncated HMAC, naming nobody.
type lookupKey [16]byte

type sealedSet struct {
	seq      uint64
	issuedAt time.Time
	salt     [sealedSetSaltLen]byte
	entries  map[lookupKey][]byte // nonce || AES-GCM ciphertext and tag
}

// sealedSetDoc is the payload of a sealed set's signed document. Unknown
// keys are ignored, so a later edition may add some.
type sealedSetDoc struct {
	Seq      *uint64                             `cbor:"seq"`
	IssuedAt *int64                              `cbor:"issued_at"`
	Salt     cbor.RawMessage                     `cbor:"salt"`
	Entries  map[cbor.ByteString]cbor.RawMessage `cbor:"entries"`
}

// sign encodes s as a signed document of contentType; what names it in
// errors.
func (s *sealedSet) sign(root crypto.Signer, contentType, what string) ([]byte, error) {
	salt, err := encMode.Marshal(s.salt[:])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	seq, iat := s.seq, s.issuedAt.Unix()
	doc := sealedSetDoc{Seq: &seq, IssuedAt: &iat, Salt: salt, Entries: make(map[cbor.ByteString]cbor.RawMessage, len(s.entries))}
	for l, sealed := range s.entries {
		b, err := encMode.Marshal(sealed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		doc.Entries[cbor.ByteString(l[:])] = b
	}
	data, err := signDocument(root, contentType, doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return data, nil
}

// openSealedSet verifies data as a document of contentType signed by root
// and decodes it. Every field is required; a lookup key that is not 16
// bytes or an entry that is not a byte string of 1 to maxPlain bytes of
// plaintext (sealed) is an error. Entries are opened only on lookup.
func openSealedSet(data []byte, root crypto.PublicKey, contentType, what string, maxPlain int) (sealedSet, error) {
	var doc sealedSetDoc
	if err := openDocument(data, root, contentType, &doc); err != nil {
		return sealedSet{}, fmt.Errorf("open %s: %w", what, err)
	}
	if doc.Seq == nil || doc.IssuedAt == nil || doc.Salt == nil || doc.Entries == nil {
		return sealedSet{}, fmt.Errorf(`open %s: "seq", "issued_at", "salt" and "entries" are required`, what)
	}
	salt, err := bstr(doc.Salt)
	if err != nil || len(salt) != sealedSetSaltLen {
		return sealedSet{}, fmt.Errorf("open %s: salt is not a byte string of %d bytes", what, sealedSetSaltLen)
	}
	s := sealedSet{seq: *doc.Seq, issuedAt: time.Unix(*doc.IssuedAt, 0).UTC(), entries: make(map[lookupKey][]byte, len(doc.Entries))}
	copy(s.salt[:], salt)
	minSealed, maxSealed := sealedNonceLen+sealedTagLen+1, sealedNonceLen+maxPlain+sealedTagLen
	for k, v := range doc.Entries {
		var l lookupKey
		if len(k) != len(l) {
			return sealedSet{}, fmt.Errorf("open %s: lookup key of %d bytes, want %d", what, len(k), len(l))
		}
		copy(l[:], k)
		sealed, err := bstr(v)
		if err != nil {
			return sealedSet{}, fmt.Errorf("open %s: entry %x: %w", what, l, err)
		}
		if len(sealed) < minSealed || len(sealed) > maxSealed {
			return sealedSet{}, fmt.Errorf("open %s: entry %x of %d bytes, want %d to %d", what, l, len(sealed), minSealed, maxSealed)
		}
		s.entries[l] = sealed
	}
	return s, nil
}
