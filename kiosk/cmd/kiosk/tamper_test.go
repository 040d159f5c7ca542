package main

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// TestTamperDetected: check-ins queue at a kiosk whose upstream is down;
// with the kiosk stopped, someone edits its database file with SQLite
// directly (as anyone holding the SD card could); when the upstream is back,
// it must see it: a record altered fails its signature, a record deleted
// from the middle leaves a gap in the chain. Untouched, the same run shows
// nothing, so the detection is not noise. (A tail deleted before any of it
// was uploaded or announced in a heartbeat cannot be seen by anyone: the
// kiosk's signed heads are what make a later deletion visible.)
func TestTamperDetected(t *testing.T) {
	bin := buildKiosk(t)
	kit := testKit(t)
	for _, tc := range []struct {
		name   string
		tamper string // SQL run on the kiosk's database
	}{
		{"untouched", ""},
		{"altered", "UPDATE checkins SET serial = 'c0a5ffffffffffff' WHERE seq = 3"},
		{"deleted", "DELETE FROM checkins WHERE seq = 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upDir := t.TempDir()
			up := startUpstreamProc(t, bin, upDir)
			k := &kioskProcs{t: t, bin: bin, kit: kit, state: t.TempDir(), up: up}
			up.enroll(t, k.state, k.kioskID())
			k.starts = 1 // enrolled
			addr := up.addr
			up.stop() // the upstream is down: check-ins queue

			k.start()
			cs := newCards(t, kit)
			const total = 6
			for i := range total {
				if res, err := checkInOnce(t, k.cur.addr, cs.next(t), killNone, 0, nil); err != nil || res.code == "" {
					t.Fatalf("check-in #%d: %+v, %v", i, res, err)
				}
			}
			k.cur.stop()

			if tc.tamper != "" {
				db, err := sql.Open("sqlite3", (&url.URL{Scheme: "file", Path: filepath.Join(k.state, "kiosk.db")}).String())
				if err != nil {
					t.Fatal(err)
				}
				res, err := db.Exec(tc.tamper)
				if err != nil {
					t.Fatalf("tamper: %v", err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Fatalf("tamper changed %d rows; want 1", n)
				}
				db.Close()
			}

			up = startUpstreamProc(t, bin, upDir, "--listen", addr)
			k.start()
			deadline := time.Now().Add(time.Minute)
			for {
				pending, _, err := k.outbox()
				if err == nil && pending == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("kiosk still has %d pending after a minute (%v)\n%s", pending, err, k.cur.output())
				}
				time.Sleep(20 * time.Millisecond) // polling, with the deadline above
			}

			st := up.stats(t)
			detected := st.Gaps + st.Forks + st.Rejected
			t.Logf("upstream stats after upload: %+v", st)
			switch {
			case tc.tamper == "" && detected != 0:
				t.Errorf("untouched database: upstream reports gaps/forks/rejected %d; want 0", detected)
			case tc.tamper == "" && st.CheckIns != int64(total):
				t.Errorf("untouched database: upstream holds %d; want %d", st.CheckIns, total)
			case tc.tamper != "" && detected == 0:
				t.Errorf("%s record: the upstream reports no gap, fork or rejection", tc.name)
			}
			// The kiosk's heartbeat (sent after its upload): its head is
			// held, and with a record missing below it the upstream says so.
			want := wire.HeadInSync
			if tc.tamper != "" {
				want = wire.HeadGaps
			}
			got := headState(st)
			for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); got = headState(up.stats(t)) {
				time.Sleep(20 * time.Millisecond) // polling, with the deadline above
			}
			if got != want {
				t.Errorf("%s record: the upstream's heartbeat state %q; want %q", tc.name, got, want)
			}
		})
	}
}

// headState returns the state of the first kiosk's heartbeat in the
// upstream's stats, "" before any.
func headState(st upstream.StatsReport) string {
	if len(st.Heads) == 0 {
		return ""
	}
	return st.Heads[0].State
}
