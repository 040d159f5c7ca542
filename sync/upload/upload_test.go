package upload_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

var _ upload.Source = (*outbox.Store)(nil)

const kioskID = "kiosk-01"

// The device key of the kiosk of newOutbox, registered by newUpstream, and
// the seal key of every test upstream, made once.
var (
	testDevice = sync.OnceValue(func() *device.Identity {
		id, err := device.Generate()
		if err != nil {
			panic(err)
		}
		return id
	})
	testSealKey = sync.OnceValue(func() hpke.PrivateKey {
		k, err := wire.GenerateSealKey()
		if err != nil {
			panic(err)
		}
		return k
	})
)

func newOutbox(t *testing.T) *outbox.Store {
	t.Helper()
	return newOutboxOf(t, testDevice())
}

// newOutboxOf opens an outbox whose records the device id signs.
func newOutboxOf(t *testing.T, id *device.Identity) *outbox.Store {
	t.Helper()
	s, err := outbox.Open(filepath.Join(t.TempDir(), "kiosk.db"), outbox.Options{KioskID: kioskID, Device: id, SealKey: testSealKey().PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t *testing.T, s *outbox.Store, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		c, err := s.Commit(context.Background(), kiosk.CheckIn{
			At: time.Now(), Outcome: kiosk.OutcomeCheckedIn,
			Card: card.Card{Issuer: "US-DHS-TEST", Serial: "00aa11bb22cc33dd", ANumber: "A123456789"},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// recorder wraps the upstream's handler and counts how often each record
// id was sent, and when each POST arrived. Fail, if set, answers a POST
// instead of the upstream when it returns true.
type recorder struct {
	next http.Handler

	mu    sync.Mutex
	sent  map[string]int
	posts []time.Time
	fail  func(n int, w http.ResponseWriter) bool // n: the POST's number, from 1
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rc.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.posts = append(rc.posts, time.Now())
	n := len(rc.posts)
	fail := rc.fail
	rc.mu.Unlock()
	if fail != nil && fail(n, w) {
		return
	}
	b, err := wire.UnmarshalBatch(body) // the uploader sends CBOR
	if err != nil {
		http.Error(w, "recorder: "+err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, r := range b.Records {
		rc.sent[r.ID]++
	}
	rc.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) timesSent(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.sent[id]
}

func (rc *recorder) postTimes() []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]time.Time(nil), rc.posts...)
}

// newUpstream starts a reference upstream behind a recorder, on ln if not nil.
func newUpstream(t *testing.T, ln net.Listener) (*upstream.Server, *recorder, *httptest.Server) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Plain HTTP: every request comes from the kiosk's device, explicitly
	// (the upstream refuses a kiosk's requests without one).
	asDevice := func(*http.Request) (ed25519.PublicKey, error) { return testDevice().Public(), nil }
	srv, err := upstream.New(st, upstream.Options{SealKey: testSealKey(), Authenticate: asDevice})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterDevice(context.Background(), kioskID, testDevice().Public()); err != nil {
		t.Fatal(err)
	}
	rc := &recorder{next: srv.Handler(), sent: map[string]int{}}
	ts := httptest.NewUnstartedServer(rc)
	if ln != nil {
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, rc, ts
}

// run starts u.Run and stops it at the end of the test, checking it returns nil.
func run(t *testing.T, u *upload.Uploader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v; want nil", err)
		}
	})
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func outboxStats(t *testing.T, s *outbox.Store) outbox.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func upstreamCount(t *testing.T, srv *upstream.Server) int64 {
	t.Helper()
	st, err := srv.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.CheckIns
}

func fast(s upload.Source, url string) *upload.Uploader {
	return &upload.Uploader{Store: s, URL: url, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, PollInterval: time.Hour}
}

func TestEachRecordArrivesOnce(t *testing.T) {
	box := newOutbox(t)
	srv, rc, ts := newUpstream(t, nil)
	u := fast(box, ts.URL+"/")
	run(t, u)
	ids := commit(t, box, 3)
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Uploaded == 3 })

	if got := upstreamCount(t, srv); got != 3 {
		t.Errorf("upstream holds %d records; want 3", got)
	}
	for _, id := range ids {
		if n := rc.timesSent(id); n != 1 {
			t.Errorf("record %s sent %d times; want 1", id, n)
		}
	}
	waitFor(t, "Status counts them", func() bool { return u.Status().Uploaded == 3 })
	st := u.Status()
	if st.LastError != "" || st.LastSuccess.IsZero() || st.LastAttempt.IsZero() {
		t.Errorf("Status = %+v; want attempts, a success, no error", st)
	}
}

func TestUpstreamDownThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connections are refused

	box := newOutbox(t)
	ids := commit(t, box, 2)
	u := fast(box, "http://"+addr)
	run(t, u)
	waitFor(t, "an attempt fails", func() bool { return u.Status().LastError != "" })
	if st := outboxStats(t, box); st.Pending != 2 {
		t.Fatalf("pending = %d while the upstream is down; want 2", st.Pending)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv, rc, _ := newUpstream(t, ln)
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Pending == 0 })
	if got := upstreamCount(t, srv); got != 2 {
		t.Errorf("upstream holds %d records; want 2", got)
	}
	for _, id := range ids {
		if n := rc.timesSent(id); n != 1 {
			t.Errorf("record %s arrived %d times; want 1", id, n)
		}
	}
	waitFor(t, "the error clears", func() bool { return u.Status().LastError == "" })
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			box := newOutbox(t)
			srv, rc, ts := newUpstream(t, nil)
			rc.fail = func(n int, w http.ResponseWriter) bool {
				if n > 1 {
					return false
				}
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(code)
				return true
			}
			commit(t, box, 1)
			run(t, fast(box, ts.URL)) // backoff alone would retry within 10ms
			waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Pending == 0 })
			posts := rc.postTimes()
			if len(posts) != 2 {
				t.Fatalf("%d POSTs; want 2", len(posts))
			}
			if gap := posts[1].Sub(posts[0]); gap < time.Second {
				t.Errorf("retried %v after a Retry-After of 1s", gap)
			}
			if got := upstreamCount(t, srv); got != 1 {
				t.Errorf("upstream holds %d records; want 1", got)
			}
		})
	}
}

func TestDuplicatesAcknowledged(t *testing.T) {
	box := newOutbox(t)
	srv, _, ts := newUpstream(t, nil)
	commit(t, box, 3)
	// The upstream already holds them: an earlier answer was lost.
	recs, err := box.Pending(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(wire.Batch{KioskID: kioskID, Records: recs})
	resp, err := http.Post(ts.URL+wire.PathCheckIns, wire.ContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	u := fast(box, ts.URL)
	run(t, u)
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Pending == 0 })
	if got := upstreamCount(t, srv); got != 3 {
		t.Errorf("upstream holds %d records; want 3", got)
	}
	waitFor(t, "Status counts them", func() bool { return u.Status().Uploaded == 3 })
}

func TestRejectedDoesNotBlock(t *testing.T) {
	box := newOutbox(t)
	_, rc, ts := newUpstream(t, nil)
	ids := commit(t, box, 3)
	// The kiosk's first record arrives altered: its signature no longer
	// verifies, and the upstream rejects it.
	next := rc.next
	rc.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b, err := wire.UnmarshalBatch(body)
		if err != nil {
			http.Error(w, "altering: "+err.Error(), http.StatusBadRequest)
			return
		}
		for i := range b.Records {
			if b.Records[i].ID == ids[0] {
				b.Records[i].Serial = "ff"
			}
		}
		if body, err = wire.MarshalBatch(b); err != nil {
			http.Error(w, "altering: "+err.Error(), http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
	u := fast(box, ts.URL)
	u.BatchSize = 1
	q := &quarantiner{}
	u.Quarantine = q
	run(t, u)
	waitFor(t, "the others are uploaded", func() bool { return u.Status().Uploaded == 2 })
	if st := outboxStats(t, box); st.Pending != 1 || st.Uploaded != 2 {
		t.Errorf("outbox %+v; want 1 pending (the rejected one), 2 uploaded", st)
	}

	more := commit(t, box, 1)
	waitFor(t, "a later record is uploaded", func() bool { return u.Status().Uploaded == 3 })
	if n := rc.timesSent(ids[0]); n != 1 {
		t.Errorf("rejected record sent %d times; want 1", n)
	}
	if n := rc.timesSent(more[0]); n != 1 {
		t.Errorf("later record sent %d times; want 1", n)
	}
	if got := q.got(); len(got) != 1 || got[0] != ids[0]+" "+wire.ReasonBadSignature {
		t.Errorf("quarantined %q; want [%q]", got, ids[0]+" "+wire.ReasonBadSignature)
	}
	if n := u.Status().Quarantined; n != 1 {
		t.Errorf("Status().Quarantined = %d; want 1", n)
	}
}

// quarantiner records what it is asked to quarantine.
type quarantiner struct {
	mu  sync.Mutex
	ids []string
}

func (q *quarantiner) Quarantine(_ context.Context, id, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, id+" "+reason)
	return nil
}

func (q *quarantiner) got() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.ids...)
}

func TestKickEndsBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	box := newOutbox(t)
	commit(t, box, 1)
	u := &upload.Uploader{Store: box, URL: "http://" + addr, MinBackoff: time.Hour, MaxBackoff: time.Hour, PollInterval: time.Hour}
	run(t, u)
	waitFor(t, "an attempt fails", func() bool { return u.Status().LastError != "" })

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	newUpstream(t, ln)
	u.Kick() // without it, the next try is up to an hour away
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Pending == 0 })
}

// TestFailureInFlight fails one of the batches in flight: the batches
// answered are marked uploaded, the failed one is sent again, and nothing
// else is.
func TestFailureInFlight(t *testing.T) {
	box := newOutbox(t)
	srv, rc, ts := newUpstream(t, nil)
	ids := commit(t, box, 10)
	rc.fail = func(n int, w http.ResponseWriter) bool {
		if n == 2 { // the second POST to arrive: another batch is in flight
			http.Error(w, "injected", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	u := fast(box, ts.URL)
	u.BatchSize = 2
	run(t, u)
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Uploaded == 10 })
	if got := upstreamCount(t, srv); got != 10 {
		t.Errorf("upstream holds %d records; want 10", got)
	}
	// The recorder counts what reached the upstream: the failed POST's
	// records did not.
	for _, id := range ids {
		if n := rc.timesSent(id); n != 1 {
			t.Errorf("record %s reached the upstream %d times; want once", id, n)
		}
	}
	if got, want := len(rc.postTimes()), 10/u.BatchSize+1; got != want {
		t.Errorf("%d POSTs; want %d: each batch once, and the one that failed", got, want)
	}
}
