package card

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Notices are per-person messages the upstream sends to every kiosk ("please
// go to window 3", the next appointment), keyed like the roster so that the
// kiosk holds no readable list of people (see FORMAT.md, "Notices"): an
// entry is found by a keyed hash of the card's issuer and serial, and opens
// only with a key derived from what the card holder presents — the card's
// issuer, serial, A-number and date of birth.

// ContentTypeNotices is the content type of a signed notices document.
const ContentTypeNotices = "application/sdc-notices+cbor"

// Notice cryptography and limits, versioned by the domain strings.
const (
	noticeLookupDomain = "sdc-notice-lookup-v1"
	noticeSealInfo     = "sdc-notice-seal-v1"

	// MaxNoticeLanguages and MaxNoticeTextLen bound a notice: a text per
	// language, each at most MaxNoticeTextLen bytes of UTF-8.
	MaxNoticeLanguages = 24
	MaxNoticeTextLen   = 1024
	maxLangTagLen      = 35 // RFC 5646 §4.4.1 recommends supporting at least 35
	maxNoticePlaintext = 32 << 10
)

// Notice is a message for one card holder. Text holds the message by
// language tag ("en", "es", "ar"…); Appointment is the next appointment, zero
// when the notice names none. It is personal data: never log it.
type Notice struct {
	Text        map[string]string
	Appointment time.Time // whole seconds are kept
}

// In returns the text in lang, else in English, else "" (a notice with only
// an appointment, or none in a language the person can read).
func (n Notice) In(lang string) string {
	if s, ok := n.Text[lang]; ok {
		return s
	}
	return n.Text["en"]
}

// noticeDoc is a notice as sealed in an entry: CBOR with integer keys.
type noticeDoc struct {
	Text        map[string]string `cbor:"1,keyasint,omitempty"`
	Appointment *int64            `cbor:"2,keyasint,omitempty"`
}

func (n Notice) check() error {
	if len(n.Text) == 0 && n.Appointment.IsZero() {
		return errors.New("notice has neither text nor appointment")
	}
	if len(n.Text) > MaxNoticeLanguages {
		return fmt.Errorf("notice in %d languages exceeds %d", len(n.Text), MaxNoticeLanguages)
	}
	for lang, s := range n.Text {
		if lang == "" || len(lang) > maxLangTagLen {
			return fmt.Errorf("language tag of %d bytes, want 1 to %d", len(lang), maxLangTagLen)
		}
		if len(s) > MaxNoticeTextLen || !utf8.ValidString(s) {
			return fmt.Errorf("notice text in %q is not UTF-8 of at most %d bytes", lang, MaxNoticeTextLen)
		}
	}
	return nil
}

// noticeLookup is an entry's lookup key.
type noticeLookup = lookupKey

// Notices is a sequence-numbered set of sealed notices. Build it with
// NewNotices and Add, or read it with OpenNotices; then share it read-only:
// Lookup only reads. A nil *Notices holds none.
type Notices struct{ sealedSet }

// NewNotices returns an empty set with a fresh random salt.
func NewNotices(seq uint64, issuedAt time.Time) (*Notices, error) {
	n := &Notices{sealedSet{seq: seq, issuedAt: issuedAt.Truncate(time.Second).UTC(), entries: make(map[noticeLookup][]byte)}}
	if _, err := rand.Read(n.salt[:]); err != nil {
		return nil, fmt.Errorf("new notices: salt: %w", err)
	}
	return n, nil
}

// Seq is the sequence number: a kiosk refuses notices older than it holds.
func (n *Notices) Seq() uint64 {
	if n == nil {
		return 0
	}
	return n.seq
}

// IssuedAt is when the set was made, to whole seconds.
func (n *Notices) IssuedAt() time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.issuedAt
}

// Len is the number of entries.
func (n *Notices) Len() int {
	if n == nil {
		return 0
	}
	return len(n.entries)
}

