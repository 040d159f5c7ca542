package trust

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// This file is the issuing side of the lists: what the root key's holder
// does to make their next edition from the one in a file ("kiosk card
// trustlist sign", "revoke", "roster add"). Nothing here writes a file:
// the caller writes the signed bytes, durably.

// ReadPrivateKey reads a PKCS #8 PEM private key file: a root key or an
// issuer key.
func ReadPrivateKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := card.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}

// ReadCertificate reads the first CERTIFICATE PEM block of file: an issuer
// key's certificate.
func ReadCertificate(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, fmt.Errorf("%s: no CERTIFICATE PEM block", file)
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			return cert, nil
		}
	}
}

// ReadIssuer reads an issuer's private key and its certificate, whose kid
// the cards it issues carry: an Issuer for the caller to name. A key that
// is not the certificate's is refused: its cards would never verify.
func ReadIssuer(keyFile, certFile string) (*card.Issuer, error) {
	key, err := ReadPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := ReadCertificate(certFile)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(x crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not hold the key of %s", keyFile, certFile)
	}
	return &card.Issuer{Signer: key, KID: card.KIDOfCertificate(cert)}, nil
}

// OpenSigned reads the signed list in file and opens it with open (as
// card.OpenRoster), verified against the root public key in rootFile.
func OpenSigned[T any](rootFile, file string, open func([]byte, crypto.PublicKey) (T, error)) (T, error) {
	var zero T
	root, err := ReadPublicKey(rootFile)
	if err != nil {
		return zero, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return zero, fmt.Errorf("read list: %w", err)
	}
	v, err := open(data, root)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// readEdition reads the list in file and opens it with open, verified
// against root; (zero, nil) when there is no such file: the list is new.
func readEdition[T any](file string, root crypto.PublicKey, open func([]byte, crypto.PublicKey) (T, error)) (T, error) {
	var zero T
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return zero, nil
	case err != nil:
		return zero, fmt.Errorf("read list: %w", err)
	}
	v, err := open(data, root)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// NextRevocations makes the next edition of the revocation list in file:
// its entries and the card of issuer iss and serial serialHex, seq one
// higher (1 when there is no file yet), issued at, signed with root. The
// list in file must be root's.
func NextRevocations(file string, root crypto.Signer, iss, serialHex string, at time.Time) (*card.Revocations, []byte, error) {
	old, err := readEdition(file, root.Public(), card.OpenRevocations)
	if err != nil {
		return nil, nil, err
	}
	next := old.Next() // of nil: a new list, whose first seq is 1
	if err := next.Add(iss, serialHex); err != nil {
		return nil, nil, err
	}
	next.SetIssuedAt(at)
	signed, err := next.Sign(root)
	if err != nil {
		return nil, nil, err
	}
	return next, signed, nil
}

// NextRoster makes the next edition of the roster in file, issued at, for
// the caller to Add to and Sign: its entries with seq one higher, or a new
// roster of seq 1 when there is no file yet. The roster in file must be
// root's.
func NextRoster(file string, root crypto.PublicKey, at time.Time) (*card.Roster, error) {
	old, err := readEdition(file, root, card.OpenRoster)
	switch {
	case err != nil:
		return nil, err
	case old == nil:
		return card.NewRoster(1, at)
	}
	return old.Next(at), nil
}

// CheckTrustListSeq reports whether a trust list of seq may replace the
// one in file: never one kiosks would refuse (a seq not higher than the
// file's), nor a file that is not a trust list of root. No file is fine.
func CheckTrustListSeq(file string, root crypto.PublicKey, seq uint64) error {
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read list: %w", err)
	}
	prev, err := card.OpenTrustList(data, root)
	switch {
	case err != nil:
		return fmt.Errorf("%s exists and is not a trust list of this root key; not replacing it: %w", file, err)
	case seq <= prev.Seq:
		return fmt.Errorf("%s holds seq %d: the new seq must be higher", file, prev.Seq)
	}
	return nil
}

// ParseEntry reads one trust list entry from its spec: comma-separated
// name=value pairs, naming the issuer (iss), the key's certificate file
// (cert) or public key file (key), the offices it may issue for (offices,
// A+B+…, or * for any) and its window (not-before, not-after, RFC 3339).
// Values cannot hold a comma, office codes not a plus sign.
func ParseEntry(spec string) (card.TrustEntry, error) {
	var e card.TrustEntry
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" {
			return e, fmt.Errorf("%q is not name=value", kv)
		}
		if seen[name] {
			return e, fmt.Errorf("%s given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "iss":
			e.Issuer = value
		case "cert":
			e.Certificate, err = ReadCertificate(value)
		case "key":
			e.PublicKey, err = ReadPublicKey(value)
		case "offices":
			e.Offices = strings.Split(value, "+")
		case "not-before":
			e.NotBefore, err = time.Parse(time.RFC3339, value)
		case "not-after":
			e.NotAfter, err = time.Parse(time.RFC3339, value)
		default:
			return e, fmt.Errorf("unknown name %q", name)
		}
		if err != nil {
			return e, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, name := range []string{"iss", "offices", "not-before", "not-after"} {
		if !seen[name] {
			return e, fmt.Errorf("%s is required", name)
		}
	}
	if seen["cert"] == seen["key"] {
		return e, errors.New("give one of cert and key")
	}
	return e, nil
}
