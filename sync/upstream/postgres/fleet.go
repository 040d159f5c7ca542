package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// lastCheckInsSQL reads each kiosk's last check-in from its row of chains,
// which Append keeps: a row per kiosk, not one per record.
const lastCheckInsSQL = `SELECT kiosk_id, last_at FROM chains WHERE last_at IS NOT NULL`

// KioskOffices returns the office of each kiosk enrolled by a token that
// named one.
func (s *Store) KioskOffices(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT kiosk_id, office FROM device_keys WHERE office <> ''`)
	if err != nil {
		return nil, fmt.Errorf("offices: %w", err)
	}
	out := map[string]string{}
	var id, office string
	_, err = pgx.ForEachRow(rows, []any{&id, &office}, func() error {
		out[id] = office
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offices: %w", err)
	}
	return out, nil
}

// LastCheckIns returns the greatest at of the records held of each kiosk.
func (s *Store) LastCheckIns(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, lastCheckInsSQL)
	if err != nil {
		return nil, fmt.Errorf("last check-ins: %w", err)
	}
	out := map[string]time.Time{}
	var id string
	var at int64
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		out[id] = time.Unix(0, at)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("last check-ins: %w", err)
	}
	return out, nil
}
