package ui

import (
	"encoding/json"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// Status is the kiosk's health as GET /api/v1/status reports it:
//
//	{
//	  "screen": "idle",
//	  "service": {"state": "in_service"},
//	  "scanner": {"source": "sim", "state": "ok"},
//	  "panel": {"source": "sim", "state": "ok"},
//	  "display": {"source": "", "state": "none"},
//	  "printer": {"source": "lp:/dev/usb/lp0", "state": "fault", "error": "paper out"},
//	  "outbox": {"pending": 0, "uploaded_total": 0, "last_upload": null},
//	  "upload": {"last_attempt": "2025-11-25T19:43:00Z", "last_error": ""},
//	  "clock": {"state": "synced", "trusted": "2025-11-25T19:40:00Z"},
//	  "lists": {"trust_seq": 4, "revocations_seq": 17, "revocations_issued_at": "2025-11-25T06:00:00Z", "stale": false},
//	  "browser": {"state": "ok", "last_heartbeat": "2025-11-25T19:43:10Z", "pages": 1}
//	}
//
// Times are RFC 3339 in UTC, or null for never. It holds no personal data.
type Status struct {
	Screen  kiosk.Screen `json:"screen"`  // filled from Config.Views when empty
	Service Service      `json:"service"` // whether check-ins can be taken: /healthz is 503 when not
	Scanner Device       `json:"scanner"` // the barcode scanner
	Panel   Device       `json:"panel"`   // lights, buzzer, help button, tamper switch
	Display Device       `json:"display"` // the service display; source "" when none
	Printer Device       `json:"printer"` // the receipt printer; source "" when none
	Outbox  Outbox       `json:"outbox"`
	Upload  Upload       `json:"upload"`
	Clock   Clock        `json:"clock"`
	Lists   Lists        `json:"lists"`
	Storage Storage      `json:"storage"` // the state directory's free space
	Browser BrowserState `json:"browser"` // the kiosk page's heartbeat: always filled by the Server
}

// Service says whether the kiosk can take check-ins. Out of service, the
// kiosk shows out_of_service rather than take a card it cannot record, and
// GET /healthz answers 503 with the reason.
type Service struct {
	State  ServiceState `json:"state"`            // "" reads as "in_service"
	Reason kiosk.Reason `json:"reason,omitempty"` // out of service: enclosure_open, storage_low, record_failed, scanner_unavailable
	Error  string       `json:"error,omitempty"`  // out of service: what failed, for the operator
}

// ServiceState is whether the kiosk can take check-ins.
type ServiceState string

// The service states.
const (
	InService    ServiceState = "in_service"
	OutOfService ServiceState = "out_of_service"
)

// MarshalJSON writes an empty State as "in_service".
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	if s.State == "" {
		s.State = InService
	}
	return json.Marshal(plain(s))
}

// BrowserState is whether the browser showing the kiosk page is alive, as
// its heartbeat says: the page sends a frame at least every 15 s (its ping,
// PROTOCOL.md), from its script. Server.Browser reports it, and the status
// carries it as
//
//	{"state": "not_responding", "last_heartbeat": "2025-11-25T19:43:10Z", "pages": 1}
//
// It is for the appliance's browser watchdog, which restarts the browser
// when the state is not_responding (a hung renderer is the classic kiosk
// failure), and for staff.
//
// not_responding does not make /healthz 503, nor the service
// out_of_service, though a kiosk whose page is hung takes no check-in.
// /healthz answers for the daemon (can it record a check-in), and what acts
// on it acts on the daemon, which cannot mend a browser: restarting the
// daemon for a hung renderer loses the screen and mends nothing. And were
// the daemon unhealthy until a page connects (none, at every boot), a
// browser started once the daemon is healthy would never start. So the
// browser has its own entry and its own watchdog. Nothing is at risk
// meanwhile: a page that takes no taps confirms nothing, and the scans
// still reach the flow, which times their screens out.
type BrowserState struct {
	State BrowserCondition // "" reads as "unknown"
	// LastHeartbeat is when a page last connected or sent a frame; zero:
	// never (null in JSON).
	LastHeartbeat time.Time
	// Pages is how many kiosk pages are connected now. not_responding
	// with 0 is a browser gone (or unable to reconnect); with 1 or more,
	// one connected but silent: a hung renderer still answers the
	// server's websocket pings, so those do not count as its heartbeat.
	Pages int
}

