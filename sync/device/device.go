// Package device is the kiosk's identity: the Ed25519 key it signs its
// records and chain heads with (sync/wire) and authenticates to the upstream
// with, made on first start and kept in the state directory; and the boot
// id and time since boot that order its records whatever the wall clock did.
//
// The key file is DIR/device-key.pem, PKCS#8 in PEM, mode 0600. A key file
// readable or writable by group or others is refused rather than used: a key
// that may have been copied is not an identity.
package device

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// KeyFile is the name of the key file in the state directory.
const KeyFile = "device-key.pem"

// Identity is the kiosk's device key.
type Identity struct {
	key ed25519.PrivateKey
}

// New returns the identity of key.
func New(key ed25519.PrivateKey) *Identity { return &Identity{key: key} }

// Generate makes a new identity, kept nowhere: see Create.
func Generate() (*Identity, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return New(key), nil
}

// LoadOrCreate loads the identity kept in dir, making it on first start.
func LoadOrCreate(dir string) (*Identity, error) {
	id, err := Load(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	id, err = Generate()
	if err != nil {
		return nil, err
	}
	if err := Create(dir, id); errors.Is(err, fs.ErrExist) {
		return Load(dir) // another process made it first
	} else if err != nil {
		return nil, err
	}
	return id, nil
}

// Load loads the identity kept in dir. An error wrapping fs.ErrNotExist
// means there is none.
func Load(dir string) (*Identity, error) {
	file := filepath.Join(dir, KeyFile)
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load device key: %s has mode %v: it must be readable by its owner only (0600)", file, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("load device key: %s: no PEM PRIVATE KEY block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load device key: %s: %w", file, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load device key: %s: a %T, not an Ed25519 key", file, k)
	}
	return New(key), nil
}

// Create keeps id in dir, creating dir (0700) if needed. It never replaces
// a key: when dir holds one already, the error wraps fs.ErrExist, so two
// first starts cannot end with two keys. The file appears whole or not at
// all, and is on stable storage when Create returns.
func Create(dir string, id *Identity) error {
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return fmt.Errorf("create device key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create device key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := atomicfile.Create(filepath.Join(dir, KeyFile), data, 0o600); err != nil {
		return fmt.Errorf("create device key: %w", err)
	}
	return nil
}

// Public returns the device's public key, which the upstream registers at
// enrollment.
func (id *Identity) Public() ed25519.PublicKey { return id.key.Public().(ed25519.PublicKey) }

// PrivateKey returns the device's private key.
func (id *Identity) PrivateKey() ed25519.PrivateKey { return id.key }

// certificateLifetime is how long a self-signed device certificate is valid.
// The upstream authenticates the key, not the certificate's dates, so it is
// long; the kiosk may have no trusted time when it makes one.
const certificateLifetime = 100 * 365 * 24 * time.Hour

// Certificate returns a self-signed X.509 certificate of the device key with
// subject CN=kioskID, for TLS client authentication. The upstream pins the
// public key registered at enrollment; the certificate only carries it.
func (id *Identity) Certificate(kioskID string) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	// A fixed start: the kiosk's clock may be anywhere before it is synced.
	notBefore := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: kioskID},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certificateLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, id.Public(), id.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("device certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("device certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: id.key, Leaf: leaf}, nil
}
