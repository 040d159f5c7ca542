package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Device authentication is mutual TLS (see sync/API.md, "Devices"). The
// upstream runs its own CA: it issues the server's certificate, and kiosks
// pin it at enrollment and trust nothing else. A kiosk presents a
// self-signed certificate of its Ed25519 device key; the upstream does not
// care who signed it, only whether its public key is one it enrolled, and
// as which kiosk.

// Files of an Authority in its directory.
const (
	CAKeyFile     = "ca-key.pem"
	CACertFile    = "ca.pem"
	ServerKeyFile = "server-key.pem"
	ServerCert    = "server.pem"
)

// certStart is the NotBefore of the certificates made here: a fixed, early
// time, because a kiosk without a real-time clock may check the server's
// certificate before its clock is set. The CA is pinned; its dates add
// nothing.
var certStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Authority is the upstream's CA and the server certificate it issued.
type Authority struct {
	CA     *x509.Certificate
	CAPEM  []byte
	Server tls.Certificate
}

// LoadOrCreateAuthority loads the CA and server certificate kept in dir,
// making the CA on first start and the server certificate whenever the
// one kept does not name every one of hosts (DNS names or IP addresses).
// Private keys are written 0600.
func LoadOrCreateAuthority(dir string, hosts []string) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("authority: %w", err)
	}
	caKey, caCert, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	return withServer(dir, caKey, caCert, hosts)
}

// LoadAuthority loads the CA from caCertFile and caKeyFile, which it never
// writes — the CA replicas share, named in their configuration, is made
// once and given to each — and the server certificate kept in dir,
// making it from that CA whenever the one kept does not name every one of
// hosts or was issued by another CA: each replica has its own. A missing
// CA file is an error wrapping fs.ErrNotExist; a CA key readable by group
// or others is refused.
func LoadAuthority(dir, caCertFile, caKeyFile string, hosts []string) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("authority: %w", err)
	}
	caKey, caCert, err := loadCA(caCertFile, caKeyFile)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(caKeyFile); err != nil {
		return nil, fmt.Errorf("authority: CA: %w", err)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("authority: %s has mode %v: it must be readable by its owner only (0600)", caKeyFile, perm)
	}
	return withServer(dir, caKey, caCert, hosts)
}

// withServer returns the authority of the CA caCert, with the server
// certificate kept in dir, made (or made again) if it does not name every
// one of hosts or is not the CA's.
func withServer(dir string, caKey *ecdsa.PrivateKey, caCert *x509.Certificate, hosts []string) (*Authority, error) {
	a := &Authority{CA: caCert, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})}
	server, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerCert), filepath.Join(dir, ServerKeyFile))
	if err == nil && covers(server.Leaf, hosts) && server.Leaf.CheckSignatureFrom(caCert) == nil {
		a.Server = server
		return a, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("authority: server certificate: %w", err)
	}
	if a.Server, err = issueServer(dir, caKey, caCert, hosts); err != nil {
		return nil, err
	}
	return a, nil
}

// Fingerprint is the SHA-256 of the CA certificate, for an administrator to
// compare with what a kiosk was given.
func (a *Authority) Fingerprint() string {
	h := sha256.Sum256(a.CA.Raw)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Pool is a pool of the CA alone: what a kiosk trusts.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.CA)
	return p
}

// TLSConfig is the server's TLS configuration: TLS 1.3, its certificate,
// and a client certificate requested but not required at the handshake —
// enrollment comes without one — nor chained to any CA: Handler checks
// its key against the devices enrolled, request by request.
func (a *Authority) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{a.Server},
		ClientAuth:   tls.RequestClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			_, err := devicePublicKey(raw[0])
			return err
		},
	}
}

// devicePublicKey reads a client certificate: a certificate (self-signed
// or not) of an Ed25519 key, signed by that key.
func devicePublicKey(der []byte) (ed25519.PublicKey, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("client certificate of a %T key; want Ed25519", c.PublicKey)
	}
	// Proof that the peer holds the key is the TLS handshake's
	// CertificateVerify; this only refuses a certificate that is not its
	// own key's.
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return nil, fmt.Errorf("client certificate is not self-signed: %w", err)
	}
	return pub, nil
}

