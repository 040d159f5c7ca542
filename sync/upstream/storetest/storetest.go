// Package storetest is the contract of upstream.Store as tests: what every
// store must do, whatever keeps it. A store's package runs Run against a
// new, empty store of its kind (sync/upstream/sqlite does); the API's own
// tests then need not be run once per store.
package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Stores opens the stores the suite tests.
type Stores struct {
	// New returns a new, empty store; the suite closes it.
	New func(t *testing.T) upstream.Store
	// Replica, if set, opens another Store on the data of st (one New
	// returned), as a second upstream replica does; the suite closes it.
	// Nil: the store is one process's (SQLite), and the tests of replicas
	// share st between their goroutines, as one server's requests do.
	Replica func(t *testing.T, st upstream.Store) upstream.Store
}

// Run runs the contract's tests, each against a new store.
func Run(t *testing.T, s Stores) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st, replica upstream.Store)
	}{
		{"Append", func(t *testing.T, st, _ upstream.Store) { testAppend(t, st) }},
		{"Beats", func(t *testing.T, st, _ upstream.Store) { testBeats(t, st) }},
		{"Devices", func(t *testing.T, st, _ upstream.Store) { testDevices(t, st) }},
		{"Enroll", func(t *testing.T, st, _ upstream.Store) { testEnroll(t, st) }},
		{"OutOfOrderAcrossReplicas", testOutOfOrder},
		{"SameBatchAtOnce", testSameBatchAtOnce},
		{"RetriedBatches", testRetried},
		{"InterleavedAtOnce", testInterleavedAtOnce},
		{"ChainCheckedAtOnce", testChainCheckedAtOnce},
		{"EnrollAtOnce", testEnrollAtOnce},
		{"Offices", testOffices},
		{"LastCheckIns", testLastCheckIns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.New(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			replica := st
			if s.Replica != nil {
				replica = s.Replica(t, st)
				t.Cleanup(func() {
					if err := replica.Close(); err != nil {
						t.Errorf("replica Close() = %v", err)
					}
				})
			}
			tc.test(t, st, replica)
		})
	}
}

var now = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

// chain returns kiosk k's records 1 to n, hashed and chained, with a
// signature that is none: a store does not verify. Record seq is checked
// in seq minutes after now.
func chain(k string, n int) []wire.Record {
	return chainAt(k, n, func(seq uint64) time.Time { return now.Add(time.Duration(seq) * time.Minute) })
}

// chainAt returns kiosk k's records 1 to n as chain does, record seq
// checked in at at(seq).
func chainAt(k string, n int, at func(seq uint64) time.Time) []wire.Record {
	recs := make([]wire.Record, n)
	prev := wire.GenesisPrev
	kh := sha256.Sum256([]byte(k)) // ids of one kiosk's records are no other's
	for i := range recs {
		seq := uint64(i + 1)
		recs[i] = wire.Record{
			ID: fmt.Sprintf("01977420-4c00-7000-8000-%04x%08x", kh[:2], seq), KioskID: k, Seq: seq,
			At: at(seq), Clock: "synced", Outcome: "checked_in",
			Issuer: "US-DHS-TEST", Serial: fmt.Sprintf("%016x", seq), Sealed: []byte{2}, Prev: prev,
		}
		recs[i].Hash = recs[i].Digest()
		recs[i].Sig = []byte("not verified here")
		prev = recs[i].Hash
	}
	return recs
}

func items(recs ...wire.Record) []upstream.Item {
	out := make([]upstream.Item, len(recs))
	for i, r := range recs {
		out[i] = upstream.Item{Record: r, Person: wire.Person{ANumber: fmt.Sprintf("A%09d", r.Seq)}}
	}
	return out
}

func results(ps []upstream.Placement) string {
	var b bytes.Buffer
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Result.Status + " " + p.Result.Reason)
	}
	return b.String()
}

