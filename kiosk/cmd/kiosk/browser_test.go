package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/docketkiosk/checkin-kiosk/drivers/printer"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/browsertest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// newBrowser starts headless Chromium for a test (internal/browsertest).
func newBrowser(t *testing.T) context.Context { return browsertest.New(t, 90*time.Second) }

// screenshot saves the page to $KIOSK_SCREENSHOTS/NAME.png when that is
// set, for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) { browsertest.Screenshot(t, ctx, name) }

// openPage opens the kiosk page of m in a touch screen of w×h CSS px, and
// waits for its idle screen.
func openPage(t *testing.T, ctx context.Context, m *Main, w, h int64) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(w, h, chromedp.EmulateTouch),
		chromedp.Navigate("http://"+m.Addr()+"/"),
	); err != nil {
		t.Fatalf("open the kiosk page: %v", err)
	}
	waitScreen(t, ctx, kiosk.ScreenIdle)
}

func waitScreen(t *testing.T, ctx context.Context, s kiosk.Screen) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`body[data-screen="`+string(s)+`"]`))); err != nil {
		t.Fatalf("waiting for data-screen %q: %v", s, err)
	}
}

func tap(t *testing.T, ctx context.Context, screen kiosk.Screen, action string) {
	t.Helper()
	sel := `section[data-for="` + string(screen) + `"] button[data-action="` + action + `"]`
	if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(sel))); err != nil {
		t.Fatalf("tap %s: %v", sel, err)
	}
}

// TestKioskPageInBrowser checks in through the real page in real Chromium,
// with touch alone: the page follows the server's screens, mirrors them in
// data-screen, and leaves nothing personal in the DOM afterwards.
func TestKioskPageInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	m := startKiosk(t, t.TempDir(), kit, up.URL)

	openPage(t, ctx, m, 1024, 600)
	screenshot(t, ctx, "idle")

	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	name, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#confirm-name")))
	if err != nil || name != "Amina Haddad" {
		t.Errorf("confirm name = %q, %v; want %q", name, err, "Amina Haddad")
	}
	screenshot(t, ctx, "confirm")

	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	waitScreen(t, ctx, kiosk.ScreenSuccess)
	ids := recordIDs(t, m)
	if len(ids) != 1 {
		t.Fatalf("success shown with %d records; want 1", len(ids))
	}
	code, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#success-code")))
	if want := kiosk.ConfirmationCode(ids[0]); err != nil || code != want {
		t.Errorf("code on screen = %q, %v; want %q", code, err, want)
	}
	screenshot(t, ctx, "success")

	tap(t, ctx, kiosk.ScreenSuccess, kiosk.ActionDone)
	waitScreen(t, ctx, kiosk.ScreenIdle)
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		t.Fatal(err)
	}
	for _, personal := range []string{"Amina", "Haddad", code} {
		if personal != "" && strings.Contains(html, personal) {
			t.Errorf("the DOM still holds %q after the session", personal)
		}
	}

	// A refused card, and the help button, by touch.
	simScan(t, m, kit.Samples["expired"])
	waitScreen(t, ctx, kiosk.ScreenSeeStaff)
	screenshot(t, ctx, "see_staff")
	tap(t, ctx, kiosk.ScreenSeeStaff, kiosk.ActionDone)
	waitScreen(t, ctx, kiosk.ScreenIdle)
	if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(`#help-button`))); err != nil {
		t.Fatalf("tap help: %v", err)
	}
	waitScreen(t, ctx, kiosk.ScreenHelp)
	screenshot(t, ctx, "help")

	// A reloaded page comes back to the current screen.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, ctx, kiosk.ScreenHelp)
	if n := len(recordIDs(t, m)); n != 1 {
		t.Errorf("%d records after the session; want 1", n)
	}
}

