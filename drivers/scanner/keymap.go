package scanner

import "unicode"

// A scanner in keyboard-wedge mode types each character of a code as the
// key that makes it on the keyboard layout the scanner was set up for: the
// kernel hands over key codes (the position of a key on a US board), never
// characters. These are the layouts' tables, written from xkeyboard-config
// (/usr/share/X11/xkb/symbols: us, gb, de, fr, each "basic", with latin,
// pc and kpdl(comma) where they include them), and their inverse for
// Generate.
//
// Each layout gives a key up to three characters: plain, with Shift, and
// with AltGr (KEY_RIGHTALT, xkb's level3(ralt_switch)). Of the AltGr level
// the tables hold the printable ASCII and the currency signs; the rest of
// it (¹, ð, ŧ…) is no scanner's, and reads as an unknown key, as do dead
// keys (de ^ ´ `, fr ^ ¨): a scan holding one is rejected, never taken
// with a character left out.

// Input event types and codes of linux/input-event-codes.h.
const (
	evSyn = 0x00
	evKey = 0x01
	evMsc = 0x04
	evLed = 0x11
	evRep = 0x14

	synReport  = 0
	synDropped = 3

	mscScan = 4
)

// Key codes of linux/input-event-codes.h: the keys of a PC keyboard's
// main block and keypad, which a wedge scanner types.
const (
	keyEsc        = 1
	key1          = 2
	key2          = 3
	key3          = 4
	key4          = 5
	key5          = 6
	key6          = 7
	key7          = 8
	key8          = 9
	key9          = 10
	key0          = 11
	keyMinus      = 12
	keyEqual      = 13
	keyBackspace  = 14
	keyTab        = 15
	keyQ          = 16
	keyW          = 17
	keyE          = 18
	keyR          = 19
	keyT          = 20
	keyY          = 21
	keyU          = 22
	keyI          = 23
	keyO          = 24
	keyP          = 25
	keyLeftBrace  = 26
	keyRightBrace = 27
	keyEnter      = 28
	keyLeftCtrl   = 29
	keyA          = 30
	keyS          = 31
	keyD          = 32
	keyF          = 33
	keyG          = 34
	keyH          = 35
	keyJ          = 36
	keyK          = 37
	keyL          = 38
	keySemicolon  = 39
	keyApostrophe = 40
	keyGrave      = 41
	keyLeftShift  = 42
	keyBackslash  = 43
	keyZ          = 44
	keyX          = 45
	keyC          = 46
	keyV          = 47
	keyB          = 48
	keyN          = 49
	keyM          = 50
	keyComma      = 51
	keyDot        = 52
	keySlash      = 53
	keyRightShift = 54
	keyKPAsterisk = 55
	keyLeftAlt    = 56
	keySpace      = 57
	keyCapsLock   = 58
	keyNumLock    = 69
	keyScrollLock = 70
	keyKP7        = 71
	keyKP8        = 72
	keyKP9        = 73
	keyKPMinus    = 74
	keyKP4        = 75
	keyKP5        = 76
	keyKP6        = 77
	keyKPPlus     = 78
	keyKP1        = 79
	keyKP2        = 80
	keyKP3        = 81
	keyKP0        = 82
	keyKPDot      = 83
	key102nd      = 86 // the key left of Z on a 105-key board (xkb's LSGT)
	keyKPEnter    = 96
	keyRightCtrl  = 97
	keyKPSlash    = 98
	keyRightAlt   = 100 // AltGr
	keyLeftMeta   = 125
	keyRightMeta  = 126
)

