package device_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	id, err := device.LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate(new) = %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, device.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of %s = %v; want 0600", device.KeyFile, got)
	}
	again, err := device.LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate(existing) = %v", err)
	}
	if !again.Public().Equal(id.Public()) {
		t.Errorf("LoadOrCreate(existing).Public() = %x; want %x (the key made first)", again.Public(), id.Public())
	}
	msg := []byte("head")
	if !ed25519.Verify(id.Public(), msg, ed25519.Sign(again.PrivateKey(), msg)) {
		t.Error("the loaded private key does not match the public key")
	}
	if err := device.Create(dir, id); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing key = %v; want fs.ErrExist", err)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	keys := make([]ed25519.PublicKey, 8)
	for i := range keys {
		wg.Go(func() {
			id, err := device.LoadOrCreate(dir)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = id.Public()
		})
	}
	wg.Wait()
	for i, k := range keys {
		if !k.Equal(keys[0]) {
			t.Errorf("LoadOrCreate #%d = key %x; want %x: concurrent first starts made two keys", i, k, keys[0])
		}
	}
}

func TestLoadRefusesExposedKey(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o666, false},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if _, err := device.LoadOrCreate(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, device.KeyFile), tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := device.LoadOrCreate(dir)
		if (err == nil) != tt.ok {
			t.Errorf("LoadOrCreate with key mode %v = %v; want ok %v", tt.mode, err, tt.ok)
		}
	}
}

func TestLoadRefusesGarbage(t *testing.T) {
	for name, body := range map[string]string{
		"empty":  "",
		"no pem": "not a key",
		"wrong":  "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, device.KeyFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := device.LoadOrCreate(dir); err == nil {
			t.Errorf("LoadOrCreate(%s key file) succeeded; want an error, not a new key", name)
		}
	}
}

func TestCertificate(t *testing.T) {
	id, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := id.Certificate("kiosk-01")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "kiosk-01" {
		t.Errorf("certificate CN = %q; want kiosk-01", leaf.Subject.CommonName)
	}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(id.Public()) {
		t.Errorf("certificate key = %v; want the device's public key", leaf.PublicKey)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("certificate ExtKeyUsage = %v; want client auth", leaf.ExtKeyUsage)
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		t.Errorf("certificate valid %v to %v; want now within", leaf.NotBefore, leaf.NotAfter)
	}
}

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestBoot(t *testing.T) {
	if _, err := os.Stat("/proc/sys/kernel/random/boot_id"); err != nil {
		t.Skip("no boot id here")
	}
	if id := device.BootID(); !uuid.MatchString(id) {
		t.Errorf("BootID() = %q; want a UUID", id)
	}
	a := device.SinceBoot()
	b := device.SinceBoot()
	if a <= 0 || b < a {
		t.Errorf("SinceBoot() = %v then %v; want positive and not going back", a, b)
	}
}
