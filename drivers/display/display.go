// Package display drives the service display: a small monochrome screen
// inside the kiosk, for the technician who opens it, that says how the kiosk
// is without a laptop. The hardware is an SSD1306 128x64 OLED module on the
// Raspberry Pi's I²C bus (Solomon Systech SSD1306 datasheet,
// https://cdn-shop.adafruit.com/datasheets/SSD1306.pdf), driven through
// periph.io/x/devices/v3/ssd1306.
//
// The caller passes what to show as an Info (the kiosk's id and address,
// the upstream, the queue, the scanner, the staff dashboard's certificate);
// Render lays it out in a 5x7 font, and Show puts it on the screen. Nothing
// personal is ever shown: Info has no field for it.
//
// Sources name a display as in the kiosk's configuration, and Open parses
// one: "" or "none" is None (no display), "sim" is Sim (the demo and tests),
// and "i2c:BUS?addr=0x3c&rotated=false" the module on an I²C bus, BUS a
// number ("1") or a device ("/dev/i2c-1"). A display that is missing or
// failing never stops the kiosk: Open still returns a Device, whose State
// says what is wrong, and which keeps trying to reach the display (see
// SSD1306).
//
// Goroutines: the caller calls Show from a goroutine of its own every few
// seconds, and Close once at the end; Show returns at once or after one
// frame's I²C writes, never waiting for a missing display. State may be
// called from any goroutine. The package starts no goroutine.
//
// The package imports nothing else of this module.
package display

import "time"

// Info is what the display shows. None of it is personal data.
type Info struct {
	KioskID, IP string
	Upstream    string        // the upstream's state, as words: "online", "offline 5m", "not enrolled"
	Pending     int           // check-ins not yet sent
	Oldest      time.Duration // age of the oldest unsent one; 0 if none
	Scanner     string        // the scanner's condition: ok, disconnected, fault, absent
	// StaffFingerprint is the staff dashboard's certificate fingerprint, as
	// the dashboard prints it ("sha256:3fa29c…"); "" until the dashboard
	// exists. The display shows its first 48 bits, for a technician to
	// compare with what the browser shows before typing a password.
	StaffFingerprint string
}

// Device is a service display, whichever kind its source named.
type Device interface {
	// Show draws i. It returns nil only once i is on the screen; it
	// returns at once, or after one I²C write. Call it from one goroutine.
	Show(i Info) error
	// State says how the display is, for the kiosk's status.
	State() State
	// Close turns the display off and lets its bus go.
	Close() error
}

// State is how a display is. The zero State reads as unknown.
type State struct {
	Condition Condition
	// Reason says why the display is not OK, for the operator: the failing
	// call and its error.
	Reason string
}

// Condition is whether a display works.
type Condition string

// The conditions, as drivers/scanner and drivers/panel have them.
const (
	OK           Condition = "ok"           // showing
	Disconnected Condition = "disconnected" // was there, stopped answering; being looked for again
	Fault        Condition = "fault"        // there but a write failed; Reason says why
	Absent       Condition = "absent"       // not reached since the driver started
)
