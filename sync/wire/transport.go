package wire

import "time"

// The transport around the check-ins (sync/API.md, "Devices", "Heartbeats",
// "Downloads"): enrollment of a kiosk's device key, signed chain heads as
// heartbeats, and the signed documents a kiosk downloads.

// Paths of the transport.
const (
	PathEnroll      = "/v1/enroll"            // POST EnrollRequest, get EnrollResponse; no client certificate
	PathHeartbeats  = "/v1/heartbeats"        // POST a Head, get HeartbeatResult
	PathTrustList   = "/v1/lists/trust"       // GET the signed trust list
	PathRevocations = "/v1/lists/revocations" // GET the signed revocation list
	PathRoster      = "/v1/lists/roster"      // GET the signed roster
	PathNotices     = "/v1/notices"           // GET the signed notices
)

// DocumentContentType is the media type of a downloaded signed document.
const DocumentContentType = "application/cose"

// EnrollRequest pairs a kiosk's device key with its kiosk id, once, with a
// one-time token an administrator made for that kiosk id.
type EnrollRequest struct {
	KioskID         string `json:"kiosk_id"`
	DevicePublicKey []byte `json:"device_public_key"` // raw Ed25519 public key; base64 in JSON
	Token           string `json:"token"`
}

// EnrollResponse is the answer to an EnrollRequest: the upstream's public
// key that person data is sealed to. Nothing in it is secret.
type EnrollResponse struct {
	KioskID       string `json:"kiosk_id"`
	SealPublicKey []byte `json:"seal_public_key"` // raw X25519 public key (ParseSealPublicKey); base64 in JSON
}

// HeartbeatResult is the answer to a Head: how it compares with what the
// upstream holds of the kiosk.
type HeartbeatResult struct {
	State   string `json:"state"`    // one of the Head* states
	HeldSeq uint64 `json:"held_seq"` // the highest seq the upstream holds of the kiosk
}

// The states of a kiosk's chain head against what the upstream holds.
const (
	HeadInSync      = "in_sync"      // the upstream holds every record up to the head
	HeadBehind      = "behind"       // records are pending at the kiosk: normal
	HeadFork        = "fork"         // the head's seq is held with another hash: alert
	HeadTailDeleted = "tail_deleted" // the head is below the highest seq held: alert
	HeadGaps        = "gaps"         // the head is held, but not every record below it: see API.md
)

// KioskHealth is what GET PathStats says of one kiosk's heartbeats.
type KioskHealth struct {
	KioskID       string     `json:"kiosk_id"`
	LastHeartbeat *time.Time `json:"last_heartbeat"` // null: never
	HeadSeq       uint64     `json:"head_seq"`       // of the last heartbeat
	HeldSeq       uint64     `json:"held_seq"`       // highest seq held now
	State         string     `json:"state"`          // a Head* state, "" without a heartbeat
	Silent        bool       `json:"silent"`         // no heartbeat for longer than the upstream's silence limit
}
