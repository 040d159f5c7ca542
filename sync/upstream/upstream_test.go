package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

func open(t *testing.T, path string) (*upstream.Server, *httptest.Server) {
	t.Helper()
	srv, err := upstream.Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// record returns a valid record of kiosk k with sequence number seq; its id
// is derived from both.
func record(k string, seq uint64) wire.Record {
	return wire.Record{
		ID:      fmt.Sprintf("01977420-4c00-7000-8000-%04x%08x", crc32.ChecksumIEEE([]byte(k))&0xffff, seq),
		KioskID: k,
		Seq:     seq,
		At:      time.Date(2026, 3, 4, 9, 15, 30, 123456789, time.UTC).Add(time.Duration(seq) * time.Minute),
		Clock:   "synced",
		Outcome: "checked_in",
		Issuer:  "US-DHS-TEST",
		Serial:  fmt.Sprintf("%016x", seq),
	}
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+wire.PathCheckIns, wire.ContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func postBatch(t *testing.T, url string, b wire.Batch) []wire.ItemResult {
	t.Helper()
	body, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	code, resp := post(t, url, body)
	if code != http.StatusOK {
		t.Fatalf("POST %s: status %d %s; want 200", wire.PathCheckIns, code, resp)
	}
	var res wire.BatchResult
	if err := json.Unmarshal(resp, &res); err != nil {
		t.Fatal(err)
	}
	return res.Results
}

func statuses(rs []wire.ItemResult) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Status+" "+r.Reason)
	}
	return strings.Join(s, ", ")
}

func stats(t *testing.T, srv *upstream.Server) wire.Stats {
	t.Helper()
	st, err := srv.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestItemResults(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	r1, r2 := record("k1", 1), record("k1", 2)
	if got := statuses(postBatch(t, ts.URL, wire.Batch{KioskID: "k1", Records: []wire.Record{r1, r2}})); got != "accepted , accepted " {
		t.Fatalf("first batch: %s; want two accepted", got)
	}

	clash := record("k1", 2)
	clash.ID = record("k1", 99).ID // another id for a seq already held
	changed := r1
	changed.Serial = "ffff" // same id, other contents
	other := record("k2", 1)
	noID := record("k1", 3)
	noID.ID = ""
	zeroSeq := record("k1", 4)
	zeroSeq.Seq = 0
	noTime := record("k1", 5)
	noTime.At = time.Time{}
	noOutcome := record("k1", 6)
	noOutcome.Outcome = ""
	r7 := record("k1", 7)
	badClock := record("k1", 8)
	badClock.Clock = "sundial"

	tests := []struct {
		name string
		rec  wire.Record
		want string
	}{
		{"resent", r1, "duplicate "},
		{"seq held by another id", clash, "rejected seq_conflict"},
		{"id held with other contents", changed, "rejected id_conflict"},
		{"other kiosk", other, "rejected kiosk_mismatch"},
		{"missing id", noID, "rejected bad_id"},
		{"seq 0", zeroSeq, "rejected bad_seq"},
		{"zero time", noTime, "rejected bad_time"},
		{"no outcome", noOutcome, "rejected bad_field"},
		{"unknown clock state", badClock, "rejected bad_field"},
		{"new", r7, "accepted "},
		{"repeated in the same batch", r7, "duplicate "},
	}
	var b wire.Batch
	b.KioskID = "k1"
	for _, tt := range tests {
		b.Records = append(b.Records, tt.rec)
	}
	res := postBatch(t, ts.URL, b)
	if len(res) != len(tests) {
		t.Fatalf("got %d results for %d records", len(res), len(tests))
	}
	for i, tt := range tests {
		if got := res[i].Status + " " + res[i].Reason; got != tt.want {
			t.Errorf("%s: result %q; want %q", tt.name, got, tt.want)
		}
		if res[i].ID != tt.rec.ID {
			t.Errorf("%s: result id %q; want %q", tt.name, res[i].ID, tt.rec.ID)
		}
	}
	if got, want := stats(t, srv), (wire.Stats{CheckIns: 3, Kiosks: 1}); got != want {
		t.Errorf("Stats = %+v; want %+v", got, want)
	}
}

func TestMalformedItemsDoNotBlockTheBatch(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	good, _ := json.Marshal(record("k1", 1))
	badTime := strings.Replace(string(mustJSON(t, record("k1", 2))), `"at":"2026-`, `"at":"yesterday-`, 1)
	body := `{"kiosk_id":"k1","records":[` + badTime + `,` + string(good) + `,{"id":"` + record("k1", 3).ID + `","extra":1},42]}`
	code, resp := post(t, ts.URL, []byte(body))
	if code != http.StatusOK {
		t.Fatalf("status %d %s; want 200", code, resp)
	}
	var res wire.BatchResult
	if err := json.Unmarshal(resp, &res); err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(res.Results), "rejected bad_time, accepted , rejected malformed, rejected malformed"; got != want {
		t.Errorf("results: %s; want %s", got, want)
	}
	if res.Results[0].ID != record("k1", 2).ID || res.Results[2].ID != record("k1", 3).ID {
		t.Errorf("rejected results name %q and %q; want the records' ids", res.Results[0].ID, res.Results[2].ID)
	}
	if got := stats(t, srv).CheckIns; got != 1 {
		t.Errorf("CheckIns = %d; want 1", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDedupeAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstream.db")
	srv, ts := open(t, path)
	b := wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 1), record("k1", 2)}}
	postBatch(t, ts.URL, b)
	ts.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv, ts = open(t, path)
	b.Records = append(b.Records, record("k1", 3))
	if got, want := statuses(postBatch(t, ts.URL, b)), "duplicate , duplicate , accepted "; got != want {
		t.Errorf("after restart: %s; want %s", got, want)
	}
	if got, want := stats(t, srv), (wire.Stats{CheckIns: 3, Kiosks: 1}); got != want {
		t.Errorf("Stats = %+v; want %+v", got, want)
	}
}

