package card

import (
	"encoding/hex"
	"encoding/json"
	"time"
)

// resultJSON is what a Result shows: the outcome and the card's handles.
type resultJSON struct {
	Result      Status `json:"result"`
	Stage       Stage  `json:"stage"`
	Reason      string `json:"reason"`
	SignatureOK bool   `json:"signature_ok"`
	KID         string `json:"kid"`
	Iss         string `json:"iss"`
	Serial      string `json:"serial"`
	ExpiresAt   string `json:"expires_at"`
}

// MarshalJSON shows the result as {"result", "stage", "reason" (Reason),
// "signature_ok", "kid" (hex), and the card's "iss", "serial" and
// "expires_at" (RFC 3339; "" when no card was decoded)}: the outcome and
// the card's handles, never its personal data, wherever a Result is
// printed or logged.
func (r Result) MarshalJSON() ([]byte, error) {
	out := resultJSON{Result: r.Status, Stage: r.Stage, Reason: r.Reason(), SignatureOK: r.SignatureOK,
		KID: hex.EncodeToString(r.KID)}
	if r.Card != nil {
		out.Iss, out.Serial = r.Card.Issuer, r.Card.Serial
		out.ExpiresAt = r.Card.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(out)
}

type trustListJSON struct {
	Seq      uint64           `json:"seq"`
	IssuedAt string           `json:"issued_at"`
	Entries  []trustEntryJSON `json:"entries"`
	// SkippedKeys counts the entries whose key no card may be signed
	// with: kiosks skip them, as the status's lists.skipped_keys counts.
	SkippedKeys int `json:"skipped_keys"`
}

type trustEntryJSON struct {
	Iss       string   `json:"iss"`
	KID       string   `json:"kid"`
	Key       string   `json:"key"`               // "cert" or "spki"
	Subject   string   `json:"subject,omitempty"` // the certificate's
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Offices   []string `json:"offices"`
	Skipped   string   `json:"skipped,omitempty"` // why kiosks skip the key; "" when they use it
}

// MarshalJSON shows the list as {"seq", "issued_at" (RFC 3339), "entries",
// "skipped_keys"}, each entry its "iss", "kid" (hex), "key" ("cert" or
// "spki"), the certificate's "subject", "not_before", "not_after" and
// "offices". An entry whose key no card may be signed with (CheckKey) says
// why in "skipped": kiosks leave it out and trust the others, and
// skipped_keys counts them. It is for display: a kiosk loads only the
// signed form.
func (l *TrustList) MarshalJSON() ([]byte, error) {
	out := trustListJSON{Seq: l.Seq, IssuedAt: l.IssuedAt.UTC().Format(time.RFC3339), Entries: []trustEntryJSON{}}
	for _, e := range l.Entries {
		kid, err := e.KID()
		if err != nil {
			return nil, err
		}
		o := trustEntryJSON{Iss: e.Issuer, KID: hex.EncodeToString(kid), Key: "spki",
			NotBefore: e.NotBefore.UTC().Format(time.RFC3339), NotAfter: e.NotAfter.UTC().Format(time.RFC3339), Offices: e.Offices}
		if e.Certificate != nil {
			o.Key, o.Subject = "cert", e.Certificate.Subject.CommonName
		}
		if err := e.CheckKey(); err != nil {
			o.Skipped = err.Error()
			out.SkippedKeys++
		}
		out.Entries = append(out.Entries, o)
	}
	return json.Marshal(out)
}
