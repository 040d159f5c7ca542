package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	"github.com/docketkiosk/checkin-kiosk/internal/browsertest"
	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The kiosk page's accessibility and layout, checked in real Chromium
// (WCAG 2.2 AA, and what a kiosk adds to it): every screen, in every
// language, at every size a kiosk's panel may have, and at 200 % zoom. A
// render is one screen frame pushed through a real ui.Server and one call
// of a11yCheckJS in the page, which returns what it found wrong.

// a11ySize is a panel the page must fit.
type a11ySize struct {
	name     string
	w, h     int64   // in CSS pixels
	scale    float64 // device pixels per CSS pixel
	portrait bool
	// zoom: the page at 200 % of a 1024×600 panel. Chromium's zoom lays
	// the page out in a viewport of 1/zoom the panel's CSS pixels (and
	// doubles devicePixelRatio), which is what emulating 512×300 at scale
	// 2 does. CSS zoom on the body is not the same: it leaves vmin and the
	// media queries on the 1024×600 viewport, and scales a page of 100 %
	// height to twice the screen. Here some content may need scrolling,
	// but no target may be out of reach and nothing may scroll sideways.
	zoom bool
}

var a11ySizes = []a11ySize{
	{name: "800x480", w: 800, h: 480, scale: 1},
	{name: "1024x600", w: 1024, h: 600, scale: 1},
	{name: "1280x800", w: 1280, h: 800, scale: 1},
	{name: "1920x1080", w: 1920, h: 1080, scale: 1},
	{name: "1080x1920", w: 1080, h: 1920, scale: 1, portrait: true},
	{name: "1024x600@200%", w: 512, h: 300, scale: 2, zoom: true},
}

// a11yClock is the server's clock: expires_in_ms and armed_in_ms are
// counted from it, so every frame says the same whatever the test's pace.
var a11yClock = time.Date(2025, 11, 25, 9, 41, 5, 0, time.FixedZone("EST", -5*3600))

// The personal data on the test's screens: long, to find what does not
// fit (invented: no one's).
const (
	a11yName = "Mariam Okonkwo-Adeyemi de la Santísima Trinidad"
	a11yCode = "7KQ2-M9XD"
)

var a11yHousehold = []kiosk.Member{
	{Name: "Yusuf Okonkwo-Adeyemi", Code: "H3TR-8WQP"},
	{Name: "Amara Okonkwo-Adeyemi de la Santísima Trinidad", Code: "Q9ZX-4LMN"},
	{Name: a11yName, Code: a11yCode},
}

// a11yCase is one screen as the daemon would send it.
type a11yCase struct {
	name    string
	view    kiosk.View // without Rev and Lang
	section string     // the <section data-for> the page must show
	picker  bool       // open the language picker over it
	timeout bool       // the timeout warning is up
	held    bool       // Yes and No are held (armed_in_ms)
	// filled are elements that must show this text ("" for any text).
	filled map[string]string
}

// a11yNotice is a notice of 200 characters (or a word fewer) in lang's
// own script, made of its catalog's sentences as a real notice in the
// person's language would be.
func a11yNotice(lang string) string {
	keys := []string{"help_hint", "receipt_keep", "receipt_offline", "see_staff_title", "idle_hint", "timeout_warning"}
	var b []rune
	for i := 0; len(b) < 200; i++ {
		b = append(b, []rune(ui.Text(lang, keys[i%len(keys)])+" ")...)
	}
	b = b[:200]
	for i := len(b) - 1; i > 170; i-- {
		if unicode.IsSpace(b[i]) {
			b = b[:i]
			break
		}
	}
	return strings.TrimSpace(string(b))
}

