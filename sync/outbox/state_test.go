package outbox_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s := open(t, path)
	if v, ok, err := s.GetState(ctx, "lists.trust.seq"); ok || err != nil || v != "" {
		t.Errorf("GetState(unset) = %q, %v, %v; want \"\", false, nil", v, ok, err)
	}
	if err := s.PutState(ctx, "lists.trust.seq", "3"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutState(ctx, "lists.trust.seq", "4"); err != nil {
		t.Fatal(err)
	}
	trusted := time.Date(2026, 12, 1, 9, 30, 0, 123, time.UTC)
	if err := s.SaveTrustedTime(ctx, trusted); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	if v, ok, err := s.GetState(ctx, "lists.trust.seq"); v != "4" || !ok || err != nil {
		t.Errorf("GetState after reopen = %q, %v, %v; want 4, true, nil", v, ok, err)
	}
	if got, err := s.LoadTrustedTime(ctx); err != nil || !got.Equal(trusted) {
		t.Errorf("LoadTrustedTime() = %v, %v; want %v", got, err, trusted)
	}
}

func TestRecordCarriesClockState(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	for _, state := range []kiosk.ClockState{kiosk.ClockSynced, kiosk.ClockImplausible, ""} {
		if _, err := s.Commit(ctx, kiosk.CheckIn{At: time.Now(), Clock: state, Outcome: kiosk.OutcomeCheckedIn, Card: testCard}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Clock)
	}
	if want := []string{"synced", "implausible", "unsynced"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("record clocks = %v; want %v (an unset state is unsynced)", got, want)
	}
}
