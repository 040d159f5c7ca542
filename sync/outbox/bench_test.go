package outbox_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// BenchmarkCommit commits check-ins as the flow does: one at a time, each
// durable before the next. Compare with BenchmarkFsyncFloor, run on the same
// disk (both use the benchmark's temporary directory; set TMPDIR to measure
// another disk). The target is at most 1.3× the floor.
func BenchmarkCommit(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "kiosk.db"))
	ctx := context.WithoutCancel(context.Background())
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Commit(ctx, kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn, Card: testCard}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFsyncFloor appends a record the size of a committed check-in to a
// file and fsyncs it: the least any durable commit can cost on this disk.
func BenchmarkFsyncFloor(b *testing.B) {
	// A committed record as it is uploaded: sealed, chained and signed.
	// Its JSON is larger than its row (base64), so the floor errs high.
	s := open(b, filepath.Join(b.TempDir(), "kiosk.db"))
	commit(b, s, time.Now())
	rec, err := json.Marshal(pending(b, s)[0])
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	rec = append(rec, '\n')
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// pairBlock is how many commits, then how many floor appends,
// BenchmarkCommitVsFloor runs in turn.
const pairBlock = 50

// BenchmarkCommitVsFloor measures BenchmarkCommit against
// BenchmarkFsyncFloor in one run: each iteration is a block of pairBlock
// commits followed by a block of pairBlock appends and fsyncs of a record the
// size of a committed check-in, on the same disk. A virtual disk's fsync can
// take half as long again from one minute to the next, so two benchmarks run
// minutes apart compare moods of the disk as much as code; blocks that take
// turns share the disk's mood. It reports both times per operation and
// their ratio, x-floor (the target is at most 1.3).
func BenchmarkCommitVsFloor(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "kiosk.db"))
	ctx := context.WithoutCancel(context.Background())
	// The floor's record is the first committed one, as BenchmarkFsyncFloor
	// makes it.
	commit(b, s, time.Now())
	rec, err := json.Marshal(pending(b, s)[0])
	if err != nil {
		b.Fatal(err)
	}
	rec = append(rec, '\n')
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var commits, floors time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		for range pairBlock {
			if _, err := s.Commit(ctx, kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn, Card: testCard}); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range pairBlock {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		commits += mid.Sub(start)
		floors += time.Since(mid)
		n += pairBlock
	}
	b.ReportMetric(float64(commits.Microseconds())/float64(n), "commit-µs/op")
	b.ReportMetric(float64(floors.Microseconds())/float64(n), "floor-µs/op")
	b.ReportMetric(float64(commits)/float64(floors), "x-floor")
}
