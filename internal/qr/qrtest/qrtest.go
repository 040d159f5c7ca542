// Package qrtest reads QR codes back in tests, with zbarimg (Debian package
// zbar-tools): a decoder independent of the encoder, so a test of what
// package qr draws is not the encoder agreeing with itself.
package qrtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// Zbarimg returns the path of zbarimg, or skips the test (fails it under
// KIOSK_REQUIRE_ALL=1) when it is not installed. A test calls it first, so
// that it skips before doing its work.
func Zbarimg(t testing.TB) string {
	t.Helper()
	return testenv.LookPath(t, "zbarimg", "zbar-tools")
}

// Read returns the text of the one QR code in the image file, read with
// zbarimg (from Zbarimg), or fails the test.
func Read(t testing.TB, zbarimg, file string) string {
	t.Helper()
	// Every symbology but QR is off: a linear decoder now and then reads a
	// few digits out of a QR code's modules (an "I2/5" or "EAN-8" of six
	// digits beside the payload).
	out, err := exec.Command(zbarimg, "-Sdisable", "-Sqrcode.enable", "--raw", "-q", file).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", file, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}