// BrowserCondition is how the browser's heartbeat stands.
type BrowserCondition string

// The browser's conditions.
const (
	BrowserOK            BrowserCondition = "ok"             // a page connected or sent a frame within the timeout
	BrowserNotResponding BrowserCondition = "not_responding" // a page has connected since start, but nothing came for longer than the timeout
	BrowserNone          BrowserCondition = "none"           // no page has connected since the daemon started
	BrowserUnknown       BrowserCondition = "unknown"        // not reported
)

type browserJSON struct {
	State         BrowserCondition `json:"state"`
	LastHeartbeat *time.Time       `json:"last_heartbeat"`
	Pages         int              `json:"pages"`
}

// MarshalJSON implements json.Marshaler.
func (b BrowserState) MarshalJSON() ([]byte, error) {
	if b.State == "" {
		b.State = BrowserUnknown
	}
	return json.Marshal(browserJSON{b.State, jsonTime(b.LastHeartbeat), b.Pages})
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *BrowserState) UnmarshalJSON(data []byte) error {
	var j browserJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*b = BrowserState{State: j.State, LastHeartbeat: goTime(j.LastHeartbeat), Pages: j.Pages}
	return nil
}

// Storage is the free space of the state directory's file system, and
// the reserve below which the kiosk goes out of service (storage_low).
type Storage struct {
	FreeBytes    uint64 `json:"free_bytes"`    // 0: not known (the status says so in service.error when it matters)
	ReserveBytes uint64 `json:"reserve_bytes"` // storage.disk_reserve
}

// Lists is the state of the signed lists cards are checked against. Stale
// means the revocation list is older than the kiosk may trust (or missing):
// every card is sent to staff until a fresh list arrives.
type Lists struct {
	TrustSeq            uint64    // 0: no signed trust list (development keys)
	RevocationsSeq      uint64    // 0: no revocation list
	RevocationsIssuedAt time.Time // zero: no revocation list (null in JSON)
	Stale               bool
	// SkippedKeys counts the trust list's keys no card may be signed with
	// (a P-384 certificate, say): their issuers' cards are refused, and
	// staff should know why.
	SkippedKeys int
}

type listsJSON struct {
	TrustSeq            uint64     `json:"trust_seq"`
	RevocationsSeq      uint64     `json:"revocations_seq"`
	RevocationsIssuedAt *time.Time `json:"revocations_issued_at"`
	Stale               bool       `json:"stale"`
	SkippedKeys         int        `json:"skipped_keys"`
}

// MarshalJSON implements json.Marshaler.
func (l Lists) MarshalJSON() ([]byte, error) {
	return json.Marshal(listsJSON{l.TrustSeq, l.RevocationsSeq, jsonTime(l.RevocationsIssuedAt), l.Stale, l.SkippedKeys})
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *Lists) UnmarshalJSON(b []byte) error {
	var j listsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = Lists{j.TrustSeq, j.RevocationsSeq, goTime(j.RevocationsIssuedAt), j.Stale, j.SkippedKeys}
	return nil
}

// Clock is how far the kiosk trusts its time. An "implausible" clock is one
// staff must see to: check-ins go on, recorded at the trusted time and
// marked so.
type Clock struct {
	State   kiosk.ClockState // synced, unsynced or implausible; "" reads as "unknown"
	Trusted time.Time        // the last trusted time; zero: none (null in JSON)
}

type clockJSON struct {
	State   kiosk.ClockState `json:"state"`
	Trusted *time.Time       `json:"trusted"`
}