// keyNames are the kernel's names of the keys above, for the comments of
// evemu lines (WriteEvemu).
var keyNames = map[uint16]string{
	keyEsc: "KEY_ESC", key1: "KEY_1", key2: "KEY_2", key3: "KEY_3", key4: "KEY_4", key5: "KEY_5",
	key6: "KEY_6", key7: "KEY_7", key8: "KEY_8", key9: "KEY_9", key0: "KEY_0",
	keyMinus: "KEY_MINUS", keyEqual: "KEY_EQUAL", keyBackspace: "KEY_BACKSPACE", keyTab: "KEY_TAB",
	keyQ: "KEY_Q", keyW: "KEY_W", keyE: "KEY_E", keyR: "KEY_R", keyT: "KEY_T", keyY: "KEY_Y",
	keyU: "KEY_U", keyI: "KEY_I", keyO: "KEY_O", keyP: "KEY_P",
	keyLeftBrace: "KEY_LEFTBRACE", keyRightBrace: "KEY_RIGHTBRACE", keyEnter: "KEY_ENTER",
	keyLeftCtrl: "KEY_LEFTCTRL", keyA: "KEY_A", keyS: "KEY_S", keyD: "KEY_D", keyF: "KEY_F",
	keyG: "KEY_G", keyH: "KEY_H", keyJ: "KEY_J", keyK: "KEY_K", keyL: "KEY_L",
	keySemicolon: "KEY_SEMICOLON", keyApostrophe: "KEY_APOSTROPHE", keyGrave: "KEY_GRAVE",
	keyLeftShift: "KEY_LEFTSHIFT", keyBackslash: "KEY_BACKSLASH", keyZ: "KEY_Z", keyX: "KEY_X",
	keyC: "KEY_C", keyV: "KEY_V", keyB: "KEY_B", keyN: "KEY_N", keyM: "KEY_M",
	keyComma: "KEY_COMMA", keyDot: "KEY_DOT", keySlash: "KEY_SLASH", keyRightShift: "KEY_RIGHTSHIFT",
	keyKPAsterisk: "KEY_KPASTERISK", keyLeftAlt: "KEY_LEFTALT", keySpace: "KEY_SPACE",
	keyCapsLock: "KEY_CAPSLOCK", keyNumLock: "KEY_NUMLOCK", keyScrollLock: "KEY_SCROLLLOCK",
	keyKP7: "KEY_KP7", keyKP8: "KEY_KP8", keyKP9: "KEY_KP9", keyKPMinus: "KEY_KPMINUS",
	keyKP4: "KEY_KP4", keyKP5: "KEY_KP5", keyKP6: "KEY_KP6", keyKPPlus: "KEY_KPPLUS",
	keyKP1: "KEY_KP1", keyKP2: "KEY_KP2", keyKP3: "KEY_KP3", keyKP0: "KEY_KP0", keyKPDot: "KEY_KPDOT",
	key102nd: "KEY_102ND", keyKPEnter: "KEY_KPENTER", keyRightCtrl: "KEY_RIGHTCTRL",
	keyKPSlash: "KEY_KPSLASH", keyRightAlt: "KEY_RIGHTALT", keyLeftMeta: "KEY_LEFTMETA",
	keyRightMeta: "KEY_RIGHTMETA",
}

// keyChars gives keys their characters: each string holds a key's plain,
// Shift and AltGr characters, in that order, as many as it has; a NUL
// stands for a level that types nothing (a dead key).
type keyChars map[uint16]string

// usKeys is xkb's us(basic), with pc's 102nd key.
var usKeys = keyChars{
	keyGrave: "`~", key1: "1!", key2: "2@", key3: "3#", key4: "4$", key5: "5%", key6: "6^",
	key7: "7&", key8: "8*", key9: "9(", key0: "0)", keyMinus: "-_", keyEqual: "=+",
	keyQ: "qQ", keyW: "wW", keyE: "eE", keyR: "rR", keyT: "tT", keyY: "yY", keyU: "uU",
	keyI: "iI", keyO: "oO", keyP: "pP", keyLeftBrace: "[{", keyRightBrace: "]}",
	keyA: "aA", keyS: "sS", keyD: "dD", keyF: "fF", keyG: "gG", keyH: "hH", keyJ: "jJ",
	keyK: "kK", keyL: "lL", keySemicolon: ";:", keyApostrophe: "'\"", keyBackslash: `\|`,
	keyZ: "zZ", keyX: "xX", keyC: "cC", keyV: "vV", keyB: "bB", keyN: "nN", keyM: "mM",
	keyComma: ",<", keyDot: ".>", keySlash: "/?", key102nd: "<>", keySpace: "  ",
}

// ukKeys is what xkb's gb(basic) changes of us, with latin's AltGr
// characters.
var ukKeys = keyChars{
	keyGrave: "`¬|", key2: "2\"", key3: "3£", key4: "4$€", key7: "7&{", key8: "8*[", key9: "9(]",
	key0: "0)}", keyMinus: "-_\\", keyQ: "qQ@", keyApostrophe: "'@", keyBackslash: "#~",
	key102nd: `\|`,
}

// deKeys is what xkb's de(basic) (on latin(type4)) changes of us: QWERTZ.
var deKeys = keyChars{
	keyGrave: "\x00°", key2: "2\"", key3: "3§", key6: "6&", key7: "7/{", key8: "8([",
	key9: "9)]", key0: "0=}", keyMinus: "ß?\\", keyEqual: "\x00\x00",
	keyQ: "qQ@", keyE: "eE€", keyY: "zZ", keyLeftBrace: "üÜ", keyRightBrace: "+*~",
	keySemicolon: "öÖ", keyApostrophe: "äÄ", keyBackslash: "#'",
	keyZ: "yY", keyM: "mMµ", keyComma: ",;", keyDot: ".:", keySlash: "-_", key102nd: "<>|",
}

