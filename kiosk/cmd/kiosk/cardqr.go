package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/skip2/go-qrcode"

	"github.com/docketkiosk/checkin-kiosk/sync/upload"
)

// How a card's QR code is drawn.
//
// The level is Q (the library's "High"): about 25 % of the codewords can be
// rebuilt, against 15 % at M. A card lives in a wallet and gets scuffed,
// creased and faded; the price is a larger symbol (a full card is version
// 12, 65 modules across, where M would need version 10, 57), which a kiosk's
// 2D imager reads comfortably at the size a card prints it.
//
// The quiet zone is the 4 modules ISO/IEC 18004 asks for (the library draws
// exactly that; qrImage checks it). At 8 pixels a module, a printer at 300
// dpi or more renders each module as whole dots, never a smeared fraction.
const (
	qrLevel     = qrcode.High // ISO/IEC 18004 level Q
	qrModulePx  = 8
	qrQuietZone = 4 // modules on each side
)

// qrImage draws payload as the QR code of a card. A card payload (the
// prefix and Base45) uses only QR's alphanumeric characters, so the library
// encodes it in alphanumeric mode: 5.5 bits a character rather than 8.
func qrImage(payload string) (*qrcode.QRCode, image.Image, error) {
	q, err := qrcode.New(payload, qrLevel)
	if err != nil {
		return nil, nil, fmt.Errorf("qr code: %w", err)
	}
	img := q.Image(-qrModulePx) // negative: that many pixels a module
	modules := 17 + 4*q.VersionNumber + 2*qrQuietZone
	if b := img.Bounds(); b.Dx() != modules*qrModulePx || b.Dy() != modules*qrModulePx {
		return nil, nil, fmt.Errorf("qr code: version %d drawn %dx%d px, want %d modules of %d px", q.VersionNumber, b.Dx(), b.Dy(), modules, qrModulePx)
	}
	return q, img, nil
}

// writeQRPNG writes payload's QR code to path as a PNG, mode 0600 (it
// holds a person's name and A-number), replacing any file there in one step.
func writeQRPNG(path, payload string) error {
	_, img, err := qrImage(payload)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		return fmt.Errorf("qr code: encode png: %w", err)
	}
	return upload.WriteFile(path, b.Bytes(), 0o600)
}
