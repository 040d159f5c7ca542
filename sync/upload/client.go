package upload

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"time"
)

// NewClient returns the HTTP client a kiosk talks to its upstream with:
// TLS 1.3 only, the upstream's certificate checked against ca alone (the CA
// pinned at enrollment; never the system roots), and cert, made from the
// device key, presented as the client certificate that authenticates the
// kiosk (see sync/API.md, "Devices"). A cert without a certificate
// (tls.Certificate{}) presents none: enrollment needs none. timeout bounds
// every request (0: DefaultRequestTimeout).
func NewClient(ca *x509.CertPool, cert tls.Certificate, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	if ca == nil {
		ca = x509.NewCertPool() // trusts nothing: a nil pool would mean the system roots
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    ca,
	}
	if len(cert.Certificate) > 0 {
		cfg.Certificates = []tls.Certificate{cert}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: t, Timeout: 2 * timeout}
}
