package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// testCard carries personal data that must never reach the file.
var testCard = card.Card{
	Issuer:      "US-DHS-TEST",
	Serial:      "0f1e2d3c4b5a6978",
	IssuedAt:    time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
	ExpiresAt:   time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
	ANumber:     "A208417385",
	FamilyName:  "Quetzalcoatlova",
	GivenName:   "Xiomarelly",
	DateOfBirth: "1987-11-23",
	Office:      "SFR",
}

func options() outbox.Options { return outbox.OptionsForTest("kiosk-01") }

// Shorthands for the keys OptionsForTest uses.
var (
	testDevice  = outbox.DeviceForTest
	testSealKey = outbox.SealKeyForTest
)

func open(t testing.TB, path string) *outbox.Store {
	t.Helper()
	return openWith(t, path, options())
}

func openWith(t testing.TB, path string, opts outbox.Options) *outbox.Store {
	t.Helper()
	s, err := outbox.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t testing.TB, s *outbox.Store, at time.Time) kiosk.Committed {
	t.Helper()
	return commitCard(t, s, at, testCard)
}

func commitCard(t testing.TB, s *outbox.Store, at time.Time, c card.Card) kiosk.Committed {
	t.Helper()
	got, err := s.Commit(context.Background(), kiosk.CheckIn{At: at, Outcome: kiosk.OutcomeCheckedIn, Card: c})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return got
}

func pending(t testing.TB, s *outbox.Store) []wire.Record {
	t.Helper()
	recs, err := s.Pending(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// verifyChain checks that recs are the store's records from seq 1, intact.
func verifyChain(t testing.TB, recs []wire.Record) {
	t.Helper()
	if err := wire.VerifyChain(testDevice().Public(), 0, wire.GenesisPrev, recs); err != nil {
		t.Errorf("VerifyChain(records) = %v; want nil", err)
	}
}

func TestCommitSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "kiosk.db")
	s := open(t, path)
	at := time.Date(2026, 3, 4, 9, 15, 30, 123456789, time.UTC)
	c := commit(t, s, at)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	recs, err := s.Pending(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("Pending after reopen = %d records; want 1", len(recs))
	}
	r := recs[0]
	if r.ID != c.ID || r.Seq != c.Seq || r.Seq != 1 || r.KioskID != "kiosk-01" || !r.At.Equal(at) ||
		r.Outcome != "checked_in" || r.Issuer != testCard.Issuer || r.Serial != testCard.Serial {
		t.Errorf("Pending()[0] = %+v; want id %s seq 1 at %v and the card's issuer and serial", r, c.ID, at)
	}
	if r.BootID != device.BootID() || r.Mono <= 0 {
		t.Errorf("Pending()[0] boot id %q, mono %d; want %q and positive", r.BootID, r.Mono, device.BootID())
	}
	p, err := wire.Open(testSealKey(), r.KioskID, r.ID, r.Sealed)
	want := wire.Person{ANumber: testCard.ANumber, FamilyName: testCard.FamilyName, GivenName: testCard.GivenName,
		DateOfBirth: testCard.DateOfBirth, Office: testCard.Office}
	if err != nil || p != want {
		t.Errorf("wire.Open(Pending()[0].Sealed) = %+v, %v; want %+v", p, err, want)
	}
	verifyChain(t, recs)
	if c2 := commit(t, s, at); c2.Seq != 2 {
		t.Errorf("seq after reopen = %d; want 2", c2.Seq)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "kiosk.db")
	s := open(t, path)
	commit(t, s, time.Now())
	for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v; want %v", filepath.Base(name), got, want)
		}
	}
}

func TestSeqIncreases(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	var last kiosk.Committed
	for i := range 5 {
		c := commit(t, s, time.Now())
		if c.Seq != uint64(i+1) {
			t.Errorf("Commit #%d: seq = %d; want %d", i+1, c.Seq, i+1)
		}
		if i > 0 && c.ID <= last.ID {
			t.Errorf("Commit #%d: id %s does not sort after %s", i+1, c.ID, last.ID)
		}
		last = c
	}
}

func TestChanged(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	select {
	case <-s.Changed():
		t.Fatal("Changed signalled before any commit")
	default:
	}
	commit(t, s, time.Now())
	commit(t, s, time.Now()) // does not block on the full channel
	select {
	case <-s.Changed():
	default:
		t.Fatal("Changed not signalled after a commit")
	}
}

