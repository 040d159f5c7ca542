package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// Invented people on the cards this file issues besides the kit's; their
// names and numbers must never reach the page.
const (
	otherGiven, otherFamily = "Nadia", "Rahimi"
	otherANumber            = "201555901"
	otherSerial             = "d0c0000000000901"
	// wrongBirth is the date of birth keyed on the challenge's keypad,
	// day, month, year: not the demo people's (1991-04-12).
	wrongBirth = "07031958"
)

// personalOnCards is what must not be in the page's DOM once a refusal
// is shown or its session is over: every name, A-number, serial and date
// of birth on the cards the tests scan, and the wrong date keyed.
var personalOnCards = []string{
	"Amina", "Haddad", "Tomás", "Quispe", "Nguyen", "Yusuf", "Demir", "Mariam", "Okonkwo",
	otherGiven, otherFamily, otherANumber, "201555", "d0c00000000", "1991", "1958", wrongBirth,
}

// refusalCards are cards the kit's issuer (or a stranger) makes that the
// samples do not cover, each refused for its own reason by the real
// verifier: one not valid until tomorrow, one issued for another context
// (as an EU DCC's "HC1:"), one from a key the trust list does not hold,
// and a document the trusted issuer signed that holds no card.
type refusalCards struct {
	notYetValid, wrongContext, unknownIssuer, notACard string
}

func issueRefusalCards(t *testing.T, kit *demokit.Kit) refusalCards {
	t.Helper()
	signer, cert, err := demokit.IssuerKey(kit.Dir)
	if err != nil {
		t.Fatalf("demokit.IssuerKey() = %v", err)
	}
	issuer := &card.Issuer{Name: demokit.Issuer, Signer: signer, KID: card.KIDOfCertificate(cert)}
	now := time.Now()
	person := card.Card{
		Serial: otherSerial, ANumber: otherANumber, GivenName: otherGiven, FamilyName: otherFamily,
		DateOfBirth: "1958-03-07", Office: demokit.Office,
		IssuedAt: now.Add(-24 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
	}
	issue := func(what string, i *card.Issuer, c card.Card) string {
		t.Helper()
		payload, err := i.Issue(c)
		if err != nil {
			t.Fatalf("issue a card %s: %v", what, err)
		}
		return payload
	}
	var cs refusalCards

	tomorrow := person
	tomorrow.IssuedAt = now.Add(24 * time.Hour) // well past card.NotBeforeSkew
	cs.notYetValid = issue("valid from tomorrow", issuer, tomorrow)

	elsewhere := *issuer
	elsewhere.Prefix = "HC1:"
	cs.wrongContext = issue("for another context", &elsewhere, person)

	strangerKey, _, err := card.GenerateKey("ES256", "stranger")
	if err != nil {
		t.Fatal(err)
	}
	cs.unknownIssuer = issue("by a stranger", &card.Issuer{Name: demokit.Issuer, Signer: strangerKey}, person)

	// The issuer's signature over a CWT with every claim a card has but
	// the card claim: card.Issuer cannot make one, so it is put together
	// here as Issue does, from the same parts.
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := em.Marshal(map[int]any{
		1: demokit.Issuer,                  // iss
		4: now.AddDate(1, 0, 0).Unix(),     // exp
		6: now.Add(-24 * time.Hour).Unix(), // iat
		7: []byte{0xd0, 0xc0, 0, 0, 0, 0, 0x09, 0x02},
	})
	if err != nil {
		t.Fatal(err)
	}
	sign, err := cose.NewSigner(cose.AlgorithmES256, signer)
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = card.KIDOfCertificate(cert)
	msg.Payload = claims
	if err := msg.Sign(rand.Reader, nil, sign); err != nil {
		t.Fatal(err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	cs.notACard = card.DefaultPrefix + card.EncodeBase45(z.Bytes())
	return cs
}

// tapCSS taps the element sel names, as a finger would.
func tapCSS(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(sel))); err != nil {
		t.Fatalf("tap %s: %v", sel, err)
	}
}

// chooseLanguage switches the page to lang by touch: the language button
// in the footer, then the language in the picker; it returns once the
// server's next screen has put the page in that language.
func chooseLanguage(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	tapCSS(t, ctx, "#lang-button")
	tapCSS(t, ctx, `#lang-list button[lang="`+lang+`"]`)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`html[lang="`+lang+`"]`))); err != nil {
		t.Fatalf("the page did not switch to %s: %v", lang, err)
	}
}

