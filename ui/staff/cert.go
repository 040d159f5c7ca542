package staff

import (
	"crypto/ecdsa"
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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// The files of the certificate the dashboard makes for itself, in the
// staff directory (Dir).
const (
	certFileName = "cert.pem"
	keyFileName  = "key.pem"
)

// certValidity is how long a generated certificate is valid. Staff accept
// it once in their browser (or check its fingerprint against the service
// display); a certificate that expired under them would teach them to click
// through warnings, so it outlives the kiosk.
const certValidity = 10 * 365 * 24 * time.Hour

// Fingerprint is the SHA-256 fingerprint of a certificate's DER, as staff
// compare it with what their browser shows: "sha256:" and 64 lower-case hex
// digits.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadFingerprint is the fingerprint of the dashboard's certificate as a
// daemon with these settings serves it, for `kiosk status` and the service
// display: certFile when one is configured, else the one made under
// stateDir. It reads the file only; it makes none.
func LoadFingerprint(stateDir, certFile string) (string, error) {
	if certFile == "" {
		certFile = filepath.Join(Dir(stateDir), certFileName)
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("read certificate: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("read certificate %s: no PEM certificate", certFile)
	}
	return Fingerprint(block.Bytes), nil
}

// loadCertificate returns the certificate the dashboard serves: the
// configured pair when certFile is set, else the one in dir, made on the
// first start (loadOrCreateCertificate).
func loadCertificate(dir, certFile, keyFile string, hosts []string, now time.Time) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("staff certificate: both a certificate and a key file are needed, or neither")
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("load staff certificate: %w", err)
		}
		return c, nil
	}
	return loadOrCreateCertificate(dir, hosts, now)
}

// loadOrCreateCertificate loads dir's certificate and key, making them
// first if there are none: a P-256 key (mode 0600) and a self-signed
// certificate for hosts, valid certValidity. Each file is created once,
// whole (atomicfile.Create), the key first: a power cut between the two
// leaves a key without a certificate, and the next start makes the
// certificate for that key. A certificate without its key is not made good
// by a new key: someone removed the key, and staff should know why the
// fingerprint they trust would change.
func loadOrCreateCertificate(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, certFileName), filepath.Join(dir, keyFileName)
	keyPEM, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(certPath); err == nil {
			return tls.Certificate{}, fmt.Errorf("staff certificate: %s has no key %s; remove the certificate to make a new pair", certPath, keyPath)
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("generate staff key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("marshal staff key: %w", err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := atomicfile.Create(keyPath, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		if err := giveToDirOwner(keyPath, dir); err != nil {
			return tls.Certificate{}, err
		}
	case err != nil:
		return tls.Certificate{}, fmt.Errorf("read staff key: %w", err)
	}
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		if certPEM, err = selfSign(keyPEM, hosts, now); err != nil {
			return tls.Certificate{}, err
		}
		if err := atomicfile.Create(certPath, certPEM, 0o644); err != nil {
			return tls.Certificate{}, err
		}
		if err := giveToDirOwner(certPath, dir); err != nil {
			return tls.Certificate{}, err
		}
	} else if err != nil {
		return tls.Certificate{}, fmt.Errorf("read staff certificate: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load staff certificate %s: %w", certPath, err)
	}
	return c, nil
}

// selfSign makes a self-signed server certificate for the key in keyPEM,
// naming hosts (names and IP addresses), valid from an hour before now
// (a Pi's clock may be a little behind the browser's) for certValidity.
func selfSign(keyPEM []byte, hosts []string, now time.Time) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("staff key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse staff key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("staff key: a %T, not an ECDSA key", k)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kiosk staff dashboard", Organization: []string{"check-in kiosk"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create staff certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// hostNames are the names and addresses a generated certificate is made
// for: the host's name, and name.local as Avahi announces it, localhost,
// and every address of its interfaces but link-local ones (a URL cannot
// carry their zone well). Addresses a DHCP server gives later are not on
// it; a browser that was told to accept the certificate accepts it anyway.
func hostNames() []string {
	var hosts []string
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		hosts = append(hosts, h)
		if !strings.Contains(h, ".") {
			hosts = append(hosts, h+".local")
		}
	}
	hosts = append(hosts, "localhost")
	addrs, _ := net.InterfaceAddrs() // none: the certificate names the host alone
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() {
			continue
		}
		hosts = append(hosts, n.IP.String())
	}
	return hosts
}
