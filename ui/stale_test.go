package ui

import (
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// noAction fails the test if an action reached the flow. p pings and waits
// for the pong first: the reader handles frames in order, so whatever p
// sent before has been dealt with by then. It returns the screen frames
// read before the pong.
func (h *harness) noAction(t *testing.T, p *uitest.Page, after string) []uitest.Frame {
	t.Helper()
	p.Send(`{"v":1,"type":"ping"}`)
	var screens []uitest.Frame
	for f := p.Next(); f.Type != "pong"; f = p.Next() {
		if f.Type == "screen" {
			screens = append(screens, f)
		}
	}
	select {
	case a := <-h.actions:
		t.Errorf("%s: action %+v forwarded; want none", after, a)
	default:
	}
	return screens
}

func (h *harness) wantAction(t *testing.T, want kiosk.Action) {
	t.Helper()
	select {
	case got := <-h.actions:
		if got != want {
			t.Errorf("action = %+v; want %+v", got, want)
		}
	case <-time.After(wait):
		t.Fatalf("no action; want %+v", want)
	}
}

// Person A's confirm screen is up; B scans, and the flow shows B's. A tap
// stamped with A's screen is not forwarded, and the page is sent the
// screen really up, again, even though it was sent it already.
func TestStaleTapResendsCurrentScreen(t *testing.T) {
	h := start(t, Config{})
	a := kiosk.View{Rev: 2, Screen: kiosk.ScreenConfirm, Name: "Person A"}
	b := kiosk.View{Rev: 3, Screen: kiosk.ScreenConfirm, Name: "Person B", Armed: clock.Add(time.Second)}
	h.views.set(a)
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenConfirm)
	h.views.set(b)
	h.srv.Show(b)
	if f := p.Want(kiosk.ScreenConfirm); f.Rev != 3 || f.Name != "Person B" || f.ArmedInMS == nil || *f.ArmedInMS != 1000 {
		t.Fatalf("B's screen = %s; want rev 3, B's name, armed_in_ms 1000", f.Raw)
	}
	for _, action := range []string{kiosk.ActionConfirm, kiosk.ActionDeny, kiosk.ActionExtend, kiosk.ActionAnother, kiosk.ActionDone} {
		p.ActAt(action, a.Rev)
		if f := p.Want(kiosk.ScreenConfirm); f.Rev != b.Rev || f.Name != b.Name {
			t.Fatalf("after a stale %s: %s; want B's screen again", action, f.Raw)
		}
		h.noAction(t, p, "stale "+action)
	}
	// A rev from the future (a page of an earlier daemon) is as stale.
	p.ActAt(kiosk.ActionConfirm, 99)
	if f := p.Want(kiosk.ScreenConfirm); f.Rev != b.Rev {
		t.Fatalf("after rev 99: %s; want rev 3 again", f.Raw)
	}
	h.noAction(t, p, "confirm at rev 99")

	// B's own tap goes through, with its rev.
	p.Act(kiosk.ActionConfirm)
	h.wantAction(t, kiosk.Action{Name: kiosk.ActionConfirm, Rev: 3})
}

// The defect itself: A's page never drew B's screen when A's tap left it.
func TestStaleTapBeforeNextScreenRead(t *testing.T) {
	h := start(t, Config{})
	h.views.set(kiosk.View{Rev: 2, Screen: kiosk.ScreenConfirm, Name: "Person A"})
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenConfirm)
	b := kiosk.View{Rev: 3, Screen: kiosk.ScreenConfirm, Name: "Person B"}
	h.views.set(b)
	h.srv.Show(b) // on its way to the page, not read yet
	p.Act(kiosk.ActionConfirm)
	if p.Rev() != 2 {
		t.Fatalf("page rev %d; want 2 (A's screen still on show)", p.Rev())
	}
	// The page reaches B's screen (once or twice: the resend may find it
	// still waiting to be written), and nothing else.
	screens := h.noAction(t, p, "A's confirm")
	if len(screens) == 0 {
		screens = append(screens, p.Next())
	}
	for _, f := range screens {
		if f.Type != "screen" || f.Rev != 3 || f.Name != "Person B" {
			t.Errorf("frame after the stale tap: %s; want B's screen, rev 3", f.Raw)
		}
	}
}

