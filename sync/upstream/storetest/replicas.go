package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// The tests of replicas: any replica may store any batch of any kiosk, and
// a retry may reach another replica than the first try. Exactly-once and
// order are the store's; gaps and forks are found the same way whichever
// replica stores a batch.

// atOnce calls each f on a goroutine of its own, all released together,
// and waits for them.
func atOnce(fs ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			<-start
			f()
		})
	}
	close(start)
	wg.Wait()
}

func flags(ps []upstream.Placement) string {
	var b bytes.Buffer
	for _, p := range ps {
		switch {
		case p.GapBelow:
			b.WriteByte('g')
		case p.FilledGap:
			b.WriteByte('f')
		default:
			b.WriteByte('.')
		}
	}
	return b.String()
}

// Batches of one kiosk stored out of order, by turns on two replicas: each
// sees what the other stored, and the answers are those of one store.
func testOutOfOrder(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	r := chain("k1", 9)
	stray := r[5] // chains to 5, but 7 (held) does not chain to it
	stray.Serial = "ffff"
	stray.Hash = stray.Digest()
	fork := r[4]
	fork.Serial = "ffff"
	fork.Hash = fork.Digest()
	for _, step := range []struct {
		name    string
		on      upstream.Store
		items   []upstream.Item
		want    string
		flags   string // g: GapBelow, f: FilledGap
		heldMax []uint64
		stats   wire.Stats
	}{
		{"the third batch first", st, items(r[6:9]...), "accepted , accepted , accepted ", "g..", []uint64{0, 7, 8},
			wire.Stats{CheckIns: 3, Kiosks: 1, Gaps: 6}},
		{"the first on the replica", replica, items(r[0:3]...), "accepted , accepted , accepted ", "...", []uint64{9, 9, 9},
			wire.Stats{CheckIns: 6, Kiosks: 1, Gaps: 3}},
		{"the second, its last not chained to what the replica stored", st, items(r[3], r[4], stray),
			"accepted , accepted , rejected chain_broken", "...", []uint64{9, 9, 9},
			wire.Stats{CheckIns: 8, Kiosks: 1, Gaps: 1, Rejected: 1}},
		{"the true one on the replica", replica, items(r[5]), "accepted ", "f", []uint64{9},
			wire.Stats{CheckIns: 9, Kiosks: 1, Rejected: 1}},
		{"a fork", st, items(fork), "rejected fork", ".", []uint64{9},
			wire.Stats{CheckIns: 9, Kiosks: 1, Forks: 1, Rejected: 2}},
		{"the fork again on the replica", replica, items(fork), "rejected fork", ".", []uint64{9},
			wire.Stats{CheckIns: 9, Kiosks: 1, Forks: 1, Rejected: 3}},
	} {
		ps, err := step.on.Append(ctx, "k1", step.items, now)
		if err != nil {
			t.Fatalf("%s: Append() = %v", step.name, err)
		}
		if got := results(ps); got != step.want {
			t.Errorf("%s: Append() = %s; want %s", step.name, got, step.want)
		}
		if got := flags(ps); got != step.flags {
			t.Errorf("%s: gap flags = %s; want %s", step.name, got, step.flags)
		}
		for i, p := range ps {
			if p.HeldMax != step.heldMax[i] {
				t.Errorf("%s: item %d: HeldMax %d; want %d", step.name, i, p.HeldMax, step.heldMax[i])
			}
		}
		for _, s := range []upstream.Store{st, replica} {
			if got, err := s.Stats(ctx); err != nil || got != step.stats {
				t.Errorf("%s: Stats() = %+v, %v; want %+v", step.name, got, err, step.stats)
			}
		}
	}
}

// answers counts, per record id, the answers a record got.
type answers struct {
	t   *testing.T
	mu  sync.Mutex
	got map[string][]string
}