// a11yCases are the screens of one language: every screen of
// PROTOCOL.md, every reason of see_staff, the heaviest success screen,
// the held confirm, the timeout warning over two screens, and the
// language picker.
func a11yCases(lang string) []a11yCase {
	in := func(d time.Duration) time.Time { return a11yClock.Add(d) }
	appointment := time.Date(2025, 12, 9, 10, 30, 0, 0, a11yClock.Location())
	success := kiosk.View{Screen: kiosk.ScreenSuccess, Code: a11yCode, At: a11yClock, Expires: in(20 * time.Second)}
	worst := success
	worst.Notice, worst.Appointment, worst.Household, worst.Receipt = a11yNotice(lang), appointment, a11yHousehold, kiosk.ReceiptFailed
	failed := success
	failed.Receipt = kiosk.ReceiptFailed
	confirm := kiosk.View{Screen: kiosk.ScreenConfirm, Name: a11yName, Expires: in(60 * time.Second)}
	held := confirm
	held.Armed = in(30 * time.Second) // longer than a render: held throughout
	soon := func(v kiosk.View) kiosk.View { v.Expires = in(10 * time.Second); return v }
	codeAndTime := map[string]string{"#success-code": a11yCode, "#success-time": ""}

	cases := []a11yCase{
		{name: "idle", view: kiosk.View{Screen: kiosk.ScreenIdle}, section: "idle"},
		{name: "idle_no_scanner", view: kiosk.View{Screen: kiosk.ScreenIdle, Reason: kiosk.ReasonScannerUnavailable}, section: "no_scanner"},
		{name: "idle_household", view: kiosk.View{Screen: kiosk.ScreenIdle, Household: a11yHousehold[:1], Expires: in(20 * time.Second)},
			section: "idle", filled: map[string]string{"#idle-title": ui.Text(lang, "idle_next_title")}},
		{name: "confirm", view: confirm, section: "confirm", filled: map[string]string{"#confirm-name": a11yName}},
		{name: "confirm_held", view: held, section: "confirm", held: true, filled: map[string]string{"#confirm-name": a11yName}},
		{name: "challenge", view: kiosk.View{Screen: kiosk.ScreenChallenge, Expires: in(60 * time.Second)}, section: "challenge"},
		{name: "success", view: success, section: "success", filled: codeAndTime},
		{name: "success_receipt_failed", view: failed, section: "success", filled: codeAndTime},
		{name: "success_worst", view: worst, section: "success", filled: map[string]string{
			"#success-code": a11yCode, "#success-time": "", "#success-appointment-time": "",
			"#success-notice": worst.Notice, "#success-receipt": ui.Text(lang, "receipt_failed"),
			"#success-household-list li:nth-child(3)": a11yName + a11yCode,
		}},
		{name: "already", view: kiosk.View{Screen: kiosk.ScreenAlready, Code: a11yCode, At: a11yClock, Expires: in(20 * time.Second)},
			section: "already", filled: map[string]string{"#already-code": a11yCode, "#already-time": ""}},
		{name: "help", view: kiosk.View{Screen: kiosk.ScreenHelp, Expires: in(120 * time.Second)}, section: "help"},
		{name: "out_of_service", view: kiosk.View{Screen: kiosk.ScreenOutOfService, Reason: kiosk.ReasonEnclosureOpen}, section: "out_of_service"},
		{name: "timeout_confirm", view: soon(confirm), section: "confirm", timeout: true, filled: map[string]string{"#confirm-name": a11yName}},
		{name: "timeout_success_worst", view: soon(worst), section: "success", timeout: true, filled: map[string]string{
			"#success-code": a11yCode, "#success-notice": worst.Notice, "#success-receipt": ui.Text(lang, "receipt_failed"),
		}},
		{name: "picker", view: kiosk.View{Screen: kiosk.ScreenIdle}, section: "idle", picker: true},
	}
	for _, r := range []kiosk.Reason{
		kiosk.ReasonCardExpired, kiosk.ReasonCardNotYetValid, kiosk.ReasonCardRevoked,
		kiosk.ReasonCardUnknownIssuer, kiosk.ReasonCardBadSignature, kiosk.ReasonCardUnreadable,
		kiosk.ReasonCardWrongContext, kiosk.ReasonNotACard, kiosk.ReasonListsStale,
		kiosk.ReasonPersonDenied, kiosk.ReasonRecordFailed, kiosk.ReasonChallengeFailed,
		"reason_of_a_newer_daemon",
	} {
		want := ui.Text(lang, "reason_"+string(r))
		if r == "reason_of_a_newer_daemon" {
			want = ui.Text(lang, "reason_unknown")
		}
		cases = append(cases, a11yCase{name: "see_staff_" + string(r),
			view:    kiosk.View{Screen: kiosk.ScreenSeeStaff, Reason: r, Expires: in(20 * time.Second)},
			section: "see_staff", filled: map[string]string{"#reason": want}})
	}
	return cases
}

// a11yViews is the ViewSource the test sets.
type a11yViews struct {
	mu sync.Mutex
	v  kiosk.View
}

func (s *a11yViews) View() kiosk.View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v
}

func (s *a11yViews) set(v kiosk.View) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = v
}

// a11yPage is the kiosk page served by a real ui.Server on loopback and
// open in one tab of headless Chromium.
type a11yPage struct {
	t     *testing.T
	ctx   context.Context // the tab
	srv   *ui.Server
	views *a11yViews
	rev   uint64
}

