package sqlite

import (
	"context"
	"fmt"
	"time"
)

// lastCheckInsSQL reads each kiosk's last check-in from last_checkins,
// which Append keeps: a row per kiosk, not one per record.
const lastCheckInsSQL = `SELECT kiosk_id, last_at FROM last_checkins`

// KioskOffices returns the office of each kiosk enrolled by a token that
// named one.
func (s *Store) KioskOffices(ctx context.Context) (map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kiosk_id, office FROM device_keys WHERE office != ''`)
	if err != nil {
		return nil, fmt.Errorf("offices: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, office string
		if err := rows.Scan(&id, &office); err != nil {
			return nil, fmt.Errorf("offices: %w", err)
		}
		out[id] = office
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("offices: %w", err)
	}
	return out, nil
}

// LastCheckIns returns the greatest at of the records held of each kiosk.
func (s *Store) LastCheckIns(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.r.QueryContext(ctx, lastCheckInsSQL)
	if err != nil {
		return nil, fmt.Errorf("last check-ins: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("last check-ins: %w", err)
		}
		out[id] = fromNanos(at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last check-ins: %w", err)
	}
	return out, nil
}
