package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir/statedirtest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

type healthDoc struct {
	code   int
	Status string `json:"status"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func getHealth(t *testing.T, m *Main) healthDoc {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := healthDoc{code: resp.StatusCode}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("GET /healthz: %s: %v", b, err)
	}
	return h
}

// The state directory's disk fills up. Before it is full, the kiosk goes
// out of service (page, /healthz, status), and when space returns it comes
// back by itself.
func TestLowDiskEndToEnd(t *testing.T) {
	kit := testKit(t)
	state := statedirtest.Tmpfs(t, 24<<20)
	const reserve = 4 << 20
	m := startKiosk(t, state, kit, "", func(c *Config) {
		c.DiskReserve = reserve
		c.StorageCheck = 20 * time.Millisecond
	})
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	checkIn(t, m, p, kit)
	if h := getHealth(t, m); h.code != http.StatusOK {
		t.Fatalf("healthz %+v with room to spare; want 200", h)
	}

	// Below the reserve: out of service before any check-in fails.
	filler := statedirtest.Fill(t, state, reserve/2)
	if v := p.Want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonStorageLow {
		t.Errorf("out_of_service reason = %q; want %q", v.Reason, kiosk.ReasonStorageLow)
	}
	h := getHealth(t, m)
	if h.code != http.StatusServiceUnavailable || h.Reason != string(kiosk.ReasonStorageLow) || h.Error == "" {
		t.Errorf("healthz %+v below the reserve; want 503, reason storage_low, an error", h)
	}
	st := getStatus(t, m)
	if st.Service.State != "out_of_service" || st.Service.Reason != string(kiosk.ReasonStorageLow) || st.Screen != "out_of_service" {
		t.Errorf("status service %+v, screen %q; want out_of_service/storage_low", st.Service, st.Screen)
	}
	simScan(t, m, kit.Samples["valid"]) // a card it cannot record is not taken
	p.Want(kiosk.ScreenOutOfService)

	// Space returns: back in service by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.Want(kiosk.ScreenIdle)
	if h := getHealth(t, m); h.code != http.StatusOK {
		t.Errorf("healthz %+v after space returned; want 200", h)
	}

}

// The disk fills up while someone is on the confirm screen, faster than
// the kiosk looks (the reserve is one byte). Their check-in is still
// recorded, durably (the WAL is laid out ahead, so a commit needs no new
// space), and they are told so; then the kiosk is out of service, and back
// by itself when space returns. (A commit that fails once the WAL is full
// too: outbox's TestHealthOnFullDisk and the flow's
// TestFlowCommitFailureTakesOutOfService.)
func TestFullDiskEndToEnd(t *testing.T) {
	kit := testKit(t)
	state := statedirtest.Tmpfs(t, 24<<20)
	m := startKiosk(t, state, kit, "", func(c *Config) {
		c.DiskReserve = 1
		c.StorageCheck = 20 * time.Millisecond
	})
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	checkIn(t, m, p, kit)

	simScan(t, m, kit.Samples["reference"])
	p.Want(kiosk.ScreenConfirm)
	filler := statedirtest.Fill(t, state, 0)
	eventually(t, "healthz to answer 503", func() bool { return getHealth(t, m).code == http.StatusServiceUnavailable })
	p.Act(kiosk.ActionConfirm)
	s := p.Want(kiosk.ScreenSuccess)
	ids := recordIDs(t, m)
	if len(ids) != 2 || s.Code != kiosk.ConfirmationCode(ids[1]) {
		t.Fatalf("success %s with records %v; want the second record's code", s.Raw, ids)
	}
	if h := getHealth(t, m); h.Reason != string(kiosk.ReasonStorageLow) || h.Error == "" {
		t.Errorf("healthz %+v on a full disk; want 503 storage_low with an error", h)
	}
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenOutOfService)
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenOutOfService)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.Want(kiosk.ScreenIdle)
	if h := getHealth(t, m); h.code != http.StatusOK {
		t.Errorf("healthz %+v after space returned; want 200", h)
	}
	if n := recorded(t, m); n != 2 {
		t.Errorf("%d check-ins recorded; want 2", n)
	}
}

// checkIn checks the valid sample in through page p and back to idle.
func checkIn(t *testing.T, m *Main, p *uitest.Page, kit *demokit.Kit) {
	t.Helper()
	simScan(t, m, kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	p.Want(kiosk.ScreenSuccess)
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)
}
