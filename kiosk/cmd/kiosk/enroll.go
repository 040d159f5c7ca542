package main

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// enrollmentFile is the name, in the state directory, of what enrollment
// gave the kiosk. `kiosk run` reads it.
const enrollmentFile = "enrollment.json"

// enrollment pairs the kiosk with its upstream: where it is, the CA its
// certificate must chain to (and no other), the key person data is sealed
// to, and the kiosk id the device key was enrolled as. Nothing in it is
// secret; it is kept 0600 all the same.
type enrollment struct {
	Upstream      string `json:"upstream"`
	KioskID       string `json:"kiosk_id"`
	CAPEM         string `json:"ca_pem"`
	SealPublicKey []byte `json:"seal_public_key"` // raw X25519; base64 in JSON
}

// pool is the CA of e alone.
func (e *enrollment) pool() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM([]byte(e.CAPEM)) {
		return nil, errors.New("enrollment: no PEM certificate in ca_pem")
	}
	return p, nil
}

func enrollCommand(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("kiosk enroll", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("upstream", "", "upstream base `URL`, https://… (required)")
	caFile := fs.String("ca", "", "PEM `file` of the upstream's CA certificate, as `kiosk upstream` printed it (required)")
	token := fs.String("token", "", "one-time enrollment `token` from `kiosk upstream token` (required)")
	kioskID := fs.String("kiosk-id", "", "this kiosk's `name` at the upstream; the token was made for it (required)")
	stateDir := fs.String("state-dir", DefaultConfig().StateDir, "the daemon's state `directory`: the device key is made there if needed, and "+enrollmentFile+" written")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk enroll --upstream URL --ca CA.pem --token T --kiosk-id ID [--state-dir DIR]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Pairs this kiosk with an upstream: registers the device key there and keeps the upstream's")
		fmt.Fprintln(fs.Output(), "address, CA and sealing key in STATE/"+enrollmentFile+" for `kiosk run`.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 || *url == "" || *caFile == "" || *token == "" || *kioskID == "" {
		fs.Usage()
		return errUsage
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	e, err := enroll(ctx, *url, caPEM, *token, *kioskID, *stateDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "enrolled as %s at %s; wrote %s\n", e.KioskID, e.Upstream, filepath.Join(*stateDir, enrollmentFile))
	return nil
}

// enroll registers the device key kept in stateDir (made if there is none)
// with the upstream at url as kioskID, with a one-time token, trusting only
// the CA of caPEM; then it writes stateDir/enrollment.json, atomically and
// durably, 0600.
func enroll(ctx context.Context, url string, caPEM []byte, token, kioskID, stateDir string) (*enrollment, error) {
	if !wire.ValidKioskID(kioskID) {
		return nil, fmt.Errorf("invalid kiosk id %q", kioskID)
	}
	if !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("upstream %q: enrollment needs an https:// URL", url)
	}
	e := &enrollment{Upstream: strings.TrimSuffix(url, "/"), KioskID: kioskID, CAPEM: string(caPEM)}
	pool, err := e.pool()
	if err != nil {
		return nil, err
	}
	id, err := device.LoadOrCreate(stateDir)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(wire.EnrollRequest{KioskID: kioskID, DevicePublicKey: id.Public(), Token: strings.TrimSpace(token)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, upload.DefaultRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Upstream+wire.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", wire.ContentType)
	resp, err := upload.NewClient(pool, tls.Certificate{}, upload.DefaultRequestTimeout).Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		json.Unmarshal(b, &we)
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
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := upload.WriteFile(filepath.Join(stateDir, enrollmentFile), append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	return e, nil
}

// sealKey is the upstream's key person data is sealed to, as enrollment
// gave it; nil, nil when the upstream gave none. It takes precedence over a
// key configured by hand: it came from the upstream the device is enrolled
// with.
func (e *enrollment) sealKey() (hpke.PublicKey, error) {
	if e == nil || len(e.SealPublicKey) == 0 {
		return nil, nil
	}
	k, err := wire.ParseSealPublicKey(e.SealPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%s: seal_public_key: %w", enrollmentFile, err)
	}
	return k, nil
}

// loadEnrollment reads stateDir/enrollment.json; nil, nil when there is none.
func loadEnrollment(stateDir string) (*enrollment, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, enrollmentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read enrollment: %w", err)
	}
	var e enrollment
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(stateDir, enrollmentFile), err)
	}
	if _, err := e.pool(); err != nil {
		return nil, err
	}
	if !wire.ValidKioskID(e.KioskID) {
		return nil, fmt.Errorf("%s: invalid kiosk id %q", filepath.Join(stateDir, enrollmentFile), e.KioskID)
	}
	return &e, nil
}

// upstreamClient returns the client the daemon reaches its upstream with:
// for https, TLS pinned to the enrolled CA (or c.UpstreamCA) and the device
// certificate; for http (development and tests), a plain client, with a
// warning, as there is no device authentication.
func upstreamClient(c Config, e *enrollment, id interface {
	Certificate(kioskID string) (tls.Certificate, error)
}) (*http.Client, error) {
	if !strings.HasPrefix(c.Upstream, "https://") {
		return nil, nil
	}
	var pool *x509.CertPool
	switch {
	case c.UpstreamCA != "":
		pemData, err := os.ReadFile(c.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("read upstream CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%s: no PEM certificate", c.UpstreamCA)
		}
	case e != nil:
		var err error
		if pool, err = e.pool(); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("an https upstream but no CA: run `kiosk enroll`, or set --upstream-ca")
	}
	cert, err := id.Certificate(c.KioskID)
	if err != nil {
		return nil, err
	}
	return upload.NewClient(pool, cert, upload.DefaultRequestTimeout), nil
}
