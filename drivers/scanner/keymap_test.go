package scanner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// The characters a scanner must type in every layout: Base45 (RFC 9285),
// which a signed card's payload is written in, and those of a reference
// card's URL (https://docket.example.gov/c/ and [A-Za-z0-9_-], with ? = &
// # ~ of a query and fragment).
const (
	base45Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	urlChars    = "https://docket.example.gov/c/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-?=&#~"
)

// typed returns what a decoder with layout makes of evs (decodeKeys), as
// show writes the scans.
func typed(t testing.TB, layout string, evs []Event) []string {
	t.Helper()
	if keymaps[layout] == nil {
		t.Fatalf("no keymap %q", layout)
	}
	var got []string
	for _, s := range decodeKeys(layout, DefaultIdle, evs) {
		got = append(got, show(s))
	}
	return got
}

// keys returns the events of pressing and releasing each key in turn,
// value 1 and 0, without SYN_REPORTs (the decoder does not need them).
// A negative code is only released, a code above 0xffff only pressed.
func keys(codes ...int) []Event {
	var evs []Event
	for _, c := range codes {
		switch {
		case c < 0:
			evs = append(evs, Event{Type: evKey, Code: uint16(-c), Value: 0})
		case c > 0xffff:
			evs = append(evs, Event{Type: evKey, Code: uint16(c - 0x10000), Value: 1})
		default:
			evs = append(evs, Event{Type: evKey, Code: uint16(c), Value: 1}, Event{Type: evKey, Code: uint16(c), Value: 0})
		}
	}
	return evs
}

// down is keys' "only press".
func down(code int) int { return code + 0x10000 }

func TestKeymapsAreLayouts(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(keymaps)), slices.Sorted(slices.Values(Layouts)); !slices.Equal(got, want) {
		t.Errorf("keymaps = %q; want one for each of Layouts, %q", got, want)
	}
}

