package outbox_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York wherever the tests run

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
)

// withSerial is testCard with another serial.
func withSerial(serial string) kiosk.CheckIn {
	c := testCard
	c.Serial = serial
	return kiosk.CheckIn{Outcome: kiosk.OutcomeCheckedIn, Card: c}
}

// TestRecent: the newest records, newest first, with their upload state
// and no more of the serial than its last three characters.
func TestRecent(t *testing.T) {
	ctx := context.Background()
	loc := time.FixedZone("UTC-5", -5*3600)
	opts := options()
	opts.Location = loc
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	if got, err := s.Recent(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Recent(10) of an empty store = %v, %v; want none", got, err)
	}

	base := time.Date(2026, 5, 6, 14, 0, 0, 0, time.UTC)
	serials := []string{"0f1e2d3c4b5a6978", "short", "sixsix", "ÄÖÜ-ñáé", "a1b2c3d4e5"}
	var ids []string
	for i, serial := range serials {
		c := commitCard(t, s, base.Add(time.Duration(i)*time.Minute), withSerial(serial).Card)
		ids = append(ids, c.ID)
	}
	if err := s.Ack(ctx, []string{ids[0], ids[2]}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(ctx, ids[3], "bad signature"); err != nil {
		t.Fatal(err)
	}

	got, err := s.Recent(ctx, 100)
	if err != nil {
		t.Fatalf("Recent(100) = %v", err)
	}
	want := []outbox.RecentCheckIn{
		{At: base.Add(4 * time.Minute), Seq: 5, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…4e5"},
		{At: base.Add(3 * time.Minute), Seq: 4, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…ñáé", Quarantined: true},
		{At: base.Add(2 * time.Minute), Seq: 3, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…six", Uploaded: true},
		{At: base.Add(1 * time.Minute), Seq: 2, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…"}, // "short": too short to show any of
		{At: base, Seq: 1, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…978", Uploaded: true},
	}
	if len(got) != len(want) {
		t.Fatalf("Recent(100) = %d records; want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) || g.At.Location() != loc || g.Seq != w.Seq || g.Outcome != w.Outcome ||
			g.SerialTail != w.SerialTail || g.Uploaded != w.Uploaded || g.Quarantined != w.Quarantined {
			t.Errorf("Recent(100)[%d] = %+v; want %+v, in the kiosk's time zone", i, g, w)
		}
	}

	if got, err := s.Recent(ctx, 2); err != nil || len(got) != 2 || got[0].Seq != 5 || got[1].Seq != 4 {
		t.Errorf("Recent(2) = %+v, %v; want seq 5 and 4", got, err)
	}
	if got, err := s.Recent(ctx, 0); err != nil || got != nil {
		t.Errorf("Recent(0) = %+v, %v; want nil", got, err)
	}
}

// TestRecentHoldsNothingPersonal: what Recent returns, as the dashboard
// would send it, holds no name, A-number or date of birth, and no more of
// the serial than its last three characters.
func TestRecentHoldsNothingPersonal(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	commit(t, s, time.Now())
	got, err := s.Recent(context.Background(), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("Recent(10) = %v, %v; want one record", got, err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	tail := testCard.Serial[len(testCard.Serial)-outbox.SerialTailLen:]
	if !strings.Contains(string(b), tail) {
		t.Errorf("Recent = %s; want the serial's tail %q", b, tail)
	}
	for _, secret := range []string{testCard.ANumber, testCard.FamilyName, testCard.GivenName, testCard.DateOfBirth,
		testCard.Serial[len(testCard.Serial)-outbox.SerialTailLen-1:]} {
		if strings.Contains(string(b), secret) {
			t.Errorf("Recent = %s; holds %q", b, secret)
		}
	}
}

// TestCountsByHour: every hour of the day, zero or not, each record in
// the hour of its wall time in the kiosk's time zone, none of another day.
func TestCountsByHour(t *testing.T) {
	ctx := context.Background()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	opts := options()
	opts.Location = loc
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	day := time.Date(2026, 5, 6, 0, 0, 0, 0, loc)
	at := func(h, m, sec, ns int) time.Time { return time.Date(2026, 5, 6, h, m, sec, ns, loc) }

	for _, t0 := range []time.Time{
		day.Add(-time.Nanosecond), // the day before: not counted
		at(8, 59, 59, 999999999),
		at(9, 0, 0, 0),
		at(9, 30, 0, 0),
		at(13, 15, 0, 0),
		day.Add(-time.Hour), // the clock stepped back to yesterday: not counted, and the scan goes on
		at(14, 0, 0, 0),
		at(23, 59, 59, 0),
		day.Add(24 * time.Hour), // the next day: not counted
	} {
		commit(t, s, t0)
	}

	got, err := s.CountsByHour(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatalf("CountsByHour = %v", err)
	}
	want := map[int]int{8: 1, 9: 2, 13: 1, 14: 1, 23: 1}
	if len(got) != 24 {
		t.Fatalf("CountsByHour(the day) = %d hours; want 24", len(got))
	}
	for i, h := range got {
		if wantStart := day.Add(time.Duration(i) * time.Hour); !h.Start.Equal(wantStart) || h.Start.Location() != loc {
			t.Errorf("hour %d starts %v; want %v, in the kiosk's time zone", i, h.Start, wantStart)
		}
		if h.Count != want[i] {
			t.Errorf("hour %d (%s) count = %d; want %d", i, h.Start.Format("15:04"), h.Count, want[i])
		}
	}

	// From the middle of an hour: that hour whole; to the middle of
	// one: that hour cut at to.
	got, err = s.CountsByHour(ctx, at(9, 15, 0, 0), at(13, 10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	counts := []int{}
	for _, h := range got {
		counts = append(counts, h.Count)
	}
	if len(got) != 5 || !got[0].Start.Equal(at(9, 0, 0, 0)) || !slices.Equal(counts, []int{2, 0, 0, 0, 0}) {
		t.Errorf("CountsByHour(09:15, 13:10) = %v from %v; want [2 0 0 0 0] from 09:00", counts, got[0].Start)
	}

	if got, err := s.CountsByHour(ctx, day, day); err != nil || got != nil {
		t.Errorf("CountsByHour(from, from) = %v, %v; want nil", got, err)
	}
	if _, err := s.CountsByHour(ctx, day, day.AddDate(0, 2, 0)); err == nil {
		t.Errorf("CountsByHour(two months) = nil error; want one")
	}
}

// TestCountsByHourClocksGoBack: the day the clocks go back has 25 hours,
// two of them 01:00, each with its own check-ins.
func TestCountsByHourClocksGoBack(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	opts := options()
	opts.Location = loc
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	firstOne := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)  // 01:30 EDT
	secondOne := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC) // 01:30 EST
	commit(t, s, firstOne)
	commit(t, s, secondOne)
	commit(t, s, secondOne)

	got, err := s.CountsByHour(context.Background(), day, time.Date(2026, 11, 2, 0, 0, 0, 0, loc))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Fatalf("CountsByHour(2026-11-01 in New York) = %d hours; want 25", len(got))
	}
	if got[1].Start.Hour() != 1 || got[2].Start.Hour() != 1 || got[1].Count != 1 || got[2].Count != 2 || got[3].Start.Hour() != 2 {
		t.Errorf("hours 1-3 = %+v; want 01:00 (1), 01:00 again (2), 02:00", got[1:4])
	}
}
