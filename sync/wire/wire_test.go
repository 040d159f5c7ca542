package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

func TestRecordJSON(t *testing.T) {
	r := wire.Record{
		ID: "01977420-4c00-7abc-8def-0123456789ab", KioskID: "kiosk-01", Seq: 7,
		At:    time.Date(2026, 3, 4, 9, 15, 30, 123456789, time.UTC),
		Clock: "unsynced", Outcome: "checked_in", Issuer: "US-DHS-TEST", Serial: "0f1e",
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"01977420-4c00-7abc-8def-0123456789ab","kiosk_id":"kiosk-01","seq":7,` +
		`"at":"2026-03-04T09:15:30.123456789Z","clock":"unsynced","outcome":"checked_in","issuer":"US-DHS-TEST","serial":"0f1e"}`
	if string(b) != want {
		t.Errorf("json.Marshal(Record) = %s; want %s", b, want)
	}
	b, _ = json.Marshal(wire.ItemResult{ID: "x", Status: wire.StatusAccepted})
	if want := `{"id":"x","status":"accepted"}`; string(b) != want {
		t.Errorf("json.Marshal(ItemResult) = %s; want %s", b, want)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"01977420-4c00-7abc-8def-0123456789ab", true},
		{"01977420-4c00-7abc-bdef-0123456789ab", true},
		{"", false},
		{"01977420-4c00-4abc-8def-0123456789ab", false},  // version 4
		{"01977420-4c00-7abc-cdef-0123456789ab", false},  // variant
		{"01977420-4C00-7ABC-8DEF-0123456789AB", false},  // upper case
		{"01977420-4c00-7abc-8def-0123456789a", false},   // short
		{"01977420+4c00-7abc-8def-0123456789ab", false},  // separator
		{"0197742g-4c00-7abc-8def-0123456789ab", false},  // not hex
		{"{1977420-4c00-7abc-8def-0123456789ab}", false}, // braces
	}
	for _, tt := range tests {
		if got := wire.ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidKioskID(t *testing.T) {
	long := strings.Repeat("k", wire.MaxKioskIDLen+1)
	tests := []struct {
		in   string
		want bool
	}{
		{"kiosk-01", true},
		{"SFR.lobby_2", true},
		{long[:64], true},
		{long, false},
		{"", false},
		{"a b", false},
		{"kiosk/01", false},
		{"kiosk-ü", false},
	}
	for _, tt := range tests {
		if got := wire.ValidKioskID(tt.in); got != tt.want {
			t.Errorf("ValidKioskID(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}
