// Package browsertest starts headless Chromium for the tests of the kiosk
// page and the staff dashboard, as the kiosk runs it minus the screen: no
// GPU, no sandbox (tests run as root), nothing reaching out to the
// network. Without Chromium a test skips, unless KIOSK_REQUIRE_ALL=1
// (internal/testenv), as CI sets it.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// SelfSigned makes the browser take a self-signed certificate, as staff
// accept the dashboard's once in theirs.
var SelfSigned = chromedp.Flag("ignore-certificate-errors", true)

// New starts Chromium with extra options and returns a tab's context,
// which ends after timeout (0: when the test ends) and is closed when the
// test ends.
func New(t testing.TB, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := testenv.LookPath(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	opts = append(opts, extra...)
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancel() })
	return ctx
}

// Screenshot saves the tab's page as $KIOSK_SCREENSHOTS/NAME.png when
// that is set, for a person to look at.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KIOSK_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
