package upstream_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		faults     *upstream.Faults
		wantStatus int  // 0: the request fails without an answer
		wantServed bool // the handler ran
	}{
		{"none", &upstream.Faults{}, 200, true},
		{"error", &upstream.Faults{ErrorRate: 1}, 500, false},
		{"too many", &upstream.Faults{TooManyRate: 1, RetryAfter: 7 * time.Second}, 429, false},
		{"reset", &upstream.Faults{ResetRate: 1}, 0, false},
		{"lost ack", &upstream.Faults{LostAckRate: 1}, 0, true},
		{"latency", &upstream.Faults{LatencyRate: 1, Latency: time.Hour}, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Int32
			var slept time.Duration
			f := tc.faults
			f.Sleep = func(_ context.Context, d time.Duration) { slept += d }
			ts := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				io.WriteString(w, `{"results":[]}`)
			})))
			defer ts.Close()
			resp, err := http.Post(ts.URL+wire.PathCheckIns, wire.ContentType, nil)
			status := 0
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					status = resp.StatusCode
				}
			}
			if status != tc.wantStatus {
				t.Errorf("POST with %s = %d, %v; want status %d (0: no answer)", tc.name, status, err, tc.wantStatus)
			}
			if got := served.Load() == 1; got != tc.wantServed {
				t.Errorf("handler ran = %v; want %v", got, tc.wantServed)
			}
			if tc.wantStatus == 429 && resp.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q; want 7", resp.Header.Get("Retry-After"))
			}
			if want := tc.faults.Latency; slept != want {
				t.Errorf("slept %v; want %v", slept, want)
			}
			// Stats, health and enrollment are never faulted.
			served.Store(0)
			slept = 0
			resp, err = http.Get(ts.URL + wire.PathStats)
			if err != nil {
				t.Fatalf("GET stats with %s: %v; want an answer", tc.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || served.Load() != 1 || slept != 0 {
				t.Errorf("GET stats with %s: status %d, handler ran %d times, slept %v; want 200, once, no delay",
					tc.name, resp.StatusCode, served.Load(), slept)
			}
		})
	}
}

func TestFaultsReproducible(t *testing.T) {
	draws := func(seed uint64) []int {
		f := &upstream.Faults{ErrorRate: 0.3, TooManyRate: 0.2, Seed: seed}
		h := f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		var codes []int
		for range 50 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, wire.PathCheckIns, nil))
			codes = append(codes, rec.Code)
		}
		return codes
	}
	a, b, c := draws(1), draws(1), draws(2)
	if !slices.Equal(a, b) {
		t.Errorf("faults with seed 1 twice = %v and %v; want the same", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("faults with seeds 1 and 2 = %v both; want them to differ", a)
	}
	n := map[int]int{}
	for _, c := range a {
		n[c]++
	}
	if n[500] == 0 || n[429] == 0 || n[200] == 0 {
		t.Errorf("50 draws at 30%% errors, 20%% 429 = %v; want some of each", n)
	}
}
