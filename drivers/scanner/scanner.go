// Package scanner reads QR codes from USB barcode scanners.
//
// A scanner is a source of Scans: Run(ctx, out) sends each decoded code on
// out, a channel the caller owns, and returns nil when ctx ends or an error
// when the device fails. A driver never drops a scan: it blocks on out until
// the caller takes it.
//
// Sources are named as in the kiosk's configuration: "sim" is Sim; the USB
// keyboard-wedge (evdev) and serial (CDC-ACM) drivers follow.
//
// The package imports nothing else of this module.
package scanner

import "time"

// Scan is one decoded code. Text is personal data: never log it.
type Scan struct {
	Text string
	At   time.Time // when the last byte arrived
}
