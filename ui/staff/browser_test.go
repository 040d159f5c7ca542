package staff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/docketkiosk/checkin-kiosk/internal/browsertest"
)

// TestDashboardInBrowser logs in through the real pages in headless
// Chromium (which runs app.js under the page's CSP, so a blocked script
// fails it), sees the status and an alert arrive live, and acknowledges
// the alert by a click. It skips without Chromium, unless
// KIOSK_REQUIRE_ALL=1.
func TestDashboardInBrowser(t *testing.T) {
	h := start(t, func(c *Config) { c.Now = time.Now })
	ctx := browsertest.New(t, 90*time.Second, browsertest.SelfSigned)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// With KIOSK_SCREENSHOTS=DIR, each view is saved there, for a person
	// to look at.
	screenshot := func(name string) {
		t.Helper()
		dir := os.Getenv("KIOSK_SCREENSHOTS")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "staff-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do("open /staff: sent to the login page",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(h.base+"/staff"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
	)
	screenshot("login")
	do("a wrong password is refused on the page",
		chromedp.SendKeys(chromedp.CSS(`#account`), alice),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not her password"),
		chromedp.Click(chromedp.CSS(`#login-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
	)
	if msg := text(`#login-error`); !strings.Contains(msg, "wrong account or password") {
		t.Errorf("login error on the page = %q; want the server's", msg)
	}
	do("log in",
		chromedp.SetValue(chromedp.CSS(`#account`), alice),
		chromedp.SendKeys(chromedp.CSS(`#password`), alicePassword),
		chromedp.Click(chromedp.CSS(`#login-button`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="dashboard"][data-connection="live"]`)),
	)
	if devices, who := text(`#devices`), text(`#account`); !strings.Contains(devices, "paper out") || who != alice {
		t.Errorf("devices tile %q, account %q; want the printer's paper out, and alice", devices, who)
	}
	screenshot("dashboard")

	h.srv.Raise(AlertHelp, "panel button")
	do("see the alert arrive", chromedp.WaitVisible(chromedp.CSS(`#alert-list li[data-kind="help"]`)))
	if title := text(`#alert-list li[data-kind="help"] strong`); title != "Someone asked for help" {
		t.Errorf("alert title = %q", title)
	}
	screenshot("alert")
	do("acknowledge it",
		chromedp.Click(chromedp.CSS(`#alert-list li[data-kind="help"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#no-alerts`)),
	)
	if acks := h.audited(AuditAlertAck); len(acks) != 1 || acks[0].Account != alice {
		t.Errorf("ack records = %+v; want one by alice", acks)
	}

	do("log out", chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	if got := h.audited(AuditLogout); len(got) != 1 {
		t.Errorf("logout records = %+v; want one", got)
	}
}
