package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// Reason is the out-of-service reason of a Health error: the disk below
// the reserve, or commits that fail; "" for nil.
func Reason(err error) kiosk.Reason {
	var low *LowSpaceError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &low):
		return kiosk.ReasonStorageLow
	default:
		return kiosk.ReasonRecordFailed
	}
}

// Monitor keeps the kiosk out of service while its store cannot take a
// check-in: it asks Health every Every, and at once after a failed commit,
// and tells OutOfService the reason (or "" for in service). Back in
// service is by itself: when space returns, Health's probe write succeeds
// again. Set the fields, Check once before the first screen, then Run.
type Monitor struct {
	Store        *Store
	Every        time.Duration
	OutOfService func(kiosk.Reason) // the flow's SetOutOfService
	Log          *slog.Logger

	mu  sync.Mutex
	err error // why the store cannot take a check-in; nil when it can
}

// Run checks every Every and after each failed commit, until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.Store.Failed():
		}
		m.Check(ctx)
	}
}

// Check asks the store's Health now, logs a change, and tells OutOfService.
func (m *Monitor) Check(ctx context.Context) {
	err := m.Store.Health(ctx)
	if ctx.Err() != nil {
		return // shutting down: says nothing of the disk
	}
	m.mu.Lock()
	was := m.err
	m.err = err
	m.mu.Unlock()
	switch {
	case err != nil && Reason(err) != Reason(was):
		// Once a condition, not once a check: the free bytes in the
		// message change with every look.
		m.Log.Error("outbox cannot take check-ins: out of service", "err", err)
	case err == nil && was != nil:
		m.Log.Info("outbox can take check-ins again: back in service")
	}
	m.OutOfService(Reason(err))
}

// Err is why the store could not take a check-in at the last Check; nil
// when it could.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// CheckpointInterval is how often RunCheckpoints tidies an idle store.
const CheckpointInterval = 5 * time.Minute

// RunCheckpoints tidies the store (Checkpoint: purge, then checkpoint the
// WAL) every CheckpointInterval until ctx ends, only while idle says the
// kiosk is idle: a checkpoint (truncating, once a day) is the one write
// that may take long, and it must never delay a person's commit.
func (s *Store) RunCheckpoints(ctx context.Context, idle func() bool) error {
	t := time.NewTicker(CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !idle() {
			continue
		}
		if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("outbox checkpoint", "err", err)
		}
	}
}
