package upstream

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Enrollment pairs a kiosk with the upstream (sync/API.md, "Devices"): an
// administrator makes a one-time token for a kiosk id (NewEnrollToken, `kiosk
// upstream token`), naming its office if the agency has several, carries it
// to the kiosk, and `kiosk enroll` sends it with the device's public key. The upstream keeps only a hash of the token, and
// takes it once, before it expires.

// DefaultTokenLifetime is how long an enrollment token can be used.
const DefaultTokenLifetime = 24 * time.Hour

// tokenEncoding writes tokens in lower-case base32, easy to read out and type.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrToken is what an enrollment with an unknown, used, expired or
// mismatched token fails with.
var ErrToken = errors.New("enrollment token refused")

// ErrKeyInUse is what enrolling a device key already enrolled as another
// kiosk fails with: one device, one kiosk.
var ErrKeyInUse = errors.New("the device key is enrolled as another kiosk")

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte("sdc-enroll-token-v1\x00" + strings.TrimSpace(token)))
	return h[:]
}

// MaxOfficeLen is the most characters an office name may have: a label,
// as on a sign, not an address.
const MaxOfficeLen = 64

// ValidOffice reports whether office can name a kiosk's office: 1 to
// MaxOfficeLen printable characters (letters, marks, numbers,
// punctuation, symbols, the ASCII space) of valid UTF-8, without a space
// at either end. No control or format character: the name is shown on
// the fleet page and in tools' terminals, where those could disguise it.
func ValidOffice(office string) bool {
	if office == "" || !utf8.ValidString(office) || utf8.RuneCountInString(office) > MaxOfficeLen ||
		strings.TrimSpace(office) != office {
		return false
	}
	for _, r := range office {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// A TokenOption adds to an enrollment token what NewEnrollToken does not
// need.
type TokenOption func(*Token)

// WithOffice names the office the kiosk belongs to (ValidOffice): the
// token, once used, keeps it as the kiosk's, for the fleet view. "" names
// none.
func WithOffice(office string) TokenOption {
	return func(t *Token) { t.Office = office }
}

// NewEnrollToken makes a one-time enrollment token for kioskID, valid for
// ttl (0: DefaultTokenLifetime), and returns it. Only its hash is kept.
func (s *Server) NewEnrollToken(ctx context.Context, kioskID string, ttl time.Duration, opts ...TokenOption) (string, error) {
	if !wire.ValidKioskID(kioskID) {
		return "", fmt.Errorf("new token: invalid kiosk id %q", kioskID)
	}
	var t Token
	for _, o := range opts {
		o(&t)
	}
	if t.Office != "" && !ValidOffice(t.Office) {
		return "", fmt.Errorf("new token: invalid office %q: want 1 to %d printable characters, no space at either end", t.Office, MaxOfficeLen)
	}
	if ttl <= 0 {
		ttl = DefaultTokenLifetime
	}
	b := make([]byte, 20) // 160 bits
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := tokenEncoding.EncodeToString(b)
	now := s.now()
	t.KioskID, t.Created, t.Expires = kioskID, now, now.Add(ttl)
	if err := s.store.PutToken(ctx, tokenHash(token), t); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return token, nil
}

// Enroll takes token for kioskID and enrolls pub as that kiosk's device
// key, replacing any key enrolled before. A token unknown, used, expired or
// made for another kiosk fails with an error wrapping ErrToken, and
// enrolls nothing.
func (s *Server) Enroll(ctx context.Context, kioskID string, pub ed25519.PublicKey, token string) error {
	if !wire.ValidKioskID(kioskID) {
		return fmt.Errorf("enroll: invalid kiosk id %q", kioskID)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("enroll: device key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	now := s.now()
	check := func(t Token, found bool) error {
		switch {
		case !found:
			return fmt.Errorf("%w: unknown token", ErrToken)
		case !t.Used.IsZero():
			return fmt.Errorf("%w: already used", ErrToken)
		case !now.Before(t.Expires):
			return fmt.Errorf("%w: expired", ErrToken)
		case t.KioskID != kioskID:
			return fmt.Errorf("%w: made for another kiosk", ErrToken)
		}
		return nil
	}
	// The records' signatures are checked against this key (the POST
	// /v1/checkins path).
	if err := s.store.Enroll(ctx, tokenHash(token), pub, now, check); errors.Is(err, ErrToken) {
		return err
	} else if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	s.log.Info("kiosk enrolled", "kiosk", kioskID)
	return nil
}

func (s *Server) postEnroll(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(w, r) {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var req wire.EnrollRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad enrollment: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad enrollment: data after the JSON object")
		return
	}
	if !wire.ValidKioskID(req.KioskID) || len(req.DevicePublicKey) != ed25519.PublicKeySize {
		writeError(w, http.StatusBadRequest, "bad enrollment: invalid kiosk_id or device_public_key")
		return
	}
	err := s.Enroll(r.Context(), req.KioskID, ed25519.PublicKey(req.DevicePublicKey), req.Token)
	if errors.Is(err, ErrToken) {
		s.log.Warn("enrollment refused", "kiosk", req.KioskID, "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	if errors.Is(err, ErrKeyInUse) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.log.Error("enrollment failed", "kiosk", req.KioskID, "err", err)
		writeError(w, http.StatusInternalServerError, "enrollment failed")
		return
	}
	writeJSON(w, http.StatusOK, wire.EnrollResponse{KioskID: req.KioskID, SealPublicKey: s.SealPublicKey()})
}

// jsonBody checks a request's content type, answering 415 when it is not
// JSON.
func jsonBody(w http.ResponseWriter, r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, wire.ContentType) {
		writeError(w, http.StatusUnsupportedMediaType, "content type must be "+wire.ContentType)
		return false
	}
	return true
}