// newA11yPage serves the page and opens it. It skips without Chromium,
// unless KIOSK_REQUIRE_ALL=1.
func newA11yPage(t *testing.T) *a11yPage {
	t.Helper()
	p := &a11yPage{t: t, views: &a11yViews{v: kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle}}, rev: 1}
	p.srv = ui.New(ui.Config{Views: p.views, Actions: make(chan kiosk.Action, 64), Now: func() time.Time { return a11yClock }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.srv.Serve(sctx, ln) }()

	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve = %v; want nil", err)
		}
	})
	ctx := browsertest.New(t, 0) // closed before the server: cleanups run last first

	p.ctx = ctx
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1024, 600, chromedp.EmulateTouch, chromedp.EmulateLandscape),
		chromedp.Navigate("http://"+ln.Addr().String()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-screen="idle"]`)),
	); err != nil {
		t.Fatalf("open the kiosk page: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](a11yCheckJS)); err != nil {
		t.Fatalf("load the checks into the page: %v", err)
	}
	return p
}

// resize emulates the panel of size s, with touch.
func (p *a11yPage) resize(s a11ySize) {
	p.t.Helper()
	orient := chromedp.EmulateLandscape
	if s.portrait {
		orient = chromedp.EmulatePortrait
	}
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(s.w, s.h, chromedp.EmulateScale(s.scale), chromedp.EmulateTouch, orient)); err != nil {
		p.t.Fatalf("emulate %s: %v", s.name, err)
	}
}

// a11yFinding is one thing wrong on a screen: its kind (missing_text,
// overflow, contrast, target_size, covered, order, direction,
// colour_only, scroll, icon, render), the element, and what was measured.
type a11yFinding struct {
	Kind  string `json:"kind"`
	Where string `json:"where"`
	Msg   string `json:"msg"`
}

// a11yResult is what a11yCheck returns: what is wrong, and notes of what
// was allowed (a box of the screen that scrolls, with its cue).
type a11yResult struct {
	Violations []a11yFinding `json:"violations"`
	Notes      []string      `json:"notes"`
}

// a11yWant is what the check must find on screen, besides the rules that
// hold on every screen.
type a11yWant struct {
	Rev     uint64            `json:"rev"`
	Lang    string            `json:"lang"`
	Dir     string            `json:"dir"`
	Screen  string            `json:"screen"`
	Section string            `json:"section"`
	Picker  bool              `json:"picker"`
	Timeout bool              `json:"timeout"`
	Held    bool              `json:"held"`
	Zoom    bool              `json:"zoom"`
	Filled  map[string]string `json:"filled"`
}

// render pushes c's view in lang to the page, as the daemon would, and
// checks the page once it shows it.
func (p *a11yPage) render(c a11yCase, lang string, s a11ySize) a11yResult {
	p.t.Helper()
	p.rev++
	v := c.view
	v.Rev, v.Lang = p.rev, lang
	p.views.set(v)
	p.srv.Show(v)
	want := a11yWant{Rev: p.rev, Lang: lang, Dir: ui.CatalogOf(lang).Dir, Screen: string(v.Screen), Section: c.section,
		Picker: c.picker, Timeout: c.timeout, Held: c.held, Zoom: s.zoom, Filled: c.filled}
	arg, err := json.Marshal(want)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[a11yResult]("a11yCheck("+string(arg)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s %s %s: check: %v", s.name, lang, c.name, err)
	}
	return res
}

// screenshot saves the page to $KIOSK_SCREENSHOTS/a11y-NAME.png when
// that is set, for a person to look at.
func (p *a11yPage) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("KIOSK_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a11y-"+name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// TestKioskPageAccessible renders every screen of the kiosk page in every
// language at every size and fails on what a person could not read or
// reach: missing text, text cut or spilling, scrolling sideways, contrast
// under AA (4.5:1, 3:1 for large text, icons and button edges), a target
// under 48×48 CSS px or covered, a step or a button without an icon, Yes and No out of reading order, Arabic
// not mirrored, a held button told apart by colour alone. At 200 % zoom
// the screen may scroll, but every target must be reachable.
//
// By default every language runs at 800×480, 1080×1920 and 200 % zoom,
// and English and Arabic at the other sizes; KIOSK_LONG=1 runs every
// language at every size.
func TestKioskPageAccessible(t *testing.T) {
	p := newA11yPage(t)
	langs := ui.Languages()
	for _, s := range a11ySizes {
		t.Run(s.name, func(t *testing.T) {
			p.t = t
			p.resize(s)
			for _, lang := range langs {
				full := testenv.Long() || s.name == "800x480" || s.portrait || s.zoom
				if !full && lang != ui.DefaultLang && ui.CatalogOf(lang).Dir != "rtl" {
					continue
				}
				for _, c := range a11yCases(lang) {
					res := p.render(c, lang, s)
					for _, n := range res.Notes {
						t.Logf("%s %s: %s", lang, c.name, n)
					}
					if len(res.Violations) > 0 {
						var b strings.Builder
						for i, v := range res.Violations {
							if i == 12 {
								fmt.Fprintf(&b, "\n\t… and %d more", len(res.Violations)-i)
								break
							}
							fmt.Fprintf(&b, "\n\t%s: %s: %s", v.Kind, v.Where, v.Msg)
						}
						t.Errorf("%s %s %s:%s", s.name, lang, c.name, b.String())
					}
					switch {
					case s.name == "1024x600" && lang == ui.DefaultLang,
						s.name == "800x480" && lang == "ar",
						s.name == "800x480" && c.name == "success_worst",
						s.name == "800x480" && lang == ui.DefaultLang && (c.name == "confirm" || c.name == "challenge"),
						s.portrait && lang == ui.DefaultLang && c.name == "success":
						p.screenshot(s.name + "-" + lang + "-" + c.name)
					}
				}
			}
		})
	}
}

// TestKioskPageChecksCanFail breaks the page on purpose, one rule at a
// time, and wants a11yCheck to report each: a check that cannot fail
// proves nothing.
func TestKioskPageChecksCanFail(t *testing.T) {
	p := newA11yPage(t)
	s := a11ySizes[1] // 1024x600
	p.resize(s)
	tests := []struct {
		kind  string
		lang  string
		c     string // a11yCases name
		fault string // JS run once the screen shows, before the checks
	}{
		{"target_size", "en", "success", `document.querySelector('section[data-for="success"] [data-action="done"]').style.cssText = "min-height:40px;height:40px;min-width:40px;padding:0"`},
		{"covered", "en", "success", `{const d = document.createElement("div"); d.style.cssText = "position:fixed;left:0;right:0;bottom:0;height:50vh;background:#fff"; document.body.append(d);}`},
		{"contrast", "en", "help", `document.querySelector('section[data-for="help"] .hint').style.color = "#aaa"`},
		{"contrast", "en", "help", `document.querySelector('section[data-for="help"] [data-action="done"]').style.borderColor = "#eee"`},
		{"overflow", "en", "confirm", `document.querySelector("#confirm-name").style.cssText = "white-space:nowrap;overflow-wrap:normal"`},
		{"missing_text", "es", "help", `document.querySelector('section[data-for="help"] h1').textContent = ""`},
		{"order", "ar", "confirm", `document.querySelector(".choices").style.flexDirection = "row-reverse"`},
		{"direction", "ar", "idle", `document.documentElement.dir = "ltr"`},
		{"colour_only", "en", "confirm_held", `for (const b of document.querySelectorAll(".choices .btn")) b.style.cssText = "border-style:solid;opacity:.4"`},
		{"scroll", "en", "success_worst", `document.querySelector("#success-notice").style.cssText = "max-height:2.5em;overflow-y:auto"`},
		// The keypad's keys carry icons: only the one outside them is the step's.
		{"icon", "en", "challenge", `document.querySelector('section[data-for="challenge"] .question svg').style.display = "none"`},
		{"icon", "en", "success_worst", `document.querySelector('section[data-for="success"] h1 svg').style.display = "none"`},
		{"icon", "ar", "confirm", `document.querySelector('[data-action="deny"] svg').remove()`},
		{"icon", "en", "success", `document.querySelector('section[data-for="success"] [data-action="done"] svg').style.cssText = "width:12px;height:12px"`},
		{"icon", "en", "picker", `document.querySelector("#lang-list svg").remove()`},
		{"icon", "en", "help", `document.querySelector('section[data-for="see_staff"] [data-action="done"] svg').innerHTML = '<path d="M4 12.5l5 5L20 6.5"/>'`},
	}
	for _, tt := range tests {
		var c a11yCase
		for _, x := range a11yCases(tt.lang) {
			if x.name == tt.c {
				c = x
			}
		}
		if c.name == "" {
			t.Fatalf("no case %q", tt.c)
		}
		// The fault is put in by the check itself once the screen shows,
		// and gone with the next screen's reload.
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[chromedp.Void]("a11yBreak = () => { "+tt.fault+" }")); err != nil {
			t.Fatal(err)
		}
		res := p.render(c, tt.lang, s)
		found := slices.ContainsFunc(res.Violations, func(v a11yFinding) bool { return v.Kind == tt.kind })
		if !found {
			t.Errorf("%s %s broken by %s: violations %v; want one of kind %s", tt.lang, tt.c, tt.fault, res.Violations, tt.kind)
		}
		// Back to the page as served.
		if err := chromedp.Do(p.ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`body[data-screen]:not([data-screen="connecting"])`))); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[chromedp.Void](a11yCheckJS)); err != nil {
			t.Fatal(err)
		}
	}
	// And the page as served passes the same screens.
	for _, tt := range tests {
		for _, c := range a11yCases(tt.lang) {
			if c.name != tt.c {
				continue
			}
			if res := p.render(c, tt.lang, s); len(res.Violations) > 0 {
				t.Errorf("%s %s unbroken: %v; want none", tt.lang, tt.c, res.Violations)
			}
		}
	}
}

// TestKioskPageGlyphs wants every character the page can show in each
// language (its catalog, and the test's notice in it) drawn by a font on
// this machine: without one Chromium draws empty boxes, which no layout
// check can see. The kiosk needs the same fonts; the test names the
// Debian package that has them.
func TestKioskPageGlyphs(t *testing.T) {
	fcList := testenv.LookPath(t, "fc-list", "fontconfig")
	out, err := exec.Command(fcList, "--format", "%{charset}\n").Output()
	if err != nil {
		t.Fatalf("fc-list: %v", err)
	}
	var covered [][2]rune
	for _, f := range strings.Fields(string(out)) {
		lo, hi, _ := strings.Cut(f, "-")
		if hi == "" {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 16, 32)
		b, err2 := strconv.ParseUint(hi, 16, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("fc-list: charset range %q", f)
		}
		covered = append(covered, [2]rune{rune(a), rune(b)})
	}
	has := func(r rune) bool {
		return slices.ContainsFunc(covered, func(c [2]rune) bool { return c[0] <= r && r <= c[1] })
	}
	for _, lang := range ui.Languages() {
		t.Run(lang, func(t *testing.T) {
			c := ui.CatalogOf(lang)
			texts := []string{c.Name, a11yNotice(lang)}
			for _, s := range c.T {
				texts = append(texts, s)
			}
			var missing []rune
			for _, s := range texts {
				for _, r := range s {
					if !unicode.IsSpace(r) && !unicode.IsControl(r) && !has(r) && !slices.Contains(missing, r) {
						missing = append(missing, r)
					}
				}
			}
			if len(missing) > 0 {
				testenv.RequireOrSkip(t, "no font here draws %d characters of %s, such as %q (U+%04X) (install %s)",
					len(missing), lang, missing[0], missing[0], a11yFontPackage(missing[0]))
			}
		})
	}
}

// a11yFontPackage names the Debian package with a font for r's script.
func a11yFontPackage(r rune) string {
	switch {
	case unicode.Is(unicode.Han, r):
		return "fonts-noto-cjk"
	case unicode.In(r, unicode.Devanagari, unicode.Arabic):
		return "fonts-noto-core"
	}
	return "fonts-dejavu-core"
}

// a11yCheckJS defines, in the page, a11yCheck(want): it waits until the
// page shows the screen frame of want.rev, and returns {violations,
// notes}. It measures the page as Chromium laid it out: computed styles,
// client rects, and document.elementFromPoint, which is what a touch
// hits. a11yBreak, when a test sets it, runs once before the checks.
const a11yCheckJS = `
var a11yBreak = null;