func testAppend(t *testing.T, st upstream.Store) {
	ctx := context.Background()
	r := chain("k1", 5)
	fork := r[1]
	fork.Serial = "ffff"
	fork.Hash = fork.Digest()
	idClash := r[2]
	idClash.ID = r[0].ID
	idClash.Hash = idClash.Digest()
	refused := items(chain("k1", 6)[5])
	refused[0].Reason = wire.ReasonBadSignature

	for _, step := range []struct {
		name    string
		items   []upstream.Item
		want    string
		heldMax []uint64
		stats   wire.Stats
	}{
		{"the first two", items(r[0], r[1]), "accepted , accepted ", []uint64{0, 1},
			wire.Stats{CheckIns: 2, Kiosks: 1}},
		{"after a gap", items(r[4]), "accepted ", []uint64{2},
			wire.Stats{CheckIns: 3, Kiosks: 1, Gaps: 2}},
		{"again, a fork, an id held elsewhere, refused", append(items(r[0], fork, idClash), refused...),
			"duplicate , rejected fork, rejected id_conflict, rejected bad_signature", []uint64{5, 5, 5, 5},
			wire.Stats{CheckIns: 3, Kiosks: 1, Gaps: 2, Forks: 1, Rejected: 3}},
		{"filling the gap, twice in a batch", items(r[2], r[3], r[3]), "accepted , accepted , duplicate ", []uint64{5, 5, 5},
			wire.Stats{CheckIns: 5, Kiosks: 1, Forks: 1, Rejected: 3}},
		{"the fork again", items(fork), "rejected fork", []uint64{5},
			wire.Stats{CheckIns: 5, Kiosks: 1, Forks: 1, Rejected: 4}},
	} {
		ps, err := st.Append(ctx, "k1", step.items, now)
		if err != nil {
			t.Fatalf("%s: Append() = %v", step.name, err)
		}
		if got := results(ps); got != step.want {
			t.Errorf("%s: Append() = %s; want %s", step.name, got, step.want)
		}
		for i, p := range ps {
			if p.Result.ID != step.items[i].Record.ID || i < len(step.heldMax) && p.HeldMax != step.heldMax[i] {
				t.Errorf("%s: item %d: id %s, HeldMax %d; want %s, %d", step.name, i, p.Result.ID, p.HeldMax,
					step.items[i].Record.ID, step.heldMax[i])
			}
		}
		if got, err := st.Stats(ctx); err != nil || got != step.stats {
			t.Errorf("%s: Stats() = %+v, %v; want %+v", step.name, got, err, step.stats)
		}
	}

	// A record that does not chain to what is held is not kept.
	other := chain("k2", 3)
	if _, err := st.Append(ctx, "k2", items(other[0]), now); err != nil {
		t.Fatal(err)
	}
	stray := other[1]
	stray.Prev = bytes.Repeat([]byte{9}, wire.HashSize)
	stray.Hash = stray.Digest()
	if ps, err := st.Append(ctx, "k2", items(stray), now); err != nil || results(ps) != "rejected chain_broken" {
		t.Errorf("Append(a record chained to another) = %s, %v; want rejected chain_broken", results(ps), err)
	}
	h, err := st.Holdings(ctx, "k1", 4)
	if want := (upstream.Holdings{Max: 5, Count: 4, Hash: r[3].Hash}); err != nil || h.Max != want.Max ||
		h.Count != want.Count || !bytes.Equal(h.Hash, want.Hash) {
		t.Errorf("Holdings(k1, 4) = %+v, %v; want %+v", h, err, want)
	}
}

func testBeats(t *testing.T, st upstream.Store) {
	ctx := context.Background()
	if _, err := st.Append(ctx, "k1", items(chain("k1", 2)...), now); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDevice(ctx, "k0", key("k0"), now); err != nil {
		t.Fatal(err)
	}
	head := wire.Head{KioskID: "k1", Seq: 2, Hash: chain("k1", 2)[1].Hash, At: now, Sig: []byte("sig")}
	for i, want := range []string{"", wire.HeadInSync} {
		prev, err := st.PutBeat(ctx, upstream.Beat{Head: head, Received: now.Add(time.Duration(i) * time.Minute), State: wire.HeadInSync})
		if err != nil || prev != want {
			t.Errorf("PutBeat() #%d = %q, %v; want %q", i+1, prev, err, want)
		}
	}
	beats, err := st.Beats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(beats) != 2 || beats[0].KioskID != "k0" || beats[0].Last != nil || beats[1].KioskID != "k1" {
		t.Fatalf("Beats() = %+v; want k0 (enrolled, never heard from), then k1", beats)
	}
	b := beats[1]
	if b.HeldMax != 2 || b.Last == nil || !b.Last.Received.Equal(now.Add(time.Minute)) || b.Last.State != wire.HeadInSync ||
		b.Last.Head.Seq != 2 || !bytes.Equal(b.Last.Head.Hash, head.Hash) || !b.Last.Head.At.Equal(now) {
		t.Errorf("Beats()[k1] = %+v, last %+v; want held 2, the second beat", b, b.Last)
	}
}

