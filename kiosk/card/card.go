// Package card is the Secure Docket Card credential: its format (a signed QR
// payload, see FORMAT.md), issuing, and strict offline verification against a
// set of trusted issuer keys and a revocation list.
package card

import "time"

// Status is the outcome of verifying a scanned payload.
type Status string

// The statuses, in the order the checks run.
const (
	Valid         Status = "valid"
	Malformed     Status = "malformed"      // not decodable; Result.Stage says where
	WrongContext  Status = "wrong_context"  // a signed envelope, but not ours (wrong prefix)
	UnknownIssuer Status = "unknown_issuer" // no trusted key for the kid, or none that may sign this card
	BadSignature  Status = "bad_signature"  // a trusted kid, but the signature does not verify
	Expired       Status = "expired"
	NotYetValid   Status = "not_yet_valid"
	NotACard      Status = "not_a_card" // the signature verifies but there is no card claim
	Revoked       Status = "revoked"
	StaleLists    Status = "stale_lists" // the revocation list is too old to trust
)

// Stage names the verification step a Result stopped at.
type Stage string

// The stages, in order.
const (
	StagePrefix     Stage = "prefix"
	StageBase45     Stage = "base45"
	StageInflate    Stage = "inflate"
	StageCOSE       Stage = "cose"
	StageKID        Stage = "kid"
	StageSignature  Stage = "signature"
	StageRoster     Stage = "roster" // a reference card's roster lookup, in place of kid and signature
	StageValidity   Stage = "validity"
	StageClaim      Stage = "claim"
	StageRevocation Stage = "revocation"
	StageDone       Stage = "done"
)

// Card is what a Secure Docket Card says once its signature has been checked.
// Every field but Issuer, Serial and the times is personal data: never log it.
type Card struct {
	Issuer    string    // CWT iss: the issuing authority
	Serial    string    // CWT cti as lower-case hex: the card serial, the revocation handle
	IssuedAt  time.Time // CWT iat
	ExpiresAt time.Time // CWT exp

	ANumber     string // the person's A-number, digits only
	FamilyName  string // empty on a minimal card
	GivenName   string // empty on a minimal card
	DateOfBirth string // YYYY-MM-DD
	Office      string // issuing office code
}

// DisplayName is the name to show on the confirm screen: the given name then
// the family name, or "" on a minimal card.
func (c Card) DisplayName() string {
	switch {
	case c.GivenName == "":
		return c.FamilyName
	case c.FamilyName == "":
		return c.GivenName
	}
	return c.GivenName + " " + c.FamilyName
}

// Result is the outcome of Verify.
type Result struct {
	Status      Status
	Stage       Stage  // where verification stopped; StageDone when it ran to the end
	Err         error  // the detail behind a failure, for logs (never personal data)
	SignatureOK bool   // the signature was checked and verified
	KID         []byte // the key id from the COSE header, when it was read
	Card        *Card  // set when the claims were decoded (even if expired or revoked)
}
