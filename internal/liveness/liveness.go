// Package liveness tells a daemon's watchdog whether its loops still
// turn. A loop is either waiting (in its select, for work, a timer or its
// context) or busy since some instant; a loop busy for longer than its
// limit is stuck, and the daemon stops pinging systemd's watchdog, which
// then restarts it (kioskd.service's WatchdogSec).
//
// Waiting is never stuck, however long: a select on a context cannot
// hang. What hangs is work: a commit that never returns, a request with
// no deadline, a send to a loop that no longer reads. So a loop marks
// itself Busy when it leaves its select and Idle when it returns to it,
// and marks Busy again at each step of long work (each batch of an
// upload), which renews its time.
package liveness

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Loop is one loop as the watchdog sees it. The zero Loop is not usable:
// make one with New. A nil *Loop does nothing, so a part can hold one
// that its wiring may leave unset.
type Loop struct {
	name  string
	limit time.Duration
	now   func() time.Time
	since atomic.Int64 // UnixNano busy since; 0 while waiting
}

// New returns a waiting Loop called name (for the log), stuck once busy
// for longer than limit.
func New(name string, limit time.Duration) *Loop {
	return &Loop{name: name, limit: limit, now: time.Now}
}

// Busy says the loop is at work from now on; called again, it says the
// work made progress, and its time starts again.
func (l *Loop) Busy() {
	if l != nil {
		l.since.Store(l.now().UnixNano())
	}
}

// Idle says the loop is back waiting.
func (l *Loop) Idle() {
	if l != nil {
		l.since.Store(0)
	}
}

// Check returns an error naming the loop if it has been busy for longer
// than its limit at now, and nil otherwise.
func (l *Loop) Check(now time.Time) error {
	if l == nil {
		return nil
	}
	since := l.since.Load()
	if since == 0 {
		return nil
	}
	if busy := now.Sub(time.Unix(0, since)); busy > l.limit {
		return fmt.Errorf("%s loop stuck: busy for %s (limit %s)", l.name, busy.Round(time.Millisecond), l.limit)
	}
	return nil
}

// Set is the loops a watchdog watches.
type Set []*Loop

// Check returns every stuck loop's error, joined, or nil when none is.
func (s Set) Check(now time.Time) error {
	var errs []error
	for _, l := range s {
		errs = append(errs, l.Check(now))
	}
	return errors.Join(errs...)
}
