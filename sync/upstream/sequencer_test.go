package upstream

import (
	"context"
	"testing"
	"time"
)

func TestSequencerOrdersAKiosksBatches(t *testing.T) {
	var q sequencer
	leaveFirst := q.enter("k1", 1)
	leaveSecond := q.enter("k1", 501)
	defer leaveSecond()
	leaveOther := q.enter("k2", 1)
	defer leaveOther()

	turn := func(kiosk string, first uint64) chan struct{} {
		done := make(chan struct{})
		go func() { q.waitTurn(context.Background(), kiosk, first); close(done) }()
		return done
	}
	// The first batch of a kiosk and another kiosk's batch go at once.
	for _, ch := range []chan struct{}{turn("k1", 1), turn("k2", 1)} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatal("a batch with no earlier batch of its kiosk waited")
		}
	}
	// The second waits for the first.
	second := turn("k1", 501)
	select {
	case <-second:
		t.Fatal("the second batch of a kiosk stored while its first was being handled")
	case <-time.After(100 * time.Millisecond):
	}
	leaveFirst()
	select {
	case <-second:
	case <-time.After(time.Second):
		t.Fatal("the second batch still waits after the first left")
	}
}
