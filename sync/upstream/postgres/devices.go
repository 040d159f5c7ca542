package postgres

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// PutDevice enrolls pub as kioskID's device key, replacing the one before.
func (s *Store) PutDevice(ctx context.Context, kioskID string, pub ed25519.PublicKey, at time.Time) error {
	return putDevice(ctx, s.pool, kioskID, pub, at)
}

// putDevice enrolls pub as kioskID's device key, unless it is enrolled as
// another kiosk: the unique public_key says so, whichever replica enrolled
// it, even at the same moment.
func putDevice(ctx context.Context, q execer, kioskID string, pub ed25519.PublicKey, at time.Time) error {
	_, err := q.Exec(ctx,
		`INSERT INTO device_keys (kiosk_id, public_key, enrolled_at) VALUES ($1, $2, $3)
		 ON CONFLICT (kiosk_id) DO UPDATE SET public_key = excluded.public_key, enrolled_at = excluded.enrolled_at
		 WHERE device_keys.public_key <> excluded.public_key`,
		kioskID, []byte(pub), at.UnixNano())
	switch {
	case errorCode(err) == uniqueViolation:
		return upstream.ErrKeyInUse
	case err != nil:
		return fmt.Errorf("keep device key: %w", err)
	}
	return nil
}

// DeviceKey returns kioskID's device key.
func (s *Store) DeviceKey(ctx context.Context, kioskID string) (ed25519.PublicKey, bool, error) {
	var pub []byte
	err := s.pool.QueryRow(ctx, `SELECT public_key FROM device_keys WHERE kiosk_id = $1`, kioskID).Scan(&pub)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("device key: %w", err)
	}
	return ed25519.PublicKey(pub), true, nil
}

// DeviceKiosk returns the kiosk pub is enrolled as.
func (s *Store) DeviceKiosk(ctx context.Context, pub ed25519.PublicKey) (string, bool, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT kiosk_id FROM device_keys WHERE public_key = $1`, []byte(pub)).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("device kiosk: %w", err)
	}
	return id, true, nil
}

// PutToken keeps an enrollment token by its hash.
func (s *Store) PutToken(ctx context.Context, hash []byte, t upstream.Token) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO enroll_tokens (token_hash, kiosk_id, created_at, expires_at, office) VALUES ($1, $2, $3, $4, $5)`,
		hash, t.KioskID, t.Created.UnixNano(), t.Expires.UnixNano(), t.Office)
	if err != nil {
		return fmt.Errorf("keep token: %w", err)
	}
	return nil
}

// Enroll takes the token whose hash is hash, if check accepts it, and
// enrolls pub as its kiosk, in one transaction. The token's row is read
// FOR UPDATE: two replicas offered the same token at once enroll once, the
// second finding it used.
func (s *Store) Enroll(ctx context.Context, hash []byte, pub ed25519.PublicKey, now time.Time,
	check func(t upstream.Token, found bool) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var t upstream.Token
	var created, expires int64
	var used *int64
	err = tx.QueryRow(ctx, `SELECT kiosk_id, created_at, expires_at, used_at, office FROM enroll_tokens WHERE token_hash = $1 FOR UPDATE`,
		hash).Scan(&t.KioskID, &created, &expires, &used, &t.Office)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up token: %w", err)
	}
	if found {
		t.Created, t.Expires = time.Unix(0, created), time.Unix(0, expires)
		if used != nil {
			t.Used = time.Unix(0, *used)
		}
	}
	if err := check(t, found); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE enroll_tokens SET used_at = $1 WHERE token_hash = $2`, now.UnixNano(), hash); err != nil {
		return fmt.Errorf("use token: %w", err)
	}
	if err := putDevice(ctx, tx, t.KioskID, pub, now); err != nil {
		return err
	}
	if t.Office != "" {
		if _, err := tx.Exec(ctx, `UPDATE device_keys SET office = $1 WHERE kiosk_id = $2`, t.Office, t.KioskID); err != nil {
			return fmt.Errorf("keep office: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