async function a11yCheck(want) {
  const violations = [], notes = [];
  const add = (kind, el, msg) => violations.push({ kind: kind, where: a11yName(el), msg: msg });

  // The frame of want.rev, drawn.
  const start = performance.now();
  for (;;) {
    let rev = -1;
    try { rev = page.rev; } catch (e) { /* app.js not run yet */ }
    if (rev === want.rev && document.documentElement.lang === want.lang) break;
    if (performance.now() - start > 5000) {
      add("render", document.body, "screen rev " + want.rev + " (" + want.lang + ") not shown in 5 s; the page shows rev " + rev);
      return { violations: violations, notes: notes };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  if (want.picker) document.getElementById("lang-button").click();
  if (a11yBreak) { a11yBreak(); a11yBreak = null; }
  await new Promise((r) => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 100); });

  const root = document.documentElement;
  const dir = want.dir, rtl = dir === "rtl";
  const vw = innerWidth, vh = innerHeight;

  // --- the screen and its language -----------------------------------
  if (root.lang !== want.lang || root.dir !== dir) add("direction", root, "html lang=" + root.lang + " dir=" + root.dir + "; want lang=" + want.lang + " dir=" + dir);
  if (getComputedStyle(document.body).direction !== dir) add("direction", document.body, "direction " + getComputedStyle(document.body).direction + "; want " + dir);
  const shown = [...document.querySelectorAll("section[data-for]")].filter((s) => !s.hidden);
  if (shown.length !== 1 || shown[0].dataset.for !== want.section) add("render", document.body, "sections shown: " + shown.map((s) => s.dataset.for).join(",") + "; want " + want.section);
  if (document.body.dataset.screen !== want.screen) add("render", document.body, "data-screen " + document.body.dataset.screen + "; want " + want.screen);
  const timeout = document.getElementById("timeout");
  if (a11yVisible(timeout) !== want.timeout) add("render", timeout, want.timeout ? "the timeout warning is not shown" : "the timeout warning is shown");
  const picker = document.getElementById("lang-picker");
  if (a11yVisible(picker) !== want.picker) add("render", picker, want.picker ? "the language picker is not shown" : "the language picker is shown");

  // What the person sees: the picker covers the rest while it is open.
  const roots = want.picker ? [picker] : [shown[0], timeout, document.querySelector(".bar")].filter((e) => e && a11yVisible(e));
  const inRoots = (el) => roots.some((r) => r.contains(el));
  const all = [...document.querySelectorAll("*")].filter((el) => !el.closest("svg") || el.tagName.toLowerCase() === "svg").filter(a11yVisible);
  const seen = all.filter(inRoots);

  // --- icons: what the step is and what each button does, without words
  // The step's icon is the screen's own, outside its buttons, at least
  // 24×24 CSS px (connecting: the spinner); the picker, over the screen,
  // needs its own. Every button has one of 16×16 or more beside its
  // word, but the keypad's digits, which are their own sign. The buttons
  // that finish and go back to start share one icon, on every screen.
  const iconShown = (el, min) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) &&
    el.getBoundingClientRect().width >= min - 0.5 && el.getBoundingClientRect().height >= min - 0.5;
  const step = want.picker ? picker : shown[0];
  if (step) {
    const icons = [...step.querySelectorAll("svg, .spinner")].filter((e) => !e.parentElement.closest("button"));
    if (!icons.some((e) => iconShown(e, 24)))
      add("icon", step, "no icon of 24×24 CSS px or more for the step (of " + icons.length + ": " + icons.map((e) => { const r = e.getBoundingClientRect(); return Math.round(r.width) + "×" + Math.round(r.height); }).join(", ") + ")");
  }
  for (const b of seen.filter((e) => e.tagName.toLowerCase() === "button")) {
    if (/^[0-9]$/.test(b.dataset.key || "")) continue;
    if (![...b.querySelectorAll("svg")].some((e) => iconShown(e, 16))) add("icon", b, "no icon of 16×16 CSS px or more beside its word");
  }
  const finish = [...document.querySelectorAll('button[data-action="done"]')];
  const glyphs = new Set(finish.map((b) => { const svg = b.querySelector("svg"); return svg ? svg.outerHTML.replace(/\s+/g, " ") : ""; }));
  if (glyphs.size > 1) add("icon", finish.find(a11yVisible) || document.body, "the " + finish.length + " buttons that go back to start show " + glyphs.size + " different icons; want one");

  // --- no missing text -------------------------------------------------
  const cat = (STRINGS[want.lang] || {}).t || {};
  for (const el of seen.filter((e) => e.dataset.t)) {
    const key = el.dataset.t, text = el.textContent;
    if (!text.trim()) add("missing_text", el, "empty; want the catalog's " + key);
    else if (!(key in cat)) add("missing_text", el, want.lang + " has no " + key + "; English shows");
    else if (text !== cat[key]) add("missing_text", el, "shows " + JSON.stringify(text) + "; want " + JSON.stringify(cat[key]));
  }
  for (const [sel, text] of Object.entries(want.filled || {})) {
    const el = document.querySelector(sel);
    if (!el || !a11yVisible(el)) add("missing_text", el || document.body, sel + " is not shown");
    else if (text === "" ? !el.textContent.trim() : el.textContent !== text) add("missing_text", el, sel + " shows " + JSON.stringify(el.textContent) + "; want " + (text === "" ? "some text" : JSON.stringify(text)));
  }

  // --- overflow: nothing spills out of its box, nothing scrolls sideways
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowY);
  const clips = (el) => getComputedStyle(el).overflowX !== "visible" || getComputedStyle(el).overflowY !== "visible";
  for (const el of all) {
    const cs = getComputedStyle(el);
    if (cs.display === "inline" || el.tagName.toLowerCase() === "svg") continue;
    if (el.scrollWidth > el.clientWidth + 1) add("overflow", el, "content " + el.scrollWidth + " px wide in a box of " + el.clientWidth + " px" + (clips(el) ? " (cut, or scrolls sideways)" : " (spills out)"));
    // A glyph's ascent and descent may pass its line box: text may
    // reach a quarter of its size past a box without spilling.
    if (el.scrollHeight > el.clientHeight + Math.max(1, parseFloat(cs.fontSize) * 0.25)) {
      if (!scrolls(el)) add("overflow", el, "content " + el.scrollHeight + " px high in a box of " + el.clientHeight + " px" + (clips(el) ? " (cut)" : " (spills out)"));
      else if (want.zoom) notes.push(a11yName(el) + " scrolls at 200 %: " + el.scrollHeight + " px in " + el.clientHeight);
      else if (el.classList.contains("scroll-box")) {
        const cue = getComputedStyle(el, "::after");
        if (el.scrollTop === 0 && (!el.hasAttribute("data-more") || cue.display === "none" || cue.content === "none" || cue.content === "normal" || cue.visibility !== "visible"))
          add("scroll", el, "holds " + el.scrollHeight + " px in " + el.clientHeight + " px with no cue that there is more");
        else if (el.clientHeight < 2.5 * parseFloat(cs.fontSize) * 1.2)
          add("scroll", el, "shows " + el.clientHeight + " px of " + el.scrollHeight + ": not two lines");
        else notes.push(a11yName(el) + " scrolls, with its cue: " + el.scrollHeight + " px in " + el.clientHeight);
      } else add("scroll", el, "the screen needs scrolling: " + el.scrollHeight + " px in " + el.clientHeight + " px");
    }
  }

  // Every line of text inside the screen, inside every box around it,
  // and not under anything else. At 200 % a line may be scrolled away:
  // then it must read in full once scrolled to.
  const scrollers = [root, ...all.filter(scrolls)];
  const scrolledAt = scrollers.map((a) => [a, a.scrollLeft, a.scrollTop]);
  // lineAt checks line i of the text node n as laid out now: null if it
  // reads in full, "away" if it is scrolled out of view (where that is
  // allowed), else [kind, what is wrong].
  const lineAt = (n, el, i, slack) => {
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getClientRects()[i];
    if (r.width < 1) return null;
    for (let a = el; a && a !== root; a = a.parentElement) {
      const b = a.getBoundingClientRect();
      if (getComputedStyle(a).display === "inline" || !(a11yBoxed(a) || clips(a))) continue;
      const lim = clips(a) ? { l: b.left + a.clientLeft, t: b.top + a.clientTop, r: b.left + a.clientLeft + a.clientWidth, b: b.top + a.clientTop + a.clientHeight } : { l: b.left, t: b.top, r: b.right, b: b.bottom };
      if (r.left < lim.l - 1 || r.right > lim.r + 1)
        return ["overflow", "text " + a11yQuote(n.data) + " [" + Math.round(r.left) + "…" + Math.round(r.right) + "] is cut by " + a11yName(a) + " [" + Math.round(lim.l) + "…" + Math.round(lim.r) + "]"];
      if (r.top < lim.t - slack || r.bottom > lim.b + slack) {
        if (clips(a) && scrolls(a) && (want.zoom || a.classList.contains("scroll-box"))) return "away";
        return ["overflow", "text " + a11yQuote(n.data) + " [" + Math.round(r.top) + "…" + Math.round(r.bottom) + "] is outside " + a11yName(a) + " [" + Math.round(lim.t) + "…" + Math.round(lim.b) + "]"];
      }
    }
    if (r.left < -1 || r.right > vw + 1) return ["overflow", "text " + a11yQuote(n.data) + " is off the screen sideways"];
    if (r.top < -slack || r.bottom > vh + slack) return want.zoom && scrolls(root) ? "away" : ["overflow", "text " + a11yQuote(n.data) + " is off the screen"];
    const y = (r.top + r.bottom) / 2;
    for (const x of [r.left + r.width * 0.1, r.left + r.width / 2, r.right - r.width * 0.1]) {
      const hit = document.elementFromPoint(x, y);
      if (!hit || !(el.contains(hit) || hit.contains(el)))
        return ["covered", "text " + a11yQuote(n.data) + " is under " + a11yName(hit) + " at " + Math.round(x) + "," + Math.round(y)];
    }
    return null;
  };
  // At 200 % a line that is away or covered must read in full at some
  // scroll the person can make: its scroller brings it to the middle of
  // the screen, then to the top.
  const reach = (n, el, i, slack) => {
    let got = lineAt(n, el, i, slack);
    let box = el.parentElement;
    while (box && box !== root && !scrolls(box)) box = box.parentElement;
    box = box || root;
    for (const at of [vh / 2, 8]) {
      if (got === null || (got !== "away" && got[0] !== "covered")) break;
      const range = document.createRange();
      range.selectNodeContents(n);
      const r = range.getClientRects()[i];
      box.scrollTop += r.top - at + (at === 8 ? 0 : -r.height / 2);
      got = lineAt(n, el, i, slack);
    }
    return got === "away" ? ["overflow", "text " + a11yQuote(n.data) + " cannot be scrolled into view"] : got;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const textEls = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || !el || !inRoots(el) || !a11yVisible(el)) continue;
    textEls.add(el);
    const slack = Math.max(2, parseFloat(getComputedStyle(el).fontSize) * 0.25); // a glyph's ascent and descent may pass its line box
    const range = document.createRange();
    range.selectNodeContents(n);
    const lines = range.getClientRects().length;
    for (let i = 0; i < lines; i++) {
      let got = lineAt(n, el, i, slack);
      if (got === "away" && !want.zoom) continue; // in a box that scrolls, with its cue (checked above)
      if (got && want.zoom) got = reach(n, el, i, slack);
      if (got) { add(got[0], el, got[1]); break; }
    }
  }
  for (const [a, x, y] of scrolledAt) { a.scrollLeft = x; a.scrollTop = y; }

  // --- contrast (WCAG 1.4.3, 1.4.11) ---------------------------------
  const inactive = (el) => !!el.closest("button:disabled");
  for (const el of textEls) {
    if (inactive(el)) continue; // WCAG 1.4.3: an inactive control has no contrast requirement
    const cs = getComputedStyle(el);
    const bg = a11yBackground(el);
    const fg = a11yOver(a11yWithOpacity(a11yColour(cs.color), el), bg);
    const fs = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const large = fs >= 24 || (bold && fs >= 18.66);
    const need = large ? 3 : 4.5, got = a11yRatio(fg, bg);
    if (got < need) add("contrast", el, "text " + a11yQuote(el.textContent) + " " + got.toFixed(2) + ":1 (" + cs.color + " on " + a11yCSS(bg) + ", " + fs + " px" + (bold ? " bold" : "") + "); want " + need + ":1");
  }
  for (const svg of seen.filter((e) => e.tagName.toLowerCase() === "svg")) {
    if (inactive(svg)) continue;
    const bg = a11yBackground(svg.parentElement);
    const fg = a11yOver(a11yWithOpacity(a11yColour(getComputedStyle(svg).color), svg), bg);
    const got = a11yRatio(fg, bg);
    if (got < 3) add("contrast", svg, "icon " + got.toFixed(2) + ":1 (" + a11yCSS(fg) + " on " + a11yCSS(bg) + "); want 3:1");
  }
  const targets = seen.filter((e) => e.tagName.toLowerCase() === "button");
  for (const b of targets) {
    if (b.disabled) continue;
    const cs = getComputedStyle(b);
    const outside = a11yBackground(b.parentElement);
    const inside = a11yOver(a11yColour(cs.backgroundColor), outside);
    const border = a11yOver(a11yColour(cs.borderTopColor), outside);
    const fill = a11yRatio(inside, outside), edge = parseFloat(cs.borderTopWidth) >= 1 ? a11yRatio(border, outside) : 0;
    if (fill < 3 && edge < 3) add("contrast", b, "its edge: fill " + fill.toFixed(2) + ":1, border " + edge.toFixed(2) + ":1 against " + a11yCSS(outside) + "; want 3:1");
  }

  // --- colour alone (WCAG 1.4.1) -------------------------------------
  const confirmButtons = [...document.querySelectorAll('section[data-for="confirm"] button[data-action]')];
  if (want.section === "confirm") {
    for (const b of confirmButtons) {
      if (b.disabled !== !!want.held) add("render", b, want.held ? "not held (disabled) while armed_in_ms runs" : "disabled");
      if (!b.disabled) continue;
      const held = a11yShape(b);
      b.disabled = false;
      const free = a11yShape(b);
      b.disabled = true;
      if (held === free) add("colour_only", b, "held and free differ only in colour: " + held);
    }
  }
  if (want.picker) {
    const langs = [...picker.querySelectorAll(".btn-lang-choice")];
    const on = langs.find((b) => b.getAttribute("aria-pressed") === "true"), off = langs.find((b) => b.getAttribute("aria-pressed") !== "true");
    if (!on) add("render", picker, "no language marked as chosen");
    else if (off && a11yShape(on) === a11yShape(off)) add("colour_only", on, "the chosen language differs from the others only in colour");
  }

  // --- reading order and mirroring -----------------------------------
  const line = (a, b) => Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > Math.min(a.height, b.height) / 2;
  for (const group of seen.filter((e) => e.matches(".choices, .row, .bar, .lang-list"))) {
    const bs = [...group.children].filter((c) => c.tagName.toLowerCase() === "button" && a11yVisible(c));
    for (let i = 1; i < bs.length; i++) {
      const a = bs[i - 1].getBoundingClientRect(), b = bs[i].getBoundingClientRect();
      const ok = line(a, b) ? (rtl ? a.right > b.right : a.left < b.left) : a.top < b.top;
      if (!ok) add("order", bs[i], "comes before " + a11yName(bs[i - 1]) + " in " + dir + ", but follows it in the page");
    }
  }
  if (want.section === "confirm") {
    const yes = confirmButtons.find((b) => b.dataset.action === "confirm"), no = confirmButtons.find((b) => b.dataset.action === "deny");
    if (!(yes.compareDocumentPosition(no) & Node.DOCUMENT_POSITION_FOLLOWING)) add("order", yes, "Yes does not come before No in the page");
    const y = yes.getBoundingClientRect(), n = no.getBoundingClientRect();
    const first = line(y, n) ? (rtl ? y.right > n.right : y.left < n.left) : y.top < n.top;
    if (!first) add("order", yes, "Yes is not first in reading order (" + dir + "): Yes at " + Math.round(y.left) + "," + Math.round(y.top) + ", No at " + Math.round(n.left) + "," + Math.round(n.top));
  }
  if (!want.picker) {
    const lang = document.getElementById("lang-button").getBoundingClientRect(), help = document.getElementById("help-button");
    if (a11yVisible(help)) {
      const h = help.getBoundingClientRect();
      if (rtl ? !(lang.right > h.right) : !(lang.left < h.left)) add("direction", help, "the language button is not on the start side (" + dir + ")");
    }
  }
  for (const el of seen) {
    const cs = getComputedStyle(el);
    const l = parseFloat(cs.borderLeftWidth), r = parseFloat(cs.borderRightWidth);
    if (Math.abs(l - r) >= 2 && (rtl ? l > r : r > l)) add("direction", el, "its " + (l > r ? "left" : "right") + " border marks the end side in " + dir + "; it belongs on the start side");
  }

  // --- targets: big enough, and a touch lands on them ----------------
  // probe says why a touch on b would miss it where it is now, or "".
  const probe = (b) => {
    const r = b.getBoundingClientRect();
    let v = { l: Math.max(r.left, 0), t: Math.max(r.top, 0), r: Math.min(r.right, vw), b: Math.min(r.bottom, vh) };
    for (let a = b.parentElement; a && a !== root; a = a.parentElement) {
      if (!clips(a)) continue;
      const c = a.getBoundingClientRect();
      v = { l: Math.max(v.l, c.left + a.clientLeft), t: Math.max(v.t, c.top + a.clientTop), r: Math.min(v.r, c.left + a.clientLeft + a.clientWidth), b: Math.min(v.b, c.top + a.clientTop + a.clientHeight) };
    }
    const w = v.r - v.l, h = v.b - v.t;
    const size = Math.max(0, Math.round(w)) + "×" + Math.max(0, Math.round(h)) + " of " + Math.round(r.width) + "×" + Math.round(r.height);
    if (!want.zoom && (w < r.width - 1 || h < r.height - 1)) return "cut off: " + size + " on screen";
    if (want.zoom && (w < Math.min(48, r.width) - 1 || h < Math.min(48, r.height) - 1)) return "out of reach: " + size + " on screen";
    const rad = parseFloat(getComputedStyle(b).borderTopLeftRadius) || 0;
    const ix = Math.min(4 + 0.3 * rad, w / 2 - 1), iy = Math.min(4 + 0.3 * rad, h / 2 - 1);
    for (const [x, y] of [[(v.l + v.r) / 2, (v.t + v.b) / 2], [v.l + ix, v.t + iy], [v.r - ix, v.t + iy], [v.l + ix, v.b - iy], [v.r - ix, v.b - iy]]) {
      const hit = document.elementFromPoint(x, y);
      if (!hit || !b.contains(hit)) return "a touch at " + Math.round(x) + "," + Math.round(y) + " lands on " + a11yName(hit);
    }
    return "";
  };
  for (const b of targets) {
    const r = b.getBoundingClientRect();
    if (r.width < 48 - 0.5 || r.height < 48 - 0.5) add("target_size", b, Math.round(r.width) + "×" + Math.round(r.height) + " CSS px; want 48×48");
    let miss = probe(b);
    if (miss && want.zoom) {
      // Reachable by a scroll the person can make, to any position:
      // scrollIntoView may also move a box that hides its overflow,
      // which no finger can.
      for (const block of ["nearest", "center", "start", "end"]) {
        const before = scrollers.concat(all.filter(clips)).map((a) => [a, a.scrollLeft, a.scrollTop]);
        b.scrollIntoView({ block: block, inline: "nearest" });
        let cheat = "";
        for (const [a, x, y] of before) {
          if (a.scrollLeft !== x) cheat = "reachable only by scrolling " + a11yName(a) + " sideways";
          else if (a.scrollTop !== y && !scrolls(a)) cheat = "reachable only by scrolling " + a11yName(a) + ", which a finger cannot";
        }
        miss = cheat || probe(b);
        if (!miss) break;
      }
      for (const [a, x, y] of scrolledAt) { a.scrollLeft = x; a.scrollTop = y; }
      for (const a of all.filter(clips)) if (!scrolls(a)) { a.scrollLeft = 0; a.scrollTop = 0; }
    }
    if (miss) add("covered", b, miss);
  }
  return { violations: violations, notes: notes };
}