func TestMissingRevRefused(t *testing.T) {
	h := start(t, Config{})
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenIdle)
	for _, raw := range []string{
		`{"v":1,"type":"action","action":"confirm"}`,
		`{"v":1,"type":"action","action":"deny","rev":0}`,
		`{"v":1,"type":"action","action":"extend"}`,
		`{"v":1,"type":"action","action":"another"}`,
		`{"v":1,"type":"action","action":"done","rev":null}`,
	} {
		p.Send(raw)
		if f := p.Next(); f.Type != "error" || f.Error != "missing_rev" {
			t.Errorf("%s: reply %s; want error missing_rev", raw, f.Raw)
		}
		h.noAction(t, p, raw)
	}
	// Help and language apply to whatever is on screen: no rev needed.
	p.Send(`{"v":1,"type":"action","action":"help"}`)
	h.wantAction(t, kiosk.Action{Name: kiosk.ActionHelp})
	p.Send(`{"v":1,"type":"action","action":"language","lang":"es"}`)
	h.wantAction(t, kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"})
}

func TestArmedInMS(t *testing.T) {
	tests := []struct {
		armed time.Time
		want  string
	}{
		{time.Time{}, `{"v":1,"type":"screen","screen":"confirm","rev":2,"name":"A"}`},
		{clock.Add(-time.Second), `{"v":1,"type":"screen","screen":"confirm","rev":2,"name":"A"}`},
		{clock, `{"v":1,"type":"screen","screen":"confirm","rev":2,"name":"A"}`},
		{clock.Add(1500 * time.Millisecond), `{"v":1,"type":"screen","screen":"confirm","rev":2,"name":"A","armed_in_ms":1500}`},
		// Rounded up: the page never enables the buttons early.
		{clock.Add(time.Nanosecond), `{"v":1,"type":"screen","screen":"confirm","rev":2,"name":"A","armed_in_ms":1}`},
	}
	for _, tt := range tests {
		v := kiosk.View{Rev: 2, Screen: kiosk.ScreenConfirm, Name: "A", Armed: tt.armed}
		if got := string(encodeScreen(v, clock)); got != tt.want {
			t.Errorf("encodeScreen(armed %v) =\n%s\nwant\n%s", tt.armed.Sub(clock), got, tt.want)
		}
	}
}

// A screen updated in place (View.Since): a tap made on its earlier
// revision is forwarded; one made before it was entered is not.
func TestTapOnScreenUpdatedInPlace(t *testing.T) {
	h := start(t, Config{})
	first := kiosk.View{Rev: 4, Since: 4, Screen: kiosk.ScreenSuccess, Code: "7KQ2-M9XD", Receipt: kiosk.ReceiptPrinting}
	h.views.set(first)
	p := uitest.Dial(t, h.base, nil)
	p.Want(kiosk.ScreenSuccess)
	printed := first
	printed.Rev, printed.Receipt = 5, kiosk.ReceiptPrinted
	h.views.set(printed)
	h.srv.Show(printed)
	p.Want(kiosk.ScreenSuccess)
	p.ActAt(kiosk.ActionDone, first.Rev) // tapped before the receipt's line changed
	h.wantAction(t, kiosk.Action{Name: kiosk.ActionDone, Rev: first.Rev})
	p.ActAt(kiosk.ActionDone, 3) // the screen before success
	if screens := h.noAction(t, p, "a tap on the screen before"); len(screens) != 1 || screens[0].Rev != 5 {
		t.Errorf("after a stale tap: screens %v; want the current one (rev 5) again", screens)
	}
}
