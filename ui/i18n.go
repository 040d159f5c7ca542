package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
)

// The message catalogs: web/i18n/LANG.json, one file per language, named
// by its tag ("en", "es", "zh"). Each holds the language's name in its own
// script, its direction ("ltr" or "rtl") and its strings by key:
//
//	{"name": "Español", "dir": "ltr", "t": {"receipt_title": "Comprobante de registro", ...}}
//
// English is the reference: every catalog has every key English has (a
// test fails otherwise), and a key missing at run time falls back to
// English. The daemon takes the printed receipt's words from here (Text).

// DefaultLang is the language of a session that chose none, and the one
// every other falls back to.
const DefaultLang = "en"

// Catalog is one language's catalog.
type Catalog struct {
	Name string            `json:"name"` // the language's name, in its own script
	Dir  string            `json:"dir"`  // "ltr" or "rtl"
	T    map[string]string `json:"t"`    // the strings, by key
}

var catalogs = sync.OnceValues(loadCatalogs)

func loadCatalogs() (map[string]Catalog, error) {
	files, err := fs.Glob(webFS, "web/i18n/*.json")
	if err != nil {
		return nil, err
	}
	all := map[string]Catalog{}
	for _, f := range files {
		b, err := webFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", f, err)
		}
		all[strings.TrimSuffix(path.Base(f), ".json")] = c
	}
	if _, ok := all[DefaultLang]; !ok {
		return nil, fmt.Errorf("no catalog for %s", DefaultLang)
	}
	return all, nil
}

// mustCatalogs returns the catalogs, which are fixed at build time: a
// broken one fails the tests, never a kiosk.
func mustCatalogs() map[string]Catalog {
	c, err := catalogs()
	if err != nil {
		panic(err)
	}
	return c
}

// Languages returns the tags of every language the kiosk speaks, sorted.
func Languages() []string {
	var tags []string
	for tag := range mustCatalogs() {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	return tags
}

// Text returns the string key in the language lang: a BCP 47 tag, of
// which only the language matters ("es-MX" is "es"). A language the kiosk
// does not speak, or a key its catalog lacks, gives English.
func Text(lang, key string) string {
	all := mustCatalogs()
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if s, ok := all[base].T[key]; ok {
		return s
	}
	return all[DefaultLang].T[key]
}

// Speaks reports whether the kiosk has a catalog for lang's language.
func Speaks(lang string) bool {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	_, ok := mustCatalogs()[base]
	return ok
}

// CatalogOf returns the catalog of lang's language, or English's.
func CatalogOf(lang string) Catalog {
	all := mustCatalogs()
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if c, ok := all[base]; ok {
		return c
	}
	return all[DefaultLang]
}

// catalogsJSON is every catalog, as the page loads them (GET /i18n.json):
// an object keyed by language tag, English first and the rest by tag, the
// order of the page's language picker.
var catalogsJSON = sync.OnceValues(func() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, tag := range append([]string{DefaultLang}, slices.DeleteFunc(Languages(), func(t string) bool { return t == DefaultLang })...) {
		c, err := json.Marshal(mustCatalogs()[tag])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", tag, c)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
})

func (s *Server) handleCatalogs(w http.ResponseWriter, r *http.Request) {
	b, err := catalogsJSON()
	if err != nil {
		panic(err) // the embedded catalogs are fixed at build time; a test reads them
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