// MarshalJSON implements json.Marshaler.
func (c Clock) MarshalJSON() ([]byte, error) {
	if c.State == "" {
		c.State = "unknown"
	}
	return json.Marshal(clockJSON{c.State, jsonTime(c.Trusted)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Clock) UnmarshalJSON(b []byte) error {
	var j clockJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Clock{State: j.State, Trusted: goTime(j.Trusted)}
	return nil
}

// Device is the state of one piece of hardware, as its driver reports it:
//
//	{"source": "evdev:/dev/kiosk-scanner", "state": "fault", "error": "read /dev/input/event3: input/output error"}
type Device struct {
	Source string      `json:"source"`          // as configured: "sim", "serial:/dev/ttyACM0", "evdev:…", "gpio:…"
	State  DeviceState `json:"state"`           // "" reads as "unknown"
	Error  string      `json:"error,omitempty"` // why it is not ok, for the operator
}

// DeviceState says whether a device works. Staff act differently on each:
// a disconnected device is plugged back in, a faulty one replaced, an
// absent one looked for.
type DeviceState string

// The device states.
const (
	DeviceOK           DeviceState = "ok"           // working
	DeviceDisconnected DeviceState = "disconnected" // was there, went away (unplugged); the driver waits for it
	DeviceFault        DeviceState = "fault"        // there but failing; Error says why
	DeviceAbsent       DeviceState = "absent"       // not found since the driver started
	DeviceUnknown      DeviceState = "unknown"      // not reported
	DeviceNone         DeviceState = "none"         // not configured: the kiosk has none (a display, a printer)
)

// DeviceOf is a device's entry on the status from what its driver
// reports: its condition by name (the drivers' Conditions are "ok",
// "disconnected", "fault" and "absent") and why it is not ok. A condition
// the status does not know reads as unknown, never as ok.
func DeviceOf(source, condition, reason string) Device {
	switch s := DeviceState(condition); s {
	case DeviceOK, DeviceDisconnected, DeviceFault, DeviceAbsent:
		return Device{Source: source, State: s, Error: reason}
	}
	return Device{Source: source, Error: reason}
}

// MarshalJSON writes an empty State as "unknown".
func (d Device) MarshalJSON() ([]byte, error) {
	type plain Device
	if d.State == "" {
		d.State = DeviceUnknown
	}
	return json.Marshal(plain(d))
}

// Outbox is the state of the local queue of check-ins.
type Outbox struct {
	Pending       int64     // check-ins recorded but not yet acknowledged upstream
	UploadedTotal int64     // check-ins acknowledged upstream, ever
	LastUpload    time.Time // last acknowledged upload; zero: never (null in JSON)
	Quarantined   int64     // check-ins the upstream rejected, set aside for staff
	LastError     string    // why the last commit failed (disk full, I/O error); "" if it worked
	// OldestPending is when the oldest check-in not yet acknowledged was
	// recorded; zero (null in JSON) when none waits. Its age is how far
	// behind the upstream is.
	OldestPending time.Time
}

type outboxJSON struct {
	Pending       int64      `json:"pending"`
	UploadedTotal int64      `json:"uploaded_total"`
	LastUpload    *time.Time `json:"last_upload"`
	Quarantined   int64      `json:"quarantined"`
	LastError     string     `json:"last_error"`
	OldestPending *time.Time `json:"oldest_pending"`
}

// MarshalJSON implements json.Marshaler.
func (o Outbox) MarshalJSON() ([]byte, error) {
	return json.Marshal(outboxJSON{o.Pending, o.UploadedTotal, jsonTime(o.LastUpload), o.Quarantined, o.LastError, jsonTime(o.OldestPending)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Outbox) UnmarshalJSON(b []byte) error {
	var j outboxJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*o = Outbox{Pending: j.Pending, UploadedTotal: j.UploadedTotal, LastUpload: goTime(j.LastUpload),
		Quarantined: j.Quarantined, LastError: j.LastError, OldestPending: goTime(j.OldestPending)}
	return nil
}

// Upload is the state of the uploader.
type Upload struct {
	LastAttempt time.Time // zero: never (null in JSON)
	LastError   string    // of the last attempt; "" if it succeeded
	// LastHeartbeat is when the upstream last answered a heartbeat, and
	// HeadState what it said of the kiosk's chain head: in_sync, behind,
	// gaps, tail_deleted, fork (see sync/API.md).
	LastHeartbeat time.Time
	HeadState     string
}

type uploadJSON struct {
	LastAttempt   *time.Time `json:"last_attempt"`
	LastError     string     `json:"last_error"`
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	HeadState     string     `json:"head_state"`
}

// MarshalJSON implements json.Marshaler.
func (u Upload) MarshalJSON() ([]byte, error) {
	return json.Marshal(uploadJSON{jsonTime(u.LastAttempt), u.LastError, jsonTime(u.LastHeartbeat), u.HeadState})
}

// UnmarshalJSON implements json.Unmarshaler.
func (u *Upload) UnmarshalJSON(b []byte) error {
	var j uploadJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*u = Upload{LastAttempt: goTime(j.LastAttempt), LastError: j.LastError,
		LastHeartbeat: goTime(j.LastHeartbeat), HeadState: j.HeadState}
	return nil
}

// jsonTime is t in UTC to the second, or nil for the zero time.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

func goTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
