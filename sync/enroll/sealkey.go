package enroll

import (
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// sealKeyWanted says what --seal-key takes, and where to find it.
const sealKeyWanted = "the upstream's public seal key: 32 bytes, raw or in base64, " +
	"as `kiosk upstream` prints it at start (`kiosk enroll` fetches it by itself)"

// SealKeyOr is the seal key enrollment gave (SealKey), else the one in
// file (ReadSealKey): a kiosk not enrolled is given its upstream's key by
// hand (--seal-key).
func (e *Enrollment) SealKeyOr(file string) (hpke.PublicKey, error) {
	k, err := e.SealKey()
	if k != nil || err != nil {
		return k, err
	}
	return ReadSealKey(file)
}

// ReadSealKey reads the upstream's public seal key from file: the raw
// 32-byte X25519 key, or it in standard base64. "" is no key: an error, as
// the outbox cannot be opened without one. The errors say what the file
// should hold, and refuse loudly the upstream's private key.
func ReadSealKey(file string) (hpke.PublicKey, error) {
	if file == "" {
		return nil, errors.New("no seal key: enroll the kiosk (kiosk enroll) or pass --seal-key")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read seal key: %w", err)
	}
	if block, _ := pem.Decode(b); block != nil {
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("seal key %s: this is the upstream's private key (%s); "+
				"--seal-key wants its public key (%s), and the private key must never leave the upstream", file, block.Type, sealKeyWanted)
		}
		return nil, fmt.Errorf("seal key %s: a PEM %s; --seal-key wants %s", file, block.Type, sealKeyWanted)
	}
	if len(b) != 32 { // not raw: base64 text
		if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil {
			b = d
		}
	}
	k, err := wire.ParseSealPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: not an X25519 public key (%v); --seal-key wants %s", file, err, sealKeyWanted)
	}
	return k, nil
}
