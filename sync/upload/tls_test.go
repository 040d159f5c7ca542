package upload_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

var _ upload.HeadSource = (*outbox.Store)(nil)

// lockedBuffer is a log the upstream writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// tlsUpstream is a reference upstream served as `kiosk upstream` serves
// it, with one kiosk enrolled.
type tlsUpstream struct {
	srv    *upstream.Server
	url    string
	logs   *lockedBuffer       // what the upstream logged
	device *device.Identity    // the enrolled kiosk's
	client func() *http.Client // the kiosk's, authenticated by device
}

// newTLSUpstream starts an upstream with kioskID enrolled under a new device
// key, its handler wrapped by wrap (nil: none).
func newTLSUpstream(t *testing.T, wrap func(http.Handler) http.Handler) *tlsUpstream {
	t.Helper()
	ctx := context.Background()
	logs := &lockedBuffer{}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := upstream.New(st, upstream.Options{SealKey: testSealKey(), Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = auth.TLSConfig()
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})

	id, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	token, err := srv.NewEnrollToken(ctx, kioskID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Enroll(ctx, kioskID, id.Public(), token); err != nil {
		t.Fatal(err)
	}
	cert, err := id.Certificate(kioskID)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsUpstream{srv: srv, url: ts.URL, logs: logs, device: id,
		client: func() *http.Client { return upload.NewClient(auth.Pool(), cert, 5*time.Second) }}
}

// uploader returns a fast uploader of box to the upstream, sending heartbeats.
func (up *tlsUpstream) uploader(box upload.Source, heads upload.HeadSource) *upload.Uploader {
	u := fast(box, up.url)
	u.Client = up.client()
	u.Heads = heads
	return u
}

// warnings returns the warnings and errors the upstream logged.
func (up *tlsUpstream) warnings() []string {
	var w []string
	for _, l := range up.logs.lines() {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			w = append(w, l)
		}
	}
	return w
}

// TestUploadOverMutualTLS drains an outbox to an upstream served as `kiosk
// upstream` serves it, authenticated by the device key that signs the
// records, and checks the heartbeat that follows the drain.
func TestUploadOverMutualTLS(t *testing.T) {
	ctx := context.Background()
	up := newTLSUpstream(t, nil)
	box := newOutboxOf(t, up.device)
	commit(t, box, 3)
	u := up.uploader(box, box)
	run(t, u)
	waitFor(t, "the records are uploaded", func() bool { return u.Status().Uploaded == 3 })
	waitFor(t, "a heartbeat in sync", func() bool { return u.Status().HeadState == wire.HeadInSync })
	health, err := up.srv.Health(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 1 || health[0].HeadSeq != 3 || health[0].HeldSeq != 3 || health[0].State != wire.HeadInSync {
		t.Errorf("Health() = %+v; want kiosk %s at head 3, held 3, in sync", health, kioskID)
	}
}
