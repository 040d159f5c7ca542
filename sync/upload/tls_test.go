package upload_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

var _ upload.HeadSource = (*outbox.Store)(nil)

// TestUploadOverMutualTLS drains an outbox to an upstream served as `kiosk
// upstream` serves it, authenticated by the device key that signs the
// records, and checks the heartbeat that follows the drain.
func TestUploadOverMutualTLS(t *testing.T) {
	srv, err := upstream.Open(filepath.Join(t.TempDir(), "upstream.db"), nil, upstream.Options{SealKey: testSealKey()})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := upstream.LoadOrCreateAuthority(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.DeviceHandler())
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
	ctx := context.Background()
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
	box := newOutboxOf(t, id)
	commit(t, box, 3)
	u := fast(box, ts.URL)
	u.Client = upload.NewClient(auth.Pool(), cert, 5*time.Second)
	u.Heads = box
	run(t, u)
	waitFor(t, "the records are uploaded", func() bool { return u.Status().Uploaded == 3 })
	waitFor(t, "a heartbeat in sync", func() bool { return u.Status().HeadState == wire.HeadInSync })
	health, err := srv.Health(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 1 || health[0].HeadSeq != 3 || health[0].HeldSeq != 3 || health[0].State != wire.HeadInSync {
		t.Errorf("Health() = %+v; want kiosk %s at head 3, held 3, in sync", health, kioskID)
	}
}
