// Package printer prints the check-in receipt on an ESC/POS thermal receipt
// printer: the person's proof of attendance, with the office, the date and
// time, the confirmation code, a QR code of the confirmation and, when the
// kiosk is offline, a note saying the check-in is recorded on the kiosk and
// will reach the office when the network allows.
//
// The hardware is an 80 mm (or 58 mm) thermal printer speaking Epson's
// ESC/POS, on USB as a printer-class device (/dev/usb/lp0, the kernel's
// usblp driver, linux/lp.h) or as a serial port (an RS-232 adapter or a
// USB virtual COM port). The commands are those of Epson's "ESC/POS
// Application Programming Guide" and "ESC/POS Command Reference": ESC @,
// ESC t, ESC a, ESC E, GS !, GS ( k (QR code, function 165 to 181), GS V and
// the real-time status requests DLE EOT 1, 2 and 4.
//
// Sources name a printer as in the kiosk's configuration: "" or "none" (no
// printer), "sim", "lp:/dev/usb/lp0" and "serial:/dev/ttyUSB0?baud=19200",
// each with layout options as a query string ("lp:/dev/usb/lp0?columns=32");
// Open parses one and returns its Device.
//
// # Rendering
//
// Render turns a Receipt into the exact bytes sent to the printer. A
// thermal printer has no Unicode: it prints one byte a character from a code
// page chosen with ESC t. The code pages used, in order of preference
// (DefaultCodePages), and the scripts they print:
//
//   - PC858 (ESC t 19), PC850 with the euro sign: English, Spanish,
//     Portuguese, French and Haitian Creole;
//   - PC866 (ESC t 17): Russian;
//   - WPC1251 (ESC t 46), Windows-1251: Ukrainian. PC866 has є and ї but
//     neither і nor ґ, so it cannot print Ukrainian; of Epson's pages that
//     can (PC1125, ESC t 44, and WPC1251), WPC1251 is the one more
//     printers carry, and the one the standard tables describe
//     (golang.org/x/text/encoding/charmap's Windows1251; charmap has no
//     PC1125).
//
// Render picks, for the whole receipt, the first of these pages that
// holds all of its text (punctuation aside, below), so a receipt in one
// language selects one page once; a character that page lacks but another has (a French office name
// on a Russian receipt) switches page for it. Typographic punctuation the
// receipt's page lacks is printed as its ASCII look-alike (’ as ', « » as
// ", — as -, … as ..., œ as oe, a no-break space as a space) rather than
// select a page fewer printers have; letters never are.
//
// Arabic, Simplified Chinese and Hindi do not print. Arabic and Devanagari
// need shaping (each letter's form depends on its neighbours, and Devanagari
// reorders and joins its vowel signs), which a printer's one-byte-a-glyph
// code pages cannot do, and the typical printer has no Devanagari glyphs at
// all; Epson's Arabic pages (PC864, WPC1256) hold isolated forms only.
// Chinese needs a GB18030 font, which only printers sold for the Chinese
// market carry. For these, CanRender is false and the caller prints the
// receipt in English: a receipt the person cannot read is still the proof
// staff can read, where one in the wrong bytes would be no proof at all.
// Text is taken as composed (NFC): a letter followed by a combining accent
// does not print.
//
// # Printing
//
// A printer never delays a check-in: the kiosk commits the check-in, shows
// success, then calls Print on a goroutine of its own with a deadline.
// Print honours its context: a printer that stops taking data (a stuck
// mechanism, a USB device that NAKs forever) ends the write when ctx ends,
// and Print returns ctx's error. Before printing it asks the printer's
// status where the transport can tell (the LPGETSTATUS ioctl on lp:, DLE
// EOT on serial:) and refuses to print on paper out (ErrPaperOut), cover
// open (ErrCoverOpen) or offline (ErrOffline); after printing it asks again,
// so a roll that ran out mid-receipt is an error too.
//
// Every Device in this package also has Run(ctx) error (Watcher): it checks
// the printer every DefaultPoll while no receipt prints, so staff see
// "paper out" before the next person, not after. Run never returns an error
// for a printer that is missing or failing: it reports it in State and goes
// on looking until ctx ends. Print, State and CanRender may be called from
// any goroutine; one receipt prints at a time.
//
// The package imports nothing else of this module.
package printer

import (
	"context"
	"errors"
)

// Receipt is what a receipt says, already translated and formatted by the
// caller into one language. Fields left empty are not printed.
type Receipt struct {
	Title     string // e.g. "Proof of check-in", translated
	Office    string // the field office's name
	When      string // date and time, formatted in the language by the caller
	CodeLabel string // e.g. "Confirmation code", translated
	Code      string // the confirmation code, printed double size
	QR        string // payload of the QR code ("" = none); its bytes as given, not translated
	Note      string // the offline note, or ""
	Footer    string // optional
}

// Device is a receipt printer, whichever kind its source named.
type Device interface {
	// Print renders r and sends it to the printer, checking the printer's
	// status before and, where the transport can read it, after. It
	// returns when the printer has taken the receipt, or ctx's error when
	// ctx ends first.
	Print(ctx context.Context, r Receipt) error
	// State says how the printer is, for the kiosk's status.
	State() State
	// CanRender reports whether text prints in this printer's code pages;
	// when it does not, the caller prints the receipt in English.
	CanRender(text string) bool
}

// Watcher is a Device that watches its printer between receipts. Every
// Device of this package is one; the kiosk runs Run on a goroutine of its
// own, beside the other drivers' Run.
type Watcher interface {
	Device
	// Run checks the printer's status now and then until ctx ends, and
	// returns nil. A missing or failing printer is reported in State,
	// never returned.
	Run(ctx context.Context) error
}

// State is how a printer is. The zero State reads as unknown.
type State struct {
	Condition Condition
	// Reason says why the printer is not OK, for the operator: "paper
	// out", "cover open", "offline", or the failing call and its error.
	// With OK it may warn ("paper low"). Never what a receipt says.
	Reason string
}

// Condition is whether a printer works.
type Condition string

// The conditions. Staff act differently on each: a disconnected printer is
// plugged back in or switched on, a faulty one opened and seen to, an
// absent one looked for.
const (
	OK           Condition = "ok"           // ready, as far as the printer says
	Disconnected Condition = "disconnected" // was there, went away (unplugged, switched off); looked for again
	Fault        Condition = "fault"        // there but not printing; Reason says why
	Absent       Condition = "absent"       // not found since the driver started, or none configured
)

// Errors Print returns, wrapped; test them with errors.Is. Their text is
// the State's Reason.
var (
	ErrPaperOut  = errors.New("paper out")
	ErrCoverOpen = errors.New("cover open")
	// ErrOffline: the printer says it is offline, or in error, for a reason
	// it does not name.
	ErrOffline = errors.New("offline")
	// ErrNoPrinter: the kiosk has no printer (source "" or "none").
	ErrNoPrinter = errors.New("no printer")
)

// The reason OK carries while the roll is nearly out.
const reasonPaperLow = "paper low"