// loadCA loads the CA's certificate and key from their files.
func loadCA(certFile, keyFile string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("authority: CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("authority: %s: not an ECDSA key", keyFile)
	}
	if !pair.Leaf.IsCA {
		return nil, nil, fmt.Errorf("authority: %s: not a CA certificate", certFile)
	}
	return key, pair.Leaf, nil
}

func loadOrCreateCA(dir string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	keyFile, certFile := filepath.Join(dir, CAKeyFile), filepath.Join(dir, CACertFile)
	key, cert, err := loadCA(certFile, keyFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, cert, err
	}
	if _, err := os.Stat(keyFile); err == nil {
		return nil, nil, fmt.Errorf("authority: %s exists without %s: refusing to make a new CA", keyFile, certFile)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "check-in kiosk upstream CA"},
		NotBefore:             certStart,
		NotAfter:              time.Now().AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("authority: CA: %w", err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKeyPair(keyFile, certFile, key, der); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

func issueServer(dir string, caKey *ecdsa.PrivateKey, ca *x509.Certificate, hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "check-in kiosk upstream"},
		NotBefore:    certStart,
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("authority: server certificate: %w", err)
	}
	if err := writeKeyPair(filepath.Join(dir, ServerKeyFile), filepath.Join(dir, ServerCert), key, der); err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// covers reports whether c names every host.
func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

func writeKeyPair(keyFile, certFile string, key *ecdsa.PrivateKey, der []byte) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("authority: %w", err)
	}
	if err := atomicfile.Write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("authority: %w", err)
	}
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// device is the kiosk a request was authenticated as.
type device struct {
	kioskID string
	key     ed25519.PublicKey
}

type deviceCtxKey struct{}

// deviceFrom returns the device a request was authenticated as; false for
// the paths served without (openPath).
func deviceFrom(ctx context.Context) (device, bool) {
	d, ok := ctx.Value(deviceCtxKey{}).(device)
	return d, ok
}

// openPath reports whether path is served without device authentication:
// enrollment (the device has no standing yet), stats and health.
func openPath(path string) bool {
	return path == wire.PathEnroll || path == wire.PathStats || path == wire.PathHealth
}

// errNoCertificate is what ClientCertificateKey fails with for a request
// without a client certificate, over TLS or not.
var errNoCertificate = errors.New("a client certificate of an enrolled device is required")

// ClientCertificateKey returns the Ed25519 key of the client certificate
// r came with over TLS: how `kiosk upstream` authenticates devices, and
// what Options.Authenticate does by default.
func ClientCertificateKey(r *http.Request) (ed25519.PublicKey, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errNoCertificate
	}
	return devicePublicKey(r.TLS.PeerCertificates[0].Raw)
}

// authenticate lets through to h the requests of the open paths, and the
// others only from an enrolled device, which it puts in the request's
// context (deviceFrom); it answers the rest 403.
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		pub, err := s.auth(r)
		if err == nil && len(pub) != ed25519.PublicKeySize {
			err = fmt.Errorf("device key of %d bytes; want %d", len(pub), ed25519.PublicKeySize)
		}
		if err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
		kioskID, ok, err := s.store.DeviceKiosk(r.Context(), pub)
		switch {
		case err != nil:
			s.log.Error("look up device", "err", err)
			writeError(w, http.StatusInternalServerError, "device lookup failed")
			return
		case !ok:
			s.log.Warn("unknown device refused", "key", hex.EncodeToString(pub[:8]), "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "unknown device")
			return
		}
		ctx := context.WithValue(r.Context(), deviceCtxKey{}, device{kioskID: kioskID, key: pub})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// mayPost reports whether the request may post for kioskID: only a
// device enrolled as kioskID may, and a request without a device never
// (Handler lets none through; this holds even if it did).
func mayPost(r *http.Request, kioskID string) bool {
	d, ok := deviceFrom(r.Context())
	return ok && d.kioskID == kioskID
}

// DeviceKioskID returns the kiosk a device key is enrolled as.
func (s *Server) DeviceKioskID(ctx context.Context, pub ed25519.PublicKey) (string, bool, error) {
	return s.store.DeviceKiosk(ctx, pub)
}
