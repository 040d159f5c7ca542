package card

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/adler32"

	"github.com/veraison/go-cose"
)

// serialLen is the length in bytes of a serial Issue draws at random.
const serialLen = 8

// NewSerial draws a card serial at random, as Issue does for a card
// without one: for a card that needs its serial before it is issued (a
// roster entry's).
func NewSerial() (string, error) {
	b := make([]byte, serialLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("serial: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Issuer signs cards.
type Issuer struct {
	Name   string        // the CWT iss of every card it signs
	Signer crypto.Signer // ES256 (P-256), PS256 (RSA) or EdDSA (Ed25519) by its key type
	KID    []byte        // the kid to carry; nil means KIDOfKey(Signer.Public())
	Prefix string        // the context prefix; "" means DefaultPrefix
}

// Issue signs c and returns the payload to print as a QR code. c.IssuedAt
// and c.ExpiresAt are required (whole seconds are kept); c.Issuer is
// ignored in favour of i.Name; an empty c.Serial gets 8 random bytes.
func (i *Issuer) Issue(c Card) (string, error) {
	if i.Signer == nil {
		return "", errors.New("issue: no signer")
	}
	if err := checkText("issuer name", i.Name, maxIssuerLen); err != nil {
		return "", fmt.Errorf("issue: %w", err)
	}
	alg, err := algorithmOf(i.Signer.Public())
	if err != nil {
		return "", fmt.Errorf("issue: %w", err)
	}
	kid := i.KID
	if len(kid) == 0 {
		if kid, err = KIDOfKey(i.Signer.Public()); err != nil {
			return "", fmt.Errorf("issue: %w", err)
		}
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return "", errors.New("issue: issued-at and expires-at are required")
	}
	if c.ExpiresAt.Unix() <= c.IssuedAt.Unix() {
		return "", errors.New("issue: expires-at is not after issued-at")
	}
	if err := checkCard(&c); err != nil {
		return "", fmt.Errorf("issue: %w", err)
	}
	var cti []byte
	if c.Serial == "" {
		cti = make([]byte, serialLen)
		if _, err := rand.Read(cti); err != nil {
			return "", fmt.Errorf("issue: serial: %w", err)
		}
	} else if cti, err = parseSerial(c.Serial); err != nil {
		return "", fmt.Errorf("issue: %w", err)
	}

	claims, err := encodeClaims(i.Name, cti, &c)
	if err != nil {
		return "", fmt.Errorf("issue: encode claims: %w", err)
	}
	signer, err := cose.NewSigner(alg, i.Signer)
	if err != nil {
		return "", fmt.Errorf("issue: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Payload = claims
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", fmt.Errorf("issue: sign: %w", err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("issue: encode COSE_Sign1: %w", err)
	}

	z, err := zlibWrap(raw)
	if err != nil {
		return "", fmt.Errorf("issue: zlib: %w", err)
	}
	prefix := i.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	payload := prefix + EncodeBase45(z)
	if len(payload) > MaxPayloadLen {
		return "", fmt.Errorf("issue: payload of %d bytes exceeds %d", len(payload), MaxPayloadLen)
	}
	return payload, nil
}

// zlibWrap wraps raw in a zlib stream (RFC 1950): deflated at best
// compression, or, when that is no shorter, as one final stored block.
// A short card seldom deflates (a signature, a key id and a serial are
// random bytes), and Go's compressor then ends its stored block with an
// empty final one, 5 bytes (7 or 8 characters of QR) that carry nothing.
func zlibWrap(raw []byte) ([]byte, error) {
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.Write(raw) // a bytes.Buffer does not fail
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if stored := zlibStored(raw); len(stored) <= z.Len() {
		return stored, nil
	}
	return z.Bytes(), nil
}

// zlibStored is raw as a zlib stream of stored blocks (RFC 1951 section
// 3.2.4), the last one final: header 78 01 (deflate, 32 KiB window, the
// fastest level, no dictionary), each block 01 or 00, LEN and NLEN little
// endian, the bytes; then the Adler-32 of raw, big endian.
func zlibStored(raw []byte) []byte {
	const maxStored = 0xffff
	out := make([]byte, 0, 2+len(raw)+5*(len(raw)/maxStored+1)+4)
	out = append(out, 0x78, 0x01)
	for rest := raw; ; {
		n := min(len(rest), maxStored)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		out = append(out, final)
		out = binary.LittleEndian.AppendUint16(out, uint16(n))
		out = binary.LittleEndian.AppendUint16(out, ^uint16(n))
		out = append(out, rest[:n]...)
		if rest = rest[n:]; final == 1 {
			break
		}
	}
	return binary.BigEndian.AppendUint32(out, adler32.Checksum(raw))
}
