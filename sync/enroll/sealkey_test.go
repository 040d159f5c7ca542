package enroll_test

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
)

func TestReadSealKey(t *testing.T) {
	seal := sealPublicKey(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tt := range []struct {
		name string
		file string
		want []string // in the error; nil: the key
	}{
		{"raw", file("raw", seal), nil},
		{"base64", file("base64", []byte(base64.StdEncoding.EncodeToString(seal)+"\n")), nil},
		{"none", "", []string{"no seal key", "kiosk enroll", "--seal-key"}},
		{"missing", filepath.Join(dir, "missing"), []string{"read seal key"}},
		{"the upstream's private key", file("private", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: seal})),
			[]string{"private key", "public seal key", "kiosk upstream"}},
		{"a certificate", file("cert", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: seal})), []string{"a PEM CERTIFICATE"}},
		{"not a key", file("junk", []byte("not a key at all\n")), []string{"public seal key", "32 bytes"}},
	} {
		k, err := enroll.ReadSealKey(tt.file)
		if tt.want == nil {
			if err != nil || !bytes.Equal(k.Bytes(), seal) {
				t.Errorf("ReadSealKey(%s) = %v, %v; want the key", tt.name, k, err)
			}
			continue
		}
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("ReadSealKey(%s) = %v; want an error saying %q", tt.name, err, w)
			}
		}
	}

	// Enrollment's key comes first; without one, the file's.
	other := sealPublicKey(t)
	byHand := file("by-hand", other)
	var none *enroll.Enrollment
	for _, tt := range []struct {
		name string
		e    *enroll.Enrollment
		want []byte
	}{
		{"not enrolled", none, other},
		{"enrolled without a key", &enroll.Enrollment{}, other},
		{"enrolled", &enroll.Enrollment{SealPublicKey: seal}, seal},
	} {
		if k, err := tt.e.SealKeyOr(byHand); err != nil || !bytes.Equal(k.Bytes(), tt.want) {
			t.Errorf("%s: SealKeyOr() = %v, %v; want %x", tt.name, k, err, tt.want)
		}
	}
}
