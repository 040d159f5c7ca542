package upstream

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Operator endpoints (sync/API.md, "Operators"): the stats, the fleet view
// and the metrics are for agency staff and their tools, never for kiosks.
// They need an admin token, sent as "Authorization: Bearer TOKEN" (tools,
// Prometheus) or as the password of HTTP Basic authentication, any user
// name (a browser asks for it on /fleet). The upstream keeps only the
// tokens' SHA-256, one per line of the admin token file, so that the file
// gives nothing away: a token is 32 random bytes, too many to guess from
// its hash. Several lines let staff rotate a token without a gap.
//
// A request without a token is answered 401; one with a client
// certificate but no token — a kiosk's device — 403: a device is
// authenticated, and not allowed. Kiosk endpoints keep their own
// authentication (the device's certificate) and take no admin token.

// AdminTokenHashPrefix starts each line of an admin token file: the hex
// SHA-256 of a token follows.
const AdminTokenHashPrefix = "sha256:"

// adminRealm names the protection space in WWW-Authenticate.
const adminRealm = "kiosk upstream operators"

// Admin authenticates the agency's staff at the operator endpoints: it
// holds the hashes of the admin tokens.
type Admin struct {
	hashes [][]byte // SHA-256 of each token
}

// NewAdminToken returns a new admin token, to give to staff once, and
// the line to keep of it in the admin token file (AdminTokenLine).
func NewAdminToken() (token, line string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("admin token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, AdminTokenLine(token), nil
}

// AdminTokenLine is what an admin token file keeps of token.
func AdminTokenLine(token string) string {
	h := sha256.Sum256([]byte(token))
	return AdminTokenHashPrefix + hex.EncodeToString(h[:])
}

// ParseAdmin reads an admin token file: one AdminTokenLine per line; blank
// lines and lines starting with # are skipped. A file without a token is
// refused: it would let nobody in, silently.
func ParseAdmin(data []byte) (*Admin, error) {
	a := &Admin{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		hexHash, ok := strings.CutPrefix(line, AdminTokenHashPrefix)
		h, err := hex.DecodeString(hexHash)
		if !ok || err != nil || len(h) != sha256.Size {
			// The line itself is not echoed: it may be a token pasted
			// in clear by mistake.
			return nil, fmt.Errorf("parse admin tokens: line %d is not %s followed by 64 hex digits", n, AdminTokenHashPrefix)
		}
		a.hashes = append(a.hashes, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse admin tokens: %w", err)
	}
	if len(a.hashes) == 0 {
		return nil, errors.New("parse admin tokens: no token")
	}
	return a, nil
}

// LoadAdmin reads the admin token file at path (ParseAdmin).
func LoadAdmin(path string) (*Admin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load admin tokens: %w", err)
	}
	a, err := ParseAdmin(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// AdminTokensFile is the admin token file's name in the upstream's state
// directory: where `kiosk upstream` keeps it unless told otherwise.
const AdminTokensFile = "admin-tokens"

// LoadOrCreateAdmin loads the admin token file at path (LoadAdmin). When
// there is none, it first creates it, 0600, with one new token, which it
// returns to be given to staff once: the file keeps only its hash, so it
// cannot be shown again. token is "" when the file was there. A file
// that is there but unreadable or without a token is an error, never
// replaced: it may be the only record of the tokens staff hold.
func LoadOrCreateAdmin(path string) (a *Admin, token string, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		tok, line, err := NewAdminToken()
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", fmt.Errorf("create admin tokens: %w", err)
		}
		data := []byte(adminFileHeader + line + "\n")
		switch err := atomicfile.Create(path, data, 0o600); {
		case err == nil:
			token = tok
		case errors.Is(err, fs.ErrExist):
			// Another process made it first: its token, not ours.
		default:
			return nil, "", fmt.Errorf("create admin tokens: %w", err)
		}
	}
	a, err = LoadAdmin(path)
	if err != nil {
		return nil, "", err
	}
	return a, token, nil
}

// AddAdminToken adds a new token to the admin token file at path, made
// if missing, and returns the token, to be given to staff once. The file
// is replaced whole (internal/atomicfile), its other lines kept, so that
// a crash leaves the old file or the new one; a damaged file is refused
// rather than carried on. A server reads the file when it starts, so a
// running one takes the new token at its restart. Two additions at the
// same moment may keep only one: add tokens one at a time.
func AddAdminToken(path string) (string, error) {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = []byte(adminFileHeader)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", fmt.Errorf("add admin token: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("add admin token: %w", err)
	}
	token, line, err := NewAdminToken()
	if err != nil {
		return "", err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	data := append(old, line+"\n"...)
	// Every line checked before any is written: a file this refuses at
	// start must not look mended by one good line added to it.
	if _, err := ParseAdmin(data); err != nil {
		return "", fmt.Errorf("add admin token to %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return "", fmt.Errorf("add admin token: %w", err)
	}
	return token, nil
}

// adminFileHeader starts an admin token file made here, for whoever opens
// it.
const adminFileHeader = "# Admin tokens of the kiosk upstream's operator endpoints (sync/API.md, \"Operators\"):\n" +
	"# the SHA-256 of each, one a line. Add one with `kiosk upstream admin-token`; delete a\n" +
	"# line to revoke its token. Read when the upstream starts.\n"

// valid reports whether token is one of a's, comparing every hash in
// constant time: how long it takes says nothing of which bytes matched.
func (a *Admin) valid(token string) bool {
	h := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range a.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want)
	}
	return ok == 1
}