func TestBadRequests(t *testing.T) {
	_, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	big := wire.Batch{KioskID: "k1"}
	for i := range wire.MaxBatch + 1 {
		big.Records = append(big.Records, record("k1", uint64(i+1)))
	}
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not JSON", `{"kiosk_id":`, http.StatusBadRequest},
		{"not an object", `[]`, http.StatusBadRequest},
		{"trailing data", `{"kiosk_id":"k1","records":[]} {}`, http.StatusBadRequest},
		{"unknown field", `{"kiosk_id":"k1","records":[],"names":[]}`, http.StatusBadRequest},
		{"no kiosk", `{"records":[]}`, http.StatusBadRequest},
		{"bad kiosk", `{"kiosk_id":"a b","records":[]}`, http.StatusBadRequest},
		{"too many records", string(mustJSON(t, big)), http.StatusRequestEntityTooLarge},
		{"too many bytes", `{"kiosk_id":"k1","records":["` + strings.Repeat("x", wire.MaxBodyBytes) + `"]}`, http.StatusRequestEntityTooLarge},
		{"empty batch", `{"kiosk_id":"k1","records":[]}`, http.StatusOK},
	}
	for _, tt := range tests {
		code, body := post(t, ts.URL, []byte(tt.body))
		if code != tt.want {
			t.Errorf("%s: status %d %s; want %d", tt.name, code, body, tt.want)
		}
		if code != http.StatusOK {
			var e wire.Error
			if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
				t.Errorf("%s: body %q is not a wire.Error", tt.name, body)
			}
		}
	}

	resp, err := http.Post(ts.URL+wire.PathCheckIns, "text/plain", strings.NewReader(`{"kiosk_id":"k1","records":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST text/plain: status %d; want 415", resp.StatusCode)
	}
}

func TestStatsAndHealth(t *testing.T) {
	_, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	postBatch(t, ts.URL, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 1), record("k1", 2)}})
	postBatch(t, ts.URL, wire.Batch{KioskID: "k2", Records: []wire.Record{record("k2", 1)}})

	resp, err := http.Get(ts.URL + wire.PathStats)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st wire.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if want := (wire.Stats{CheckIns: 3, Kiosks: 2}); resp.StatusCode != 200 || st != want {
		t.Errorf("GET %s = %d %+v; want 200 %+v", wire.PathStats, resp.StatusCode, st, want)
	}

	resp, err = http.Get(ts.URL + wire.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %d; want 200", wire.PathHealth, resp.StatusCode)
	}
}
