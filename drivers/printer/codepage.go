package printer

import "unicode/utf8"

// CodePage is one of a printer's character code tables: which character
// each byte from 0x80 to 0xFF prints (0x20 to 0x7E are ASCII in all of
// them), and the n of ESC t n that selects it.
type CodePage struct {
	Name string // as the codepages option spells it: "pc858"
	// Select is n in ESC t n. The defaults are Epson's numbers; printers of
	// other makers may number the same table differently (some say 49 for
	// WPC1251), hence "codepages=pc858,wpc1251:49".
	Select byte
	high   *[128]rune    // the character of byte 0x80+i; utf8.RuneError where none
	bytes  map[rune]byte // the inverse of high
}

// The code pages this package knows. Their tables are those of the Unicode
// consortium's mapping files (VENDORS/MICSFT/PC/CP850.TXT with the euro at
// 0xD5 for 858, CP866.TXT, WINDOWS/CP1251.TXT), which is what
// golang.org/x/text/encoding/charmap's CodePage858, CodePage866 and
// Windows1251 hold. They are written out here because this module does not
// require golang.org/x/text (it reaches the module graph only through
// golang.org/x/image, with no go.sum entry of its own); a row of sixteen
// bytes a line, so they can be read against a printer's self-test page.
var (
	PC858 = newCodePage("pc858", 19, ""+
		"ÇüéâäàåçêëèïîìÄÅ"+ // 0x80
		"ÉæÆôöòûùÿÖÜø£Ø×ƒ"+ // 0x90
		"áíóúñÑªº¿®¬½¼¡«»"+ // 0xA0
		"░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐"+ // 0xB0
		"└┴┬├─┼ãÃ╚╔╩╦╠═╬¤"+ // 0xC0
		"ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀"+ // 0xD0
		"ÓßÔÒõÕµþÞÚÛÙýÝ¯´"+ // 0xE0
		"\u00AD±‗¾¶§÷¸°¨·¹³²■\u00A0") // 0xF0
	PC866 = newCodePage("pc866", 17, ""+
		"АБВГДЕЖЗИЙКЛМНОП"+ // 0x80
		"РСТУФХЦЧШЩЪЫЬЭЮЯ"+ // 0x90
		"абвгдежзийклмноп"+ // 0xA0
		"░▒▓│┤╡╢╖╕╣║╗╝╜╛┐"+ // 0xB0
		"└┴┬├─┼╞╟╚╔╩╦╠═╬╧"+ // 0xC0
		"╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀"+ // 0xD0
		"рстуфхцчшщъыьэюя"+ // 0xE0
		"ЁёЄєЇїЎў°∙·√№¤■\u00A0") // 0xF0
	WPC1251 = newCodePage("wpc1251", 46, ""+
		"ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏ"+ // 0x80
		"ђ‘’“”•–—\uFFFD™љ›њќћџ"+ // 0x90; 0x98 is undefined
		"\u00A0ЎўЈ¤Ґ¦§Ё©Є«¬\u00AD®Ї"+ // 0xA0
		"°±Ііґµ¶·ё№є»јЅѕї"+ // 0xB0
		"АБВГДЕЖЗИЙКЛМНОП"+ // 0xC0
		"РСТУФХЦЧШЩЪЫЬЭЮЯ"+ // 0xD0
		"абвгдежзийклмноп"+ // 0xE0
		"рстуфхцчшщъыьэюя") // 0xF0
)

// DefaultCodePages are the pages Render uses when Options names none, in
// order of preference: the package doc says why these.
var DefaultCodePages = []CodePage{PC858, PC866, WPC1251}

// codePages are the pages the codepages option may name.
var codePages = map[string]CodePage{PC858.Name: PC858, PC866.Name: PC866, WPC1251.Name: WPC1251}

// newCodePage makes the page whose bytes 0x80 to 0xFF print the 128
// characters of high, U+FFFD standing for a byte that prints nothing.
func newCodePage(name string, sel byte, high string) CodePage {
	c := CodePage{Name: name, Select: sel, high: new([128]rune), bytes: make(map[rune]byte, 128)}
	i := 0
	for _, r := range high {
		if i == len(c.high) {
			panic("printer: code page " + name + " has more than 128 characters")
		}
		c.high[i] = r
		if r != utf8.RuneError {
			c.bytes[r] = byte(0x80 + i)
		}
		i++
	}
	if i != len(c.high) {
		panic("printer: code page " + name + " has fewer than 128 characters")
	}
	return c
}

// encode returns the byte that prints r in c.
func (c CodePage) encode(r rune) (byte, bool) {
	if isASCII(r) {
		return byte(r), true
	}
	b, ok := c.bytes[r]
	return b, ok
}

// decode returns the character byte b prints in c, utf8.RuneError for a
// control byte or an undefined one.
func (c CodePage) decode(b byte) rune {
	switch {
	case isASCII(rune(b)):
		return rune(b)
	case b >= 0x80 && c.high != nil:
		return c.high[b-0x80]
	}
	return utf8.RuneError
}

// isASCII reports whether r is a printable ASCII character, the same byte
// in every code page.
func isASCII(r rune) bool { return r >= 0x20 && r < 0x7f }

// dropped are characters that print as nothing: a soft hyphen (which a
// code page would print as a hyphen, mid-word), zero-width spaces and
// joiners, a byte order mark, a carriage return of a CR LF.
var dropped = map[rune]bool{
	'\r': true, '\u00AD': true, '\u200B': true, '\u200C': true, '\u200D': true,
	'\u2060': true, '\uFEFF': true,
}

// lookalikes are what a character a code page lacks prints as: typographic
// punctuation and spaces as their ASCII forms, and the French ligatures
// spelt out. Never a letter for another letter: a name or a word printed
// wrong is worse than a receipt in English.
var lookalikes = map[rune]string{
	'\t': " ", '\u00A0': " ", '\u2002': " ", '\u2003': " ", '\u2004': " ", '\u2005': " ",
	'\u2006': " ", '\u2007': " ", '\u2008': " ", '\u2009': " ", '\u200A': " ", '\u202F': " ",
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '―': "-", '−': "-",
	'‘': "'", '’': "'", '‚': "'", '‛': "'", 'ʼ': "'", '′': "'",
	'“': `"`, '”': `"`, '„': `"`, '‟': `"`, '″': `"`, '«': `"`, '»': `"`,
	'…': "...", '•': "*", '·': ".",
	'œ': "oe", 'Œ': "OE",
}
