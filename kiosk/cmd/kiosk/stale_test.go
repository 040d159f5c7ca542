package main

import (
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// A's confirm screen is up; B scans; A's tap, made on A's screen before the
// page drew B's, arrives. Nobody may be checked in by it, and the page is
// sent the screen that is really up.
func TestStaleTapEndToEnd(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	p := openPage(t, m)
	p.want(kiosk.ScreenIdle)

	simScan(t, m, kit.Samples["valid"])
	a := p.want(kiosk.ScreenConfirm)
	simScan(t, m, kit.Samples["reference"])
	b := p.want(kiosk.ScreenConfirm)
	if b.Name == a.Name || b.Rev == a.Rev {
		t.Fatalf("second confirm %+v after %+v; want another name under a new rev", b, a)
	}

	// A's confirm and deny, stamped with A's screen: ignored, and the page
	// gets the current screen (B's) again.
	for _, action := range []string{kiosk.ActionConfirm, kiosk.ActionDeny} {
		p.rev = a.Rev
		p.act(action)
		if again := p.want(kiosk.ScreenConfirm); again.Rev != b.Rev || again.Name != b.Name {
			t.Errorf("after a stale %s: screen %+v; want B's confirm (rev %d) again", action, again, b.Rev)
		}
	}
	// A confirm with no rev at all is refused with an error frame.
	if err := p.conn.WriteJSON(map[string]any{"v": 1, "type": "action", "action": "confirm"}); err != nil {
		t.Fatal(err)
	}
	if e := p.nextError(); e != "missing_rev" {
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
		t.Fatalf("B's confirm replaced A's without holding its buttons: %+v", b)
	}
	time.Sleep(time.Duration(*b.ArmedInMS) * time.Millisecond)
	p.rev = b.Rev
	p.act(kiosk.ActionConfirm)
	p.want(kiosk.ScreenSuccess)
	if n := recorded(t, m); n != 1 {
		t.Errorf("%d check-ins recorded; want 1 (B's)", n)
	}
}

// nextError reads frames until an error frame and returns its code.
func (p *page) nextError() string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var msg struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}
		if err := p.conn.ReadJSON(&msg); err != nil {
			p.t.Fatalf("read websocket: %v (waiting for an error frame)", err)
		}
		if msg.Type == "error" {
			return msg.Error
		}
		if strings.TrimSpace(msg.Type) == "" {
			p.t.Fatalf("frame without a type")
		}
	}
}
