package upload_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir/statedirtest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// overtaking makes the batch a kiosk sent second, of the two it has in
// flight, arrive first, as it does when the second is smaller and read and
// decoded sooner: it holds the batch beginning at seq first until the one
// beginning at seq second has been answered. With fail set, it then
// answers the held batch 503 instead of passing it on.
type overtaking struct {
	next          http.Handler
	first, second uint64
	fail          atomic.Bool
	answered      chan struct{} // closed once the second batch is answered
	once          sync.Once
}

func overtake(first, second uint64, fail bool) (*overtaking, func(http.Handler) http.Handler) {
	o := &overtaking{first: first, second: second, answered: make(chan struct{})}
	o.fail.Store(fail)
	return o, func(h http.Handler) http.Handler { o.next = h; return o }
}

func (o *overtaking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != wire.PathCheckIns {
		o.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var first uint64
	if b, err := wire.UnmarshalBatch(body); err == nil && len(b.Records) > 0 {
		first = b.Records[0].Seq
	}
	switch first {
	case o.first:
		select {
		case <-o.answered:
		case <-r.Context().Done():
			return
		}
		if o.fail.Swap(false) { // once
			http.Error(w, "overtaken", http.StatusServiceUnavailable)
			return
		}
		o.next.ServeHTTP(w, r)
	case o.second:
		o.next.ServeHTTP(w, r)
		o.once.Do(func() { close(o.answered) })
	default:
		o.next.ServeHTTP(w, r)
	}
}

// overtook reports whether the batch beginning at o.second was answered.
func (o *overtaking) overtook() bool {
	select {
	case <-o.answered:
		return true
	default:
		return false
	}
}

func checkInOne(box *outbox.Store) error {
	_, err := box.Commit(context.Background(), kiosk.CheckIn{At: time.Now(), Outcome: kiosk.OutcomeCheckedIn,
		Card: card.Card{Issuer: "US-DHS-TEST", Serial: "00aa11bb22cc33dd", ANumber: "A123456789"}})
	return err
}

// wantUpstreamHolds checks that the upstream holds records 1 to n of the
// kiosk, complete, the kiosk's head in sync, and logged no warning.
func wantUpstreamHolds(t *testing.T, up *tlsUpstream, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := up.srv.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CheckIns != int64(n) || st.Gaps != 0 || st.Forks != 0 || st.Rejected != 0 {
		t.Errorf("upstream stats %+v; want the %d records committed, no gap, fork or rejection", st, n)
	}
	health, err := up.srv.Health(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 1 || health[0].HeadSeq != uint64(n) || health[0].State != wire.HeadInSync {
		t.Errorf("upstream Health() = %+v; want head %d in sync", health, n)
	}
	for _, l := range up.warnings() {
		t.Errorf("upstream logged %s; want no warning: no record is missing", l)
	}
}

// TestFullDiskThenUpload: the kiosk's disk fills up while its upstream is
// out of reach; its commits fail (after the ones its WAL still had room
// for), and space returns. The backlog drains two batches at a time, and
// the second can be stored before the first: the upstream then holds a
// record whose predecessor is not there yet, for a moment. It used to warn
// "gap in a kiosk's sequence" for it, although nothing was missing; it now
// says what happened, and warns of nothing, as the kiosk skipped no seq:
// the upstream ends with every record committed and the kiosk's head in
// sync.
func TestFullDiskThenUpload(t *testing.T) {
	ctx := context.Background()
	dir := statedirtest.Tmpfs(t, 2<<20)
	order, wrap := overtake(4, 104, false)
	up := newTLSUpstream(t, wrap)
	box, err := outbox.Open(filepath.Join(dir, "kiosk.db"), outbox.Options{
		KioskID: kioskID, Device: up.device, SealKey: testSealKey().PublicKey(), Reserve: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	var committed int
	commitOne := func() error {
		err := checkInOne(box)
		if err == nil {
			committed++
		}
		return err
	}

	// In service, uploading.
	for range 3 {
		if err := commitOne(); err != nil {
			t.Fatal(err)
		}
	}
	first, stop := context.WithCancel(ctx)
	u := up.uploader(box, box)
	done := make(chan error, 1)
	go func() { done <- u.Run(first) }()
	waitFor(t, "the first records are uploaded", func() bool { return u.Status().Uploaded == 3 })
	waitFor(t, "a heartbeat in sync", func() bool { return u.Status().HeadState == wire.HeadInSync })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The disk fills up while the upstream is out of reach.
	filler := statedirtest.Fill(t, dir, 0)
	var failed error
	for n := 0; n < 10000 && failed == nil; n++ {
		failed = commitOne()
	}
	if failed == nil {
		t.Fatal("commits never failed on a full disk")
	}
	if err := box.Health(ctx); err == nil {
		t.Errorf("Health() on a full disk = nil; want an error")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := box.Health(ctx); err != nil {
		t.Fatalf("Health() once space returned = %v; want nil", err)
	}
	for range 2 {
		if err := commitOne(); err != nil {
			t.Fatalf("Commit once space returned: %v", err)
		}
	}
	if pending := outboxStats(t, box).Pending; pending != int64(committed-3) || pending <= 200 {
		t.Fatalf("%d records pending of %d committed; want all but the first 3, more than two batches", pending, committed)
	}

	// The upstream is back: the backlog drains, the second batch of the
	// first two stored first.
	u = up.uploader(box, box)
	u.BatchSize = 100
	run(t, u)
	waitFor(t, "the backlog is uploaded", func() bool { return outboxStats(t, box).Pending == 0 })
	waitFor(t, "a heartbeat in sync after the upload", func() bool {
		st := u.Status()
		return st.HeadState == wire.HeadInSync && st.LastHeartbeat.After(st.LastSuccess)
	})
	if !order.overtook() {
		t.Fatalf("batch %d was never sent: nothing overtook", order.second)
	}
	wantUpstreamHolds(t, up, committed)
	var ahead bool
	for _, l := range up.logs.lines() {
		ahead = ahead || strings.Contains(l, `msg="record stored before its predecessor"`)
	}
	if !ahead {
		t.Errorf("upstream noted no record stored before its predecessor; the second batch came first")
	}
}

// changedBy is an upload source whose commits wake the uploader only when
// the test says (Kick), so it finds a whole backlog at once.
type changedBy struct {
	*outbox.Store
}

func (changedBy) Changed() <-chan struct{} { return nil }

// TestNoHeartbeatAfterFailedDrain: of two batches in flight, the second is
// stored and the first fails. The kiosk sends no heartbeat until the retry
// has stored the first: its head would show the upstream a gap that was
// only a batch still to come.
func TestNoHeartbeatAfterFailedDrain(t *testing.T) {
	order, wrap := overtake(1, 101, true)
	up := newTLSUpstream(t, wrap)
	box := newOutboxOf(t, up.device)
	u := up.uploader(changedBy{box}, box)
	u.BatchSize = 100
	u.HeartbeatInterval = time.Hour
	run(t, u)
	waitFor(t, "the first heartbeat", func() bool { return u.Status().HeadState == wire.HeadInSync })
	commit(t, box, 200)
	u.Kick()
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Pending == 0 })
	waitFor(t, "a heartbeat after the upload", func() bool {
		st := u.Status()
		return st.LastHeartbeat.After(st.LastSuccess)
	})
	if !order.overtook() {
		t.Fatal("batch 101 was never sent: nothing overtook")
	}
	if st := u.Status(); st.HeadState != wire.HeadInSync {
		t.Errorf("heartbeat state %q after the upload; want %q", st.HeadState, wire.HeadInSync)
	}
	wantUpstreamHolds(t, up, 200)
}

var _ upload.Source = changedBy{}
