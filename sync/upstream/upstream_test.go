package upstream_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/fxamacker/cbor/v2"
)

var sealKey = sync.OnceValue(func() hpke.PrivateKey {
	k, err := wire.GenerateSealKey()
	if err != nil {
		panic(err)
	}
	return k
})

// deviceOf returns kiosk k's device key, the same in every run.
func deviceOf(k string) *device.Identity {
	seed := sha256.Sum256([]byte("device of " + k))
	return device.New(ed25519.NewKeyFromSeed(seed[:]))
}

// open opens a server at path with kiosks k1 and k2 registered, served
// over plain HTTP for these tests of the API's semantics: a request comes
// from the device of the kiosk its URL names as its user (as), and from
// none without one (TestPlainHTTPRefused: the server alone refuses them).
func open(t *testing.T, path string) (*upstream.Server, *httptest.Server) {
	t.Helper()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	srv, err := upstream.New(st, upstream.Options{SealKey: sealKey(), Authenticate: urlUserDevice})
	if err != nil {
		st.Close()
		t.Fatalf("New: %v", err)
	}
	for _, k := range []string{"k1", "k2"} {
		if err := srv.RegisterDevice(context.Background(), k, deviceOf(k).Public()); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// urlUserDevice authenticates a request, over plain HTTP, as the device of
// the kiosk named by the user of its URL (as): the tests' explicit stand-in
// for a TLS client certificate.
func urlUserDevice(r *http.Request) (ed25519.PublicKey, error) {
	k, _, ok := r.BasicAuth()
	if !ok {
		return nil, errors.New("no kiosk named")
	}
	return deviceOf(k).Public(), nil
}

// as returns base (a server's URL) for requests from kiosk k's device
// (urlUserDevice).
func as(base, k string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.User = url.User(k)
	return u.String()
}

var (
	chainsMu sync.Mutex
	chains   = map[string][]wire.Record{}
)

// person is who record seq of kiosk k is of.
func person(k string, seq uint64) wire.Person {
	return wire.Person{ANumber: fmt.Sprintf("A%09d", seq), FamilyName: "Quetzalcoatlova", GivenName: "Xiomarelly",
		DateOfBirth: "1987-11-23", Office: "SFR"}
}

// record returns kiosk k's record seq: valid, sealed, chained to record
// seq-1 and signed. Its id is derived from k and seq.
func record(k string, seq uint64) wire.Record {
	chainsMu.Lock()
	defer chainsMu.Unlock()
	for n := uint64(len(chains[k])) + 1; n <= seq; n++ {
		r := wire.Record{
			ID:      fmt.Sprintf("01977420-4c00-7000-8000-%04x%08x", crc32.ChecksumIEEE([]byte(k))&0xffff, n),
			KioskID: k,
			Seq:     n,
			At:      time.Date(2026, 3, 4, 9, 15, 30, 123456789, time.UTC).Add(time.Duration(n) * time.Minute),
			Clock:   "synced",
			Outcome: "checked_in",
			Issuer:  "US-DHS-TEST",
			Serial:  fmt.Sprintf("%016x", n),
			BootID:  "5b0d4f9c-6a52-4c36-a2a1-0d3c9b7e8f10",
			Mono:    int64(n) * int64(time.Minute),
			Prev:    wire.GenesisPrev,
		}
		if n > 1 {
			r.Prev = chains[k][n-2].Hash
		}
		sealed, err := wire.Seal(sealKey().PublicKey(), k, r.ID, person(k, n))
		if err != nil {
			panic(err)
		}
		r.Sealed = sealed
		r.Sign(deviceOf(k).PrivateKey())
		chains[k] = append(chains[k], r)
	}
	r := chains[k][seq-1]
	r.Sealed, r.Prev, r.Hash, r.Sig = bytes.Clone(r.Sealed), bytes.Clone(r.Prev), bytes.Clone(r.Hash), bytes.Clone(r.Sig)
	return r
}

// reseal seals r's person again, to r's id, and signs r again.
func reseal(r wire.Record) wire.Record {
	sealed, err := wire.Seal(sealKey().PublicKey(), r.KioskID, r.ID, person(r.KioskID, r.Seq))
	if err != nil {
		panic(err)
	}
	r.Sealed = sealed
	return resign(r)
}

// resign signs r again with its kiosk's key, after a change.
func resign(r wire.Record) wire.Record {
	r.Sign(deviceOf(r.KioskID).PrivateKey())
	return r
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	return postAs(t, url, wire.ContentType, body)
}

func postAs(t *testing.T, url, mediaType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+wire.PathCheckIns, mediaType, bytes.NewReader(body))
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

// postBatch posts b as JSON.
func postBatch(t *testing.T, url string, b wire.Batch) []wire.ItemResult {
	t.Helper()
	return postBatchAs(t, url, wire.ContentType, b)
}

// postBatchAs posts b as JSON (wire.ContentType) or CBOR
// (wire.BatchContentType), from the device of b's kiosk.
func postBatchAs(t *testing.T, url, mediaType string, b wire.Batch) []wire.ItemResult {
	t.Helper()
	var body []byte
	var err error
	if mediaType == wire.BatchContentType {
		body, err = wire.MarshalBatch(b)
	} else {
		body, err = json.Marshal(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	code, resp := postAs(t, as(url, b.KioskID), mediaType, body)
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

// setAdmin gives srv an admin of one new token, and returns the token, as
// `kiosk upstream` does with its admin token file.
func setAdmin(t *testing.T, srv *upstream.Server) string {
	t.Helper()
	token, line, err := upstream.NewAdminToken()
	if err != nil {
		t.Fatal(err)
	}
	a, err := upstream.ParseAdmin([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAdmin(a)
	return token
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
	for _, mt := range []string{wire.ContentType, wire.BatchContentType} {
		t.Run(mt, func(t *testing.T) { testItemResults(t, mt) })
	}
}

func testItemResults(t *testing.T, mediaType string) {
	postBatch := func(t *testing.T, url string, b wire.Batch) []wire.ItemResult {
		t.Helper()
		return postBatchAs(t, url, mediaType, b)
	}
	path := filepath.Join(t.TempDir(), "upstream.db")
	srv, ts := open(t, path)
	r1, r2 := record("k1", 1), record("k1", 2)
	if got := statuses(postBatch(t, ts.URL, wire.Batch{KioskID: "k1", Records: []wire.Record{r1, r2}})); got != "accepted , accepted " {
		t.Fatalf("first batch: %s; want two accepted", got)
	}

	fork := r2
	fork.Serial = "ffff" // the kiosk's seq 2, another history
	fork = resign(fork)
	forkNewID := r2
	forkNewID.ID = record("k1", 99).ID
	forkNewID = reseal(forkNewID)
	idElsewhere := record("k1", 9) // seq 9 carrying seq 1's id
	idElsewhere.ID = r1.ID
	idElsewhere = reseal(idElsewhere)
	other := record("k2", 1)
	noID := record("k1", 3)
	noID.ID = ""
	zeroSeq := record("k1", 4)
	zeroSeq.Seq = 0
	noTime := record("k1", 5)
	noTime.At = time.Time{}
	noOutcome := record("k1", 6)
	noOutcome.Outcome = ""
	badClock := record("k1", 8)
	badClock.Clock = "sundial"
	tampered := record("k1", 3)
	tampered.Serial = "ffff" // not signed again: only the device key can
	stranger, _ := device.Generate()
	foreign := record("k1", 3)
	foreign.Sign(stranger.PrivateKey())
	otherKey, _ := wire.GenerateSealKey()
	unsealable := record("k1", 3)
	unsealable.Sealed, _ = wire.Seal(otherKey.PublicKey(), "k1", unsealable.ID, person("k1", 3))
	unsealable = resign(unsealable)
	movedSeal := record("k1", 3)
	movedSeal.Sealed = record("k1", 4).Sealed // another record's person
	movedSeal = resign(movedSeal)
	relinked := record("k1", 3)
	relinked.Prev = r1.Hash
	relinked = resign(relinked)
	r3, r4, r5 := record("k1", 3), record("k1", 4), record("k1", 5)
	r4changed := r4 // chains to 3, but 5 is held and chains to the real 4
	r4changed.Serial = "ffff"
	r4changed = resign(r4changed)

	tests := []struct {
		name string
		rec  wire.Record
		want string
	}{
		{"resent", r1, "duplicate "},
		{"seq held with another hash", fork, "rejected fork"},
		{"seq held by another id", forkNewID, "rejected fork"},
		{"id held at another seq", idElsewhere, "rejected id_conflict"},
		{"other kiosk", other, "rejected kiosk_mismatch"},
		{"missing id", noID, "rejected bad_id"},
		{"seq 0", zeroSeq, "rejected bad_seq"},
		{"zero time", noTime, "rejected bad_time"},
		{"no outcome", noOutcome, "rejected bad_field"},
		{"unknown clock state", badClock, "rejected bad_field"},
		{"altered", tampered, "rejected bad_signature"},
		{"signed by another device", foreign, "rejected bad_signature"},
		{"sealed to another upstream", unsealable, "rejected unsealable"},
		{"sealed person of another record", movedSeal, "rejected unsealable"},
		{"chained to another record", relinked, "rejected chain_broken"},
		{"next", r3, "accepted "},
		{"repeated in the same batch", r3, "duplicate "},
		{"after a gap", r5, "accepted "},
		{"filling the gap, not what follows chains to", r4changed, "rejected chain_broken"},
		{"filling the gap", r4, "accepted "},
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
	rejected := 0
	for i, tt := range tests {
		if got := res[i].Status + " " + res[i].Reason; got != tt.want {
			t.Errorf("%s: result %q; want %q", tt.name, got, tt.want)
		}
		if res[i].ID != tt.rec.ID {
			t.Errorf("%s: result id %q; want %q", tt.name, res[i].ID, tt.rec.ID)
		}
		if res[i].Status == wire.StatusRejected {
			rejected++
		}
	}
	if got, want := stats(t, srv), (wire.Stats{CheckIns: 5, Kiosks: 1, Forks: 2, Rejected: int64(rejected)}); got != want {
		t.Errorf("Stats = %+v; want %+v", got, want)
	}
	// A fork sent again is counted once.
	postBatch(t, ts.URL, wire.Batch{KioskID: "k1", Records: []wire.Record{fork}})
	if got := stats(t, srv).Forks; got != 2 {
		t.Errorf("Forks after the fork was sent again = %d; want 2", got)
	}

	// The person is kept, opened; the upstream may hold it.
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var a, dob string
	if err := db.QueryRow(`SELECT a_number, date_of_birth FROM checkins WHERE id = ?`, r3.ID).Scan(&a, &dob); err != nil {
		t.Fatal(err)
	}
	if want := person("k1", 3); a != want.ANumber || dob != want.DateOfBirth {
		t.Errorf("person of record 3 held as %s, %s; want %s, %s", a, dob, want.ANumber, want.DateOfBirth)
	}
}

func TestGaps(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	send := func(seqs ...uint64) string {
		var b wire.Batch
		b.KioskID = "k2"
		for _, s := range seqs {
			b.Records = append(b.Records, record("k2", s))
		}
		return statuses(postBatch(t, ts.URL, b))
	}
	tests := []struct {
		send     []uint64
		want     string
		wantGaps int64
	}{
		{[]uint64{1, 2}, "accepted , accepted ", 0},
		{[]uint64{5}, "accepted ", 2}, // 3 and 4 deleted at the kiosk, or not sent yet
		{[]uint64{7, 8}, "accepted , accepted ", 3},
		{[]uint64{3}, "accepted ", 2},
		{[]uint64{4, 6}, "accepted , accepted ", 0},
	}
	for _, tt := range tests {
		if got := send(tt.send...); got != tt.want {
			t.Errorf("send %v: %s; want %s", tt.send, got, tt.want)
		}
		if got := stats(t, srv).Gaps; got != tt.wantGaps {
			t.Errorf("after sending %v: Gaps = %d; want %d", tt.send, got, tt.wantGaps)
		}
	}
}

func TestUnknownKiosk(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	body := mustJSON(t, wire.Batch{KioskID: "k3", Records: []wire.Record{record("k3", 1)}})
	if code, resp := post(t, as(ts.URL, "k3"), body); code != http.StatusForbidden {
		t.Errorf("batch of an unregistered kiosk: status %d %s; want 403", code, resp)
	}
	if err := srv.RegisterDevice(context.Background(), "k3", deviceOf("k3").Public()); err != nil {
		t.Fatal(err)
	}
	if code, resp := post(t, as(ts.URL, "k3"), body); code != http.StatusOK {
		t.Errorf("after RegisterDevice: status %d %s; want 200", code, resp)
	}
	// Registering again is harmless; a key of another kiosk is refused.
	if err := srv.RegisterDevice(context.Background(), "k3", deviceOf("k3").Public()); err != nil {
		t.Errorf("RegisterDevice again = %v; want nil", err)
	}
	if err := srv.RegisterDevice(context.Background(), "k4", deviceOf("k3").Public()); err == nil {
		t.Error("RegisterDevice(k4, the key of k3) = nil; want an error")
	}
}

func TestSealKeyKept(t *testing.T) {
	dir := t.TempDir()
	opts := upstream.DirOptions{OpenStore: sqlite.OpenIn}
	srv, err := upstream.OpenServer(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	pub := srv.SealPublicKey()
	srv.Close()
	fi, err := os.Stat(filepath.Join(dir, upstream.SealKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seal key file: %v, %v; want mode 0600", fi, err)
	}
	srv, err = upstream.OpenServer(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !bytes.Equal(srv.SealPublicKey(), pub) {
		t.Errorf("SealPublicKey after reopening = %x; want %x", srv.SealPublicKey(), pub)
	}
	if _, err := wire.ParseSealPublicKey(pub); err != nil {
		t.Errorf("ParseSealPublicKey(SealPublicKey()) = %v", err)
	}
}

// TestPlainHTTPRefused: the one handler there is, served over plain HTTP
// as it comes (no Options.Authenticate), has no device to take a kiosk's
// requests from, and refuses them all — a batch of an enrolled kiosk
// included — while health stays open and stats take the admin token.
func TestPlainHTTPRefused(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := upstream.New(st, upstream.Options{SealKey: sealKey()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterDevice(context.Background(), "k1", deviceOf("k1").Public()); err != nil {
		t.Fatal(err)
	}
	token := setAdmin(t, srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	head := wire.Head{KioskID: "k1", Seq: 1, Hash: record("k1", 1).Hash, At: time.Now()}
	head.Sign(deviceOf("k1").PrivateKey())
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		admin              bool // with the admin token
		want               int
	}{
		{"batch", "POST", wire.PathCheckIns, mustJSON(t, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 1)}}), false, http.StatusForbidden},
		{"heartbeat", "POST", wire.PathHeartbeats, mustJSON(t, head), false, http.StatusForbidden},
		{"download", "GET", wire.PathTrustList, nil, false, http.StatusForbidden},
		{"stats", "GET", wire.PathStats, nil, false, http.StatusUnauthorized},
		{"stats with the admin token", "GET", wire.PathStats, nil, true, http.StatusOK},
		{"health", "GET", wire.PathHealth, nil, false, http.StatusOK},
	} {
		// The user of the URL is what the other tests authenticate by:
		// here it must count for nothing.
		u := as(ts.URL, "k1")
		if tc.admin {
			u = ts.URL // the admin token is the password of no user here
		}
		req, err := http.NewRequest(tc.method, u+tc.path, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", wire.ContentType)
		if tc.admin {
			req.Header.Set("Authorization", bearer(token))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s over plain HTTP, no client certificate = %d %s; want %d", tc.name, tc.method, tc.path, resp.StatusCode, body, tc.want)
		}
	}
	if got := stats(t, srv); got.CheckIns != 0 || got.Rejected != 0 {
		t.Errorf("Stats after the refused batch = %+v; want nothing held or counted", got)
	}
}

func TestMalformedItemsDoNotBlockTheBatch(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	good, _ := json.Marshal(record("k1", 1))
	badTime := strings.Replace(string(mustJSON(t, record("k1", 2))), `"at":"2026-`, `"at":"yesterday-`, 1)
	body := `{"kiosk_id":"k1","records":[` + badTime + `,` + string(good) + `,{"id":"` + record("k1", 3).ID + `","extra":1},42]}`
	code, resp := post(t, as(ts.URL, "k1"), []byte(body))
	wantMalformedResults(t, srv, code, resp)
}

// wantMalformedResults checks the answer to the batch of
// TestMalformedItemsDoNotBlockTheBatch: a record with a bad time, a good
// one (k1's first), one with an unknown field (k1's third), and a number.
func wantMalformedResults(t *testing.T, srv *upstream.Server, code int, resp []byte) {
	t.Helper()
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

// TestMalformedCBORItemsDoNotBlockTheBatch is
// TestMalformedItemsDoNotBlockTheBatch for batches in CBOR, the uploader's
// form, and checks that a CBOR body must be strict.
func TestMalformedCBORItemsDoNotBlockTheBatch(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	asMap := func(r wire.Record) map[string]any {
		b, err := wire.MarshalBatch(wire.Batch{KioskID: r.KioskID, Records: []wire.Record{r}})
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Records []map[string]any }
		if err := cbor.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m.Records[0]
	}
	badTime := asMap(record("k1", 2))
	badTime["at"] = "yesterday"
	extra := map[string]any{"id": record("k1", 3).ID, "extra": 1}
	batch := map[string]any{"kiosk_id": "k1", "records": []any{badTime, asMap(record("k1", 1)), extra, 42}}
	body, err := cbor.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	code, resp := postAs(t, as(ts.URL, "k1"), wire.BatchContentType, body)
	wantMalformedResults(t, srv, code, resp)

	good, err := wire.MarshalBatch(wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 2)}})
	if err != nil {
		t.Fatal(err)
	}
	unknownKey, _ := cbor.Marshal(map[string]any{"kiosk_id": "k1", "records": []any{}, "more": true})
	// good is a map of two pairs, kiosk_id ("k1", 1+8+3 bytes) first:
	// make it three, kiosk_id twice.
	if good[0] != 0xa2 || string(good[1:13]) != "\x68kiosk_id\x62k1" {
		t.Fatalf("a batch in CBOR begins % x; want a map of 2 pairs, kiosk_id first", good[:13])
	}
	dupKey := append(append([]byte{0xa3}, good[1:13]...), good[1:]...)
	bad := []struct {
		name string
		body []byte
	}{
		{"trailing data", append(bytes.Clone(good), 0x00)},
		{"unknown key", unknownKey},
		{"a key twice", dupKey},
		{"JSON sent as CBOR", mustJSON(t, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 2)}})},
	}
	for _, tt := range bad {
		if code, resp := postAs(t, as(ts.URL, "k1"), wire.BatchContentType, tt.body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d %s; want 400", tt.name, code, resp)
		}
	}
	if code, resp := postAs(t, as(ts.URL, "k1"), "application/octet-stream", good); code != http.StatusUnsupportedMediaType {
		t.Errorf("another media type: status %d %s; want 415", code, resp)
	}
	if got := stats(t, srv).CheckIns; got != 1 {
		t.Errorf("CheckIns after bad bodies = %d; want 1", got)
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
		code, body := post(t, as(ts.URL, "k1"), []byte(tt.body))
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

	resp, err := http.Post(as(ts.URL, "k1")+wire.PathCheckIns, "text/plain", strings.NewReader(`{"kiosk_id":"k1","records":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST text/plain: status %d; want 415", resp.StatusCode)
	}
}

func TestStatsAndHealth(t *testing.T) {
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	token := setAdmin(t, srv)
	postBatch(t, ts.URL, wire.Batch{KioskID: "k1", Records: []wire.Record{record("k1", 1), record("k1", 2)}})
	postBatch(t, ts.URL, wire.Batch{KioskID: "k2", Records: []wire.Record{record("k2", 1)}})

	resp, err := http.Get(ts.URL + wire.PathStats)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without the admin token = %d; want 401", wire.PathStats, resp.StatusCode)
	}
	req, err := http.NewRequest("GET", ts.URL+wire.PathStats, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", bearer(token))
	resp, err = http.DefaultClient.Do(req)
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

// TestSignatureRuns: a batch's signatures are verified per chained run
// (sync/API.md); the results are those of verifying every record, but for
// a record whose only fault is its own signature, inside a run whose last
// signature verifies: its contents are signed through prev.
func TestSignatureRuns(t *testing.T) {
	_, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	k := "k2"
	recs := make([]wire.Record, 8)
	for i := range recs {
		recs[i] = record(k, uint64(i+1))
	}
	send := func(rs ...wire.Record) string {
		return statuses(postBatch(t, ts.URL, wire.Batch{KioskID: k, Records: rs}))
	}
	// Altered in the middle, hash made again: the run ends there, its last
	// signature fails, the culprit is found; the records after it chain
	// to the real one, not held: kept, a gap.
	altered := recs[2]
	altered.Serial = "ffff"
	altered.Hash = altered.Digest()
	if got, want := send(recs[0], recs[1], altered, recs[3], recs[4]), "accepted , accepted , rejected bad_signature, accepted , accepted "; got != want {
		t.Errorf("altered in the middle: %s; want %s", got, want)
	}
	// Altered, hash not made again: rejected, whatever signs after it.
	stale := recs[5]
	stale.Serial = "ffff"
	if got, want := send(stale, recs[6]), "rejected bad_signature, accepted "; got != want {
		t.Errorf("hash not its digest: %s; want %s", got, want)
	}
	// The last of a run signed by another device: every record of the run
	// is verified on its own.
	stranger, _ := device.Generate()
	forged := recs[7]
	forged.Sign(stranger.PrivateKey())
	if got, want := send(recs[2], forged), "accepted , rejected bad_signature"; got != want {
		t.Errorf("last of a run forged: %s; want %s", got, want)
	}
}

// TestStaleHeadIsNotADeletedTail checks the heartbeat states in stats as
// records arrive after the last heartbeat: a head below records that came
// after it is stale, not a deleted tail; a head below what was held when
// it came is one.
func TestStaleHeadIsNotADeletedTail(t *testing.T) {
	ctx := context.Background()
	srv, ts := open(t, filepath.Join(t.TempDir(), "upstream.db"))
	const k = "k5"
	if err := srv.RegisterDevice(ctx, k, deviceOf(k).Public()); err != nil {
		t.Fatal(err)
	}
	send := func(seqs ...uint64) {
		t.Helper()
		var b wire.Batch
		b.KioskID = k
		for _, s := range seqs {
			b.Records = append(b.Records, record(k, s))
		}
		postBatch(t, ts.URL, b)
	}
	beat := func(seq uint64) {
		t.Helper()
		r := record(k, seq)
		h := wire.Head{KioskID: k, Seq: seq, Hash: r.Hash, At: time.Now()}
		h.Sign(deviceOf(k).PrivateKey())
		if _, err := srv.Heartbeat(ctx, h, deviceOf(k).Public()); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		t.Helper()
		health, err := srv.Health(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range health {
			if h.KioskID == k {
				return h.State
			}
		}
		t.Fatalf("no health for %s in %+v", k, health)
		return ""
	}

	send(1, 2, 3)
	beat(3)
	send(4, 5) // the next heartbeat has not come yet
	if got := state(); got != wire.HeadInSync {
		t.Errorf("head 3, records 1-5 held, 4 and 5 after the head: %q; want %q", got, wire.HeadInSync)
	}
	beat(2) // a head below what is held when it comes: the tail is gone
	if got := state(); got != wire.HeadTailDeleted {
		t.Errorf("head 2 sent while 1-5 are held: %q; want %q", got, wire.HeadTailDeleted)
	}
}