// TestKeymapRoundTrip: every character of Base45 and of a reference URL,
// generated as a scanner in each layout types it, decodes to itself; and
// so does every other character the layout's table has.
func TestKeymapRoundTrip(t *testing.T) {
	for _, layout := range Layouts {
		all := []string{base45Chars, urlChars}
		for r := range keymaps[layout].keys {
			all = append(all, string(r))
		}
		for _, text := range all {
			for _, r := range text {
				evs, err := Generate(string(r), layout, time.Millisecond)
				if err != nil {
					t.Errorf("Generate(%q, %s) = %v", r, layout, err)
					continue
				}
				if got := typed(t, layout, evs); !slices.Equal(got, []string{string(r)}) {
					t.Errorf("layout %s: %q typed decodes to %q", layout, r, got)
				}
			}
		}
		evs, err := Generate(urlChars+" "+base45Chars, layout, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := typed(t, layout, evs), []string{urlChars + " " + base45Chars}; !slices.Equal(got, want) {
			t.Errorf("layout %s: decoded %q; want %q", layout, got, want)
		}
	}
}

// TestKeymapKeys checks the layouts' keys against the real ones (xkb, and
// the keyboards' prints) where they differ: the keys a scanner set up for
// one layout presses for a character, and what they decode to.
func TestKeymapKeys(t *testing.T) {
	shift, altgr := down(keyLeftShift), down(keyRightAlt)
	for _, tt := range []struct {
		layout string
		keys   []int
		want   string
	}{
		{"us", []int{keyA, shift, keyA, key2, key3, keyGrave, -keyLeftShift, keySlash, keyMinus}, "aA@#~/-"},
		{"uk", []int{keyBackslash, shift, key2, keyApostrophe, keyBackslash, key3, key102nd}, `#"@~£|`},
		{"uk", []int{key102nd, altgr, key4}, `\€`},
		{"de", []int{keyY, keyZ, keySlash, keyDot, shift, key7, keyDot, key0, keyMinus, key6}, "zy-./:=?&"},
		{"de", []int{keyBackslash, keyRightBrace, altgr, keyRightBrace, keyQ, keyE, keyMinus}, "#+~@€\\"},
		{"de", []int{keyApostrophe, keySemicolon, keyLeftBrace, keyMinus, shift, keyApostrophe, keyGrave}, "äöüßÄ°"},
		{"fr", []int{keyQ, keyW, keyA, keyZ, keySemicolon, keyDot, key1, key6, key8, keyRightBrace, keyBackslash}, "azqwm:&-_$*"},
		{"fr", []int{shift, key1, key2, key3, key4, key5, key6, key7, key8, key9, key0}, "1234567890"},
		{"fr", []int{shift, keyDot, keyComma, keyM, keyEqual, keyApostrophe}, "/.?+%"},
		{"fr", []int{altgr, key3, key2, key0, keyE}, "#~@€"},
		{"fr", []int{key2, key7, key9, key0, keyApostrophe}, "éèçàù"},
	} {
		var want []string
		if tt.want != "" {
			want = []string{tt.want}
		}
		if got := typed(t, tt.layout, keys(tt.keys...)); !slices.Equal(got, want) {
			t.Errorf("layout %s: keys %v decode to %q; want %q", tt.layout, tt.keys, got, want)
		}
	}
}

// TestKeymapGenerateKeys: Generate presses the keys a real scanner in that
// layout would, the fewest modifiers first.
func TestKeymapGenerateKeys(t *testing.T) {
	for _, tt := range []struct {
		layout string
		char   rune
		want   keyStroke
	}{
		{"us", '/', keyStroke{keySlash, levelPlain}},
		{"uk", '#', keyStroke{keyBackslash, levelPlain}},
		{"uk", '"', keyStroke{key2, levelShift}},
		{"uk", '@', keyStroke{keyApostrophe, levelShift}},
		{"uk", '~', keyStroke{keyBackslash, levelShift}},
		{"uk", '|', keyStroke{key102nd, levelShift}}, // not AltGr+`
		{"de", 'z', keyStroke{keyY, levelPlain}},
		{"de", 'y', keyStroke{keyZ, levelPlain}},
		{"de", '-', keyStroke{keySlash, levelPlain}},
		{"de", '/', keyStroke{key7, levelShift}},
		{"de", ':', keyStroke{keyDot, levelShift}},
		{"de", '~', keyStroke{keyRightBrace, levelAltGr}},
		{"fr", '/', keyStroke{keyDot, levelShift}},
		{"fr", ':', keyStroke{keyDot, levelPlain}},
		{"fr", '1', keyStroke{key1, levelShift}},
		{"fr", '0', keyStroke{key0, levelShift}},
		{"fr", '#', keyStroke{key3, levelAltGr}},
	} {
		if got, ok := keymaps[tt.layout].keys[tt.char]; !ok || got != tt.want {
			t.Errorf("layout %s types %q with %+v, %v; want %+v", tt.layout, tt.char, got, ok, tt.want)
		}
	}
}

// TestKeymapKeypad: the keypad types its characters in every layout,
// whatever Shift says (de's decimal key is a comma), and keypad Enter ends
// the scan.
func TestKeymapKeypad(t *testing.T) {
	pad := []int{keyKP0, keyKP1, keyKP2, keyKP3, keyKP4, down(keyLeftShift), keyKP5, keyKP6, keyKP7,
		keyKP8, keyKP9, keyKPDot, keyKPSlash, keyKPAsterisk, keyKPMinus, keyKPPlus, keyKPEnter}
	for _, layout := range Layouts {
		want := "0123456789./*-+"
		if layout == "de" {
			want = "0123456789,/*-+"
		}
		if got := typed(t, layout, keys(pad...)); !slices.Equal(got, []string{want}) {
			t.Errorf("layout %s: keypad decodes to %q; want %q", layout, got, want)
		}
	}
}

// TestKeymapCapsLock: CapsLock toggles when pressed (not when released, not
// on autorepeat), changes letters only, and Shift undoes it, as on a PC.
func TestKeymapCapsLock(t *testing.T) {
	caps, shift := keyCapsLock, down(keyLeftShift)
	repeat := Event{Type: evKey, Code: keyCapsLock, Value: 2}
	for _, tt := range []struct {
		layout string
		evs    []Event
		want   string
	}{
		{"us", keys(caps, keyA, key1, keySemicolon, shift, keyB, key2, -keyLeftShift, caps, keyC), "A1;b@c"},
		{"us", append(append(keys(down(caps)), repeat, repeat), keys(-caps, keyA)...), "A"},
		// fr's digits are Shift's: CapsLock does not give them.
		{"fr", keys(caps, key1, key2, keyQ, shift, key1, key2, keyQ), "&éA12a"},
		{"de", keys(caps, keyApostrophe, keyMinus, keyY), "ÄßZ"},
	} {
		if got := typed(t, tt.layout, tt.evs); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("layout %s: %v decodes to %q; want %q", tt.layout, tt.evs, got, tt.want)
		}
	}
}

