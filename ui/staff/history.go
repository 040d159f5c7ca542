package staff

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The dashboard's history: the recent check-ins and today's check-ins per
// hour (read through Config.History), the queue's depth over the last day
// and the progress of an upload backlog (both the dashboard's own, from
// the status). It rides in every state frame, as "history" and
// "upload_progress"; the page draws it (web/app.js).
//
// All of it is owned by the push loop's goroutine: it samples the queue,
// reads the history and encodes it, and nothing else touches it.

// Defaults and sizes of the history.
const (
	// RecentRows is how many check-ins the dashboard lists: what the
	// daemon asks the outbox for (its Recent).
	RecentRows = 20
	// HistoryPeriod is how often Config.History is read while a
	// dashboard is open: it costs queries, the status's second does not
	// need them.
	HistoryPeriod = 10 * time.Second
	// QueueSamplePeriod is how often the dashboard samples the status's
	// outbox.pending for the queue chart, whether a dashboard is open or
	// not, into a ring of QueuePoints: 24 hours.
	QueueSamplePeriod = 5 * time.Minute
	// QueuePoints is the size of the queue's ring. It is kept in memory
	// only: a restart of the daemon starts the chart afresh.
	QueuePoints = 288
	// BacklogThreshold is the size of backlog above which the dashboard
	// shows how far its upload has got ("3,400 of 12,000 sent"); a few
	// check-ins waiting are the normal case, not a backlog.
	BacklogThreshold = 100
	// historyTimeout bounds a call of Config.History.
	historyTimeout = 2 * time.Second
)

// History is what the dashboard shows of the kiosk's past: nothing that
// names a person.
type History struct {
	// Recent are the newest check-ins, newest first (RecentRows of them).
	Recent []RecentRow
	// Hourly counts the check-ins of each hour of the kiosk's day
	// (Today), every hour present, zero or not.
	Hourly []HourRow
	// Queue is the queue's depth, oldest first, sampled every
	// QueueSamplePeriod since the daemon started. It is the dashboard's
	// own: Config.History leaves it nil, and what it sets is ignored.
	Queue []QueuePoint
}

// RecentRow is a check-in in the dashboard's list. Its fields are those
// of sync/outbox's RecentCheckIn, so that the daemon converts one to the
// other (staff.RecentRow(r)).
type RecentRow struct {
	At      time.Time // wall time, in the kiosk's time zone
	Seq     uint64
	Outcome kiosk.Outcome
	// SerialTail is the card serial's last 3 characters after "…"
	// ("…a1f"). The dashboard shows no more than that, whatever it is
	// given: a whole serial is cut to its tail.
	SerialTail  string
	Uploaded    bool // acknowledged by the upstream
	Quarantined bool // rejected by the upstream, set aside
}

// HourRow is how many check-ins were recorded in the hour from Start;
// its fields are those of sync/outbox's HourCount.
type HourRow struct {
	Start time.Time // in the kiosk's time zone: the chart's labels are its hours
	Count int
}

// QueuePoint is the queue's depth (check-ins not yet acknowledged) at a
// time.
type QueuePoint struct {
	At      time.Time
	Pending int64
}

// UploadProgress is how far an upload backlog has got: Sent of Total.
type UploadProgress struct {
	Sent  int64 `json:"sent"`
	Total int64 `json:"total"`
}

