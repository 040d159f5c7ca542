package card

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/veraison/go-cose"
)

// Signed documents — the trust list, the revocation list, the roster — are
// COSE_Sign1 messages (RFC 9052, tag 18) like a card, but neither compressed
// nor Base45: a file of raw CBOR. The protected header carries alg, kid and a
// content type naming the document, so a document of one kind can never be
// taken for another. They are signed by the root key the kiosk pins in its
// configuration.

// Content types of the signed documents.
const (
	ContentTypeTrustList   = "application/sdc-trustlist+cbor"
	ContentTypeRevocations = "application/sdc-revocations+cbor"
	ContentTypeRoster      = "application/sdc-roster+cbor"
)

// MaxDocumentLen caps a signed document read from a file or the network.
const MaxDocumentLen = 32 << 20

// signDocument encodes v as deterministic CBOR and signs it with signer as a
// document of the given content type.
func signDocument(signer crypto.Signer, contentType string, v any) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("sign: no signer")
	}
	alg, err := algorithmOf(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	kid, err := KIDOfKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	payload, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sign: encode: %w", err)
	}
	cs, err := cose.NewSigner(alg, signer)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Headers.Protected[cose.HeaderLabelContentType] = contentType
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, cs); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// openDocument verifies data as a document of contentType signed by root,
// and decodes its payload into v. Nothing of an unverified document is
// decoded.
func openDocument(data []byte, root crypto.PublicKey, contentType string, v any) error {
	if root == nil {
		return errors.New("no root key to verify against")
	}
	if len(data) > MaxDocumentLen {
		return fmt.Errorf("document of %d bytes exceeds %d", len(data), MaxDocumentLen)
	}
	msg, err := decodeSign1(data)
	if err != nil {
		return err
	}
	if msg.contentType != contentType {
		return fmt.Errorf("document is %q, want %q", msg.contentType, contentType)
	}
	if err := msg.verify([]crypto.PublicKey{root}); err != nil {
		return fmt.Errorf("document signature: %w", err)
	}
	if err := docDecMode.Unmarshal(msg.payload, v); err != nil {
		return fmt.Errorf("document payload: %w", err)
	}
	return nil
}
