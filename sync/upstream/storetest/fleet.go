package storetest

import (
	"context"
	"crypto/sha256"
	"maps"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// The tests of what the fleet view reads: each kiosk's office, kept from
// its enrollment token, and its last check-in, the newest record held by
// the kiosk's clock.

// checkOffices checks st.KioskOffices() against want.
func checkOffices(t *testing.T, when string, st upstream.Store, want map[string]string) {
	t.Helper()
	got, err := st.KioskOffices(context.Background())
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("%s: KioskOffices() = %v, %v; want %v", when, got, err, want)
	}
}

// checkLastCheckIns checks st.LastCheckIns() against want, to the
// nanosecond.
func checkLastCheckIns(t *testing.T, when string, st upstream.Store, want map[string]time.Time) {
	t.Helper()
	got, err := st.LastCheckIns(context.Background())
	if err != nil || !maps.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("%s: LastCheckIns() = %v, %v; want %v", when, got, err, want)
	}
}

// An enrollment token's office is the kiosk's once the token enrolls it,
// on every replica; a token without one leaves it; a kiosk enrolled
// without an office has none.
func testOffices(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	checkOffices(t, "empty", st, map[string]string{})
	token := func(name string, tok upstream.Token) []byte {
		t.Helper()
		hash := sha256.Sum256([]byte(name))
		tok.Created, tok.Expires = now, now.Add(time.Hour)
		if err := st.PutToken(ctx, hash[:], tok); err != nil {
			t.Fatal(err)
		}
		return hash[:]
	}
	var seen upstream.Token
	enroll := func(on upstream.Store, hash []byte, pub string) {
		t.Helper()
		err := on.Enroll(ctx, hash, key(pub), now, func(tok upstream.Token, found bool) error {
			seen = tok
			return nil
		})
		if err != nil {
			t.Fatalf("Enroll(%s) = %v", pub, err)
		}
	}

	enroll(replica, token("k1 at SFR", upstream.Token{KioskID: "k1", Office: "SFR"}), "a")
	if seen.Office != "SFR" {
		t.Errorf("the token the check saw names office %q; want SFR", seen.Office)
	}
	enroll(st, token("k2", upstream.Token{KioskID: "k2"}), "b")
	if err := st.PutDevice(ctx, "k3", key("c"), now); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k1": "SFR"}
	checkOffices(t, "k1 enrolled at SFR, k2 and k3 nowhere", st, want)
	checkOffices(t, "on the replica", replica, want)

	// Enrolled again: with the same key, by a token without an office, by
	// PutDevice; then moved.
	enroll(st, token("k1 again", upstream.Token{KioskID: "k1"}), "a")
	if err := st.PutDevice(ctx, "k1", key("d"), now); err != nil {
		t.Fatal(err)
	}
	checkOffices(t, "k1 enrolled again, naming no office", replica, want)
	enroll(replica, token("k1 moved", upstream.Token{KioskID: "k1", Office: "Newark field office"}), "a")
	enroll(replica, token("k2 at SFR", upstream.Token{KioskID: "k2", Office: "SFR"}), "b")
	checkOffices(t, "k1 moved to Newark, k2 at SFR", st, map[string]string{"k1": "Newark field office", "k2": "SFR"})

	// A token refused leaves the office as it was.
	hash := token("k2 refused", upstream.Token{KioskID: "k2", Office: "Elsewhere"})
	if err := st.Enroll(ctx, hash, key("b"), now, func(upstream.Token, bool) error { return upstream.ErrToken }); err == nil {
		t.Fatal("Enroll(check refuses) = nil")
	}
	checkOffices(t, "after a refused token", st, map[string]string{"k1": "Newark field office", "k2": "SFR"})
}

// A kiosk's last check-in is the greatest at of its records held, by
// whichever replica, in whatever order its batches came: not its last
// record's (a kiosk's clock can go back), not the last batch's, nor a
// refused record's.
func testLastCheckIns(t *testing.T, st, replica upstream.Store) {
	ctx := context.Background()
	checkLastCheckIns(t, "empty", st, map[string]time.Time{})
	// k1's clock went back an hour after record 4, the newest check-in;
	// the nanoseconds are kept.
	newest := now.Add(4*time.Minute + 123456789)
	r := chainAt("k1", 9, func(seq uint64) time.Time {
		switch {
		case seq == 4:
			return newest
		case seq > 4:
			return now.Add(time.Duration(seq)*time.Minute - time.Hour)
		}
		return now.Add(time.Duration(seq) * time.Minute)
	})
	other := chain("k2", 2)
	later := r[8] // refused, as a fork, checked in later than any
	later.At = now.Add(24 * time.Hour)
	later.Hash = later.Digest()
	refused := items(chain("k2", 3)[2])
	refused[0].Record.At = now.Add(48 * time.Hour)
	refused[0].Reason = wire.ReasonBadSignature

	for _, step := range []struct {
		name  string
		on    upstream.Store
		kiosk string
		items []upstream.Item
		want  map[string]time.Time
	}{
		{"the last batch first", st, "k1", items(r[6:9]...), map[string]time.Time{"k1": r[8].At}},
		{"the first, stored by the replica, checked in later", replica, "k1", items(r[0:2]...), map[string]time.Time{"k1": r[1].At}},
		{"the newest, in the middle", st, "k1", items(r[3:6]...), map[string]time.Time{"k1": newest}},
		{"one checked in before the newest, by the replica", replica, "k1", items(r[2]), map[string]time.Time{"k1": newest}},
		{"a fork and a refused record, later still, by the replica", replica, "k1", append(items(r[0], later), refused[0]),
			map[string]time.Time{"k1": newest}},
		{"another kiosk, by the replica", replica, "k2", items(other...), map[string]time.Time{"k1": newest, "k2": other[1].At}},
	} {
		if _, err := step.on.Append(ctx, step.kiosk, step.items, now.Add(72*time.Hour)); err != nil {
			t.Fatalf("%s: Append() = %v", step.name, err)
		}
		checkLastCheckIns(t, step.name, st, step.want)
		checkLastCheckIns(t, step.name+" (read on the replica)", replica, step.want)
	}
	// A kiosk enrolled, with no record held, has none.
	if err := st.PutDevice(ctx, "k3", key("k3"), now); err != nil {
		t.Fatal(err)
	}
	checkLastCheckIns(t, "k3 enrolled", replica, map[string]time.Time{"k1": newest, "k2": other[1].At})
}