// appendLV appends s preceded by its length as a 4-byte big-endian integer.
func appendLV(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// lookupKey is the first 16 bytes of HMAC-SHA256, keyed with the salt, over
// the domain string, iss and serial (each length-prefixed).
func (n *Notices) lookupKey(iss, serial string) noticeLookup {
	m := hmac.New(sha256.New, n.salt[:])
	m.Write(appendLV(appendLV([]byte(noticeLookupDomain), iss), serial))
	var l noticeLookup
	copy(l[:], m.Sum(nil))
	return l
}

// aead is AES-256-GCM under HKDF-SHA256 of what the card holder presents:
// iss, serial, A-number and date of birth, each length-prefixed, salted with
// the set's salt.
func (n *Notices) aead(c *Card) (cipher.AEAD, error) {
	ikm := appendLV(appendLV(appendLV(appendLV(nil, c.Issuer), c.Serial), c.ANumber), c.DateOfBirth)
	key, err := hkdf.Key(sha256.New, ikm, n.salt[:], noticeSealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// noticeCard checks that c has what a notice is keyed by and returns its
// serial in canonical (lower-case hex) form.
func noticeCard(c Card) (Card, error) {
	if err := checkText("issuer", c.Issuer, maxIssuerLen); err != nil {
		return Card{}, err
	}
	cti, err := parseSerial(c.Serial)
	if err != nil {
		return Card{}, err
	}
	c.Serial = fmt.Sprintf("%x", cti)
	if c.ANumber == "" || c.DateOfBirth == "" {
		return Card{}, errors.New("A-number and date of birth are required")
	}
	return c, nil
}

// Add seals notice for the holder of card c: c.Issuer, c.Serial,
// c.ANumber and c.DateOfBirth are required. A card has at most one notice.
func (n *Notices) Add(c Card, notice Notice) error {
	c, err := noticeCard(c)
	if err != nil {
		return fmt.Errorf("notices add: %w", err)
	}
	if err := notice.check(); err != nil {
		return fmt.Errorf("notices add: %w", err)
	}
	doc := noticeDoc{Text: notice.Text}
	if !notice.Appointment.IsZero() {
		a := notice.Appointment.Unix()
		doc.Appointment = &a
	}
	plain, err := encMode.Marshal(doc)
	if err != nil {
		return fmt.Errorf("notices add: %w", err)
	}
	if len(plain) > maxNoticePlaintext {
		return fmt.Errorf("notices add: notice of %d bytes exceeds %d", len(plain), maxNoticePlaintext)
	}
	if n.entries == nil {
		n.entries = make(map[noticeLookup][]byte)
	}
	l := n.lookupKey(c.Issuer, c.Serial)
	if _, dup := n.entries[l]; dup {
		return errors.New("notices add: the card has a notice already")
	}
	aead, err := n.aead(&c)
	if err != nil {
		return fmt.Errorf("notices add: %w", err)
	}
	sealed := make([]byte, sealedNonceLen, sealedNonceLen+len(plain)+aead.Overhead())
	if _, err := rand.Read(sealed); err != nil {
		return fmt.Errorf("notices add: nonce: %w", err)
	}
	n.entries[l] = aead.Seal(sealed, sealed, plain, l[:])
	return nil
}

// Lookup returns the notice for the holder of card c. It reports false, with
// no error, when there is none (or n is nil); an entry that is present but
// does not open for this card — the same issuer and serial with another
// A-number or birth date — is an error, never a notice.
func (n *Notices) Lookup(c Card) (Notice, bool, error) {
	if n == nil {
		return Notice{}, false, nil
	}
	c, err := noticeCard(c)
	if err != nil {
		return Notice{}, false, fmt.Errorf("notices lookup: %w", err)
	}
	l := n.lookupKey(c.Issuer, c.Serial)
	sealed, ok := n.entries[l]
	if !ok {
		return Notice{}, false, nil
	}
	aead, err := n.aead(&c)
	if err != nil {
		return Notice{}, false, fmt.Errorf("notices lookup: %w", err)
	}
	plain, err := aead.Open(nil, sealed[:sealedNonceLen], sealed[sealedNonceLen:], l[:])
	if err != nil {
		return Notice{}, false, errors.New("notices lookup: entry does not open for this card")
	}
	var doc noticeDoc
	if err := docDecMode.Unmarshal(plain, &doc); err != nil {
		return Notice{}, false, fmt.Errorf("notices lookup: entry: %w", err)
	}
	notice := Notice{Text: doc.Text}
	if doc.Appointment != nil {
		notice.Appointment = time.Unix(*doc.Appointment, 0).UTC()
	}
	if err := notice.check(); err != nil {
		return Notice{}, false, fmt.Errorf("notices lookup: entry: %w", err)
	}
	return notice, true, nil
}

// Sign encodes the set as a signed document (ContentTypeNotices) signed by
// root.
func (n *Notices) Sign(root crypto.Signer) ([]byte, error) {
	return n.sign(root, ContentTypeNotices, "notices")
}

// OpenNotices verifies data as a notices document signed by root and decodes
// it. Entries are only opened by Lookup.
func OpenNotices(data []byte, root crypto.PublicKey) (*Notices, error) {
	s, err := openSealedSet(data, root, ContentTypeNotices, "notices", maxNoticePlaintext)
	if err != nil {
		return nil, err
	}
	return &Notices{s}, nil
}
