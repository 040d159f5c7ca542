package card

import (
	"crypto"
	_ "crypto/sha256" // go-cose looks SHA-256 up by crypto.Hash
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// DefaultPrefix is the context prefix of a Secure Docket Card payload.
const DefaultPrefix = "SDC1:"

// Caps on hostile input, checked before the work they bound.
const (
	MaxPayloadLen  = 4 << 10  // bytes of scanned text, prefix included
	MaxInflatedLen = 16 << 10 // bytes of the COSE message once inflated
)

// NotBeforeSkew is how far in the future a card's iat may be and the card
// still be valid: a kiosk without a real-time clock may run a little behind
// the issuing office. Expiry gets no such allowance.
const NotBeforeSkew = 5 * time.Minute

// COSE tags (RFC 9052, RFC 8392) a message may carry.
const (
	tagCOSESign1 = 18
	tagCWT       = 61
)

// CBOR major types, from the top three bits of an item's first byte.
const (
	cborBytes = 2
	cborMap   = 5
	cborTag   = 6
)

func majorType(raw []byte) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}

// Verifier checks scanned payloads offline. A zero Verifier trusts nobody.
// It only reads its fields, so one Verifier may serve concurrent calls.
type Verifier struct {
	Prefix      string       // the context prefix; "" means DefaultPrefix
	Trust       *Trust       // the trusted issuer keys
	Revocations *Revocations // nil revokes nothing

	// MaxListAge is how old the revocation list may be (by its IssuedAt)
	// before a card that verifies is StaleLists instead of Valid; with no
	// list at all, every such card is. 0 means no limit.
	MaxListAge time.Duration

	// ReferencePrefixes are the URL prefixes of reference cards; a payload
	// starting with one is a reference, resolved against Roster (see
	// FORMAT.md, "Reference cards"). Empty prefixes are ignored.
	ReferencePrefixes []string
	Roster            *Roster // nil resolves no reference
}

// Verify checks payload at time at, in the order of the stages: prefix,
// Base45, inflate, COSE decode, kid lookup, signature, validity window, card
// claim, revocation. It stops at the first failure and says where; it does
// not panic on any input.
func (v *Verifier) Verify(payload string, at time.Time) Result {
	if rest, ok := v.cutReference(payload); ok {
		return v.verifyReference(rest, at)
	}
	prefix := v.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}

	// Prefix.
	if len(payload) > MaxPayloadLen {
		return failed(Malformed, StagePrefix, fmt.Errorf("payload of %d bytes exceeds %d", len(payload), MaxPayloadLen))
	}
	rest, ok := strings.CutPrefix(payload, prefix)
	if !ok {
		if looksLikeContext(payload) {
			return failed(WrongContext, StagePrefix, errors.New("payload has another context prefix"))
		}
		return failed(Malformed, StagePrefix, fmt.Errorf("payload does not start with %q", prefix))
	}

	// Base45.
	compressed, err := DecodeBase45(rest)
	if err != nil {
		return failed(Malformed, StageBase45, err)
	}

	// Inflate.
	raw, err := inflate(compressed)
	if err != nil {
		return failed(Malformed, StageInflate, err)
	}

	// COSE decode.
	msg, err := decodeSign1(raw)
	if err != nil {
		return failed(Malformed, StageCOSE, err)
	}
	res := Result{KID: msg.kid}

	// Kid lookup.
	if msg.kid == nil {
		res.Status, res.Stage, res.Err = UnknownIssuer, StageKID, errors.New("no kid in either header")
		return res
	}
	keys := v.Trust.lookup(msg.kid)
	if len(keys) == 0 {
		res.Status, res.Stage, res.Err = UnknownIssuer, StageKID, fmt.Errorf("no trusted key for kid %x", msg.kid)
		if s, ok := v.Trust.skippedKID(msg.kid); ok {
			// Listed, but skipped: staff should hear it is the key, not the card.
			res.Err = fmt.Errorf("no trusted key for kid %x: its key was skipped: %w", msg.kid, s.Err)
		}
		return res
	}

	// Signature.
	signers, err := msg.signers(keys)
	if err != nil {
		res.Status, res.Stage, res.Err = BadSignature, StageSignature, fmt.Errorf("kid %x: %w", msg.kid, err)
		return res
	}
	res.SignatureOK = true

	// Validity window. The claims are only parsed now that they are known to
	// come from a trusted issuer.
	var claims cwtClaims
	if majorType(msg.payload) != cborMap {
		res.Status, res.Stage, res.Err = Malformed, StageValidity, errors.New("cwt: payload is not a map")
		return res
	}
	if err := decMode.Unmarshal(msg.payload, &claims); err != nil {
		res.Status, res.Stage, res.Err = Malformed, StageValidity, fmt.Errorf("cwt: %w", err)
		return res
	}
	if claims.Exp == nil || claims.Iat == nil {
		res.Status, res.Stage, res.Err = Malformed, StageValidity, errors.New("cwt: exp or iat missing")
		return res
	}
	exp, err := numericDate(claims.Exp)
	if err != nil {
		res.Status, res.Stage, res.Err = Malformed, StageValidity, fmt.Errorf("cwt: exp: %w", err)
		return res
	}
	iat, err := numericDate(claims.Iat)
	if err != nil {
		res.Status, res.Stage, res.Err = Malformed, StageValidity, fmt.Errorf("cwt: iat: %w", err)
		return res
	}
	card, cti, claimErr := readCard(&claims, iat, exp)
	res.Card = card

	// Card claim, and whether the key that signed it may sign it (the
	// issuer, iat window and offices of its trust list entry): reported
	// after the validity window, by finish.
	claimStatus := NotACard
	if claimErr == nil {
		if err := authorize(signers, card); err != nil {
			claimStatus, claimErr = UnknownIssuer, fmt.Errorf("kid %x: %w", msg.kid, err)
		}
	}
	return v.finish(res, at, iat, exp, claimStatus, claimErr, cti)
}

