package upstream

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A kiosk may have two batches in flight at once (sync/API.md). Stored
// out of order, both are kept correctly, but the later batch's first
// record is a gap for an instant, and every record of the earlier batch is
// then looked up as possibly held already. So a batch waits, before it
// stores, while a batch of the same kiosk with lower seqs is being handled
// here, for at most maxTurnWait: a batch whose sender stalls does not hold
// up the next for long.
//
// This is an optimisation of one process, not what makes storing correct:
// a Store places the batches of one kiosk one after the other, each
// against what the one before stored, whichever process stores them
// (Store.Append; sync/upstream/postgres locks the kiosk's row), so replicas
// sharing a store, which cannot see each other's batches here, give the
// same answers, a gap noted for an instant at most.
const maxTurnWait = 2 * time.Second

// sequencer orders the storing of a kiosk's batches handled at once by
// their first seq.
type sequencer struct {
	mu      sync.Mutex
	active  map[string][]uint64 // per kiosk, the first seqs of the batches being handled
	changed chan struct{}       // closed when a batch leaves
}

// enter registers a batch of kioskID beginning at seq first; call the
// function it returns once the batch is stored (or failed).
func (q *sequencer) enter(kioskID string, first uint64) (leave func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active == nil {
		q.active = map[string][]uint64{}
		q.changed = make(chan struct{})
	}
	q.active[kioskID] = append(q.active[kioskID], first)
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		firsts := q.active[kioskID]
		if i := slices.Index(firsts, first); i >= 0 {
			firsts = slices.Delete(firsts, i, i+1)
		}
		if len(firsts) == 0 {
			delete(q.active, kioskID)
		} else {
			q.active[kioskID] = firsts
		}
		close(q.changed)
		q.changed = make(chan struct{})
	}
}

// waitTurn waits while a batch of kioskID beginning below first is being
// handled, for at most maxTurnWait, or until ctx ends.
func (q *sequencer) waitTurn(ctx context.Context, kioskID string, first uint64) {
	timeout := time.NewTimer(maxTurnWait)
	defer timeout.Stop()
	for {
		q.mu.Lock()
		earlier := slices.ContainsFunc(q.active[kioskID], func(s uint64) bool { return s < first })
		changed := q.changed
		q.mu.Unlock()
		if !earlier {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
