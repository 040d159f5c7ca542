// Package scanner reads QR codes from USB barcode scanners.
//
// The hardware is a 2D imager on USB in one of its two usual modes:
// keyboard wedge (a HID keyboard, read through the kernel's evdev
// interface, linux/input.h) or serial (USB CDC-ACM, a /dev/ttyACM* port).
// Sources name them as in the kiosk's configuration (ARCHITECTURE.md §7):
// "sim", "serial:PATH" and "evdev:PATH?layout=us&idle=50ms&grab=true&record=24";
// Open parses one and returns its Device: Sim, Serial (serial.go) or
// Evdev (evdev.go). A real one opens its device only in Run, and says in
// State whether the device is there.
//
// A scanner is a source of Scans: Run(ctx, out) sends each decoded code on
// out, a channel the caller owns, until ctx ends. A device that is missing,
// unplugged or failing is not Run's error but its State (Absent,
// Disconnected, Fault): the driver looks for it again every DefaultRetry,
// so a scanner plugged back in works without a restart. A driver never
// drops a scan: it blocks on out until the caller takes it. Run's goroutine
// is the caller's and the only one that touches the device; State may be
// called from any goroutine.
//
// What both real drivers do with what their device sends (frame.go): a
// scan ends at a terminator or after Idle without a key; one over MaxScan
// bytes, or holding control bytes, is Rejected with the reason; the same
// code read again within Dedup is one scan.
//
// The package imports nothing else of this module.
package scanner

import (
	"context"
	"time"
)

// Scan is one decoded code. Text is personal data: never log it.
type Scan struct {
	Text string
	At   time.Time // when the last byte arrived
	// Rejected says why what was read is not taken as a code (RejectTooLong,
	// RejectControl, RejectNotText); Text is then empty. The person did
	// scan something, so the kiosk answers it.
	Rejected string
}

// Device is a scanner, whichever kind its source named.
type Device interface {
	// Run sends every scan on out until ctx ends, and returns nil; only a
	// source it cannot use at all (a bad option) is an error. Call it
	// once.
	Run(ctx context.Context, out chan<- Scan) error
	// State says how the scanner is, for the kiosk's status.
	State() State
}

// State is how a scanner is. The zero State reads as unknown.
type State struct {
	Condition Condition
	// Reason says why the scanner is not OK, for the operator (the failing
	// call and its error). Never scan text.
	Reason string
}

// Condition is whether a scanner works.
type Condition string

// The conditions. Staff act differently on each: a disconnected scanner is
// plugged back in, a faulty one replaced, an absent one looked for.
const (
	OK           Condition = "ok"           // reading
	Disconnected Condition = "disconnected" // was there, went away (unplugged); waiting for it to return
	Fault        Condition = "fault"        // there but failing; Reason says why
	Absent       Condition = "absent"       // not found since the driver started
)
