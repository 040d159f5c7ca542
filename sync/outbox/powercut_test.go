package outbox

// Power cuts under the outbox, simulated by the lossy VFS
// (sync/internal/lossyvfs): every write SQLite makes goes to the real file,
// and a crash takes back whatever was not synced, as a power cut does to a
// disk's cache. The store opens its writer and its readers through it
// (Options.VFS), with its own DSN otherwise. The tests are internal to reach
// the writer connection: to check integrity on it, make it checkpoint often,
// and, in the one that must lose check-ins, lower its synchronous setting.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/lossyvfs"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

const powerCutKiosk = "kiosk-pc"

var powerCutCard = card.Card{
	Issuer: "US-DHS-TEST", Serial: "0f1e2d3c4b5a6978",
	IssuedAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
	ANumber: "A208417385", FamilyName: "Quetzalcoatlova", GivenName: "Xiomarelly", DateOfBirth: "1987-11-23", Office: "SFR",
}

// lossyVFS registers a lossy VFS of the test's own, so tests cut the power
// of no one else's files.
func lossyVFS(t *testing.T) *lossyvfs.VFS {
	t.Helper()
	v, err := lossyvfs.New("lossy-" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	v.Recover()
	return v
}

// ledger is what the test knows of the check-ins: those whose Commit
// returned, and those it found in the store after a crash although their
// Commit failed (it was in flight when the power went; once found, a record
// is durable and must stay).
type ledger struct {
	present  map[string]uint64 // id → seq: confirmed or found
	inFlight int               // commits under way at a crash: at most this many extra records may appear
}

func (l *ledger) commit(t *testing.T, s *Store, at time.Time) error {
	c, err := s.Commit(context.Background(), kiosk.CheckIn{At: at, Outcome: kiosk.OutcomeCheckedIn, Card: powerCutCard})
	if err != nil {
		return err
	}
	if _, dup := l.present[c.ID]; dup {
		t.Errorf("Commit returned id %s twice", c.ID)
	}
	l.present[c.ID] = c.Seq
	return nil
}

// check verifies the reopened store: consistent, holding every check-in
// known present under its seq, seqs 1…n without a gap, signed and chained,
// and nothing else but records of commits that were
// in flight at a crash (which join the ledger).
func (l *ledger) check(t *testing.T, s *Store, when string) {
	t.Helper()
	ctx := context.Background()
	var res string
	if err := s.w.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v; want ok", when, res, err)
	}
	recs, err := s.Pending(ctx, 1<<30)
	if err != nil {
		t.Fatalf("%s: Pending: %v", when, err)
	}
	seen := map[string]bool{}
	var extra []string
	for i, r := range recs {
		if seen[r.ID] {
			t.Fatalf("%s: id %s twice in the store", when, r.ID)
		}
		seen[r.ID] = true
		if r.Seq != uint64(i+1) {
			t.Fatalf("%s: record #%d has seq %d; want %d (no gaps, in order)", when, i, r.Seq, i+1)
		}
		if seq, ok := l.present[r.ID]; !ok {
			extra = append(extra, r.ID)
		} else if seq != r.Seq {
			t.Fatalf("%s: record %s has seq %d; Commit said %d", when, r.ID, r.Seq, seq)
		}
	}
	// Every record is signed and chained to the one before.
	if err := wire.VerifyChain(DeviceForTest().Public(), 0, wire.GenesisPrev, recs); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	var lost int
	for id, seq := range l.present {
		if !seen[id] {
			lost++
			if lost <= 5 {
				t.Errorf("%s: confirmed check-in %s (seq %d) is gone", when, id, seq)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%s: %d of %d confirmed check-ins lost", when, lost, len(l.present))
	}
	if len(extra) > l.inFlight {
		t.Fatalf("%s: %d records no Commit returned; at most %d were in flight", when, len(extra), l.inFlight)
	}
	for _, id := range extra {
		l.present[id] = 0
	}
	for _, r := range recs {
		l.present[r.ID] = r.Seq
	}
	l.inFlight -= len(extra)
}

// openCrashable opens the store through v and makes it checkpoint often,
// so that crashes also land in checkpoints.
func openCrashable(t *testing.T, path string, v *lossyvfs.VFS) *Store {
	t.Helper()
	opts := OptionsForTest(powerCutKiosk)
	opts.VFS = v.Name()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("reopen after the power cut: %v", err)
	}
	if _, err := s.w.ExecContext(context.Background(), "PRAGMA wal_autocheckpoint = 8"); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPowerCut commits check-ins and cuts the power at random points:
// between commits, at an exact write or sync inside a commit or a
// checkpoint (torn or not), and from another goroutine while commits run.
// After each cut the store reopens consistent with every check-in whose
// Commit returned, and nothing more than the commit in flight. Set
// KIOSK_LONG=1 for many more cuts.
func TestPowerCut(t *testing.T) {
	v := lossyVFS(t)
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	rounds := 24
	if testenv.Long() {
		rounds = 400
	}
	path := filepath.Join(t.TempDir(), "state", "kiosk.db")
	l := &ledger{present: map[string]uint64{}}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	next := func() time.Time { at = at.Add(time.Second); return at }
	var kinds [3]int

	for round := range rounds {
		v.Recover()
		s := openCrashable(t, path, v)
		l.check(t, s, fmt.Sprintf("round %d, after reopening", round))

		kind := round % 3
		kinds[kind]++
		keep := 0.0
		if rng.IntN(2) == 0 {
			keep = rng.Float64() // torn: some unsynced sectors survive
		}
		switch kind {
		case 0: // between commits
			for range rng.IntN(6) {
				if err := l.commit(t, s, next()); err != nil {
					t.Fatalf("round %d: Commit before the cut: %v", round, err)
				}
			}
			if err := v.CrashTorn(rng.Uint64(), keep); err != nil {
				t.Fatal(err)
			}
		case 1: // at an exact disk operation, inside a commit or a checkpoint
			// A first commit counts the disk operations of one; the
			// first time, the cut comes at the next one's last (its
			// sync, when its writes are all made and none is synced).
			before := v.Stats().Ops
			if err := l.commit(t, s, next()); err != nil {
				t.Fatalf("round %d: Commit before the cut: %v", round, err)
			}
			per := v.Stats().Ops - before
			target := v.Stats().Ops + per
			if kinds[1] > 1 {
				target = v.Stats().Ops + 1 + rng.Int64N(4*per)
			}
			v.CrashAt(target, rng.Uint64(), keep)
			for {
				if err := l.commit(t, s, next()); err != nil {
					l.inFlight++
					break
				}
			}
			if err := v.Stats().CrashErr; err != nil {
				t.Fatal(err)
			}
		case 2: // from another goroutine, during commits
			done := make(chan struct{})
			go func() {
				defer close(done)
				for l.commit(t, s, next()) == nil {
				}
			}()
			target := v.Stats().Ops + 1 + rng.Int64N(60)
			deadline := time.Now().Add(30 * time.Second)
			for v.Stats().Ops < target {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: commits made no disk operations in 30s", round)
				}
			}
			if err := v.CrashTorn(rng.Uint64(), keep); err != nil {
				t.Fatal(err)
			}
			<-done
			l.inFlight++ // the commit that failed may or may not have made it
		}
		s.Close() // fails: the power is gone; Close only releases
		if st := v.Stats(); st.OpenFiles != 0 {
			t.Fatalf("round %d: %d files still open through the VFS after Close", round, st.OpenFiles)
		}
	}

	// Power back, the real VFS: what a rebooted kiosk finds.
	v.Recover()
	s, err := Open(path, OptionsForTest(powerCutKiosk))
	if err != nil {
		t.Fatalf("open through the real VFS: %v", err)
	}
	defer s.Close()
	l.check(t, s, "after the last cut, through the real VFS")
	st := v.Stats()
	t.Logf("%d power cuts (%d between commits, %d at a disk operation, %d from another goroutine), %d of them with unsynced writes to take back; %d check-ins, all there",
		st.Crashes, kinds[0], kinds[1], kinds[2], st.RevertedFiles, len(l.present))
	if st.RevertedFiles == 0 {
		t.Error("no crash had unsynced writes to take back: the test cut nothing that mattered")
	}
}

// TestPowerCutWithoutFullSyncLosesCheckIns is the proof that TestPowerCut
// can fail: the same store and the same power cut, but with the writer's
// synchronous setting lowered, so commits return before the WAL is synced.
// Confirmed check-ins must then be lost; if they were not, the VFS would
// not be dropping unsynced writes and TestPowerCut would prove nothing.
func TestPowerCutWithoutFullSyncLosesCheckIns(t *testing.T) {
	v := lossyVFS(t)
	for _, mode := range []string{"OFF", "NORMAL"} {
		t.Run(mode, func(t *testing.T) {
			v.Recover()
			path := filepath.Join(t.TempDir(), "kiosk.db")
			s := openCrashable(t, path, v)
			if _, err := s.w.ExecContext(context.Background(), "PRAGMA synchronous = "+mode); err != nil {
				t.Fatal(err)
			}
			l := &ledger{present: map[string]uint64{}}
			for i := range 20 {
				if err := l.commit(t, s, time.Now()); err != nil {
					t.Fatalf("Commit #%d: %v", i, err)
				}
			}
			if err := v.Crash(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			v.Recover()
			s = openCrashable(t, path, v)
			defer s.Close()
			recs, err := s.Pending(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) >= len(l.present) {
				t.Fatalf("synchronous=%s: %d of %d confirmed check-ins survived the power cut; want some lost (does the VFS drop unsynced writes?)",
					mode, len(recs), len(l.present))
			}
			t.Logf("synchronous=%s: %d of %d confirmed check-ins lost, as expected", mode, len(l.present)-len(recs), len(l.present))
		})
	}
}

// TestDiskFullKeepsWhatItHas: when the disk fills up (or fails) under a
// commit, the commit fails and nothing is corrupted or lost; once space
// returns, commits resume with the next seq.
func TestDiskFullKeepsWhatItHas(t *testing.T) {
	v := lossyVFS(t)
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s := openCrashable(t, path, v)
	defer s.Close()
	l := &ledger{present: map[string]uint64{}}
	for range 5 {
		if err := l.commit(t, s, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		fail func(int)
		code int
	}{
		{"full on write", v.FailWrites, lossyvfs.Full},
		{"I/O error on write", v.FailWrites, lossyvfs.IOErrWrite},
		{"I/O error on sync", v.FailSyncs, lossyvfs.IOErrFsync},
	} {
		tc.fail(tc.code)
		for range 3 {
			if err := l.commit(t, s, time.Now()); err == nil {
				t.Errorf("%s: Commit succeeded", tc.name)
			}
		}
		tc.fail(lossyvfs.NoErr)
		// A failed sync leaves frames in the WAL that no commit marks:
		// they are not a check-in, and the next commit overwrites them.
		l.check(t, s, tc.name)
		for range 2 {
			if err := l.commit(t, s, time.Now()); err != nil {
				t.Fatalf("%s: Commit once the disk is back: %v", tc.name, err)
			}
		}
	}
	s.Close()
	s = openCrashable(t, path, v)
	l.check(t, s, "after reopening")
	if st := v.Stats(); st.FailedWrites == 0 || st.FailedSyncs == 0 {
		t.Errorf("stats %+v: the faults were never hit", st)
	}
}
