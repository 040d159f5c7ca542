package card

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgPS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			k := keyFor(t, alg, "Field Office Issuer")
			if k.cert.Subject.CommonName != "Field Office Issuer" {
				t.Errorf("GenerateKey(%s).Subject = %q; want %q", alg, k.cert.Subject.CommonName, "Field Office Issuer")
			}
			if err := k.cert.CheckSignature(k.cert.SignatureAlgorithm, k.cert.RawTBSCertificate, k.cert.Signature); err != nil {
				t.Errorf("GenerateKey(%s) certificate is not self-signed: %v", alg, err)
			}
			sum := sha256.Sum256(k.cert.Raw)
			if got := KIDOfCertificate(k.cert); !bytes.Equal(got, sum[:8]) {
				t.Errorf("KIDOfCertificate() = %x; want %x", got, sum[:8])
			}
			spki, _ := x509.MarshalPKIXPublicKey(k.signer.Public())
			sum = sha256.Sum256(spki)
			if got, err := KIDOfKey(k.signer.Public()); err != nil || !bytes.Equal(got, sum[:8]) {
				t.Errorf("KIDOfKey() = %x, %v; want %x", got, err, sum[:8])
			}

			pemKey, err := MarshalPrivateKeyPEM(k.signer)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pemKey, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Errorf("MarshalPrivateKeyPEM() = %.30q…; want a PRIVATE KEY block", pemKey)
			}
			back, err := ParsePrivateKeyPEM(pemKey)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.signer.Public()) {
				t.Errorf("ParsePrivateKeyPEM(MarshalPrivateKeyPEM(key)) is another key")
			}
			// A card issued with the parsed key verifies against the certificate.
			i := &Issuer{Name: testIssuerName, Signer: back, KID: KIDOfCertificate(k.cert)}
			p, err := i.Issue(fullCard())
			if err != nil {
				t.Fatal(err)
			}
			tr, err := ParseTrustPEM(MarshalCertificatePEM(k.cert))
			if err != nil {
				t.Fatal(err)
			}
			if r := (&Verifier{Trust: tr}).Verify(p, t0); r.Status != Valid {
				t.Errorf("Verify(card from the parsed key) = %s (%v); want valid", r.Status, r.Err)
			}
		})
	}
	if _, _, err := GenerateKey("ES384", "x"); err == nil {
		t.Errorf("GenerateKey(ES384) = nil error; want an error")
	}
}

func TestParsePrivateKeyPEMInvalid(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384PEM, _ := MarshalPrivateKeyPEM(p384)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"certificate": MarshalCertificatePEM(k.cert),
		"junk block":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}),
		"P-384":       p384PEM,
	} {
		if _, err := ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%s) = nil error; want an error", name)
		}
	}
}

func TestParseTrustPEM(t *testing.T) {
	es := keyFor(t, AlgES256, "issuer")
	ed := keyFor(t, AlgEdDSA, "issuer")
	spki, _ := x509.MarshalPKIXPublicKey(ed.signer.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	both := append(append([]byte("# issuers\n"), MarshalCertificatePEM(es.cert)...), pubPEM...)

	tr, err := ParseTrustPEM(both)
	if err != nil {
		t.Fatalf("ParseTrustPEM(certificate + public key): %v", err)
	}
	if tr.Len() != 2 {
		t.Errorf("ParseTrustPEM(certificate + public key).Len() = %d; want 2", tr.Len())
	}
	edKID, _ := KIDOfKey(ed.signer.Public())
	if len(tr.lookup(KIDOfCertificate(es.cert))) != 1 || len(tr.lookup(edKID)) != 1 {
		t.Errorf("ParseTrustPEM() did not index the keys by their kids")
	}
	// The same key twice counts once.
	twice, err := ParseTrustPEM(append(bytes.Clone(both), MarshalCertificatePEM(es.cert)...))
	if err != nil || twice.Len() != 2 {
		t.Errorf("ParseTrustPEM(a certificate twice).Len() = %d, %v; want 2, nil", twice.Len(), err)
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384SPKI, _ := x509.MarshalPKIXPublicKey(p384.Public())
	privPEM, _ := MarshalPrivateKeyPEM(es.signer)
	for name, data := range map[string][]byte{
		"empty":            nil,
		"text":             []byte("no PEM here"),
		"private key":      privPEM,
		"bad certificate":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}),
		"bad public key":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}),
		"P-384 public key": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384SPKI}),
		"broken block":     append(bytes.Clone(both), []byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")...),
		"trailing text":    append(bytes.Clone(both), []byte("junk\n")...),
	} {
		if _, err := ParseTrustPEM(data); err == nil {
			t.Errorf("ParseTrustPEM(%s) = nil error; want an error", name)
		}
	}
}