func TestPendingAckStats(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (outbox.Stats{}) {
		t.Errorf("Stats of an empty store = %+v; want zero", st)
	}

	var ids []string
	var ats []time.Time
	base := time.Date(2026, 5, 6, 1, 0, 0, 0, time.UTC)
	for i := range 5 {
		at := base.Add(time.Duration(i) * time.Minute)
		ids, ats = append(ids, commit(t, s, at).ID), append(ats, at)
	}
	recs, err := s.Pending(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].ID != ids[0] || recs[2].ID != ids[2] {
		t.Fatalf("Pending(3) = %v; want the first three of %v", recs, ids)
	}

	ackAt := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	if err := s.Ack(ctx, []string{ids[0], ids[2], "not-an-id"}, ackAt); err != nil {
		t.Fatal(err)
	}
	// Acknowledging again keeps the first time.
	if err := s.Ack(ctx, []string{ids[0]}, ackAt.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	recs, err = s.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	if want := []string{ids[1], ids[3], ids[4]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Pending after Ack = %v; want %v", got, want)
	}
	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The oldest pending record is the second: the first was acknowledged.
	if want := (outbox.Stats{Pending: 3, Uploaded: 2, LastUpload: ackAt, OldestPending: ats[1]}); st != want {
		t.Errorf("Stats = %+v; want %+v", st, want)
	}
}

func TestWriterPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s := open(t, path)
	// A second connection cannot see the writer's per-connection settings,
	// so ask the writer itself through the test hook.
	got := outbox.WriterPragmas(t, s)
	// page_size: a new store is made with 1 KB pages, so a commit syncs
	// about a kilobyte of WAL rather than a 4 KB page; a reopened store
	// keeps them.
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "journal_size_limit": "67108864", "page_size": "1024"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("PRAGMA %s = %q; want %q", k, got[k], v)
		}
	}
	commit(t, s, time.Now())
	s.Close()
	s = open(t, path)
	if got := outbox.WriterPragmas(t, s)["page_size"]; got != "1024" {
		t.Errorf("reopened: PRAGMA page_size = %q; want 1024", got)
	}
}

func TestConcurrentCommits(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	const workers, each = 8, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[uint64]bool{}
		ids  = map[string]bool{}
	)
	for range workers {
		wg.Go(func() {
			for range each {
				c, err := s.Commit(context.Background(), kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn, Card: testCard})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seqs[c.Seq] || ids[c.ID] {
					t.Errorf("Commit returned seq %d / id %s twice", c.Seq, c.ID)
				}
				seqs[c.Seq], ids[c.ID] = true, true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := uint64(1); i <= workers*each; i++ {
		if !seqs[i] {
			t.Errorf("seq %d missing: seqs must run 1..%d without gaps", i, workers*each)
		}
	}
	recs := pending(t, s)
	if len(recs) != workers*each {
		t.Fatalf("Pending = %d records; want %d", len(recs), workers*each)
	}
	verifyChain(t, recs) // one line, however the commits interleaved
	for i := 1; i < len(recs); i++ {
		if recs[i].ID <= recs[i-1].ID {
			t.Errorf("id of seq %d %s does not sort after %s", recs[i].Seq, recs[i].ID, recs[i-1].ID)
		}
	}
}

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDv7(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "kiosk.db"))
	before := time.Now().UnixMilli()
	var prev string
	for i := range 50 {
		id := commit(t, s, time.Now()).ID
		if !uuidv7.MatchString(id) {
			t.Fatalf("id %q is not a lower-case UUIDv7", id)
		}
		var ms int64
		if _, err := fmt.Sscanf(id[0:8]+id[9:13], "%x", &ms); err != nil {
			t.Fatal(err)
		}
		if now := time.Now().UnixMilli(); ms < before || ms > now+1 {
			t.Errorf("id %s: timestamp %d ms not within [%d, %d]", id, ms, before, now)
		}
		if i > 0 && id <= prev {
			t.Errorf("id %s does not sort after %s", id, prev)
		}
		prev = id
	}
}

