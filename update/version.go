package update

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is a release's version, as Semantic Versioning 2.0.0 spells it:
// MAJOR.MINOR.PATCH, an optional -PRERELEASE and an optional +BUILD. A
// leading "v" is accepted and dropped, so "v1.4.0" and "1.4.0" are one
// version; String never writes it, since it names a directory
// (releases/1.4.0). The module has no semver package, and three numbers
// and a list of identifiers need none.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // the prerelease's dot-separated identifiers; nil for a release
	Build               string   // ignored in comparisons
}

// ParseVersion parses s as a semantic version. Its grammar also keeps it
// a safe directory name: ASCII letters, digits, '.', '-' and '+' only,
// never "." or "..".
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("version %q: %s; want MAJOR.MINOR.PATCH, e.g. 1.4.0", s, why)
	}
	if len(s) > 64 {
		return bad("too long")
	}
	rest := strings.TrimPrefix(s, "v")
	var v Version
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build, rest = rest[i+1:], rest[:i]
		if !identifiers(v.Build, false) {
			return bad("bad build metadata")
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if !identifiers(pre, true) {
			return bad("bad prerelease")
		}
		v.Pre = strings.Split(pre, ".")
	}
	nums := strings.Split(rest, ".")
	if len(nums) != 3 {
		return bad("not three numbers")
	}
	for i, p := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if !numeric(nums[i]) {
			return bad("not three numbers")
		}
		n, err := strconv.ParseUint(nums[i], 10, 64)
		if err != nil {
			return bad("a number too large")
		}
		*p = n
	}
	return v, nil
}

// identifiers reports whether s is dot-separated identifiers of
// [0-9A-Za-z-], none empty; for a prerelease, numeric ones have no
// leading zero.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if pre && allDigits(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// numeric reports whether s is a number without a leading zero.
func numeric(s string) bool {
	return s != "" && allDigits(s) && (len(s) == 1 || s[0] != '0')
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// String returns v without a leading "v": the name of its directory.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than
// w, by semver's precedence: the numbers, then a prerelease below its
// release, then prerelease identifiers one by one (numbers below words).
// Build metadata does not count.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, w.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Patch, w.Patch); c != 0 {
		return c
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return +1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		an, bn := allDigits(a), allDigits(b)
		switch {
		case an && bn:
			x, _ := strconv.ParseUint(a, 10, 64)
			y, _ := strconv.ParseUint(b, 10, 64)
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		case an:
			return -1
		case bn:
			return +1
		default:
			if c := strings.Compare(a, b); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(v.Pre), len(w.Pre))
}

// sameVersion reports whether a and b are one version (a leading "v" and
// build metadata aside), for the version a daemon reports against the one
// it should run. Versions that do not parse are the same only if equal.
func sameVersion(a, b string) bool {
	va, err1 := ParseVersion(a)
	vb, err2 := ParseVersion(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return va.Compare(vb) == 0
}
