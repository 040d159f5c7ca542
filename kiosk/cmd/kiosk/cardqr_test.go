package main

import (
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/skip2/go-qrcode"
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
	q, _, err := qrImage(payload)
	if err != nil {
		t.Fatal(err)
	}
	version := func(s string) int {
		t.Helper()
		q, err := qrcode.New(s, qrLevel)
		if err != nil {
			t.Fatal(err)
		}
		return q.VersionNumber
	}
	alnum := version(strings.Repeat("A", len(payload)))
	bytemode := version(strings.Repeat("a", len(payload)))
	if q.VersionNumber > alnum || q.VersionNumber >= bytemode {
		t.Errorf("QR version of a %d-character card = %d; want ≤ %d (alphanumeric) and < %d (byte mode)", len(payload), q.VersionNumber, alnum, bytemode)
	}
	t.Logf("%d characters: version %d (%d modules, %d with the quiet zone) at level Q; byte mode would need version %d",
		len(payload), q.VersionNumber, 17+4*q.VersionNumber, 17+4*q.VersionNumber+2*qrQuietZone, bytemode)
}

// TestWriteQRPNG writes a card's QR code and reads it back with zbarimg
// (Debian package zbar-tools), a decoder independent of the encoder.
func TestWriteQRPNG(t *testing.T) {
	payload := qrTestPayload(t)
	file := filepath.Join(t.TempDir(), "card.png")
	if err := writeQRPNG(file, payload); err != nil {
		t.Fatalf("writeQRPNG = %v", err)
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
	q, err := qrcode.New(payload, qrLevel)
	if err != nil {
		t.Fatal(err)
	}
	modules := 17 + 4*q.VersionNumber + 2*qrQuietZone
	if b := img.Bounds(); b.Dx() != modules*qrModulePx || b.Dy() != modules*qrModulePx {
		t.Fatalf("PNG is %dx%d px; want %d modules of %d px", b.Dx(), b.Dy(), modules, qrModulePx)
	}
	dark := func(x, y int) bool {
		g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
		return g.Y < 128
	}
	quiet := qrQuietZone * qrModulePx
	size := modules * qrModulePx
	for i := 0; i < size; i++ {
		for j := 0; j < quiet; j++ {
			if dark(i, j) || dark(j, i) || dark(i, size-1-j) || dark(size-1-j, i) {
				t.Fatalf("quiet zone has a dark pixel near (%d, %d)", i, j)
			}
		}
	}
	if !dark(quiet, quiet) || !dark(quiet+qrModulePx-1, quiet+qrModulePx-1) {
		t.Errorf("the finder pattern does not start right after the quiet zone")
	}

	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("KIOSK_REQUIRE_ALL") == "1" {
			t.Fatal("zbarimg not found, and KIOSK_REQUIRE_ALL=1: install zbar-tools")
		}
		t.Skip("zbarimg not found: install zbar-tools to decode the QR code")
	}
	out, err := exec.Command(zbarimg, zbarQROnly("--raw", "-q", file)...).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSuffix(string(out), "\n"); got != payload {
		t.Errorf("zbarimg read %q; want %q", got, payload)
	}
}

// TestCardIssueQR runs "kiosk card issue --qr" and reads the PNG back: it
// holds the payload the command printed.
func TestCardIssueQR(t *testing.T) {
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("KIOSK_REQUIRE_ALL") == "1" {
			t.Fatal("zbarimg not found, and KIOSK_REQUIRE_ALL=1: install zbar-tools")
		}
		t.Skip("zbarimg not found: install zbar-tools to decode the QR code")
	}
	dir := t.TempDir()
	key, cert, qr := filepath.Join(dir, "issuer.key"), filepath.Join(dir, "issuer.pem"), filepath.Join(dir, "card.png")
	if _, stderr, err := cardRun(t, "", "keygen", "--subject", "QR Test Issuer", "--key", key, "--cert", cert); err != nil {
		t.Fatalf("card keygen = %v; stderr %s", err, stderr)
	}
	stdout, stderr, err := cardRun(t, "", "issue", "--key", key, "--cert", cert, "--iss", "SDC-NYC",
		"--a-number", "204518377", "--dob", "1987-11-23", "--office", "NYC", "--qr", qr)
	if err != nil {
		t.Fatalf("card issue --qr = %v; stderr %s", err, stderr)
	}
	out, err := exec.Command(zbarimg, zbarQROnly("--raw", "-q", qr)...).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got, want := strings.TrimSuffix(string(out), "\n"), strings.TrimSuffix(stdout, "\n"); got != want {
		t.Errorf("zbarimg read %q; want the printed payload %q", got, want)
	}
}

// zbarQROnly returns zbarimg's arguments with every symbology but QR
// turned off: a linear decoder now and then reads a few digits out of a QR
// code's modules (an "I2/5" or "EAN-8" of six digits beside the payload).
func zbarQROnly(args ...string) []string {
	return append([]string{"-Sdisable", "-Sqrcode.enable"}, args...)
}