func TestUUIDGenerator(t *testing.T) {
	t0 := time.UnixMilli(1_750_000_000_000)
	var times []time.Time
	for range 5000 { // more than 4096 in one millisecond: spills into the next
		times = append(times, t0)
	}
	for range 10 { // the clock stepped back
		times = append(times, t0.Add(-time.Hour))
	}
	times = append(times, t0.Add(time.Second))
	ids := outbox.NewIDs(times...)
	for i, id := range ids {
		if !uuidv7.MatchString(id) {
			t.Fatalf("id %q is not a lower-case UUIDv7", id)
		}
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("id #%d %s does not sort after %s", i, id, ids[i-1])
		}
	}
	if got, want := ids[0][0:8]+ids[0][9:13], fmt.Sprintf("%012x", t0.UnixMilli()); got != want {
		t.Errorf("timestamp of %s = %s; want %s", ids[0], got, want)
	}
}

func TestNoPersonalDataInFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	var logs bytes.Buffer
	opts := options()
	opts.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Retention = time.Hour
	s := openWith(t, path, opts)
	ctx := context.Background()
	var ids []string
	for range 10 {
		ids = append(ids, commit(t, s, time.Now()).ID)
	}
	if _, _, err := s.LastCheckIn(ctx, testCard, time.Now()); err != nil {
		t.Fatal(err)
	}
	secrets := []string{testCard.ANumber, testCard.ANumber[1:], testCard.FamilyName, testCard.GivenName, testCard.DateOfBirth}
	check := func(when string) {
		files, _ := filepath.Glob(path + "*")
		if len(files) < 1 {
			t.Fatalf("%s: no database files", when)
		}
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: %s contains %q", when, filepath.Base(f), s)
				}
			}
			all = append(all, b...)
		}
		for _, s := range secrets {
			if bytes.Contains(logs.Bytes(), []byte(s)) {
				t.Errorf("%s: the store's log contains %q", when, s)
			}
		}
		// The scan must be able to fail: what is stored in clear is found.
		if !bytes.Contains(all, []byte(testCard.Serial)) {
			t.Errorf("%s: the card serial is in none of %v: the scan does not see the records", when, files)
		}
	}
	check("open")
	if err := s.Ack(ctx, ids[:5], time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	check("checkpointed")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}

func TestCorruptFileIsKeptAside(t *testing.T) {
	junk := bytes.Repeat([]byte("not a database "), 512)
	// damaged returns a real store whose table pages were overwritten.
	damaged := func(t *testing.T, path string) []byte {
		s := open(t, path)
		for range 50 {
			commit(t, s, time.Now())
		}
		if err := s.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 4096; i < len(b); i += 4096 { // a page header every 4 KiB past the first (every fourth 1 KiB page)
			copy(b[i:], "garbage garbage garbage garbage")
		}
		return b
	}
	tests := []struct {
		name string
		file func(t *testing.T, path string) []byte
	}{
		{"not a database", func(*testing.T, string) []byte { return junk }},
		{"damaged pages", damaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kiosk.db")
			content := tt.file(t, path)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 4, 9, 15, 30, 0, time.UTC)
			opts := options()
			opts.Now = func() time.Time { return now }
			s, err := outbox.Open(path, opts)
			if err == nil {
				s.Close()
				t.Fatal("Open of a corrupt file succeeded")
			}
			ce, ok := errors.AsType[*outbox.CorruptError](err)
			if !ok || !errors.Is(err, outbox.ErrCorrupt) {
				t.Fatalf("Open = %v; want a *CorruptError wrapping ErrCorrupt", err)
			}
			if want := path + ".corrupt-20260304T091530Z"; ce.KeptAt != want {
				t.Errorf("kept at %s; want %s", ce.KeptAt, want)
			}
			if b, err := os.ReadFile(ce.KeptAt); err != nil || !bytes.Equal(b, content) {
				t.Errorf("the file kept aside differs from the corrupt file (%v)", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after a failed Open, %s: %v; want it gone (kept aside), not recreated", path, err)
			}

			// Again, now with RecoverCorrupt: a new store, said loudly.
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
			opts.RecoverCorrupt = true
			s = openWith(t, path, opts)
			if r := s.Recovered(); r == nil || r.KeptAt != path+".corrupt-20260304T091530Z-2" {
				t.Errorf("Recovered() = %+v; want the file kept at %s-2", r, ce.KeptAt)
			}
			if !bytes.Contains(logs.Bytes(), []byte("level=ERROR")) {
				t.Errorf("log = %q; want an error about the corrupt file", logs.String())
			}
			if c := commit(t, s, time.Now()); c.Seq != 1 {
				t.Errorf("first commit in the new store: seq %d; want 1", c.Seq)
			}
		})
	}
}

