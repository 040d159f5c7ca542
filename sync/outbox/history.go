package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// The staff dashboard's history: the newest check-ins and the check-ins
// of each hour. Both read through the read-only pool, as Stats does, and
// neither hands out anything that names a person: the person is sealed,
// and of the card only the serial's last characters leave the store.

// RecentCheckIn is a check-in as the staff dashboard lists it. It holds
// nothing that names the person, and of the card only SerialTail.
type RecentCheckIn struct {
	At      time.Time // the record's wall time, in Options.Location
	Seq     uint64
	Outcome kiosk.Outcome
	// SerialTail is the card serial's last SerialTailLen characters
	// after "…" ("…a1f"), or "…" alone for a serial shorter than
	// 2×SerialTailLen: enough for staff to tell two cards in the list
	// apart, and too little to look a card up by, or to revoke it with.
	SerialTail  string
	Uploaded    bool // acknowledged by the upstream
	Quarantined bool // rejected by the upstream, set aside (see Quarantine)
}

// SerialTailLen is how many of a card serial's characters
// RecentCheckIn.SerialTail shows.
const SerialTailLen = 3

// MaxRecent caps Recent's n: a list for a person to read, not an export.
const MaxRecent = 1000

// Recent returns the n newest records (n at most MaxRecent), newest
// first: the last committed first, whatever their clocks say.
func (s *Store) Recent(ctx context.Context, n int) ([]RecentCheckIn, error) {
	if n <= 0 {
		return nil, nil
	}
	n = min(n, MaxRecent)
	// The serial is cut in SQLite (substr counts characters, from the end
	// when negative), so the whole serial never leaves the store.
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, outcome,
		CASE WHEN length(serial) >= ?1 * 2 THEN '…' || substr(serial, -?1) ELSE '…' END,
		uploaded_at IS NOT NULL, quarantine IS NOT NULL
		FROM checkins ORDER BY seq DESC LIMIT ?2`, SerialTailLen, n)
	if err != nil {
		return nil, fmt.Errorf("recent: %w", err)
	}
	defer rows.Close()
	out := make([]RecentCheckIn, 0, n)
	for rows.Next() {
		var r RecentCheckIn
		var seq, at int64
		if err := rows.Scan(&seq, &at, &r.Outcome, &r.SerialTail, &r.Uploaded, &r.Quarantined); err != nil {
			return nil, fmt.Errorf("recent: %w", err)
		}
		r.Seq, r.At = uint64(seq), time.Unix(0, at).In(s.loc)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent: %w", err)
	}
	return out, nil
}

// HourCount is how many check-ins were recorded in the hour from Start.
type HourCount struct {
	Start time.Time // the hour's first instant, in Options.Location
	Count int
}

// MaxCountHours caps the range of CountsByHour: a month of hours.
const MaxCountHours = 31 * 24

// CountsByHour counts the check-ins of each hour between from and to, by
// the records' wall time: one HourCount for every hour, with or without
// check-ins, from the hour of the kiosk's time zone (Options.Location)
// holding from up to to (the last hour cut at to, when to is not on the
// hour); none when to is not after from. The staff dashboard asks for the
// kiosk's local day. The range may span at most MaxCountHours.
//
// Records are in seq order, and seq order is nearly time order, but a
// clock can step: it reads back from the newest record until one older
// than from by the slack LastCheckIn allows (priorSlack), so a record
// taken before a step back of up to that much is still counted in its
// hour. It reads the time of each record it passes, the table having no
// index on it (a commit pays for every index): for the dashboard's day,
// a few days of records.
func (s *Store) CountsByHour(ctx context.Context, from, to time.Time) ([]HourCount, error) {
	if !to.After(from) {
		return nil, nil
	}
	local := from.In(s.loc)
	start := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, s.loc)
	if start.After(local) { // an hour a clock change skipped
		start = start.Add(-time.Hour)
	}
	hours := int((to.Sub(start) + time.Hour - 1) / time.Hour)
	if hours > MaxCountHours {
		return nil, fmt.Errorf("counts by hour: %v to %v is %d hours, above %d", from, to, hours, MaxCountHours)
	}
	out := make([]HourCount, hours)
	for i := range out {
		// Hours of absolute time: a day the clocks go back has 25, and
		// two of them read 01:00.
		out[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	lo, hi := start.UnixNano(), to.UnixNano()
	stop := start.Add(-priorSlack).UnixNano()
	rows, err := s.r.QueryContext(ctx, `SELECT at FROM checkins ORDER BY seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("counts by hour: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("counts by hour: %w", err)
		}
		if at >= lo && at < hi {
			out[(at-lo)/int64(time.Hour)].Count++
		}
		if at < stop {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counts by hour: %w", err)
	}
	return out, nil
}
