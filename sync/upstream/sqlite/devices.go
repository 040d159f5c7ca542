package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// PutDevice enrolls pub as kioskID's device key, replacing the one before.
func (s *Store) PutDevice(ctx context.Context, kioskID string, pub ed25519.PublicKey, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := putDevice(ctx, tx, kioskID, pub, at); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// putDevice enrolls pub as kioskID's device key in tx, unless it is
// enrolled as another kiosk.
func putDevice(ctx context.Context, tx *sql.Tx, kioskID string, pub ed25519.PublicKey, at time.Time) error {
	var other string
	err := tx.QueryRowContext(ctx, `SELECT kiosk_id FROM device_keys WHERE public_key = ? AND kiosk_id != ?`, []byte(pub), kioskID).Scan(&other)
	switch {
	case err == nil:
		return upstream.ErrKeyInUse
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up device key: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO device_keys (kiosk_id, public_key, enrolled_at) VALUES (?, ?, ?)
		 ON CONFLICT (kiosk_id) DO UPDATE SET public_key = excluded.public_key, enrolled_at = excluded.enrolled_at
		 WHERE public_key != excluded.public_key`,
		kioskID, []byte(pub), nanos(at))
	if err != nil {
		return fmt.Errorf("keep device key: %w", err)
	}
	return nil
}

// DeviceKey returns kioskID's device key.
func (s *Store) DeviceKey(ctx context.Context, kioskID string) (ed25519.PublicKey, bool, error) {
	var pub []byte
	err := s.r.QueryRowContext(ctx, `SELECT public_key FROM device_keys WHERE kiosk_id = ?`, kioskID).Scan(&pub)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("device key: %w", err)
	}
	return ed25519.PublicKey(pub), true, nil
}

// DeviceKiosk returns the kiosk pub is enrolled as.
func (s *Store) DeviceKiosk(ctx context.Context, pub ed25519.PublicKey) (string, bool, error) {
	var id string
	err := s.r.QueryRowContext(ctx, `SELECT kiosk_id FROM device_keys WHERE public_key = ?`, []byte(pub)).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("device kiosk: %w", err)
	}
	return id, true, nil
}

// PutToken keeps an enrollment token by its hash.
func (s *Store) PutToken(ctx context.Context, hash []byte, t upstream.Token) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO enroll_tokens (token_hash, kiosk_id, created_at, expires_at, office) VALUES (?, ?, ?, ?, ?)`,
		hash, t.KioskID, nanos(t.Created), nanos(t.Expires), t.Office)
	if err != nil {
		return fmt.Errorf("keep token: %w", err)
	}
	return nil
}

// Enroll takes the token whose hash is hash, if check accepts it, and
// enrolls pub as its kiosk, in one transaction.
func (s *Store) Enroll(ctx context.Context, hash []byte, pub ed25519.PublicKey, now time.Time,
	check func(t upstream.Token, found bool) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var t upstream.Token
	var created, expires int64
	var used sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT kiosk_id, created_at, expires_at, used_at, office FROM enroll_tokens WHERE token_hash = ?`,
		hash).Scan(&t.KioskID, &created, &expires, &used, &t.Office)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("look up token: %w", err)
	}
	if found {
		t.Created, t.Expires = fromNanos(created), fromNanos(expires)
		if used.Valid {
			t.Used = fromNanos(used.Int64)
		}
	}
	if err := check(t, found); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE enroll_tokens SET used_at = ? WHERE token_hash = ?`, nanos(now), hash); err != nil {
		return fmt.Errorf("use token: %w", err)
	}
	if err := putDevice(ctx, tx, t.KioskID, pub, now); err != nil {
		return err
	}
	if t.Office != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE device_keys SET office = ? WHERE kiosk_id = ?`, t.Office, t.KioskID); err != nil {
			return fmt.Errorf("keep office: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
