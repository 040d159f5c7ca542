package upstream

import (
	"crypto/hpke"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// SealKeyFile is the name of the server's sealing key next to its store:
// PEM, the raw X25519 private key (RFC 9180 serialization), mode 0600.
const SealKeyFile = "seal-key.pem"

const sealKeyPEMType = "HPKE X25519 PRIVATE KEY"

// LoadOrCreateSealKey loads the private key person data is sealed to from
// file, making it on first use. A file readable by group or others is
// refused.
func LoadOrCreateSealKey(file string) (hpke.PrivateKey, error) {
	k, err := LoadSealKey(file)
	if errors.Is(err, fs.ErrNotExist) {
		return createSealKey(file)
	}
	return k, err
}

// LoadSealKey loads the private key person data is sealed to from file,
// which it never writes: the key replicas share, named in their
// configuration, is made once and given to each. A missing file is an
// error wrapping fs.ErrNotExist; a file readable by group or others is
// refused.
func LoadSealKey(file string) (hpke.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load seal key: %w", err)
	}
	if fi, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("load seal key: %w", err)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load seal key: %s has mode %v: it must be readable by its owner only (0600)", file, perm)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != sealKeyPEMType {
		return nil, fmt.Errorf("load seal key: %s: no PEM %s block", file, sealKeyPEMType)
	}
	k, err := wire.ParseSealPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load seal key: %s: %w", file, err)
	}
	return k, nil
}

func createSealKey(file string) (hpke.PrivateKey, error) {
	k, err := wire.GenerateSealKey()
	if err != nil {
		return nil, err
	}
	if err := SaveSealKey(file, k); errors.Is(err, fs.ErrExist) {
		return LoadSealKey(file) // made meanwhile
	} else if err != nil {
		return nil, err
	}
	return k, nil
}

// SaveSealKey keeps k in file (0600), as LoadOrCreateSealKey reads it. It
// never replaces a key: if file exists, the error wraps fs.ErrExist. The
// file appears whole or not at all, and is on stable storage (its
// directory synced too) when SaveSealKey returns: a key lost to a power
// cut would leave every record sealed to it unreadable.
func SaveSealKey(file string, k hpke.PrivateKey) error {
	raw, err := k.Bytes()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("save seal key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: sealKeyPEMType, Bytes: raw})
	if err := atomicfile.Create(file, data, 0o600); err != nil {
		return fmt.Errorf("save seal key: %w", err)
	}
	return nil
}
