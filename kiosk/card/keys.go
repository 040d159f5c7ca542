package card

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/veraison/go-cose"
)

// The signature algorithms a card may use, by their COSE names.
const (
	AlgES256 = "ES256" // ECDSA on P-256 with SHA-256: the primary algorithm
	AlgPS256 = "PS256" // RSASSA-PSS with SHA-256, RSA 2048 or larger
	AlgEdDSA = "EdDSA" // Ed25519
)

// certificateLifetime is how long GenerateKey's self-signed certificate is valid.
const certificateLifetime = 10 * 365 * 24 * time.Hour

// GenerateKey makes a new signing key for alg (AlgES256, AlgPS256 or
// AlgEdDSA) and a self-signed certificate for it with the common name
// subject. The certificate's kid (KIDOfCertificate) is what cards signed
// with the key carry.
func GenerateKey(alg, subject string) (crypto.Signer, *x509.Certificate, error) {
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case AlgES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgPS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case AlgEdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: subject},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certificateLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	return key, cert, nil
}

// KIDOfCertificate is the kid of cards signed with cert's key: the first 8
// bytes of SHA-256 over the certificate's DER, as in the EU DCC.
func KIDOfCertificate(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:8]
}

// KIDOfKey is the kid for a bare public key (no certificate): the first 8
// bytes of SHA-256 over its SubjectPublicKeyInfo DER.
func KIDOfKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:8], nil
}

// algorithmOf is the COSE algorithm for a public key, or an error for a key
// type or size a card may not use.
func algorithmOf(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return 0, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		return cose.AlgorithmES256, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, fmt.Errorf("RSA key of %d bits is shorter than 2048", k.N.BitLen())
		}
		return cose.AlgorithmPS256, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, errors.New("malformed Ed25519 key")
		}
		return cose.AlgorithmEdDSA, nil
	}
	return 0, fmt.Errorf("unsupported key type %T", pub)
}

// MarshalPrivateKeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes the first "PRIVATE KEY" (PKCS #8) PEM block in data.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("parse private key: no PRIVATE KEY PEM block")
		}
		if b.Type != "PRIVATE KEY" {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("parse private key: %T is not a signing key", k)
		}
		if _, err := algorithmOf(s.Public()); err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		return s, nil
	}
}

// MarshalCertificatePEM encodes cert as a "CERTIFICATE" PEM block.
func MarshalCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// MarshalPublicKeyPEM encodes pub as a "PUBLIC KEY" (SubjectPublicKeyInfo)
// PEM block: the form a kiosk pins the root key in.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := algorithmOf(pub); err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes data holding exactly one "PUBLIC KEY" PEM block
// of a supported key: a pinned root key file with anything else in it is
// more likely a mistake than a key.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("parse public key: no PEM block")
	}
	if b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("parse public key: PEM block of type %q, want PUBLIC KEY", b.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parse public key: data after the PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	if _, err := algorithmOf(pub); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return pub, nil
}