// TestKeymapModifiers: AltGr types the third level, left and right Shift
// are one Shift held until both are up, and a key typed with Ctrl, Alt or
// Meta, or AltGr with Shift, is no character: the scan is rejected.
func TestKeymapModifiers(t *testing.T) {
	for _, tt := range []struct {
		layout string
		keys   []int
		want   string
	}{
		{"de", []int{down(keyRightAlt), keyQ, -keyRightAlt, keyQ}, "@q"},
		{"us", []int{down(keyLeftShift), down(keyRightShift), -keyLeftShift, keyA, -keyRightShift, keyA}, "Aa"},
		{"us", []int{down(keyRightAlt), keyQ}, "!" + RejectControl}, // us has no AltGr
		{"de", []int{down(keyRightAlt), down(keyLeftShift), keyQ}, "!" + RejectControl},
		{"us", []int{keyA, down(keyLeftCtrl), keyJ, -keyLeftCtrl, keyA}, "!" + RejectControl},
		{"us", []int{keyA, down(keyLeftAlt), keyKP6, -keyLeftAlt}, "!" + RejectControl},
		{"us", []int{keyA, down(keyLeftMeta), keyA}, "!" + RejectControl},
	} {
		if got := typed(t, tt.layout, keys(tt.keys...)); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("layout %s: keys %v decode to %q; want %q", tt.layout, tt.keys, got, tt.want)
		}
	}
}

// TestGenerate: what Generate types, event by event: Shift held across
// the characters that need it, each change reported, gap apart, Enter last.
func TestGenerate(t *testing.T) {
	evs, err := Generate("aBC1", "us", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == evSyn {
			b.WriteString("| ")
			continue
		}
		sign := map[int32]string{1: "+", 0: "-"}[ev.Value]
		fmt.Fprintf(&b, "%s%s@%v ", strings.TrimPrefix(keyNames[ev.Code], "KEY_"), sign, ev.Time)
	}
	want := "A+@0s | A-@1ms | LEFTSHIFT+@2ms | B+@3ms | B-@4ms | C+@5ms | C-@6ms | LEFTSHIFT-@7ms | " +
		"1+@8ms | 1-@9ms | ENTER+@10ms | ENTER-@11ms | "
	if got := b.String(); got != want {
		t.Errorf("Generate(aBC1) =\n%s\nwant\n%s", got, want)
	}

	for _, tt := range []struct{ text, layout, want string }{
		{"a", "dvorak", `layout "dvorak"`},
		{"ab\ncd", "us", "character at byte 2: no key types it in layout us"},
		{"Straße", "us", "character at byte 4: no key"},
		{"^", "de", "character at byte 0"}, // a dead key on de
	} {
		if _, err := Generate(tt.text, tt.layout, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%q, %s) = %v; want an error saying %q", tt.text, tt.layout, err, tt.want)
		}
	}
}
