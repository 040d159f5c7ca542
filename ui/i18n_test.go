package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The languages the kiosk must speak (ARCHITECTURE.md §6): one of them
// right to left.
var wantLanguages = []string{"ar", "en", "es", "fr", "hi", "ht", "pt", "ru", "uk", "zh"}

func TestCatalogsComplete(t *testing.T) {
	if got := ui.Languages(); !slices.Equal(got, wantLanguages) {
		t.Errorf("Languages() = %v; want %v", got, wantLanguages)
	}
	en := ui.CatalogOf(ui.DefaultLang)
	placeholder := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, lang := range ui.Languages() {
		c := ui.CatalogOf(lang)
		if c.Name == "" || (c.Dir != "ltr" && c.Dir != "rtl") {
			t.Errorf("%s: name %q, dir %q; want a name and ltr or rtl", lang, c.Name, c.Dir)
		}
		for _, key := range slices.Sorted(maps.Keys(en.T)) {
			s, ok := c.T[key]
			if !ok || s == "" {
				t.Errorf("%s: no %s", lang, key)
				continue
			}
			if got, want := placeholder.FindAllString(s, -1), placeholder.FindAllString(en.T[key], -1); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
				t.Errorf("%s: %s has placeholders %v; English has %v", lang, key, got, want)
			}
		}
		for key := range c.T {
			if _, ok := en.T[key]; !ok {
				t.Errorf("%s: key %s that English lacks", lang, key)
			}
		}
	}
	if ui.CatalogOf("ar").Dir != "rtl" {
		t.Error("Arabic is not right to left")
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestText(t *testing.T) {
	for _, tc := range []struct{ lang, key, want string }{
		{"es", "receipt_code", "Código de confirmación"},
		{"es-MX", "receipt_code", "Código de confirmación"},
		{"EN", "receipt_code", "Confirmation code"},
		{"tlh", "receipt_code", "Confirmation code"}, // a language the kiosk does not speak
		{"", "receipt_code", "Confirmation code"},
		{"es", "no_such_key", ""},
	} {
		if got := ui.Text(tc.lang, tc.key); got != tc.want {
			t.Errorf("Text(%q, %q) = %q; want %q", tc.lang, tc.key, got, tc.want)
		}
	}
	if !ui.Speaks("uk-UA") || ui.Speaks("tlh") {
		t.Error("Speaks: want uk-UA yes, tlh no")
	}
}

// GET /i18n.json: every catalog, English first, the way the page loads
// them.
func TestCatalogsServed(t *testing.T) {
	srv := httptest.NewServer(ui.New(ui.Config{Views: idleView{}, Actions: make(chan kiosk.Action)}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /i18n.json: %s %q, %v", resp.Status, resp.Header.Get("Content-Type"), err)
	}
	if !bytes.HasPrefix(b, []byte(`{"en":{`)) {
		t.Errorf("GET /i18n.json starts %.20q; want English first", b)
	}
	var all map[string]ui.Catalog
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(all)); !slices.Equal(got, wantLanguages) {
		t.Errorf("languages served %v; want %v", got, wantLanguages)
	}
	if got := all["ar"]; got.Dir != "rtl" || got.T["receipt_title"] != ui.Text("ar", "receipt_title") {
		t.Errorf("Arabic served as %+v", got)
	}
}

// idleView is a ViewSource whose view is always idle.
type idleView struct{}

func (idleView) View() kiosk.View { return kiosk.View{Rev: 1, Screen: kiosk.ScreenIdle} }