// touchable reports whether a finger can land on the element sel names:
// shown, inside the viewport, and what is at its middle.
func touchable(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const e = document.querySelector(`+"`"+sel+"`"+`);
		if (!e || e.closest("[hidden]")) return false;
		const r = e.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return false;
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return hit !== null && e.contains(hit);
	})()`))
	if err != nil {
		t.Fatalf("is %s touchable: %v", sel, err)
	}
	return ok
}

// domHolds returns which of words the page's DOM holds, anywhere: text,
// attributes, hidden elements.
func domHolds(t *testing.T, ctx context.Context, words ...string) []string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		t.Fatalf("read the DOM: %v", err)
	}
	var held []string
	for _, w := range words {
		if w != "" && strings.Contains(html, w) {
			held = append(held, w)
		}
	}
	return held
}

// TestRefusalsInBrowser brings about, in the real page in real Chromium at
// the panel's 800x480 and by touch, each refusal a person can meet on the
// real daemon, each by its real path: a card scanned (the kit's samples,
// and cards the kit's issuer makes), "No, this is not me" tapped, a wrong
// date of birth keyed on the challenge's keypad, lists too old to trust.
// Each shows see_staff with its reason in the catalog's words of the
// person's language (some rows switch it by touch first), never
// "revoked", "invalid" or "error"; the help button can be touched; OK goes
// back to the start; nothing is recorded, and nothing personal is left in
// the page.
//
// Not reached: record_failed (a commit that fails: the kiosk goes out of
// service on a full disk before one does, and its WAL is laid out ahead;
// the outbox's TestHealthOnFullDisk and the flow's
// TestFlowCommitFailureTakesOutOfService cover it).
func TestRefusalsInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	cards := issueRefusalCards(t, kit)
	m := startKiosk(t, t.TempDir(), kit, "", func(c *Config) { c.Challenge = true })
	// Lists too old to trust are the kiosk's configuration, not a card's:
	// a second daemon, whose revocation list may be a nanosecond old.
	stale := startKiosk(t, t.TempDir(), kit, "", func(c *Config) { c.MaxListAge = time.Nanosecond })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(800, 480, chromedp.EmulateTouch)); err != nil {
		t.Fatal(err)
	}

	valid := kit.Samples["valid"]
	// A damaged print: nine characters (three Base45 groups) gone from the
	// middle of a valid card.
	damaged := valid[:len(valid)/2] + valid[len(valid)/2+9:]
	unrostered, err := card.NewReference()
	if err != nil {
		t.Fatal(err)
	}
	scan := func(text string) func(*testing.T, *Main) {
		return func(t *testing.T, m *Main) { simScan(t, m, text) }
	}
	for _, tc := range []struct {
		name   string
		lang   string // chosen by touch on the idle screen first; "" English
		kiosk  *Main
		refuse func(*testing.T, *Main) // from the idle screen, until the refusal is on its way
		want   kiosk.Reason
	}{
		{"expired", "", m, scan(kit.Samples["expired"]), kiosk.ReasonCardExpired},
		{"revoked", "es", m, scan(kit.Samples["revoked"]), kiosk.ReasonCardRevoked},
		// The forger copied the real issuer's kid: a trusted kid whose
		// signature does not verify.
		{"forged", "ar", m, scan(kit.Samples["forged"]), kiosk.ReasonCardBadSignature},
		{"not yet valid", "", m, scan(cards.notYetValid), kiosk.ReasonCardNotYetValid},
		{"stranger's key", "", m, scan(cards.unknownIssuer), kiosk.ReasonCardUnknownIssuer},
		{"reference not on the roster", "es", m, scan(demokit.ReferencePrefix + unrostered), kiosk.ReasonCardUnknownIssuer},
		{"another context", "", m, scan(cards.wrongContext), kiosk.ReasonCardWrongContext},
		// Text that is no card at all does not start with the card's
		// prefix: the verifier stops at the first stage, unreadable.
		// not_a_card is a trusted issuer's signature over no card.
		{"plain text", "", m, scan("hello"), kiosk.ReasonCardUnreadable},
		{"damaged", "es", m, scan(damaged), kiosk.ReasonCardUnreadable},
		{"signed, no card", "ar", m, scan(cards.notACard), kiosk.ReasonNotACard},
		{"not me", "es", m, func(t *testing.T, m *Main) {
			simScan(t, m, valid)
			waitScreen(t, ctx, kiosk.ScreenConfirm)
			tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionDeny)
		}, kiosk.ReasonPersonDenied},
		{"wrong date of birth", "ar", m, func(t *testing.T, m *Main) {
			simScan(t, m, valid)
			waitScreen(t, ctx, kiosk.ScreenConfirm)
			tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
			waitScreen(t, ctx, kiosk.ScreenChallenge)
			for _, k := range wrongBirth {
				tapCSS(t, ctx, `button[data-key="`+string(k)+`"]`)
			}
			if err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS("#dob-ok"))); err != nil {
				t.Fatalf("OK not enabled after eight digits: %v", err)
			}
			tap(t, ctx, kiosk.ScreenChallenge, kiosk.ActionAnswer)
		}, kiosk.ReasonChallengeFailed},
		{"lists too old", "", stale, scan(valid), kiosk.ReasonListsStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			km := tc.kiosk
			if err := chromedp.Do(ctx, chromedp.Navigate("http://"+km.Addr()+"/")); err != nil {
				t.Fatalf("open the kiosk page: %v", err)
			}
			// A row that failed may have left its screen up: help, then
			// back to the start, as staff would.
			if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`body:not([data-screen="connecting"])`))); err != nil {
				t.Fatalf("the page did not connect: %v", err)
			}
			if km.flow.View().Screen != kiosk.ScreenIdle {
				tapCSS(t, ctx, "#help-button")
				waitScreen(t, ctx, kiosk.ScreenHelp)
				tap(t, ctx, kiosk.ScreenHelp, kiosk.ActionDone)
			}
			waitScreen(t, ctx, kiosk.ScreenIdle)
			if tc.lang != "" {
				chooseLanguage(t, ctx, tc.lang)
			}
			tc.refuse(t, km)
			waitScreen(t, ctx, kiosk.ScreenSeeStaff)
			screenshot(t, ctx, "refusal_"+string(tc.want)+"_"+strings.ReplaceAll(tc.name, " ", "_"))

			if v := km.flow.View(); v.Screen != kiosk.ScreenSeeStaff || v.Reason != tc.want {
				t.Errorf("the flow shows %s/%s; want %s/%s", v.Screen, v.Reason, kiosk.ScreenSeeStaff, tc.want)
			}
			key := "reason_" + string(tc.want)
			want := ui.Text(tc.lang, key)
			if tc.lang != "" && want == ui.Text(ui.DefaultLang, key) {
				t.Fatalf("%s has no %s of its own: the row proves nothing of the language", tc.lang, key)
			}
			heading, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#reason")))
			if err != nil || heading != want {
				t.Errorf("see_staff heading = %q, %v; want %q (%s in %q)", heading, err, want, key, tc.lang)
			}
			lang := tc.lang
			if lang == "" {
				lang = ui.DefaultLang
			}
			dir, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang + " " + document.documentElement.dir`))
			if wantDir := lang + " " + ui.CatalogOf(lang).Dir; err != nil || dir != wantDir {
				t.Errorf("<html lang dir> = %q, %v; want %q", dir, err, wantDir)
			}
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.toLowerCase()`))
			if err != nil {
				t.Fatal(err)
			}
			for _, word := range []string{"revoked", "invalid", "error"} {
				if strings.Contains(shown, word) {
					t.Errorf("the screen says %q:\n%s", word, shown)
				}
			}
			if !touchable(t, ctx, "#help-button") {
				t.Error("the help button cannot be touched on the refusal")
			}
			if held := domHolds(t, ctx, personalOnCards...); len(held) > 0 {
				t.Errorf("the refusal's DOM holds %q", held)
			}

			tap(t, ctx, kiosk.ScreenSeeStaff, kiosk.ActionDone)
			waitScreen(t, ctx, kiosk.ScreenIdle)
			if n := recorded(t, km); n != 0 {
				t.Errorf("%d check-ins recorded after the refusal; want 0", n)
			}
			if held := domHolds(t, ctx, append(personalOnCards, demokit.ReferencePrefix)...); len(held) > 0 {
				t.Errorf("the DOM holds %q after the refusal", held)
			}
		})
	}
}

// metricValue is the value of one series in the daemon's GET /metrics, as
// written there ("" if absent).
func metricValue(t *testing.T, m *Main, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v
		}
	}
	return ""
}

// TestHelpFromSuccessAndAlreadyInBrowser asks for help, by touch in the
// real page at a portrait 1080x1920, from the two screens a check-in ends
// on: success, and "already checked in" when the same card comes back.
// Help reaches the flow each time (its view, the status, the metric staff
// are alerted by) and changes nothing of the check-in, recorded once; the
// code shown again is the record's.
func TestHelpFromSuccessAndAlreadyInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	openPage(t, ctx, m, 1080, 1920)

	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenConfirm)
	tap(t, ctx, kiosk.ScreenConfirm, kiosk.ActionConfirm)
	waitScreen(t, ctx, kiosk.ScreenSuccess)
	ids := recordIDs(t, m)
	if len(ids) != 1 {
		t.Fatalf("success shown with %d records; want 1", len(ids))
	}
	code := kiosk.ConfirmationCode(ids[0])
	if got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#success-code"))); err != nil || got != code {
		t.Errorf("success code = %q, %v; want %q", got, err, code)
	}

	// help taps the footer's help button on from and checks the help
	// screen is the flow's, counted the nth time, and the record alone.
	help := func(from kiosk.Screen, nth string) {
		t.Helper()
		if !touchable(t, ctx, "#help-button") {
			t.Errorf("the help button cannot be touched on %s", from)
		}
		tapCSS(t, ctx, "#help-button")
		waitScreen(t, ctx, kiosk.ScreenHelp)
		screenshot(t, ctx, "help_from_"+string(from))
		if v := m.flow.View(); v.Screen != kiosk.ScreenHelp {
			t.Errorf("help from %s: the flow shows %s; want help", from, v.Screen)
		}
		if st := getStatus(t, m); st.Screen != string(kiosk.ScreenHelp) {
			t.Errorf("help from %s: status screen %q; want help", from, st.Screen)
		}
		if got := metricValue(t, m, "kiosk_help_requests_total"); got != nth {
			t.Errorf("help from %s: kiosk_help_requests_total %q; want %s", from, got, nth)
		}
		if got := recordIDs(t, m); len(got) != 1 || got[0] != ids[0] {
			t.Errorf("help from %s: records %v; want %v alone", from, got, ids)
		}
		// The help screen is not the check-in's: its code is not left on.
		if held := domHolds(t, ctx, code, "Amina", "Haddad"); len(held) > 0 {
			t.Errorf("help from %s: the DOM holds %q", from, held)
		}
		tap(t, ctx, kiosk.ScreenHelp, kiosk.ActionDone)
		waitScreen(t, ctx, kiosk.ScreenIdle)
	}
	help(kiosk.ScreenSuccess, "1")

	simScan(t, m, kit.Samples["valid"])
	waitScreen(t, ctx, kiosk.ScreenAlready)
	if got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#already-code"))); err != nil || got != code {
		t.Errorf("already: code = %q, %v; want %q, the record's", got, err, code)
	}
	if !touchable(t, ctx, "#already-code") {
		t.Error("already: the code is not on screen")
	}
	if got := metricValue(t, m, `kiosk_checkins_total{outcome="already"}`); got != "1" {
		t.Errorf(`kiosk_checkins_total{outcome="already"} %q; want 1`, got)
	}
	screenshot(t, ctx, "already")
	help(kiosk.ScreenAlready, "2")

	if n := recorded(t, m); n != 1 {
		t.Errorf("%d check-ins recorded; want 1", n)
	}
}
