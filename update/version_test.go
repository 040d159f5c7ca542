package update_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/update"
)

func TestVersionCompare(t *testing.T) {
	// Each lower than the next: semver.org's precedence example, and
	// numbers compared as numbers.
	order := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0",
	}
	for i := range order {
		for j := range order {
			a, err := update.ParseVersion(order[i])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := update.ParseVersion(order[j])
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = +1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d; want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := update.ParseVersion("v1.4.0+build.7")
	b, _ := update.ParseVersion("1.4.0")
	if a.Compare(b) != 0 || a.String() != "1.4.0+build.7" {
		t.Errorf("v1.4.0+build.7: Compare(1.4.0) = %d, String %q; want 0, 1.4.0+build.7", a.Compare(b), a.String())
	}
}

func TestParseVersionRefuses(t *testing.T) {
	for _, s := range []string{
		"", "1", "1.4", "1.4.0.1", "01.4.0", "1.04.0", "1.4.0-", "1.4.0-01", "1.4.0-a..b", "1.4.0+",
		"1.4.0-a/b", "../1.4.0", "1.4.0/..", "1.4.0 ", "-1.4.0", "1.4.x", "99999999999999999999.0.0",
	} {
		if v, err := update.ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %v; want an error", s, v)
		}
	}
}

// FuzzParseVersion: whatever it is given, a version that parses is a safe
// directory name that parses back to itself.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.4.0", "v1.4.0-rc.1+build.7", "1.0.0-alpha.beta", "0.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := update.ParseVersion(s)
		if err != nil {
			return
		}
		name := v.String()
		for _, c := range name {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+') {
				t.Fatalf("ParseVersion(%q).String() = %q: not a safe directory name", s, name)
			}
		}
		if name == "." || name == ".." {
			t.Fatalf("ParseVersion(%q).String() = %q", s, name)
		}
		w, err := update.ParseVersion(name)
		if err != nil || w.Compare(v) != 0 || w.String() != name {
			t.Fatalf("ParseVersion(%q) = %v, %v; want %q back", name, w, err, name)
		}
	})
}

// FuzzManifestCheck: whatever a manifest holds, Check never panics, and
// one it passes names only paths that stay inside a release directory.
func FuzzManifestCheck(f *testing.F) {
	f.Add([]byte(`{"version":"1.5.0","arch":"arm64","min_from":"1.0.0","files":[{"path":"bin/kiosk","sha256":"` +
		strings.Repeat("ab", 32) + `","size":3,"mode":"0755"}],"tarball":{"name":"kiosk-1.5.0-linux-arm64.tar.gz","sha256":"` +
		strings.Repeat("cd", 32) + `","size":10}}`))
	f.Add([]byte(`{"files":[{"path":"../x"},{"path":"/etc/passwd"},{"path":"a//b"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var m update.Manifest
		if json.Unmarshal(doc, &m) != nil || m.Check() != nil {
			return
		}
		for _, file := range m.Files {
			p := filepath.Clean(filepath.FromSlash(file.Path))
			if !filepath.IsLocal(p) || p != filepath.FromSlash(file.Path) {
				t.Fatalf("Check passed a manifest with the path %q", file.Path)
			}
		}
	})
}