// The screens the hardware brings, in the real page at the smallest size:
// without a scanner the idle screen asks for staff, with a help button
// that works; a receipt that could not print says so, the code larger.
func TestHardwareScreensInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "", func(c *Config) { c.Printer = "sim" })
	openPage(t, ctx, m, 800, 480)
	visible := func(sel string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`);
			return !!e && !e.closest("[hidden]") && e.getBoundingClientRect().height > 0; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	sc := m.scanner.(*scanner.Sim)
	sc.SetState(scanner.State{Condition: scanner.Disconnected, Reason: "read /dev/input/event3: no such device"})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`section[data-for="no_scanner"]`))); err != nil {
		t.Fatalf("no scanner: %v", err)
	}
	if visible(`section[data-for="idle"] h1`) {
		t.Error("no scanner: the page still asks for a card")
	}
	screenshot(t, ctx, "no_scanner")
	sc.SetState(scanner.State{Condition: scanner.OK})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`section[data-for="idle"] h1`))); err != nil {
		t.Fatalf("scanner back: %v", err)
	}
	sc.SetState(scanner.State{Condition: scanner.Absent})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`section[data-for="no_scanner"]`))); err != nil {
		t.Fatalf("no scanner again: %v", err)
	}
	tap(t, ctx, "no_scanner", kiosk.ActionHelp)
	waitScreen(t, ctx, kiosk.ScreenHelp)
	tap(t, ctx, kiosk.ScreenHelp, kiosk.ActionDone)
	sc.SetState(scanner.State{Condition: scanner.OK})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`section[data-for="idle"] h1`))); err != nil {
		t.Fatalf("scanner back: %v", err)
	}

	m.printer.(*printer.Sim).SetPaperOut(true)
	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#success-code.code-large`))); err != nil {
		t.Fatalf("receipt failed: the code is not shown larger: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#success-receipt")))
	if want := "Your receipt could not print. Please write down your code."; err != nil || msg != want {
		t.Errorf("receipt line = %q, %v; want %q", msg, err, want)
	}
	screenshot(t, ctx, "receipt_failed")
	// The line must not push the buttons under the footer: a tap anywhere
	// on each (its middle, and a little inside each corner) lands on it.
	reachable, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('section[data-for="success"] button[data-action]')].every(b => {
		const r = b.getBoundingClientRect();
		const points = [[.5, .5], [.1, .15], [.9, .15], [.1, .85], [.9, .85]];
		return r.height > 0 && points.every(([x, y]) => {
			const hit = document.elementFromPoint(r.left + x * r.width, r.top + y * r.height);
			return hit !== null && b.contains(hit);
		});
	})`))
	if err != nil || !reachable {
		t.Errorf("receipt failed at 800x480: a button of the success screen cannot be tapped (%v)", err)
	}
	if n := recorded(t, m); n != 1 {
		t.Errorf("%d check-ins recorded; want 1: a receipt that fails changes nothing of the check-in", n)
	}
}

// The challenge and a household, by touch in the real page: the date of
// birth keyed on the keypad, then "Check in another family member", the
// next card, and both on the success screen; nothing of them left after.
func TestChallengeAndHouseholdInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "", func(c *Config) { c.Challenge = true })
	openPage(t, ctx, m, 1024, 600)
	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	// answer keys the date of birth of the demo's people, day, month,
	// year, and taps OK.
	answer := func(shot string) {
		t.Helper()
		waitScreen(t, ctx, kiosk.ScreenChallenge)
		for _, k := range "12041991" {
			if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(`button[data-key="`+string(k)+`"]`))); err != nil {
				t.Fatalf("key %c: %v", k, err)
			}
		}
		// OK counts once the eighth digit is in: a tap is taken when
		// the page has handled the one before.
		if err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS("#dob-ok"))); err != nil {
			t.Fatalf("OK not enabled after eight digits: %v", err)
		}
		screenshot(t, ctx, shot)
		tap(t, ctx, kiosk.ScreenChallenge, kiosk.ActionAnswer)
	}
	answer("challenge")
	waitScreen(t, ctx, kiosk.ScreenSuccess)
	if n := recorded(t, m); n != 1 {
		t.Errorf("%d recorded after the answer; want 1", n)
	}

	tap(t, ctx, kiosk.ScreenSuccess, kiosk.ActionAnother)
	waitScreen(t, ctx, kiosk.ScreenIdle)
	title, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#idle-title")))
	if want := "Scan the next family member's card"; err != nil || title != want {
		t.Errorf("idle title = %q, %v; want %q", title, err, want)
	}
	simScan(t, m, kit.Samples["reference"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	answer("challenge2")
	waitScreen(t, ctx, kiosk.ScreenSuccess)
	items, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#success-household-list li").length`))
	if err != nil || items != 2 {
		t.Errorf("household list: %d items, %v; want 2", items, err)
	}
	screenshot(t, ctx, "household")
	if n := recorded(t, m); n != 2 {
		t.Errorf("%d recorded; want 2", n)
	}
	tap(t, ctx, kiosk.ScreenSuccess, kiosk.ActionDone)
	waitScreen(t, ctx, kiosk.ScreenIdle)
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		t.Fatal(err)
	}
	for _, personal := range []string{"Amina", "Haddad", "1991"} {
		if strings.Contains(html, personal) {
			t.Errorf("the DOM still holds %q after the session", personal)
		}
	}
}

// Help by touch from every screen a person can be on, and the timeout
// warning's "I need more time": the real page, real taps.
func TestHelpAndMoreTimeInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "", func(c *Config) {
		c.Challenge = true
		c.ConfirmTimeout = 17 * time.Second // the warning shows in the last 15 s
	})
	openPage(t, ctx, m, 800, 480)
	help := func(from kiosk.Screen) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(`#help-button`))); err != nil {
			t.Fatalf("help on %s: %v", from, err)
		}
		waitScreen(t, ctx, kiosk.ScreenHelp)
		tap(t, ctx, kiosk.ScreenHelp, kiosk.ActionDone)
		waitScreen(t, ctx, kiosk.ScreenIdle)
	}
	help(kiosk.ScreenIdle)

	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	// The warning comes 15 s before the end; "I need more time" pushes
	// the end back, and the warning goes.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#timeout`))); err != nil {
		t.Fatalf("no timeout warning: %v", err)
	}
	before := m.flow.View().Expires
	if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(`#timeout button[data-action="extend"]`))); err != nil {
		t.Fatalf("tap more time: %v", err)
	}
	eventually(t, "the screen extended", func() bool { return m.flow.View().Expires.After(before) })
	if err := chromedp.Do(ctx, chromedp.WaitNotVisible(chromedp.CSS(`#timeout`))); err != nil {
		t.Fatalf("the warning stayed after more time: %v", err)
	}
	help(kiosk.ScreenConfirm)

	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	waitScreen(t, ctx, kiosk.ScreenChallenge)
	help(kiosk.ScreenChallenge)

	simScan(t, m, kit.Samples["expired"])
	waitScreen(t, ctx, kiosk.ScreenSeeStaff)
	help(kiosk.ScreenSeeStaff)

	if n := recorded(t, m); n != 0 {
		t.Errorf("%d check-ins recorded; want 0", n)
	}
}