function a11yVisible(el) {
  return !!el && el.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true }) && el.getClientRects().length > 0;
}

// a11yBoxed: el draws a box of its own (a background or a border).
function a11yBoxed(el) {
  const cs = getComputedStyle(el);
  return a11yColour(cs.backgroundColor).a > 0 || ["Top", "Right", "Bottom", "Left"].some((s) => parseFloat(cs["border" + s + "Width"]) > 0);
}

// a11yShape is what tells a state apart other than colour: borders'
// style and width, decoration, the font's weight and style, outlines,
// shadows' shape, generated content, icons shown.
function a11yShape(el) {
  const cs = getComputedStyle(el);
  const noColour = (s) => s.replace(/rgba?\([^)]*\)/g, "").replace(/\s+/g, " ").trim();
  return [
    cs.borderTopStyle, cs.borderTopWidth, cs.borderLeftStyle, cs.borderLeftWidth, cs.textDecorationLine, cs.textDecorationStyle,
    cs.fontWeight, cs.fontStyle, cs.outlineStyle, cs.outlineWidth, noColour(cs.boxShadow), cs.backgroundImage,
    getComputedStyle(el, "::before").content, getComputedStyle(el, "::after").content,
    [...el.querySelectorAll("svg")].map((s) => getComputedStyle(s).display).join(","),
  ].join(" | ");
}

