package qr_test

import (
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/docketkiosk/checkin-kiosk/internal/qr"
	"github.com/docketkiosk/checkin-kiosk/internal/qr/qrtest"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// qrAlphanumeric is QR's alphanumeric character set (ISO/IEC 18004 7.4.4).
const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// qrTestPayload issues a full ES256 card, as large as the format's length
// target allows for names (16 + 10 letters).
func qrTestPayload(t *testing.T) string {
	t.Helper()
	key, cert, err := card.GenerateKey(card.AlgES256, "QR Test Issuer")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p, err := (&card.Issuer{Name: "SDC-NYC", Signer: key, KID: card.KIDOfCertificate(cert)}).Issue(card.Card{
		Serial: "8f3a0c61d2b7e954", IssuedAt: at, ExpiresAt: at.AddDate(5, 0, 0),
		ANumber: "204518377", FamilyName: "Castellanos-Ruiz", GivenName: "Margherita",
		DateOfBirth: "1987-11-23", Office: "NYC",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQRAlphanumeric checks that a card's QR code is encoded in alphanumeric
// mode: its version is no larger than that of as many letters (alphanumeric
// only) and smaller than that of as many lower-case letters (byte mode).
func TestQRAlphanumeric(t *testing.T) {
	payload := qrTestPayload(t)
	for _, c := range payload {
		if !strings.ContainsRune(qrAlphanumeric, c) {
			t.Fatalf("payload has %q, outside QR's alphanumeric set", c)
		}
	}
	v, _, err := qr.Image(payload)
	if err != nil {
		t.Fatal(err)
	}
	version := func(s string) int {
		t.Helper()
		q, err := qrcode.New(s, qr.Level)
		if err != nil {
			t.Fatal(err)
		}
		return q.VersionNumber
	}
	alnum := version(strings.Repeat("A", len(payload)))
	bytemode := version(strings.Repeat("a", len(payload)))
	if v > alnum || v >= bytemode {
		t.Errorf("QR version of a %d-character card = %d; want ≤ %d (alphanumeric) and < %d (byte mode)", len(payload), v, alnum, bytemode)
	}
	t.Logf("%d characters: version %d (%d modules, %d with the quiet zone) at level Q; byte mode would need version %d",
		len(payload), v, 17+4*v, 17+4*v+2*qr.QuietZone, bytemode)
}

// TestWritePNG writes a card's QR code and reads it back with zbarimg
// (Debian package zbar-tools), a decoder independent of the encoder.
func TestWritePNG(t *testing.T) {
	payload := qrTestPayload(t)
	file := filepath.Join(t.TempDir(), "card.png")
	if err := qr.WritePNG(file, payload); err != nil {
		t.Fatalf("WritePNG = %v", err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// The code holds a person's name and A-number: for its owner only.
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("PNG mode = %v; want 0600", fi.Mode().Perm())
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("png.Decode = %v", err)
	}
	q, err := qrcode.New(payload, qr.Level)
	if err != nil {
		t.Fatal(err)
	}
	modules := 17 + 4*q.VersionNumber + 2*qr.QuietZone
	if b := img.Bounds(); b.Dx() != modules*qr.ModulePx || b.Dy() != modules*qr.ModulePx {
		t.Fatalf("PNG is %dx%d px; want %d modules of %d px", b.Dx(), b.Dy(), modules, qr.ModulePx)
	}
	dark := func(x, y int) bool {
		g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
		return g.Y < 128
	}
	quiet := qr.QuietZone * qr.ModulePx
	size := modules * qr.ModulePx
	for i := 0; i < size; i++ {
		for j := 0; j < quiet; j++ {
			if dark(i, j) || dark(j, i) || dark(i, size-1-j) || dark(size-1-j, i) {
				t.Fatalf("quiet zone has a dark pixel near (%d, %d)", i, j)
			}
		}
	}
	if !dark(quiet, quiet) || !dark(quiet+qr.ModulePx-1, quiet+qr.ModulePx-1) {
		t.Errorf("the finder pattern does not start right after the quiet zone")
	}

	zbarimg := qrtest.Zbarimg(t)
	if got := qrtest.Read(t, zbarimg, file); got != payload {
		t.Errorf("zbarimg read %q; want %q", got, payload)
	}
}
