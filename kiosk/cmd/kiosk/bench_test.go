package main

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// The websocket's figure (ARCHITECTURE.md §8): from a scan to the screen it
// brings up, as a frame on the kiosk page's websocket, p99 ≤ 5 ms.
// BenchmarkScanToScreen measures it through the whole daemon;
// BenchmarkWebsocketFloor what a bare websocket round trip on loopback
// costs, in the same run:
//
//	go test -run '^$' -bench 'ScanToScreen|WebsocketFloor' -benchtime 1000x -count 3 ./kiosk/cmd/kiosk/
//
// Each reports p50-ns and p99-ns, the latencies of single scans (single
// round trips); ns/op is their mean.

// BenchmarkScanToScreen feeds scans to the simulated scanner of a real
// daemon (SQLite outbox, demo kit's signed lists, the ui server) and times
// each from Main.Scan to its screen frame decoded by a page on the
// websocket. Scans alternate a valid card (confirm) and an expired one
// (see_staff, which the next valid card replaces): each changes the screen,
// none is confirmed, so nothing is recorded and the valid card never meets
// the "already checked in" rule. The path is the one a person's scan
// takes: the scanner's channel, the flow's verification (signature,
// validity, revocation) and duplicate lookup in SQLite, Show, the page's
// writer, loopback, the page's read.
func BenchmarkScanToScreen(b *testing.B) {
	kit, err := demokit.Prepare(filepath.Join(b.TempDir(), "demo"), time.Now())
	if err != nil {
		b.Fatalf("demokit.Prepare() = %v", err)
	}
	m := benchKiosk(b, kit)
	p := uitest.Dial(b, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	scans := [2]struct {
		text   string
		screen kiosk.Screen
	}{
		{kit.Samples["valid"], kiosk.ScreenConfirm},
		{kit.Samples["expired"], kiosk.ScreenSeeStaff},
	}
	ctx := b.Context()
	lat := make([]time.Duration, 0, b.N)
	rev := p.Rev()
	b.ResetTimer()
	for i := range b.N {
		s := scans[i%len(scans)]
		t0 := time.Now()
		if err := m.Scan(ctx, s.text); err != nil {
			b.Fatalf("Scan() = %v", err)
		}
		f := p.Want(s.screen)
		lat = append(lat, time.Since(t0))
		if f.Rev <= rev {
			b.Fatalf("scan %d: screen %s with rev %d; want a new screen, after rev %d", i, s.screen, f.Rev, rev)
		}
		rev = f.Rev
	}
	b.StopTimer()
	reportLatency(b, lat)

	st, err := m.store.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if n := st.Pending + st.Uploaded; n != 0 {
		b.Fatalf("%d check-ins recorded; want none: no scan was confirmed", n)
	}
}

// benchFrame is a confirm screen's frame with a long name (16 + 10
// letters, ARCHITECTURE.md §4): the size of the frames
// BenchmarkScanToScreen times.
var benchFrame = []byte(`{"v":1,"type":"screen","screen":"confirm","rev":1234,` +
	`"name":"Abcdefghijklmnop Abcdefghij","expires_in_ms":60000,"armed_in_ms":1000}`)

// BenchmarkWebsocketFloor is the floor under BenchmarkScanToScreen: a
// gorilla/websocket client on loopback writes a screen-sized text frame to
// an echo server and reads it back. A round trip is two trips over the
// socket where a scan's screen takes one, plus none of the daemon's work.
func BenchmarkWebsocketFloor(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	echoed := make(chan struct{})
	var upgrader websocket.Upgrader
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has replied
		}
		defer close(echoed)
		defer conn.Close()
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				return // the client closed
			}
			if err := conn.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	// The echo's connection is hijacked: Close does not end it, the
	// client closing does.
	b.Cleanup(func() {
		conn.Close()
		<-echoed
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("Serve() = %v; want %v", err, http.ErrServerClosed)
		}
	})

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, benchFrame); err != nil {
			b.Fatal(err)
		}
		_, msg, err := conn.ReadMessage()
		lat = append(lat, time.Since(t0))
		if err != nil || len(msg) != len(benchFrame) {
			b.Fatalf("echo = %d bytes, %v; want %d bytes", len(msg), err, len(benchFrame))
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// benchKiosk is startMain for a benchmark: the daemon on a free loopback
// port with the simulated scanner, the kit's lists, state in a temp dir,
// and no upstream. Its log is formatted as the daemon's is, at info, and
// thrown away: its cost is part of a scan's, writing it to the bench's
// output would not be.
func benchKiosk(b *testing.B, kit *demokit.Kit) *Main {
	b.Helper()
	return startMain(b, slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir(), kit, "", func(m *Main) {
		m.Config.KioskID = "bench-kiosk"
	})
}

// reportLatency reports the median and 99th percentile of lat (nearest
// rank: p99 of 1,000 is the 990th), as drivers/scanner's benchmarks do.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[max(0, int(math.Ceil(q*float64(len(lat))))-1)] }
	b.ReportMetric(float64(at(0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(at(0.99).Nanoseconds()), "p99-ns")
}
