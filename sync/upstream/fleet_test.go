package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// beat sends kiosk k's chain head at seq, with hash (nil: the hash of
// record seq as record makes it), from k's device.
func (o *operated) beat(t *testing.T, k string, seq uint64, hash []byte, id *device.Identity) wire.HeartbeatResult {
	t.Helper()
	if hash == nil {
		hash = wire.GenesisPrev
		if seq > 0 {
			hash = record(k, seq).Hash
		}
	}
	h := wire.Head{KioskID: k, Seq: seq, Hash: hash, At: time.Now()}
	h.Sign(id.PrivateKey())
	code, body, err := do(t, o.device(t, k), "POST", o.url+wire.PathHeartbeats, h)
	if err != nil || code != http.StatusOK {
		t.Fatalf("heartbeat of %s at %d = %d %s, %v; want 200", k, seq, code, body, err)
	}
	var res wire.HeartbeatResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// upload posts kiosk k's records from..to from its device.
func (o *operated) upload(t *testing.T, k string, seqs ...uint64) {
	t.Helper()
	b := wire.Batch{KioskID: k}
	for _, s := range seqs {
		b.Records = append(b.Records, record(k, s))
	}
	code, body, err := do(t, o.device(t, k), "POST", o.url+wire.PathCheckIns, b)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST batch of %s = %d %s, %v; want 200", k, code, body, err)
	}
}

// fleetOf gets GET /v1/fleet with the admin token, by kiosk id.
func (o *operated) fleetOf(t *testing.T) map[string]upstream.FleetKiosk {
	t.Helper()
	code, _, body := o.get(t, o.anon, upstream.PathFleet, bearer(o.token))
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s; want 200", upstream.PathFleet, code, body)
	}
	var rep upstream.FleetReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	m := map[string]upstream.FleetKiosk{}
	for _, k := range rep.Kiosks {
		m[k.KioskID] = k
	}
	return m
}

// TestFleetView: each kiosk's head state, backlog and alerts, as its
// heartbeats and the records held say, in JSON and on the page.
//
//	k1: records 1–3 held, head at 5: behind, a backlog of 2;
//	k2: records 1–2 held, head at 2 with another hash: a fork;
//	k3: records 1 and 3 held, head at 3: gaps;
//	k4: enrolled, never heard from.
func TestFleetView(t *testing.T) {
	o := startOperated(t, nil, "k1", "k2", "k3", "k4")
	o.upload(t, "k1", 1, 2, 3)
	o.upload(t, "k2", 1, 2)
	o.upload(t, "k3", 1)
	o.upload(t, "k3", 3)
	o.beat(t, "k1", 5, bytes.Repeat([]byte{5}, wire.HashSize), deviceOf("k1"))
	o.beat(t, "k2", 2, bytes.Repeat([]byte{9}, wire.HashSize), deviceOf("k2"))
	o.beat(t, "k3", 3, nil, deviceOf("k3"))

	type want struct {
		state            string
		head, held, back uint64
		alerts           []string
	}
	check := func(when string, wants map[string]want) {
		t.Helper()
		fleet := o.fleetOf(t)
		if len(fleet) != len(wants) {
			t.Errorf("%s: fleet of %d kiosks; want %d", when, len(fleet), len(wants))
		}
		for id, w := range wants {
			k := fleet[id]
			got := want{k.State, k.HeadSeq, k.HeldSeq, k.Backlog, k.Alerts}
			if got.state != w.state || got.head != w.head || got.held != w.held || got.back != w.back || !slices.Equal(got.alerts, w.alerts) {
				t.Errorf("%s: fleet[%s] = %+v; want %+v", when, id, got, w)
			}
			if k.Office != "" || k.LastCheckIn != nil {
				t.Errorf("%s: fleet[%s] office %q, last check-in %v; want unknown from a store that cannot say", when, id, k.Office, k.LastCheckIn)
			}
		}
	}
	check("at once", map[string]want{
		"k1": {wire.HeadBehind, 5, 3, 2, []string{}},
		"k2": {wire.HeadFork, 2, 2, 0, []string{upstream.AlertFork}},
		"k3": {wire.HeadGaps, 3, 3, 0, []string{upstream.AlertGaps}},
		"k4": {"", 0, 0, 0, []string{upstream.AlertNeverHeard}},
	})
	o.advance(upstream.DefaultSilentAfter + time.Second)
	check("after the silence limit", map[string]want{
		"k1": {wire.HeadBehind, 5, 3, 2, []string{upstream.AlertSilent}},
		"k2": {wire.HeadFork, 2, 2, 0, []string{upstream.AlertSilent, upstream.AlertFork}},
		"k3": {wire.HeadGaps, 3, 3, 0, []string{upstream.AlertSilent, upstream.AlertGaps}},
		"k4": {"", 0, 0, 0, []string{upstream.AlertNeverHeard}},
	})

	code, h, page := o.get(t, o.anon, upstream.PathFleetPage, basic(o.token))
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s = %d %s; want 200 text/html", upstream.PathFleetPage, code, h.Get("Content-Type"))
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("page CSP = %q; want default-src 'none' and no unsafe-inline", csp)
	}
	for _, s := range []string{"k1", "k2", "k3", "k4", upstream.AlertFork, upstream.AlertGaps, upstream.AlertNeverHeard, "4 kiosks · 4 with alerts"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	for _, s := range []string{"<script", "style=", person("k1", 1).FamilyName, person("k1", 1).ANumber} {
		if strings.Contains(page, s) {
			t.Errorf("page contains %q", s)
		}
	}
}

// fleetStore is a store that also knows offices and last check-ins, as
// OfficeStore and LastCheckInStore let a store add.
type fleetStore struct {
	upstream.Store
	offices map[string]string
	last    map[string]time.Time
}

func (f fleetStore) KioskOffices(context.Context) (map[string]string, error) { return f.offices, nil }
func (f fleetStore) LastCheckIns(context.Context) (map[string]time.Time, error) {
	return f.last, nil
}

// TestFleetOfficeAndLastCheckIn: a store that knows them fills the office
// and the last check-in.
func TestFleetOfficeAndLastCheckIn(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 9, 15, 0, 0, time.UTC)
	o := startOperated(t, fleetStore{Store: st, offices: map[string]string{"k1": "SFR"}, last: map[string]time.Time{"k1": at}}, "k1", "k2")
	fleet := o.fleetOf(t)
	if k := fleet["k1"]; k.Office != "SFR" || k.LastCheckIn == nil || !k.LastCheckIn.Equal(at) {
		t.Errorf("fleet[k1] office %q, last check-in %v; want SFR, %v", k.Office, k.LastCheckIn, at)
	}
	if k := fleet["k2"]; k.Office != "" || k.LastCheckIn != nil {
		t.Errorf("fleet[k2] office %q, last check-in %v; want unknown", k.Office, k.LastCheckIn)
	}
}