function a11yName(el) {
  if (!el) return "nothing";
  let s = el.tagName.toLowerCase();
  if (el.id) s += "#" + el.id;
  if (el.classList.length) s += "." + [...el.classList].join(".");
  for (const a of ["data-action", "data-t", "data-for", "data-key"]) if (el.hasAttribute(a)) s += "[" + a + "=" + el.getAttribute(a) + "]";
  return s;
}

function a11yQuote(s) {
  s = s.trim();
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

function a11yColour(c) {
  const m = c.match(/rgba?\(([^)]*)\)/);
  if (!m) return { r: 0, g: 0, b: 0, a: 0 };
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
}

function a11yCSS(c) { return "rgb(" + [c.r, c.g, c.b].map(Math.round).join(",") + ")"; }

// a11yOver composes c over the opaque colour bg.
function a11yOver(c, bg) {
  return { r: c.r * c.a + bg.r * (1 - c.a), g: c.g * c.a + bg.g * (1 - c.a), b: c.b * c.a + bg.b * (1 - c.a), a: 1 };
}

// a11yWithOpacity is c as seen through the opacity of el and its
// ancestors.
function a11yWithOpacity(c, el) {
  let a = c.a;
  for (let e = el; e; e = e.parentElement) a *= parseFloat(getComputedStyle(e).opacity);
  return { r: c.r, g: c.g, b: c.b, a: a };
}

// a11yBackground is the opaque colour behind el's content: its own
// background and its ancestors', composed from the first opaque one up
// (the canvas is white).
function a11yBackground(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = a11yColour(getComputedStyle(e).backgroundColor);
    if (c.a > 0) layers.push(c);
    if (c.a >= 1) break;
  }
  let bg = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) bg = a11yOver(layers[i], bg);
  return bg;
}

// a11yRatio is the WCAG contrast ratio of two opaque colours.
function a11yRatio(x, y) {
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const a = lum(x), b = lum(y);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
`
