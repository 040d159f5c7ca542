package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
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
	// The newest record held of each; k4 has none. No token named an
	// office (the person's office, sealed in each record, is not the
	// kiosk's).
	lastCheckIn := map[string]time.Time{"k1": record("k1", 3).At, "k2": record("k2", 2).At, "k3": record("k3", 3).At}
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
			last, held := lastCheckIn[id]
			if k.Office != "" || (k.LastCheckIn != nil) != held || held && !k.LastCheckIn.Equal(last) {
				t.Errorf("%s: fleet[%s] office %q, last check-in %v; want none, %v", when, id, k.Office, k.LastCheckIn, last)
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
	for _, s := range []string{"k1", "k2", "k3", "k4", upstream.AlertFork, upstream.AlertGaps, upstream.AlertNeverHeard, "4 kiosks · 4 with alerts",
		"2026-03-04 09:18:30 UTC"} { // k1's last check-in
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

// TestFleetOffice: a kiosk enrolled by a token naming its office shows
// it, and its last check-in is its newest record held, not the last to
// arrive; on the page too.
func TestFleetOffice(t *testing.T) {
	o := startOperated(t, nil, "k1")
	ctx := context.Background()
	const office = "Newark field office"
	token, err := o.srv.NewEnrollToken(ctx, "k5", 0, upstream.WithOffice(office))
	if err != nil {
		t.Fatal(err)
	}
	req := wire.EnrollRequest{KioskID: "k5", DevicePublicKey: deviceOf("k5").Public(), Token: token}
	if code, body, err := do(t, o.anon, "POST", o.url+wire.PathEnroll, req); err != nil || code != http.StatusOK {
		t.Fatalf("POST %s = %d %s, %v; want 200", wire.PathEnroll, code, body, err)
	}
	o.upload(t, "k5", 3)
	o.upload(t, "k5", 1)

	fleet := o.fleetOf(t)
	if k := fleet["k5"]; k.Office != office || k.LastCheckIn == nil || !k.LastCheckIn.Equal(record("k5", 3).At) {
		t.Errorf("fleet[k5] office %q, last check-in %v; want %q, %v", k.Office, k.LastCheckIn, office, record("k5", 3).At)
	}
	if k := fleet["k1"]; k.Office != "" || k.LastCheckIn != nil {
		t.Errorf("fleet[k1] office %q, last check-in %v; want none, null", k.Office, k.LastCheckIn)
	}
	_, _, page := o.get(t, o.anon, upstream.PathFleetPage, basic(o.token))
	for _, s := range []string{office, record("k5", 3).At.Format("2006-01-02 15:04:05 MST")} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}

	if _, err := o.srv.NewEnrollToken(ctx, "k6", 0, upstream.WithOffice("SFR\x1b[2J")); err == nil {
		t.Error("NewEnrollToken(an office with a control character) = nil; want an error")
	}
}

func TestValidOffice(t *testing.T) {
	for _, tc := range []struct {
		office string
		want   bool
	}{
		{"SFR", true},
		{"Newark field office", true},
		{"Bureau de Montréal", true},
		{strings.Repeat("é", upstream.MaxOfficeLen), true},
		{"", false},
		{strings.Repeat("a", upstream.MaxOfficeLen+1), false},
		{" SFR", false},
		{"SFR ", false},
		{"SFR\nNYC", false},
		{"SFR\tNYC", false},
		{"SFR\x1b[31m", false},
		{"SFR\u202eCYN", false}, // a bidi override: a format character
		{"SFR\u00a0NYC", false}, // a space other than ASCII's
		{"SFR\xff", false},      // not UTF-8
	} {
		if got := upstream.ValidOffice(tc.office); got != tc.want {
			t.Errorf("ValidOffice(%q) = %v; want %v", tc.office, got, tc.want)
		}
	}
}