// requestToken returns the admin token r carries: a bearer token, or the
// password of Basic authentication.
func requestToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(tok)
		return tok, tok != ""
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		return pass, true
	}
	return "", false
}

// operatorState is the server's state for the operator endpoints: who may
// use them, and the metrics (metrics.go).
type operatorState struct {
	admin atomic.Pointer[Admin]

	once    sync.Once
	metrics *serverMetrics
}

// SetAdmin makes a the authority of the operator endpoints. Until it is
// called (or after SetAdmin(nil)), they are closed to everyone: a server
// somebody forgot to give an admin must not show the fleet to whoever
// asks. It may be called while serving, to rotate the tokens.
func (s *Server) SetAdmin(a *Admin) { s.ops.admin.Store(a) }

// requireAdmin lets through to h only the requests that carry one of the
// tokens of the Admin set (SetAdmin). It answers 401 to a request without
// one, or with a wrong one, or to any request when no Admin is set, and
// 403 to a kiosk's device without one.
func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.ops.admin.Load()
		if a == nil {
			// Closed, never open: whoever runs the server has to give
			// it an admin token file first.
			s.log.Warn("operator endpoint refused: no admin token file configured", "path", r.URL.Path, "remote", r.RemoteAddr)
			challenge(w)
			writeError(w, http.StatusUnauthorized, "operator endpoints need an admin token file: none is configured on this server")
			return
		}
		tok, ok := requestToken(r)
		switch {
		case ok && a.valid(tok):
			h.ServeHTTP(w, r)
			return
		case !ok && r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
			s.log.Warn("operator endpoint refused to a client certificate", "path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "operator endpoints need an admin token, not a device certificate")
			return
		case ok:
			s.log.Warn("operator endpoint refused: wrong admin token", "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		challenge(w)
		writeError(w, http.StatusUnauthorized, "an admin token is required")
	})
}

// challenge adds to a 401 the schemes an admin token is taken in, as
// HTTP requires of a 401; a browser asks for Basic's password.
func challenge(w http.ResponseWriter) {
	w.Header().Add("WWW-Authenticate", `Bearer realm="`+adminRealm+`"`)
	w.Header().Add("WWW-Authenticate", `Basic realm="`+adminRealm+`", charset="UTF-8"`)
}

// operatorRoutes adds the operator endpoints to mux, each behind
// requireAdmin: the stats, the fleet view and its page, the metrics.
func (s *Server) operatorRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+wire.PathStats, s.requireAdmin(http.HandlerFunc(s.getStatsReport)))
	mux.Handle("GET "+PathFleet, s.requireAdmin(http.HandlerFunc(s.getFleet)))
	mux.Handle("GET "+PathFleetPage, s.requireAdmin(http.HandlerFunc(s.getFleetPage)))
	mux.Handle("GET "+PathFleetPage+"/{file}", s.requireAdmin(http.HandlerFunc(s.getFleetAsset)))
	mux.Handle("GET "+PathMetrics, s.requireAdmin(s.metrics().handler()))
}