func key(k string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte("storetest device of " + k))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func testDevices(t *testing.T, st upstream.Store) {
	ctx := context.Background()
	if _, ok, err := st.DeviceKey(ctx, "k1"); ok || err != nil {
		t.Errorf("DeviceKey(none enrolled) = %v, %v; want false", ok, err)
	}
	for range 2 { // the same again changes nothing
		if err := st.PutDevice(ctx, "k1", key("a"), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutDevice(ctx, "k2", key("a"), now); !errors.Is(err, upstream.ErrKeyInUse) {
		t.Errorf("PutDevice(k2, the key of k1) = %v; want ErrKeyInUse", err)
	}
	if err := st.PutDevice(ctx, "k1", key("b"), now); err != nil { // replaced
		t.Fatal(err)
	}
	if pub, ok, err := st.DeviceKey(ctx, "k1"); !ok || err != nil || !pub.Equal(key("b")) {
		t.Errorf("DeviceKey(k1) = %x, %v, %v; want its second key", pub, ok, err)
	}
	if k, ok, err := st.DeviceKiosk(ctx, key("b")); k != "k1" || !ok || err != nil {
		t.Errorf("DeviceKiosk(k1's key) = %q, %v, %v; want k1", k, ok, err)
	}
	if _, ok, err := st.DeviceKiosk(ctx, key("a")); ok || err != nil {
		t.Errorf("DeviceKiosk(a replaced key) = %v, %v; want false", ok, err)
	}
}

func testEnroll(t *testing.T, st upstream.Store) {
	ctx := context.Background()
	hash := sha256.Sum256([]byte("token"))
	tok := upstream.Token{KioskID: "k1", Created: now, Expires: now.Add(time.Hour)}
	if err := st.PutToken(ctx, hash[:], tok); err != nil {
		t.Fatal(err)
	}
	var seen []upstream.Token
	refuse := errors.New("refused")
	check := func(err error) func(upstream.Token, bool) error {
		return func(t upstream.Token, found bool) error {
			if found {
				seen = append(seen, t)
			}
			return err
		}
	}
	if err := st.Enroll(ctx, []byte("unknown"), key("a"), now, check(refuse)); err != refuse {
		t.Errorf("Enroll(check refuses) = %v; want check's error as it is", err)
	}
	if err := st.Enroll(ctx, hash[:], key("a"), now, check(refuse)); err != refuse {
		t.Errorf("Enroll(check refuses) = %v; want check's error", err)
	}
	if _, ok, _ := st.DeviceKiosk(ctx, key("a")); ok {
		t.Error("Enroll enrolled a key its check refused")
	}
	if err := st.PutDevice(ctx, "k2", key("b"), now); err != nil {
		t.Fatal(err)
	}
	if err := st.Enroll(ctx, hash[:], key("b"), now, check(nil)); !errors.Is(err, upstream.ErrKeyInUse) {
		t.Errorf("Enroll(k2's key) = %v; want ErrKeyInUse", err)
	}
	used := now.Add(time.Minute)
	if err := st.Enroll(ctx, hash[:], key("a"), used, check(nil)); err != nil {
		t.Errorf("Enroll() = %v", err)
	}
	if k, ok, err := st.DeviceKiosk(ctx, key("a")); k != "k1" || !ok || err != nil {
		t.Errorf("DeviceKiosk(enrolled key) = %q, %v, %v; want k1", k, ok, err)
	}
	st.Enroll(ctx, hash[:], key("c"), used, check(refuse))
	// Seen: refused, key in use, enrolled (all unused), then used.
	if len(seen) != 4 || seen[0].KioskID != "k1" || !seen[0].Expires.Equal(tok.Expires) ||
		!seen[2].Used.IsZero() || !seen[3].Used.Equal(used) {
		t.Errorf("tokens the checks saw = %+v; want k1's, unused until enrolled, then used at %v", seen, used)
	}
}