func (a *answers) add(ps []upstream.Placement, err error) {
	if err != nil {
		a.t.Errorf("Append() = %v", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.got == nil {
		a.got = map[string][]string{}
	}
	for _, p := range ps {
		a.got[p.Result.ID] = append(a.got[p.Result.ID], p.Result.Status+" "+p.Result.Reason)
	}
}

// check fails t unless each record of recs was answered accepted once and
// duplicate the other times, n answers in all.
func (a *answers) check(t *testing.T, recs []wire.Record, n int) {
	t.Helper()
	for _, r := range recs {
		var accepted, duplicate int
		for _, s := range a.got[r.ID] {
			switch s {
			case wire.StatusAccepted + " ":
				accepted++
			case wire.StatusDuplicate + " ":
				duplicate++
			}
		}
		if accepted != 1 || duplicate != n-1 {
			t.Errorf("kiosk %s seq %d answered %q; want accepted once, duplicate %d times", r.KioskID, r.Seq, a.got[r.ID], n-1)
		}
	}
}

// checkHeld fails t unless the store holds exactly recs of their kiosk,
// in one chain, without a gap, a fork or a rejection.
func checkHeld(t *testing.T, st upstream.Store, want wire.Stats, recs ...[]wire.Record) {
	t.Helper()
	ctx := context.Background()
	if got, err := st.Stats(ctx); err != nil || got != want {
		t.Errorf("Stats() = %+v, %v; want %+v", got, err, want)
	}
	for _, rs := range recs {
		last := rs[len(rs)-1]
		h, err := st.Holdings(ctx, last.KioskID, last.Seq)
		if err != nil || h.Max != last.Seq || h.Count != last.Seq || !bytes.Equal(h.Hash, last.Hash) {
			t.Errorf("Holdings(%s, %d) = %+v, %v; want all %d held, the last's hash", last.KioskID, last.Seq, h, err, last.Seq)
		}
	}
}

// The same batch stored by two replicas at the same moment (a retry
// while the first try is still being stored) is stored once: each record
// accepted by one, a duplicate to the other.
func testSameBatchAtOnce(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	var all [][]wire.Record
	for round := range 5 {
		recs := chain(fmt.Sprintf("k%d", round), 100)
		all = append(all, recs)
		a := answers{t: t}
		atOnce(
			func() { a.add(st.Append(ctx, recs[0].KioskID, items(recs...), now)) },
			func() { a.add(replica.Append(ctx, recs[0].KioskID, items(recs...), now)) },
		)
		a.check(t, recs, 2)
	}
	checkHeld(t, st, wire.Stats{CheckIns: 500, Kiosks: 5}, all...)
}

// A batch retried, whole or overlapping the next, on either replica, is
// stored once.
func testRetried(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	r := chain("k1", 30)
	for _, step := range []struct {
		on       upstream.Store
		from, to int
		want     string // a for accepted, d for duplicate, per record
	}{
		{st, 0, 10, "aaaaaaaaaa"},
		{replica, 0, 10, "dddddddddd"}, // the answer was lost
		{replica, 5, 20, "dddddaaaaaaaaaa"},
		{st, 0, 30, "ddddddddddddddddddddaaaaaaaaaa"},
		{replica, 0, 30, "dddddddddddddddddddddddddddddd"},
	} {
		ps, err := step.on.Append(ctx, "k1", items(r[step.from:step.to]...), now)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for _, p := range ps {
			got.WriteByte(p.Result.Status[0])
		}
		if got.String() != step.want {
			t.Errorf("Append(%d to %d) = %s; want %s (%s)", step.from+1, step.to, got.String(), step.want, results(ps))
		}
	}
	checkHeld(t, st, wire.Stats{CheckIns: 30, Kiosks: 1}, r)
	checkHeld(t, replica, wire.Stats{CheckIns: 30, Kiosks: 1}, r)
}

// Two kiosks' batches, each sent once to each replica, all at the same
// moment and so in no order: every record is stored once, and the chains
// end whole, without a gap, a fork or a rejection.
func testInterleavedAtOnce(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	const batches, size = 8, 25
	a := answers{t: t}
	var fs []func()
	var all [][]wire.Record
	for _, k := range []string{"k1", "k2"} {
		recs := chain(k, batches*size)
		all = append(all, recs)
		for b := range batches {
			batch := items(recs[b*size : (b+1)*size]...)
			for _, s := range []upstream.Store{st, replica} {
				fs = append(fs, func() { a.add(s.Append(ctx, k, batch, now)) })
			}
		}
	}
	atOnce(fs...)
	for _, recs := range all {
		a.check(t, recs, 2)
	}
	checkHeld(t, st, wire.Stats{CheckIns: 2 * batches * size, Kiosks: 2}, all...)
	// Each kiosk's last record is its newest, whichever batch was stored
	// last.
	checkLastCheckIns(t, "all stored", replica, map[string]time.Time{"k1": all[0][batches*size-1].At, "k2": all[1][batches*size-1].At})
}

// Two batches of a kiosk stored by two replicas at the same moment, the
// first's last record not chained to the second's first: whichever is
// stored second finds it, as if they came one after the other. (Were
// they placed at once, each against what was held before either, both
// would be kept, the break unseen.)
func testChainCheckedAtOnce(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	const kiosks = 10
	a := answers{t: t}
	var fs []func()
	for k := range kiosks {
		id := fmt.Sprintf("k%d", k)
		recs := chain(id, 50)
		stray := recs[24]
		stray.Serial = "ffff"
		stray.Hash = stray.Digest()
		// The kiosk's first record is held already: its batches are not
		// its first (whose row a store may create, one at a time).
		if _, err := st.Append(ctx, id, items(recs[0]), now); err != nil {
			t.Fatal(err)
		}
		first := items(append(recs[1:24:24], stray)...)
		second := items(recs[25:50]...)
		fs = append(fs,
			func() { a.add(st.Append(ctx, id, first, now)) },
			func() { a.add(replica.Append(ctx, id, second, now)) })
	}
	atOnce(fs...)
	broken := 0
	for _, got := range a.got {
		for _, s := range got {
			if s == wire.StatusRejected+" "+wire.ReasonChainBroken {
				broken++
			}
		}
	}
	if broken != kiosks {
		t.Errorf("%d records rejected %s; want %d, one per kiosk", broken, wire.ReasonChainBroken, kiosks)
	}
	if st, err := st.Stats(ctx); err != nil || st.Rejected != kiosks || st.CheckIns != kiosks*49 {
		t.Errorf("Stats() = %+v, %v; want %d held, %d rejected", st, err, kiosks*49, kiosks)
	}
}

// One enrollment token offered to two replicas at the same moment, with
// two keys, enrolls one of them.
func testEnrollAtOnce(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	hash := sha256.Sum256([]byte("token"))
	if err := st.PutToken(ctx, hash[:], upstream.Token{KioskID: "k1", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	used := errors.New("used")
	check := func(tok upstream.Token, found bool) error {
		if !found || !tok.Used.IsZero() {
			return used
		}
		return nil
	}
	var errA, errB error
	atOnce(
		func() { errA = st.Enroll(ctx, hash[:], key("a"), now, check) },
		func() { errB = replica.Enroll(ctx, hash[:], key("b"), now, check) },
	)
	winner := key("a")
	switch {
	case errA == nil && errors.Is(errB, used):
	case errB == nil && errors.Is(errA, used):
		winner = key("b")
	default:
		t.Fatalf("Enroll() at once = %v and %v; want one nil, the other the check's refusal", errA, errB)
	}
	if pub, ok, err := replica.DeviceKey(ctx, "k1"); !ok || err != nil || !pub.Equal(winner) {
		t.Errorf("DeviceKey(k1) = %x, %v, %v; want the key that enrolled", pub, ok, err)
	}
}
