package upload_test

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// replicas are upstream servers of one agency: each its own
// upstream.Server over one shared store file, the same CA and server
// certificate, served over TLS on loopback as `kiosk upstream` serves.
type replicas struct {
	servers []*upstream.Server
	ts      []*httptest.Server
	urls    []string
	logs    *lockedBuffer
	device  *device.Identity
	pool    *x509.CertPool // the CA the replicas share
	client  func() *http.Client
}

// newReplicas starts n replicas with kioskID enrolled, the handler of
// replica i wrapped by wrap(i, h) (nil: none).
func newReplicas(t *testing.T, n int, wrap func(i int, h http.Handler) http.Handler) *replicas {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "upstream.db")
	auth, err := upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	r := &replicas{logs: &lockedBuffer{}}
	for i := range n {
		st, err := sqlite.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := upstream.New(st, upstream.Options{SealKey: testSealKey(), Log: slog.New(slog.NewTextHandler(r.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		var h http.Handler = srv.Handler()
		if wrap != nil {
			h = wrap(i, h)
		}
		ts := httptest.NewUnstartedServer(h)
		ts.TLS = auth.TLSConfig()
		ts.StartTLS()
		t.Cleanup(func() {
			ts.Close()
			srv.Close()
		})
		r.servers, r.ts, r.urls = append(r.servers, srv), append(r.ts, ts), append(r.urls, ts.URL)
	}
	if r.device, err = device.Generate(); err != nil {
		t.Fatal(err)
	}
	token, err := r.servers[0].NewEnrollToken(ctx, kioskID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.servers[0].Enroll(ctx, kioskID, r.device.Public(), token); err != nil {
		t.Fatal(err)
	}
	cert, err := r.device.Certificate(kioskID)
	if err != nil {
		t.Fatal(err)
	}
	r.pool = auth.Pool()
	r.client = func() *http.Client { return upload.NewClient(r.pool, cert, 5*time.Second) }
	return r
}

// batchCounter counts the batches a replica was sent, and may stand in
// for a replica that is down.
type batchCounter struct {
	h     http.Handler
	down  atomic.Bool
	posts atomic.Int64
}

func (c *batchCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == wire.PathCheckIns {
		c.posts.Add(1)
	}
	if c.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	c.h.ServeHTTP(w, r)
}

// TestFailoverMidDrain: the first replica stores a batch and goes away
// before answering, in the middle of a drain. The uploader moves to the
// second, which answers the batch sent again "duplicate": every record is
// held once, none is lost, and the chain has no gap.
func TestFailoverMidDrain(t *testing.T) {
	const records, size, stopAt = 60, 5, 3
	var (
		stopOnce sync.Once
		stopped  = make(chan struct{})
		firstTS  func() *httptest.Server
		posts    [2]atomic.Int64
	)
	r := newReplicas(t, 2, func(i int, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != wire.PathCheckIns {
				h.ServeHTTP(w, req)
				return
			}
			if n := posts[i].Add(1); i == 0 && n == stopAt {
				// Stored in full, then the replica stops: the answer is lost.
				h.ServeHTTP(httptest.NewRecorder(), req)
				stopOnce.Do(func() {
					go func() {
						firstTS().Close()
						close(stopped)
					}()
				})
				panic(http.ErrAbortHandler)
			}
			h.ServeHTTP(w, req)
		})
	})
	firstTS = func() *httptest.Server { return r.ts[0] }

	box := newOutboxOf(t, r.device)
	commit(t, box, records)
	u := fast(box, "")
	u.URLs = r.urls
	u.BatchSize = size
	u.Client = r.client()
	u.Heads = box
	run(t, u)
	waitFor(t, "the outbox is drained", func() bool { return outboxStats(t, box).Uploaded == records })
	<-stopped

	st, err := r.servers[1].Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.CheckIns != records || st.Gaps != 0 || st.Forks != 0 || st.Rejected != 0 {
		t.Errorf("Stats() = %d held, %d gaps, %d forks, %d rejected; want %d, 0, 0, 0",
			st.CheckIns, st.Gaps, st.Forks, st.Rejected, records)
	}
	if posts[0].Load() < stopAt || posts[1].Load() == 0 {
		t.Errorf("batches sent: %d to the first replica, %d to the second; want ≥ %d, then some", posts[0].Load(), posts[1].Load(), stopAt)
	}
	if got := u.Status().Upstream; got != r.urls[1] {
		t.Errorf("Status().Upstream = %q; want the second replica %q", got, r.urls[1])
	}
	waitFor(t, "a heartbeat in sync with the second replica", func() bool { return u.Status().HeadState == wire.HeadInSync })
}

// TestFailoverBackToFirst: a kiosk that failed over to the second
// replica on a 5xx tries the first again after RetryPrimary, and stays
// there while it answers; a 4xx, which every replica would answer, moves
// nothing.
func TestFailoverBackToFirst(t *testing.T) {
	counters := make([]*batchCounter, 2)
	r := newReplicas(t, 2, func(i int, h http.Handler) http.Handler {
		counters[i] = &batchCounter{h: h}
		return counters[i]
	})
	first, second := counters[0], counters[1]
	first.down.Store(true)

	box := newOutboxOf(t, r.device)
	u := fast(box, "")
	u.URLs = r.urls
	u.Client = r.client()
	u.RetryPrimary = 200 * time.Millisecond
	run(t, u)

	commit(t, box, 3)
	waitFor(t, "three records uploaded to the second replica", func() bool { return outboxStats(t, box).Uploaded == 3 })
	if first.posts.Load() == 0 || second.posts.Load() == 0 {
		t.Fatalf("batches sent: %d to the first, %d to the second; want the first tried, then the second", first.posts.Load(), second.posts.Load())
	}

	first.down.Store(false)
	time.Sleep(u.RetryPrimary) // the interval under test, not a wait for a result
	before := first.posts.Load()
	commit(t, box, 2)
	u.Kick()
	waitFor(t, "five records uploaded", func() bool { return outboxStats(t, box).Uploaded == 5 })
	if first.posts.Load() == before {
		t.Errorf("no batch to the first replica after RetryPrimary; want it tried again")
	}
	if got := u.Status().Upstream; got != r.urls[0] {
		t.Errorf("Status().Upstream = %q; want the first replica %q", got, r.urls[0])
	}
}

// TestNoFailoverOn4xx: an answer about the request itself (here 403: the
// device is not enrolled) is the same at every replica: the uploader
// backs off at the same one.
func TestNoFailoverOn4xx(t *testing.T) {
	counters := make([]*batchCounter, 2)
	r := newReplicas(t, 2, func(i int, h http.Handler) http.Handler {
		counters[i] = &batchCounter{h: h}
		return counters[i]
	})
	stranger, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := stranger.Certificate(kioskID)
	if err != nil {
		t.Fatal(err)
	}
	box := newOutboxOf(t, stranger)
	commit(t, box, 1)
	u := fast(box, "")
	u.URLs = r.urls
	u.Client = upload.NewClient(r.pool, cert, 5*time.Second) // a device not enrolled: 403
	run(t, u)
	waitFor(t, "a few refused attempts", func() bool { return counters[0].posts.Load() >= 3 })
	if n := counters[1].posts.Load(); n != 0 {
		t.Errorf("%d batches sent to the second replica after 4xx answers; want 0", n)
	}
}

// TestDownloaderFailover: a downloader whose first upstream is gone gets
// its lists from the second.
func TestDownloaderFailover(t *testing.T) {
	doc := []byte("list 1")
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"1"`)
		w.Write(doc)
	}))
	defer good.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused from now on

	lists := &fakeLists{held: map[trust.Kind]uint64{}}
	d := &upload.Downloader{URLs: []string{gone.URL, good.URL}, Lists: lists, Kinds: []trust.Kind{trust.KindTrustList, trust.KindRoster}}
	ctx := context.Background()
	if err := d.Poll(ctx); err == nil {
		t.Fatalf("first Poll() = nil; want the error of the gone upstream")
	}
	if err := d.Poll(ctx); err != nil {
		t.Fatalf("second Poll() = %v; want nil, from the second upstream", err)
	}
	for _, k := range []trust.Kind{trust.KindTrustList, trust.KindRoster} {
		if st := d.Status()[k]; st.LastError != "" || st.LastCheck.IsZero() {
			t.Errorf("Status()[%s] = %+v; want checked without error", k, st)
		}
	}
}
