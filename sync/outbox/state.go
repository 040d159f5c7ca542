package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

var _ kiosk.ClockStore = (*Store)(nil)

// GetState returns the value stored under key, and whether there is one.
func (s *Store) GetState(ctx context.Context, key string) (string, bool, error) {
	return getState(ctx, s.r, key)
}

// PutState stores value under key, durably, before it returns.
func (s *Store) PutState(ctx context.Context, key, value string) error {
	return putState(ctx, s.w, key, value)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getState(ctx context.Context, q querier, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM kiosk_state WHERE key = ?`, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("get state %s: %w", key, err)
	}
	return v, true, nil
}

func putState(ctx context.Context, q querier, key, value string) error {
	_, err := q.ExecContext(ctx,
		`INSERT INTO kiosk_state (key, value) VALUES (?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("put state %s: %w", key, err)
	}
	return nil
}

const keyTrustedTime = "clock.trusted"

// LoadTrustedTime implements kiosk.ClockStore; zero if none is stored.
func (s *Store) LoadTrustedTime(ctx context.Context) (time.Time, error) {
	v, ok, err := s.GetState(ctx, keyTrustedTime)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("trusted time %q: %w", v, err)
	}
	return t, nil
}

// SaveTrustedTime implements kiosk.ClockStore.
func (s *Store) SaveTrustedTime(ctx context.Context, t time.Time) error {
	return s.PutState(ctx, keyTrustedTime, t.UTC().Format(time.RFC3339Nano))
}