func TestOpenRequires(t *testing.T) {
	tests := []struct {
		name string
		edit func(*outbox.Options)
	}{
		{"no kiosk id", func(o *outbox.Options) { o.KioskID = "" }},
		{"kiosk id with a space", func(o *outbox.Options) { o.KioskID = "has space" }},
		{"kiosk id with a semicolon", func(o *outbox.Options) { o.KioskID = "semi;colon" }},
		{"no device", func(o *outbox.Options) { o.Device = nil }},
		{"no seal key", func(o *outbox.Options) { o.SealKey = nil }},
	}
	for _, tt := range tests {
		opts := options()
		tt.edit(&opts)
		if s, err := outbox.Open(filepath.Join(t.TempDir(), "kiosk.db"), opts); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded; want an error", tt.name)
		}
	}

	// A store belongs to its kiosk.
	path := filepath.Join(t.TempDir(), "kiosk.db")
	open(t, path).Close()
	opts := options()
	opts.KioskID = "kiosk-02"
	if s, err := outbox.Open(path, opts); err == nil {
		s.Close()
		t.Error("Open of kiosk-01's store as kiosk-02 succeeded; want an error")
	}
}

func TestPathNeedingEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c#d%20e", "kiosk.db")
	s := open(t, path)
	commit(t, s, time.Now())
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
	if recs, err := s.Pending(context.Background(), 10); err != nil || len(recs) != 1 {
		t.Errorf("Pending = %d records, %v; want 1 (the read pool opens the same file)", len(recs), err)
	}
}

// TestSealingEpochs checks that the people of consecutive records are
// sealed under one key for at most SealEpochRecords records and
// SealEpochAge, and that the upstream opens every one.
func TestSealingEpochs(t *testing.T) {
	epochOf := func(r wire.Record) string { return string(r.Sealed[:33]) } // version ‖ encapsulated key

	opts := options()
	opts.SealEpochRecords = 3
	s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	at := time.Now()
	for i := range 7 {
		commit(t, s, at.Add(time.Duration(i)*time.Second))
	}
	recs := pending(t, s)
	for i, r := range recs {
		sameAsPrev := i > 0 && epochOf(r) == epochOf(recs[i-1])
		if want := i%3 != 0; sameAsPrev != want {
			t.Errorf("record %d in the epoch of record %d: %v; want %v (epochs of 3)", i, i-1, sameAsPrev, want)
		}
		if _, err := wire.Open(testSealKey(), r.KioskID, r.ID, r.Sealed); err != nil {
			t.Errorf("record %d does not open: %v", i, err)
		}
	}

	// The age, told by the store's clock (Options.Now) when a record comes.
	const age = time.Minute
	now := at
	opts.SealEpochRecords, opts.SealEpochAge = 0, age
	opts.Now = func() time.Time { return now }
	s = openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
	commit(t, s, at)
	now = now.Add(age - time.Nanosecond)
	commit(t, s, at.Add(time.Second))
	now = now.Add(time.Nanosecond)
	commit(t, s, at.Add(2*time.Second))
	recs = pending(t, s)
	if epochOf(recs[0]) != epochOf(recs[1]) {
		t.Error("a record within the epoch's age limit was sealed in a new epoch")
	}
	if epochOf(recs[1]) == epochOf(recs[2]) {
		t.Error("a record after the epoch's age limit was sealed in the same epoch")
	}
}

