package outbox

// Health on a real full disk (a tmpfs the test fills) and on a store whose
// writes fail (the lossy VFS). Internal, for the ledger of powercut_test.go,
// which checks that nothing confirmed is lost and no seq is skipped.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir/statedirtest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/lossyvfs"
	"github.com/mattn/go-sqlite3"
)

// signalled reports whether ch holds a signal, taking it.
func signalled(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// probed reports whether Health has written its probe into s.
func probed(t *testing.T, s *Store) bool {
	t.Helper()
	_, ok, err := s.GetState(context.Background(), stateProbe)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func wantLowSpace(t *testing.T, err error, dir string, maxFree, reserve uint64) {
	t.Helper()
	low, ok := errors.AsType[*LowSpaceError](err)
	if !ok {
		t.Fatalf("Health() = %v; want a *LowSpaceError", err)
	}
	if low.Dir != dir || low.Free > maxFree || low.Reserve != reserve {
		t.Errorf("Health() = %+v; want dir %s, at most %d bytes free, reserve %d", low, dir, maxFree, reserve)
	}
}

// TestHealthOnFullDisk fills the store's file system: Health says so, the
// commits fail once the WAL laid out ahead is full (and signal Failed), and
// nothing recorded is lost. When the space returns, Health's probe write
// clears the failure by itself and commits resume with the next seq.
func TestHealthOnFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := statedirtest.Tmpfs(t, 2<<20)
	path := filepath.Join(dir, "kiosk.db")
	opts := OptionsForTest(powerCutKiosk)
	opts.Reserve = 1 // only a full disk is low
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	l := &ledger{present: map[string]uint64{}}
	for range 5 {
		if err := l.commit(t, s, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := s.Health(ctx); err != nil {
			t.Fatalf("Health() with room = %v; want nil", err)
		}
	}
	if probed(t, s) {
		t.Errorf("Health() wrote its probe with nothing failed; it should only measure")
	}

	filler := statedirtest.Fill(t, dir, 0)
	wantLowSpace(t, s.Health(ctx), dir, 0, 1)

	// A commit needs no new space while the WAL has room: they go on,
	// durably, and then fail.
	var failed error
	var n int
	for ; n < 10000 && failed == nil; n++ {
		failed = l.commit(t, s, time.Now())
	}
	if failed == nil {
		t.Fatalf("%d commits succeeded on a full disk", n)
	}
	t.Logf("%d commits on the full disk before one failed: %v", n-1, failed)
	if se, ok := errors.AsType[sqlite3.Error](failed); !ok || se.Code != sqlite3.ErrFull {
		t.Errorf("Commit on a full disk = %v; want SQLITE_FULL", failed)
	}
	if !signalled(s.Failed()) {
		t.Errorf("Failed() not signalled after a failed commit")
	}
	for range 3 {
		if err := l.commit(t, s, time.Now()); err == nil {
			t.Fatal("Commit succeeded on a full disk after one failed")
		}
	}
	if !signalled(s.Failed()) || signalled(s.Failed()) {
		t.Errorf("Failed() after three more failures: want one signal, standing for all")
	}
	if s.LastError() == nil {
		t.Errorf("LastError() = nil after failed commits")
	}
	wantLowSpace(t, s.Health(ctx), dir, 0, 1)
	l.check(t, s, "on the full disk")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("Health() once space returned = %v; want nil (the probe commits)", err)
	}
	if !probed(t, s) {
		t.Errorf("Health() cleared the failure without its probe write")
	}
	if err := s.LastError(); err != nil {
		t.Errorf("LastError() after Health's probe succeeded = %v; want nil", err)
	}
	if err := l.commit(t, s, time.Now()); err != nil {
		t.Fatalf("Commit once space returned: %v", err)
	}
	if signalled(s.Failed()) {
		t.Errorf("Failed() signalled after a good commit")
	}
	l.check(t, s, "after space returned")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, opts); err != nil {
		t.Fatal(err)
	}
	l.check(t, s, "reopened")
}

// TestHealthLowSpace: free space below the reserve, but not none, is
// reported before any commit fails; the commit of a person who already
// confirmed is still taken.
func TestHealthLowSpace(t *testing.T) {
	ctx := context.Background()
	dir := statedirtest.Tmpfs(t, 4<<20)
	opts := OptionsForTest(powerCutKiosk)
	const reserve = 1 << 20
	opts.Reserve = reserve
	s, err := Open(filepath.Join(dir, "kiosk.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Health(ctx); err != nil {
		t.Fatalf("Health() with room = %v; want nil", err)
	}
	filler := statedirtest.Fill(t, dir, reserve/2)
	err = s.Health(ctx)
	wantLowSpace(t, err, dir, reserve/2, reserve)
	if low, _ := errors.AsType[*LowSpaceError](err); low == nil || low.Free == 0 {
		t.Errorf("Health() = %v; want some space left", err)
	}
	if _, err := s.Commit(ctx, kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn, Card: powerCutCard}); err != nil {
		t.Errorf("Commit below the reserve = %v; want it taken", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("Health() once space returned = %v; want nil", err)
	}
	if probed(t, s) {
		t.Errorf("Health() wrote its probe with nothing failed")
	}
}

// TestHealthProbe: a store whose writes fail (SQLITE_FULL from the VFS,
// with the disk's free space above the reserve) is reported by Health as a
// *CommitError, as long as its probe write fails too, and no longer once it
// succeeds.
func TestHealthProbe(t *testing.T) {
	ctx := context.Background()
	v := lossyVFS(t)
	opts := OptionsForTest(powerCutKiosk)
	opts.VFS = v.Name()
	opts.Reserve = 1
	s, err := Open(filepath.Join(t.TempDir(), "kiosk.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &ledger{present: map[string]uint64{}}
	if err := l.commit(t, s, time.Now()); err != nil {
		t.Fatal(err)
	}

	v.FailWrites(lossyvfs.Full)
	if err := l.commit(t, s, time.Now()); err == nil {
		t.Fatal("Commit succeeded while writes fail")
	}
	last := s.LastError()
	for range 2 { // the probe is tried each time, and fails each time
		err := s.Health(ctx)
		ce, ok := errors.AsType[*CommitError](err)
		if !ok {
			t.Fatalf("Health() after a failed commit, writes failing = %v; want a *CommitError", err)
		}
		if ce.Err != last || ce.Probe == nil {
			t.Errorf("Health() = %+v; want the commit's error %v and the probe's", ce, last)
		}
		if se, ok := errors.AsType[sqlite3.Error](err); !ok || se.Code != sqlite3.ErrFull {
			t.Errorf("Health() = %v; want it to wrap SQLITE_FULL", err)
		}
	}
	if s.LastError() == nil {
		t.Errorf("LastError() = nil while the probe fails")
	}

	v.FailWrites(lossyvfs.NoErr)
	if err := s.Health(ctx); err != nil {
		t.Fatalf("Health() once writes succeed = %v; want nil", err)
	}
	if err := s.LastError(); err != nil {
		t.Errorf("LastError() after the probe succeeded = %v; want nil", err)
	}
	if err := l.commit(t, s, time.Now()); err != nil {
		t.Fatal(err)
	}
	l.check(t, s, "after the writes came back")
}
