// Package kiosktest holds hand-written fakes of the kiosk package's
// interfaces, for tests anywhere in the module.
package kiosktest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Verifier answers Verify from a table of payloads; a payload not in the
// table is Malformed at the prefix stage.
type Verifier map[string]card.Result

var _ kiosk.CardVerifier = Verifier(nil)

// Verify implements kiosk.CardVerifier.
func (v Verifier) Verify(payload string, at time.Time) card.Result {
	if r, ok := v[payload]; ok {
		return r
	}
	return card.Result{Status: card.Malformed, Stage: card.StagePrefix, Err: fmt.Errorf("not in the fake's table")}
}

// Store keeps committed check-ins in memory. Set Err to make Commit fail.
type Store struct {
	mu       sync.Mutex
	Err      error
	CheckIns []kiosk.CheckIn
}

var _ kiosk.Store = (*Store)(nil)

// Commit implements kiosk.Store.
func (s *Store) Commit(ctx context.Context, c kiosk.CheckIn) (kiosk.Committed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return kiosk.Committed{}, s.Err
	}
	s.CheckIns = append(s.CheckIns, c)
	n := len(s.CheckIns)
	return kiosk.Committed{ID: fmt.Sprintf("fake-%d", n), Seq: uint64(n)}, nil
}

var _ kiosk.PriorLookup = (*Store)(nil)

// LastCheckIn implements kiosk.PriorLookup: the latest check-in of the same
// issuer and A-number on at's calendar day (in at's location).
func (s *Store) LastCheckIn(ctx context.Context, c card.Card, at time.Time) (kiosk.Prior, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	y, m, d := at.Date()
	for i := len(s.CheckIns) - 1; i >= 0; i-- {
		ci := s.CheckIns[i]
		cy, cm, cd := ci.At.In(at.Location()).Date()
		if ci.Card.Issuer == c.Issuer && ci.Card.ANumber == c.ANumber && cy == y && cm == m && cd == d {
			return kiosk.Prior{ID: fmt.Sprintf("fake-%d", i+1), Seq: uint64(i + 1), At: ci.At}, true, nil
		}
	}
	return kiosk.Prior{}, false, nil
}

// Len returns how many check-ins were committed.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.CheckIns)
}

// Sink records the views it is shown on a channel. Show never blocks: a
// full channel is a test bug, and Show panics rather than hide it.
type Sink struct {
	C chan kiosk.View
}

// NewSink returns a Sink with room for n views.
func NewSink(n int) *Sink { return &Sink{C: make(chan kiosk.View, n)} }

var _ kiosk.ViewSink = (*Sink)(nil)

// Show implements kiosk.ViewSink.
func (s *Sink) Show(v kiosk.View) {
	select {
	case s.C <- v:
	default:
		panic("kiosktest.Sink: channel full")
	}
}