// TestSealingEpochIdle checks that an epoch's key is dropped at its age
// limit when no record comes to end the epoch, and by Close. The timer
// that drops it runs on the process's clock, which the bubble fakes.
func TestSealingEpochIdle(t *testing.T) {
	epochOf := func(r wire.Record) string { return string(r.Sealed[:33]) } // version ‖ encapsulated key
	synctest.Test(t, func(t *testing.T) {
		const age = time.Minute
		opts := options()
		opts.SealEpochAge = age
		s := openWith(t, filepath.Join(t.TempDir(), "kiosk.db"), opts)
		commit(t, s, time.Now())
		if !outbox.InEpoch(s) {
			t.Fatal("no epoch under way after a commit")
		}
		time.Sleep(age - time.Nanosecond)
		synctest.Wait()
		if !outbox.InEpoch(s) {
			t.Fatal("the epoch's key was dropped before its age limit")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if outbox.InEpoch(s) {
			t.Fatalf("the epoch's key is still held at its age limit of %v, with no record coming", age)
		}
		commit(t, s, time.Now())
		if recs := pending(t, s); epochOf(recs[0]) == epochOf(recs[1]) {
			t.Error("a record after the epoch's age limit was sealed in the same epoch")
		}
		s.Close()
		if outbox.InEpoch(s) {
			t.Error("Close left the epoch's key held")
		}
	})
}

// TestCheckpointTruncatesOnlyAfterErasing checks that an idle checkpoint
// with nothing purged or cleared leaves the laid-out WAL as it is (an idle
// kiosk must not rewrite a megabyte of its SD card every few minutes), that
// one that purged truncates the WAL and lays it out again zeroed, so no
// frame of a purged record stays, and that it does so once a day.
func TestCheckpointTruncatesOnlyAfterErasing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kiosk.db")
	now := time.Now()
	opts := options()
	opts.Retention = time.Hour
	opts.Now = func() time.Time { return now }
	s := openWith(t, path, opts)
	ids := []string{commit(t, s, now).ID, commit(t, s, now).ID}
	walHeader := func() []byte {
		f, err := os.Open(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 4)
		if _, err := io.ReadFull(f, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	isWAL := func(b []byte) bool { return b[0] == 0x37 && b[1] == 0x7f && b[2] == 0x06 && b[3]&0xfe == 0x82 }
	if !isWAL(walHeader()) {
		t.Fatalf("WAL header % x after commits; want SQLite's magic", walHeader())
	}

	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if h := walHeader(); !isWAL(h) {
		t.Errorf("WAL header % x after a checkpoint that erased nothing; want the WAL left as it was", h)
	}

	if err := s.Ack(ctx, ids[:1], now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // past the retention: the first record goes
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if h := walHeader(); isWAL(h) || !bytes.Equal(h, make([]byte, 4)) {
		t.Errorf("WAL header % x after a checkpoint that purged; want zeros (truncated and laid out again)", h)
	}
	if recs := outbox.All(t, s); len(recs) != 1 || recs[0].ID != ids[1] {
		t.Errorf("after the purge the store holds %d records; want the second only", len(recs))
	}

	// Another purge the same day: with a retention, some record passes it
	// at nearly every idle checkpoint; the WAL is truncated once a day.
	commit(t, s, now)
	if err := s.Ack(ctx, ids[1:], now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if recs := outbox.All(t, s); len(recs) != 1 {
		t.Errorf("after the second purge the store holds %d records; want 1", len(recs))
	}
	if h := walHeader(); !isWAL(h) {
		t.Errorf("WAL header % x after a second purge within a day; want the WAL left as it was", h)
	}
}

// TestDupKeyKeptElsewhere opens stores with a duplicate key given from
// outside (a secure element): none is kept in the file, and a reopened
// store with the same key still finds the day's check-in.
func TestDupKeyKeptElsewhere(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kiosk.db")
	opts := options()
	opts.DupKey = bytes.Repeat([]byte{0x5a}, 32)
	s := openWith(t, path, opts)
	at := time.Now()
	first := commit(t, s, at)
	if v, ok, err := s.GetState(ctx, "outbox.dup_key"); ok || err != nil {
		t.Errorf("GetState(outbox.dup_key) = %q, %v, %v; want no key kept in the file", v, ok, err)
	}
	s.Close()
	s = openWith(t, path, opts)
	if p, ok, err := s.LastCheckIn(ctx, testCard, at); !ok || err != nil || p.ID != first.ID {
		t.Errorf("LastCheckIn with the same key = %+v, %v, %v; want %s", p, ok, err, first.ID)
	}
	s.Close()
	opts.DupKey = bytes.Repeat([]byte{0xa5}, 32)
	s = openWith(t, path, opts)
	if p, ok, err := s.LastCheckIn(ctx, testCard, at); ok || err != nil {
		t.Errorf("LastCheckIn with another key = %+v, %v, %v; want none", p, ok, err)
	}
}