// finish runs the stages that signed and reference cards share, once the
// card is known to come from a trusted issuer: the validity window (of iat
// and exp, read even when the card claim is not valid), then the card
// claim (claimErr, with claimStatus: a signed card's; nil for a reference
// card, whose roster entry holds a checked card), then revocation (by the
// card's issuer and cti, its serial's bytes) and the lists' age. res
// carries what the earlier stages found, res.Card the card.
func (v *Verifier) finish(res Result, at, iat, exp time.Time, claimStatus Status, claimErr error, cti []byte) Result {
	if status, err := checkWindow(at, iat, exp); err != nil {
		res.Status, res.Stage, res.Err = status, StageValidity, err
		return res
	}
	if claimErr != nil {
		res.Status, res.Stage, res.Err = claimStatus, StageClaim, claimErr
		return res
	}
	if v.Revocations.containsCTI(res.Card.Issuer, cti) {
		res.Status, res.Stage, res.Err = Revoked, StageRevocation, errors.New("the card's serial is on the revocation list") // never the serial: this is logged
		return res
	}
	if v.ListsStale(at) {
		res.Status, res.Stage, res.Err = StaleLists, StageRevocation, v.staleness()
		return res
	}
	res.Status, res.Stage = Valid, StageDone
	return res
}

// Reason is a stable, machine-readable code for the result, for logs and
// for choosing the translated text a person reads: "card.<status>", and for
// Malformed "card.malformed.<stage>".
func (r Result) Reason() string {
	switch r.Status {
	case "":
		return "card.unknown"
	case Malformed:
		stage := r.Stage
		if stage == "" {
			stage = "unknown"
		}
		return "card.malformed." + string(stage)
	}
	return "card." + string(r.Status)
}

func failed(s Status, st Stage, err error) Result {
	return Result{Status: s, Stage: st, Err: err}
}

