// Package qr draws the QR code of a card payload: for `kiosk card issue
// --qr` today, and for the receipt printer.
//
// The level is Q (the library's "High"): about 25 % of the codewords can be
// rebuilt, against 15 % at M. A card lives in a wallet and gets scuffed,
// creased and faded; the price is a larger symbol (a full card is version
// 12, 65 modules across, where M would need version 10, 57), which a kiosk's
// 2D imager reads comfortably at the size a card prints it.
//
// The quiet zone is the 4 modules ISO/IEC 18004 asks for (the library draws
// exactly that; Image checks it). At 8 pixels a module, a printer at 300
// dpi or more renders each module as whole dots, never a smeared fraction.
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/skip2/go-qrcode"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// How a QR code is drawn.
const (
	Level     = qrcode.High // ISO/IEC 18004 level Q
	ModulePx  = 8           // pixels a module, across and down
	QuietZone = 4           // modules of margin on each side
)

// modules is how many modules across (and down) the image of a symbol of
// version is, its quiet zone included.
func modules(version int) int { return 17 + 4*version + 2*QuietZone }

// Image draws payload as a QR code at Level, ModulePx pixels a module with a
// quiet zone of QuietZone modules, and returns its version (1 to 40) with
// it. A card payload (the prefix and Base45) uses only QR's alphanumeric
// characters, so the library encodes it in alphanumeric mode: 5.5 bits a
// character rather than 8.
func Image(payload string) (version int, img image.Image, err error) {
	q, err := qrcode.New(payload, Level)
	if err != nil {
		return 0, nil, fmt.Errorf("qr code: %w", err)
	}
	img = q.Image(-ModulePx) // negative: that many pixels a module
	size := modules(q.VersionNumber) * ModulePx
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		return 0, nil, fmt.Errorf("qr code: version %d drawn %dx%d px, want %d modules of %d px", q.VersionNumber, b.Dx(), b.Dy(), modules(q.VersionNumber), ModulePx)
	}
	return q.VersionNumber, img, nil
}

// WritePNG writes payload's QR code to path as a PNG, mode 0600 (a card's
// code holds a person's name and A-number), replacing any file there in one
// step.
func WritePNG(path, payload string) error {
	_, img, err := Image(payload)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		return fmt.Errorf("qr code: encode png: %w", err)
	}
	return atomicfile.Write(path, b.Bytes(), 0o600)
}