// frKeys is what xkb's fr(basic) (on latin) changes of us: AZERTY, whose
// digits take Shift.
var frKeys = keyChars{
	keyGrave: "²~", key1: "&1", key2: "é2~", key3: "\"3#", key4: "'4{", key5: "(5[",
	key6: "-6|", key7: "è7`", key8: "_8\\", key9: "ç9^", key0: "à0@", keyMinus: ")°]",
	keyEqual: "=+}", keyQ: "aA", keyW: "zZ", keyE: "eE€", keyLeftBrace: "\x00\x00", keyRightBrace: "$£¤",
	keyA: "qQ@", keySemicolon: "mMµ", keyApostrophe: "ù%", keyBackslash: "*µ",
	keyZ: "wW", keyM: ",?", keyComma: ";.", keyDot: ":/", keySlash: "!§", key102nd: "<>|",
}

// keypadKeys are the keypad's characters. They are the same in every
// layout but for the decimal key (kpdl(comma) in de), and a scanner that
// types on the keypad means them whatever Shift and NumLock say: NumLock
// is the host's state, not the scanner's.
var keypadKeys = map[uint16]rune{
	keyKP0: '0', keyKP1: '1', keyKP2: '2', keyKP3: '3', keyKP4: '4', keyKP5: '5', keyKP6: '6',
	keyKP7: '7', keyKP8: '8', keyKP9: '9', keyKPDot: '.', keyKPSlash: '/',
	keyKPAsterisk: '*', keyKPMinus: '-', keyKPPlus: '+',
}

// keymaps are the layouts by the names of Layouts.
var keymaps = map[string]*keymap{
	"us": newKeymap("us", nil, nil),
	"uk": newKeymap("uk", ukKeys, nil),
	"de": newKeymap("de", deKeys, map[uint16]rune{keyKPDot: ','}),
	"fr": newKeymap("fr", frKeys, nil),
}

// The levels of a key.
const (
	levelPlain = iota
	levelShift
	levelAltGr
	levels
)

// keyCodes bounds the key codes of the tables. Arrays, not maps: a
// card's code is a thousand events, each looked up.
const keyCodes = 128

// keymap is one layout: the characters each key types, and the key that
// types each character.
type keymap struct {
	name   string
	chars  [keyCodes][levels]rune // 0: the level types nothing
	letter [keyCodes]bool         // CapsLock swaps its plain and Shift levels
	keypad [keyCodes]rune         // 0: not a keypad key
	keys   map[rune]keyStroke     // the inverse of chars, for Generate
}

// keyStroke is a key pressed at a level.
type keyStroke struct {
	code  uint16
	level int
}

// newKeymap returns the layout made of usKeys with the keys of over, and
// the keypad with the keys of pad.
func newKeymap(name string, over keyChars, pad map[uint16]rune) *keymap {
	km := &keymap{name: name, keys: map[rune]keyStroke{}}
	for _, t := range []keyChars{usKeys, over} {
		for code, s := range t {
			var c [levels]rune
			copy(c[:], []rune(s))
			km.chars[code] = c
		}
	}
	for code, c := range &km.chars {
		// As on a PC, CapsLock changes letters only: a key whose two
		// levels are one letter's two cases (fr's é2 is not one).
		km.letter[code] = unicode.IsLower(c[levelPlain]) && unicode.ToUpper(c[levelPlain]) == c[levelShift]
	}
	for _, t := range []map[uint16]rune{keypadKeys, pad} {
		for code, r := range t {
			km.keypad[code] = r
		}
	}
	// A character some layouts type on two keys (fr's ~, uk's |) is
	// generated with the fewest modifiers, then the lowest key code: the
	// same keys on every run. The keypad is left out, as scanners type
	// the main block.
	for level := range levels {
		for code, c := range &km.chars {
			if _, dup := km.keys[c[level]]; c[level] != 0 && !dup {
				km.keys[c[level]] = keyStroke{uint16(code), level}
			}
		}
	}
	return km
}

// char returns the character key code types at level, as the layout says:
// ok is false for a key that types nothing there.
func (km *keymap) char(code uint16, level int) (r rune, ok bool) {
	switch {
	case code >= keyCodes:
		return 0, false
	case km.keypad[code] != 0:
		return km.keypad[code], true
	}
	r = km.chars[code][level]
	return r, r != 0
}