// Today returns the day holding now in now's location, from its midnight
// to the next: the range the daemon asks the outbox's hourly counts for
// (23 or 25 hours, the days the clocks change).
func Today(now time.Time) (from, to time.Time) {
	y, m, d := now.Date()
	loc := now.Location()
	return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// queueRing holds the last QueuePoints samples of the queue.
type queueRing struct {
	pts  [QueuePoints]QueuePoint
	next int // where the next sample goes
	n    int // how many it holds
}

func (r *queueRing) add(p QueuePoint) {
	r.pts[r.next] = p
	r.next = (r.next + 1) % len(r.pts)
	r.n = min(r.n+1, len(r.pts))
}

// points returns the samples, oldest first.
func (r *queueRing) points() []QueuePoint {
	out := make([]QueuePoint, 0, r.n)
	first := r.next - r.n + len(r.pts)
	for i := range r.n {
		out = append(out, r.pts[(first+i)%len(r.pts)])
	}
	return out
}

// backlog follows an upload backlog through the statuses it is shown: one
// begins when check-ins are pending, and ends when none is.
//
// Sent counts what the upstream answered (acknowledged or set aside)
// since it began, from the status's totals; and at least the fall from
// the most pending seen, for a status without totals. Total is Sent and
// what is pending: when no check-in comes meanwhile, the peak. A daemon
// restarted during a backlog starts counting afresh: the dashboard keeps
// nothing across restarts.
type backlog struct {
	on   bool
	base int64 // acknowledged and set aside when it began
	peak int64 // the most pending since
}

// observe takes a status's outbox, and returns the progress to show: nil
// without a backlog above BacklogThreshold.
func (b *backlog) observe(o ui.Outbox) *UploadProgress {
	if o.Pending <= 0 {
		*b = backlog{}
		return nil
	}
	done := o.UploadedTotal + o.Quarantined
	if !b.on || done < b.base { // a new backlog, or a store that started again
		*b = backlog{on: true, base: done}
	}
	b.peak = max(b.peak, o.Pending)
	sent := max(done-b.base, b.peak-o.Pending)
	if sent+o.Pending <= BacklogThreshold {
		return nil
	}
	return &UploadProgress{Sent: sent, Total: sent + o.Pending}
}

// historyState is the dashboard's history, owned by the push loop.
type historyState struct {
	queue    queueRing
	backlog  backlog
	last     History   // Recent and Hourly as last read
	readAt   time.Time // when they were (Config.Now); zero: never
	readErr  string    // why the last read failed; "" when it worked
	tried    time.Time // when the last read began (Config.Now): the next is due HistoryPeriod after
	progress *UploadProgress
	encoded  json.RawMessage // the history frame, as sent
}

// historyJSON is the "history" of a state frame.
type historyJSON struct {
	At     time.Time  `json:"at"`              // when it was put together
	ReadAt *time.Time `json:"read_at"`         // when recent and hourly were read; null: never
	Error  string     `json:"error,omitempty"` // why the last read failed (the rows are the read before)
	// Recent and Hourly are null when the kiosk offers no history
	// (Config.History nil) or it was never read.
	Recent      []recentJSON `json:"recent"`
	Hourly      []hourJSON   `json:"hourly"`
	Queue       []queueJSON  `json:"queue"`
	QueueEveryS int          `json:"queue_every_s"`
}

type recentJSON struct {
	At      time.Time `json:"at"`
	When    string    `json:"when"` // "14:05" today, else "Jan 4 14:05": the kiosk's time zone
	Seq     uint64    `json:"seq"`
	Card    string    `json:"card"` // "…a1f"
	Outcome string    `json:"outcome"`
	Upload  string    `json:"upload"` // "sent", "pending" or "set_aside"
}

type hourJSON struct {
	Start time.Time `json:"start"`
	Hour  string    `json:"hour"` // "09": the label, in the kiosk's time zone
	Count int       `json:"count"`
	Now   bool      `json:"now,omitempty"` // the hour under way
}

type queueJSON struct {
	At      time.Time `json:"at"`
	Pending int64     `json:"pending"`
}

// sampleQueue reads the status and samples its queue.
func (s *Server) sampleQueue(ctx context.Context) {
	st, err := s.status(ctx)
	if err != nil {
		return // a gap in the chart: the page draws none across it
	}
	s.hist.queue.add(QueuePoint{At: s.now(), Pending: st.Outbox.Pending})
	s.hist.progress = s.hist.backlog.observe(st.Outbox)
	s.encodeHistory()
}

// refreshHistory reads Config.History and encodes the history anew,
// when HistoryPeriod has passed since it last did: the queue chart's
// "now" moves on, with or without a Config.History.
func (s *Server) refreshHistory(ctx context.Context) {
	now := s.now()
	// A clock set back makes a read due at once, not an hour later.
	if since := now.Sub(s.hist.tried); !s.hist.tried.IsZero() && since >= 0 && since < HistoryPeriod {
		return
	}
	s.hist.tried = now
	if s.cfg.History != nil {
		hctx, cancel := context.WithTimeout(ctx, historyTimeout)
		h, err := s.cfg.History(hctx)
		cancel()
		if err != nil {
			s.hist.readErr = err.Error()
			s.log.Warn("staff: history", "err", err)
		} else {
			s.hist.last, s.hist.readAt, s.hist.readErr = h, s.now(), ""
		}
	}
	s.encodeHistory()
}

// encodeHistory puts the history frame together.
func (s *Server) encodeHistory() {
	now := s.now()
	h := historyJSON{At: now.UTC(), Error: s.hist.readErr, QueueEveryS: int(QueueSamplePeriod / time.Second)}
	if !s.hist.readAt.IsZero() {
		at := s.hist.readAt.UTC()
		h.ReadAt = &at
		h.Recent = make([]recentJSON, 0, len(s.hist.last.Recent))
		for _, r := range s.hist.last.Recent {
			h.Recent = append(h.Recent, recentJSON{At: r.At, When: whenLabel(r.At, now), Seq: r.Seq,
				Card: serialTail(r.SerialTail), Outcome: string(r.Outcome), Upload: uploadState(r)})
		}
		h.Hourly = make([]hourJSON, 0, len(s.hist.last.Hourly))
		for _, r := range s.hist.last.Hourly {
			h.Hourly = append(h.Hourly, hourJSON{Start: r.Start, Hour: r.Start.Format("15"), Count: r.Count,
				Now: !now.Before(r.Start) && now.Before(r.Start.Add(time.Hour))})
		}
	}
	pts := s.hist.queue.points()
	h.Queue = make([]queueJSON, 0, len(pts))
	for _, p := range pts {
		h.Queue = append(h.Queue, queueJSON{At: p.At.UTC(), Pending: p.Pending})
	}
	b, err := json.Marshal(h)
	if err != nil {
		panic(err) // strings, numbers and times: cannot fail
	}
	s.hist.encoded = b
}

// whenLabel is the time of a check-in for the list: its time of day when
// it is of now's day, with its date when not, in its own time zone (the
// kiosk's).
func whenLabel(at, now time.Time) string {
	ay, am, ad := at.Date()
	ny, nm, nd := now.In(at.Location()).Date()
	if ay == ny && am == nm && ad == nd {
		return at.Format("15:04")
	}
	return at.Format("Jan 2 15:04")
}

func uploadState(r RecentRow) string {
	switch {
	case r.Quarantined:
		return "set_aside"
	case r.Uploaded:
		return "sent"
	}
	return "pending"
}

// serialTailLen is how much of a card serial the dashboard shows.
const serialTailLen = 3

// serialTail makes sure the dashboard shows no more of a card serial
// than its last serialTailLen characters, after "…": a tail as the
// outbox cuts it ("…a1f", or "…" for a short serial) passes as it is;
// anything else is taken for a whole serial, cut as the outbox would
// (a serial shorter than twice the tail shows none of it).
func serialTail(s string) string {
	const ellipsis = "…"
	if rest, ok := strings.CutPrefix(s, ellipsis); ok && utf8.RuneCountInString(rest) <= serialTailLen {
		return s
	}
	r := []rune(s)
	if len(r) < 2*serialTailLen {
		return ellipsis
	}
	return ellipsis + string(r[len(r)-serialTailLen:])
}
