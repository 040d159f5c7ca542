package fleettest_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/fleettest"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
)

// serveUpstream serves the embedded upstream in dir on a loopback port,
// as `kiosk upstream` does, until the test ends.
func serveUpstream(t *testing.T, dir string) (*upstream.Dir, string) {
	t.Helper()
	d, err := upstream.OpenDir(dir, upstream.DirOptions{OpenStore: sqlite.OpenIn, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- upstream.Serve(ctx, ln, upstream.ServeOptions{Server: d.Server, Authority: d.Authority})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		d.Close()
	})
	return d, ln.Addr().String()
}

// TestFleetThroughProxy: a small fleet, every kiosk enrolled through the
// proxy and draining through it, stores every record once, with no gap,
// fork or rejection, and every head in sync.
func TestFleetThroughProxy(t *testing.T) {
	const kiosks, records = 8, 40
	d, addr := serveUpstream(t, t.TempDir())
	p := fleettest.StartProxy(t, addr)
	up := fleettest.Upstream{
		URL: "https://" + p.Addr(), CAPEM: d.Authority.CAPEM,
		Token: func(ctx context.Context, id string) (string, error) {
			return d.Server.NewEnrollToken(ctx, id, time.Hour)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var fleet []*fleettest.Kiosk
	for i := range kiosks {
		k, err := fleettest.NewKiosk(ctx, up, t.TempDir(), fmt.Sprintf("lobby-%03d", i+1), records)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		fleet = append(fleet, k)
	}
	start := time.Now()
	if err := fleettest.Drain(ctx, fleet); err != nil {
		t.Fatal(err)
	}
	t.Logf("drained in %v", time.Since(start))
	st, err := d.Server.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CheckIns != kiosks*records || st.Kiosks != kiosks || st.Gaps != 0 || st.Forks != 0 || st.Rejected != 0 {
		t.Errorf("upstream holds %+v; want %d check-ins of %d kiosks, no gap, fork or rejection", st, kiosks*records, kiosks)
	}
	if p.Accepted() < kiosks {
		t.Errorf("the proxy took %d connections; want every kiosk's through it", p.Accepted())
	}
}
