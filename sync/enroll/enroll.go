// Package enroll pairs a kiosk with its upstream: once, at installation
// (`kiosk enroll`), the kiosk registers its device key there with a
// one-time token, and keeps what the upstream answered in its state
// directory (File) for the daemon, which builds from it the TLS client it
// reaches the upstream with (Client). The upstream's side — tokens and
// POST /v1/enroll — is sync/upstream; the protocol is sync/API.md,
// "Devices".
package enroll

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// File is the name, in the state directory, of what enrollment gave the
// kiosk: an Enrollment in JSON, mode 0600.
const File = "enrollment.json"

// maxAnswer bounds what is read of the upstream's answer: an
// EnrollResponse is a few hundred bytes.
const maxAnswer = 64 << 10

// Enrollment pairs the kiosk with its upstream: where it is, the CA its
// certificate must chain to (and no other), the key person data is sealed
// to, and the kiosk id the device key was enrolled as. Nothing in it is
// secret; it is kept 0600 all the same.
type Enrollment struct {
	Upstream      string `json:"upstream"`
	KioskID       string `json:"kiosk_id"`
	CAPEM         string `json:"ca_pem"`
	SealPublicKey []byte `json:"seal_public_key"` // raw X25519; base64 in JSON
}

// ParseCA returns a pool of the certificates in pemData and no other: what
// a kiosk pins its upstream's certificate to, never the system roots. It
// is an error when pemData holds no PEM certificate.
func ParseCA(pemData []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no PEM certificate")
	}
	return p, nil
}

// Enroll registers the device key kept in stateDir (made if there is none)
// with the upstream at url as kioskID, with a one-time token, trusting only
// the CA of caPEM; then it writes stateDir/enrollment.json (File),
// atomically and durably, 0600, and returns what it wrote.
func Enroll(ctx context.Context, url string, caPEM []byte, token, kioskID, stateDir string) (*Enrollment, error) {
	if !wire.ValidKioskID(kioskID) {
		return nil, fmt.Errorf("invalid kiosk id %q", kioskID)
	}
	if !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("upstream %q: enrollment needs an https:// URL", url)
	}
	e := &Enrollment{Upstream: strings.TrimSuffix(url, "/"), KioskID: kioskID, CAPEM: string(caPEM)}
	pool, err := ParseCA(caPEM)
	if err != nil {
		return nil, fmt.Errorf("upstream CA: %w", err)
	}
	id, err := device.LoadOrCreate(stateDir)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(wire.EnrollRequest{KioskID: kioskID, DevicePublicKey: id.Public(), Token: strings.TrimSpace(token)})
	if err != nil {
		return nil, fmt.Errorf("enroll: encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, upload.DefaultRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Upstream+wire.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", wire.ContentType)
	// No client certificate: the token, not a key the upstream does not
	// know yet, is what authenticates this one request.
	resp, err := upload.NewClient(pool, tls.Certificate{}, upload.DefaultRequestTimeout).Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("enroll: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		json.Unmarshal(b, &we) // a body that is not a wire.Error leaves the status alone to say it
		return nil, fmt.Errorf("enroll: %s: %s", resp.Status, we.Message)
	}
	var res wire.EnrollResponse
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("enroll: read answer: %w", err)
	}
	if res.KioskID != kioskID {
		return nil, fmt.Errorf("enroll: the upstream enrolled %q, not %q", res.KioskID, kioskID)
	}
	if len(res.SealPublicKey) > 0 {
		if _, err := wire.ParseSealPublicKey(res.SealPublicKey); err != nil {
			return nil, fmt.Errorf("enroll: the upstream's seal key: %w", err)
		}
	}
	e.SealPublicKey = res.SealPublicKey
	if err := e.Save(stateDir); err != nil {
		return nil, err
	}
	return e, nil
}

// Save writes e to stateDir/enrollment.json (File), replacing any there
// whole or not at all, durably, 0600.
func (e *Enrollment) Save(stateDir string) error {
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("save enrollment: %w", err)
	}
	return atomicfile.Write(filepath.Join(stateDir, File), append(data, '\n'), 0o600)
}

// Load reads stateDir/enrollment.json (File), checking its CA and kiosk
// id; nil, nil when there is none (the kiosk is not enrolled).
func Load(stateDir string) (*Enrollment, error) {
	file := filepath.Join(stateDir, File)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read enrollment: %w", err)
	}
	var e Enrollment
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if _, err := ParseCA([]byte(e.CAPEM)); err != nil {
		return nil, fmt.Errorf("%s: ca_pem: %w", file, err)
	}
	if !wire.ValidKioskID(e.KioskID) {
		return nil, fmt.Errorf("%s: invalid kiosk id %q", file, e.KioskID)
	}
	return &e, nil
}

// SealKey is the upstream's key person data is sealed to, as enrollment
// gave it; nil, nil when e is nil or the upstream gave none. It takes
// precedence over a key configured by hand: it came from the upstream the
// device is enrolled with.
func (e *Enrollment) SealKey() (hpke.PublicKey, error) {
	if e == nil || len(e.SealPublicKey) == 0 {
		return nil, nil
	}
	k, err := wire.ParseSealPublicKey(e.SealPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%s: seal_public_key: %w", File, err)
	}
	return k, nil
}

// Certifier makes the device's TLS client certificate; *device.Identity is one.
type Certifier interface {
	Certificate(kioskID string) (tls.Certificate, error)
}

// Client returns the HTTP client the daemon reaches the upstream at url
// with. For https, TLS is pinned to the CA in caFile, or when caFile is ""
// to the one enrollment e kept (an error when there is neither), and the
// device certificate id makes for kioskID authenticates the kiosk. For http
// (development and tests) it returns nil, nil: a plain client, with no
// device authentication, which the caller should warn of.
func Client(url, caFile string, e *Enrollment, id Certifier, kioskID string) (*http.Client, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, nil
	}
	var pool *x509.CertPool
	switch {
	case caFile != "":
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read upstream CA: %w", err)
		}
		if pool, err = ParseCA(pemData); err != nil {
			return nil, fmt.Errorf("%s: %w", caFile, err)
		}
	case e != nil:
		var err error
		if pool, err = ParseCA([]byte(e.CAPEM)); err != nil {
			return nil, fmt.Errorf("%s: ca_pem: %w", File, err)
		}
	default:
		return nil, errors.New("an https upstream but no CA: run `kiosk enroll`, or set --upstream-ca")
	}
	cert, err := id.Certificate(kioskID)
	if err != nil {
		return nil, err
	}
	return upload.NewClient(pool, cert, upload.DefaultRequestTimeout), nil
}
