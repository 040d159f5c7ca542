package upstream_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// scrape gets GET /metrics with the admin token and returns each sample's
// value by its name and labels as the text format writes them.
func (o *operated) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, _, body := o.get(t, o.anon, upstream.PathMetrics, bearer(o.token))
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", upstream.PathMetrics, code)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// TestMetrics: records stored, duplicate and rejected by reason, batch
// latency, each kiosk's heartbeat age and the store's health, as scraped
// over TLS with the admin token.
func TestMetrics(t *testing.T) {
	o := startOperated(t, nil, "k1", "k2")
	o.upload(t, "k1", 1, 2, 3)
	o.upload(t, "k1", 2, 3, 4) // 2 duplicates, 1 accepted
	bad := record("k2", 1)
	bad.Sig[0] ^= 1
	code, body, err := do(t, o.device(t, "k2"), "POST", o.url+wire.PathCheckIns, wire.Batch{KioskID: "k2", Records: []wire.Record{bad}})
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST a badly signed record = %d %s, %v; want 200", code, body, err)
	}
	// A batch of another kiosk than the device's: 403, no record counted.
	if code, _, _ := do(t, o.device(t, "k2"), "POST", o.url+wire.PathCheckIns, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 5)}}); code != http.StatusForbidden {
		t.Fatalf("POST a batch of k1 from k2 = %d; want 403", code)
	}
	o.beat(t, "k1", 4, nil, deviceOf("k1"))
	o.advance(42 * time.Second)

	m := o.scrape(t)
	for sample, want := range map[string]float64{
		`kiosk_upstream_records_total{status="accepted"}`:               4,
		`kiosk_upstream_records_total{status="duplicate"}`:              2,
		`kiosk_upstream_records_rejected_total{reason="bad_signature"}`: 1,
		`kiosk_upstream_records_rejected_total{reason="chain_broken"}`:  0,
		`kiosk_upstream_records_rejected_total{reason="other"}`:         0,
		`kiosk_upstream_batch_seconds_count{code="200"}`:                3,
		`kiosk_upstream_batch_seconds_count{code="403"}`:                1,
		`kiosk_upstream_heartbeat_age_seconds{kiosk_id="k1"}`:           42,
		`kiosk_upstream_store_up`:                                       1,
	} {
		if got, ok := m[sample]; !ok || got != want {
			t.Errorf("%s = %v (present %v); want %v", sample, got, ok, want)
		}
	}
	if _, ok := m[`kiosk_upstream_heartbeat_age_seconds{kiosk_id="k2"}`]; ok {
		t.Errorf("heartbeat age of k2, never heard from: present; want absent")
	}
	for sample := range m {
		if strings.Contains(sample, "A0000") || strings.Contains(sample, person("k1", 1).FamilyName) {
			t.Errorf("metrics sample %s carries personal data", sample)
		}
	}

	// The database gone: the replica says so.
	o.srv.Close()
	if got := o.scrape(t)[`kiosk_upstream_store_up`]; got != 0 {
		t.Errorf("kiosk_upstream_store_up with the store closed = %v; want 0", got)
	}
}
