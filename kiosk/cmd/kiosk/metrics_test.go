package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// GET /metrics on the running daemon: the check-in counted by outcome, a
// refusal by reason, the scan's latency observed, the queue and the
// devices from the status; nothing personal.
func TestMetricsEndToEnd(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	p.Want(kiosk.ScreenSuccess)
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)
	simScan(t, m, kit.Samples["expired"])
	p.Want(kiosk.ScreenSeeStaff)

	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	text := string(b)
	for _, want := range []string{
		`kiosk_checkins_total{outcome="checked_in"} 1`,
		`kiosk_refusals_total{reason="card_expired"} 1`,
		"kiosk_scan_to_screen_seconds_count 2",
		"kiosk_outbox_pending 1",
		`kiosk_device_state{device="scanner",state="ok"} 1`,
		"kiosk_in_service 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	for _, personal := range []string{"Amina", "Haddad", "201555"} {
		if strings.Contains(text, personal) {
			t.Errorf("GET /metrics holds %q", personal)
		}
	}
}
