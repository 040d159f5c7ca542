package cardcmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/qr/qrtest"
)

// TestCardIssueQR runs "kiosk card issue --qr" and reads the PNG back: it
// holds the payload the command printed. (How the code is drawn is
// internal/qr's test.)
func TestCardIssueQR(t *testing.T) {
	zbarimg := qrtest.Zbarimg(t)
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
	if got, want := qrtest.Read(t, zbarimg, qr), strings.TrimSuffix(stdout, "\n"); got != want {
		t.Errorf("zbarimg read %q; want the printed payload %q", got, want)
	}
}