// looksLikeContext reports whether s starts like another context prefix:
// two to four upper-case letters or digits and a colon (as "HC1:").
func looksLikeContext(s string) bool {
	for i := 0; i < len(s) && i <= 4; i++ {
		c := s[i]
		switch {
		case c == ':':
			return i >= 2
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return false
}

// sign1 is a decoded COSE_Sign1 message.
type sign1 struct {
	protected   []byte // the serialized protected header, as signed
	alg         cose.Algorithm
	kid         []byte
	contentType string // protected header 3, when text
	payload     []byte
	signature   []byte
}

// coseHeader is the part of a COSE header map we read. Other labels are
// ignored, except that crit (2) must be absent: we understand no critical
// extension.
type coseHeader struct {
	Alg  cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	Crit cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	CT   cbor.RawMessage `cbor:"3,keyasint,omitempty"`
	KID  cbor.RawMessage `cbor:"4,keyasint,omitempty"`
}

// decodeSign1 decodes a COSE_Sign1 message: tagged 18, untagged, or tagged
// 61 (CWT) around tag 18, as the EU DCC allows.
func decodeSign1(raw []byte) (*sign1, error) {
	for depth := 0; majorType(raw) == cborTag; depth++ {
		var tag cbor.RawTag
		if err := decMode.Unmarshal(raw, &tag); err != nil {
			return nil, fmt.Errorf("cose: %w", err)
		}
		switch {
		case depth == 0 && tag.Number == tagCWT:
		case tag.Number == tagCOSESign1:
			if majorType(tag.Content) == cborTag {
				return nil, errors.New("cose: tag inside COSE_Sign1 tag")
			}
		default:
			return nil, fmt.Errorf("cose: unexpected tag %d", tag.Number)
		}
		raw = tag.Content
	}
	var arr []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &arr); err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	if len(arr) != 4 {
		return nil, fmt.Errorf("cose: COSE_Sign1 of %d items, want 4", len(arr))
	}
	m := &sign1{}
	var err error
	if m.protected, err = bstr(arr[0]); err != nil {
		return nil, fmt.Errorf("cose: protected header: %w", err)
	}
	if m.payload, err = bstr(arr[2]); err != nil {
		return nil, fmt.Errorf("cose: payload: %w", err)
	}
	if m.signature, err = bstr(arr[3]); err != nil {
		return nil, fmt.Errorf("cose: signature: %w", err)
	}

	var prot, unprot coseHeader
	if len(m.protected) > 0 {
		if err := header(m.protected, &prot); err != nil {
			return nil, fmt.Errorf("cose: protected header: %w", err)
		}
	}
	if err := header(arr[1], &unprot); err != nil {
		return nil, fmt.Errorf("cose: unprotected header: %w", err)
	}
	if prot.Crit != nil || unprot.Crit != nil {
		return nil, errors.New("cose: critical header parameters are not supported")
	}
	if prot.Alg == nil {
		return nil, errors.New("cose: no alg in the protected header")
	}
	var alg int64
	if err := decMode.Unmarshal(prot.Alg, &alg); err != nil {
		return nil, fmt.Errorf("cose: alg: %w", err)
	}
	switch m.alg = cose.Algorithm(alg); m.alg {
	case cose.AlgorithmES256, cose.AlgorithmPS256, cose.AlgorithmEdDSA:
	default:
		return nil, fmt.Errorf("cose: unsupported alg %d", alg)
	}
	if prot.CT != nil {
		// A content type may be text or a CoAP number; only signed
		// documents use it, and they use text.
		var ct any
		if err := decMode.Unmarshal(prot.CT, &ct); err != nil {
			return nil, fmt.Errorf("cose: content type: %w", err)
		}
		m.contentType, _ = ct.(string)
	}
	kid := prot.KID
	if kid == nil {
		kid = unprot.KID
	}
	if kid != nil {
		if m.kid, err = bstr(kid); err != nil {
			return nil, fmt.Errorf("cose: kid: %w", err)
		}
		if m.kid == nil {
			m.kid = []byte{}
		}
	}
	return m, nil
}

// bstr decodes a CBOR byte string, and nothing else.
// It reads the head itself rather than call the decoder (one of the
// costs of Verify above its signature check), and returns the content in
// place: raw must be exactly one definite-length byte string.
func bstr(raw cbor.RawMessage) ([]byte, error) {
	if majorType(raw) != cborBytes {
		return nil, errors.New("not a byte string")
	}
	head, n := 1, uint64(raw[0]&0x1f)
	switch {
	case n < 24:
	case n <= 27: // a length in the next 1, 2, 4 or 8 bytes
		head += 1 << (n - 24)
		if len(raw) < head {
			return nil, errors.New("byte string head cut short")
		}
		n = 0
		for _, b := range raw[1:head] {
			n = n<<8 | uint64(b)
		}
	default:
		return nil, errors.New("byte string of indefinite or reserved length")
	}
	if uint64(len(raw)-head) != n {
		return nil, fmt.Errorf("byte string of %d bytes in %d", n, len(raw)-head)
	}
	return raw[head:], nil
}

// header decodes a COSE header map.
func header(raw []byte, h *coseHeader) error {
	if majorType(raw) != cborMap {
		return errors.New("not a map")
	}
	return decMode.Unmarshal(raw, h)
}

// verify checks the signature against each of keys in turn.
func (m *sign1) verify(keys []crypto.PublicKey) error {
	tbs, err := m.toBeSigned()
	if err != nil {
		return err
	}
	tried := 0
	for _, k := range keys {
		v, err := cose.NewVerifier(m.alg, k)
		if err != nil {
			continue // a key of another type under the same kid
		}
		tried++
		if v.Verify(tbs, m.signature) == nil {
			return nil
		}
	}
	if tried == 0 {
		return fmt.Errorf("no trusted %s key", m.alg)
	}
	return fmt.Errorf("%s signature does not verify", m.alg)
}

// toBeSigned is the Sig_structure (RFC 9052 section 4.4) for m with no
// external data.
// It is built by hand, in the core deterministic encoding Marshal would
// give (TestSigStructure checks), as it is on every Verify's path.
func (m *sign1) toBeSigned() ([]byte, error) {
	const context = "Signature1"
	b := make([]byte, 0, 1+1+len(context)+9+len(m.protected)+1+9+len(m.payload))
	b = append(b, 0x84)                    // array(4)
	b = append(b, 0x60|byte(len(context))) // text(10)
	b = append(b, context...)
	b = appendBstr(b, m.protected)
	b = appendBstr(b, nil) // external_aad, empty
	b = appendBstr(b, m.payload)
	return b, nil
}

// appendBstr appends p as a CBOR byte string with the shortest head.
func appendBstr(b, p []byte) []byte {
	switch n := uint64(len(p)); {
	case n < 24:
		b = append(b, 0x40|byte(n))
	case n <= 0xff:
		b = append(b, 0x58, byte(n))
	case n <= 0xffff:
		b = append(b, 0x59, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		b = append(b, 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x5b)
		for i := 56; i >= 0; i -= 8 {
			b = append(b, byte(n>>i))
		}
	}
	return append(b, p...)
}

// readCard reads the card from verified claims: the Card (nil unless the
// card claim is valid), the raw cti, and why it is not a card.
func readCard(claims *cwtClaims, iat, exp time.Time) (*Card, []byte, error) {
	if claims.Card == nil {
		return nil, nil, errors.New("no card claim")
	}
	if claims.Iss == nil {
		return nil, nil, errors.New("no iss claim")
	}
	if err := checkText("iss", *claims.Iss, maxIssuerLen); err != nil {
		return nil, nil, err
	}
	if claims.Cti == nil {
		return nil, nil, errors.New("no cti claim")
	}
	cti, err := bstr(claims.Cti)
	if err != nil {
		return nil, nil, fmt.Errorf("cti: %w", err)
	}
	if len(cti) == 0 || len(cti) > maxSerialLen {
		return nil, nil, fmt.Errorf("cti of %d bytes, want 1 to %d", len(cti), maxSerialLen)
	}
	c := &Card{
		Issuer:    *claims.Iss,
		Serial:    hex.EncodeToString(cti),
		IssuedAt:  iat,
		ExpiresAt: exp,
	}
	if err := decodeCardClaim(claims.Card, c); err != nil {
		return nil, nil, err
	}
	return c, cti, nil
}
