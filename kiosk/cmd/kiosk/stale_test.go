package main

import (
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// A's confirm screen is up; B scans; A's tap, made on A's screen before the
// page drew B's, arrives. Nobody may be checked in by it, and the page is
// sent the screen that is really up.
func TestStaleTapEndToEnd(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)

	simScan(t, m, kit.Samples["valid"])
	a := p.Want(kiosk.ScreenConfirm)
	simScan(t, m, kit.Samples["reference"])
	b := p.Want(kiosk.ScreenConfirm)
	if b.Name == a.Name || b.Rev == a.Rev {
		t.Fatalf("second confirm %s after %s; want another name under a new rev", b.Raw, a.Raw)
	}

	// A's confirm and deny, stamped with A's screen: ignored, and the page
	// gets the current screen (B's) again.
	for _, action := range []string{kiosk.ActionConfirm, kiosk.ActionDeny} {
		p.ActAt(action, a.Rev)
		if again := p.Want(kiosk.ScreenConfirm); again.Rev != b.Rev || again.Name != b.Name {
			t.Errorf("after a stale %s: screen %s; want B's confirm (rev %d) again", action, again.Raw, b.Rev)
		}
	}
	// A confirm with no rev at all is refused with an error frame.
	p.Send(`{"v":1,"type":"action","action":"confirm"}`)
	if e := p.WantError(); e != "missing_rev" {
		t.Errorf("confirm without rev: error %q; want missing_rev", e)
	}
	if n := recorded(t, m); n != 0 {
		t.Fatalf("%d check-ins recorded by taps on an earlier screen; want 0", n)
	}
	if st := getStatus(t, m); st.Screen != string(kiosk.ScreenConfirm) {
		t.Errorf("status screen = %q; want confirm", st.Screen)
	}

	// B's own tap counts once the screen's buttons are armed.
	if b.ArmedInMS == nil || *b.ArmedInMS <= 0 {
		t.Fatalf("B's confirm replaced A's without holding its buttons: %s", b.Raw)
	}
	time.Sleep(time.Duration(*b.ArmedInMS) * time.Millisecond)
	p.ActAt(kiosk.ActionConfirm, b.Rev)
	p.Want(kiosk.ScreenSuccess)
	if n := recorded(t, m); n != 1 {
		t.Errorf("%d check-ins recorded; want 1 (B's)", n)
	}
}
