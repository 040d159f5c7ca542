package printer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrCannotRender is Render's error for text the printer's code pages
// cannot print; the error names the field and the character.
var ErrCannotRender = errors.New("not in the printer's code pages")

// Options are how receipts are laid out for one printer.
type Options struct {
	// Columns is how many characters of font A (12 dots wide) fit a line:
	// 42 (80 mm paper, 512 dots; the default), 32 (58 mm, 384 dots) or 48
	// (80 mm on a printer that prints all 576 dots).
	Columns int
	// CodePages are the printer's code pages in order of preference (nil:
	// DefaultCodePages).
	CodePages []CodePage
}

// DefaultColumns is Options.Columns when it is 0.
const DefaultColumns = 42

// columnChoices are the widths Options.Columns may take.
var columnChoices = []int{32, 42, 48}

// How the QR code is drawn.
const (
	// qrModuleMax and qrModuleMin bound a module's size in dots (0.125 mm at
	// 203 dpi). Six is a code a kiosk's or a phone's camera reads at arm's
	// length; below three a thermal head's smear closes the gaps.
	qrModuleMax = 6
	qrModuleMin = 3
	qrQuiet     = 4 // modules of quiet zone each side, ISO/IEC 18004
	dotsPerChar = 12
)

// qrBytes[v-1] is how many bytes a QR code of version v holds in byte mode
// at error correction level M (ISO/IEC 18004 table 7).
var qrBytes = [40]int{
	14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666,
	711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
}

// MaxQR is the longest QR payload, in bytes: version 40 at level M.
const MaxQR = 2331

// The ESC/POS commands Render sends.
var (
	cmdInit       = []byte{0x1b, '@'}                           // ESC @: initialize: clears the buffer and every mode
	cmdCentre     = []byte{0x1b, 'a', 1}                        // ESC a 1: centre each line
	cmdBoldOn     = []byte{0x1b, 'E', 1}                        // ESC E 1
	cmdBoldOff    = []byte{0x1b, 'E', 0}                        // ESC E 0
	cmdDouble     = []byte{0x1d, '!', 0x11}                     // GS ! 0x11: double width and height
	cmdNormal     = []byte{0x1d, '!', 0x00}                     // GS ! 0
	cmdCut        = []byte{0x1d, 'V', 66, 0}                    // GS V 66 0: feed to the cutter, partial cut
	qrModel2      = []byte{0x1d, '(', 'k', 4, 0, 49, 65, 50, 0} // fn 165: model 2
	qrLevelM      = []byte{0x1d, '(', 'k', 3, 0, 49, 69, 49}    // fn 169: error correction M (15 %)
	qrPrint       = []byte{0x1d, '(', 'k', 3, 0, 49, 81, 48}    // fn 181: print the stored symbol
	qrSizePrefix  = []byte{0x1d, '(', 'k', 3, 0, 49, 67}        // fn 167: module size n, in dots
	qrStorePrefix = []byte{0x1d, '(', 'k'}                      // fn 180: pL pH 49 80 48 data
)

// Render returns the exact bytes that print r: ESC @, ESC t with the
// receipt's code page, then centred: the title in bold, the office, the
// time, the code's label and the code double size, the QR code (GS ( k:
// model 2, a module size that fits the paper, level M), the note and the
// footer, each wrapped to o.Columns; then a feed to the cutter and a
// partial cut. Error correction M rather than the cards' Q: a receipt is
// scanned at the office the same day, and M keeps the symbol smaller on
// narrow paper.
//
// Text that does not print in o's code pages is an error wrapping
// ErrCannotRender, naming the field and the character; so are control
// characters other than a line break, which would otherwise reach the
// printer as commands.
func Render(r Receipt, o Options) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	fields := []struct {
		name, text string
	}{
		{"title", r.Title}, {"office", r.Office}, {"when", r.When}, {"code label", r.CodeLabel},
		{"code", r.Code}, {"note", r.Note}, {"footer", r.Footer},
	}
	var all strings.Builder
	for _, f := range fields {
		if c, ok := firstUnprintable(f.text, o.CodePages); !ok {
			return nil, fmt.Errorf("receipt %s: %U %q: %w", f.name, c, c, ErrCannotRender)
		}
		all.WriteString(f.text)
	}
	if len(r.QR) > MaxQR {
		return nil, fmt.Errorf("receipt qr: %d bytes, more than a QR code holds (%d)", len(r.QR), MaxQR)
	}
	module, err := qrModule(len(r.QR), o.Columns)
	if err != nil {
		return nil, err
	}

	e := encoder{pages: o.CodePages, primary: primary(all.String(), o.CodePages)}
	e.b.Write(cmdInit)
	e.selectPage(e.primary)
	e.b.Write(cmdCentre)
	if r.Title != "" {
		e.b.Write(cmdBoldOn)
		e.text(r.Title, o.Columns)
		e.b.Write(cmdBoldOff)
	}
	e.text(r.Office, o.Columns)
	e.text(r.When, o.Columns)
	if r.CodeLabel != "" || r.Code != "" {
		e.b.WriteByte('\n')
		e.text(r.CodeLabel, o.Columns)
		if r.Code != "" {
			e.b.Write(cmdDouble)
			e.text(r.Code, o.Columns/2)
			e.b.Write(cmdNormal)
		}
	}
	if r.QR != "" {
		e.b.WriteByte('\n')
		e.b.Write(qrModel2)
		e.b.Write(qrSizePrefix)
		e.b.WriteByte(byte(module))
		e.b.Write(qrLevelM)
		n := len(r.QR) + 3
		e.b.Write(qrStorePrefix)
		e.b.Write([]byte{byte(n), byte(n >> 8), 49, 80, 48})
		e.b.WriteString(r.QR)
		e.b.Write(qrPrint)
	}
	if r.Note != "" {
		e.b.WriteByte('\n')
		e.text(r.Note, o.Columns)
	}
	if r.Footer != "" {
		e.b.WriteByte('\n')
		e.text(r.Footer, o.Columns)
	}
	e.b.Write(cmdCut)
	return e.b.Bytes(), nil
}

// CanRender reports whether text prints in o's code pages: whether Render
// takes it in any field.
func CanRender(text string, o Options) bool {
	o, err := o.withDefaults()
	if err != nil {
		return false
	}
	_, ok := firstUnprintable(text, o.CodePages)
	return ok
}

// withDefaults returns o with its zero fields set, or an error if a field
// is out of range.
func (o Options) withDefaults() (Options, error) {
	if o.Columns == 0 {
		o.Columns = DefaultColumns
	}
	if !slices.Contains(columnChoices, o.Columns) {
		return o, fmt.Errorf("receipt columns %d: want 32, 42 or 48", o.Columns)
	}
	if len(o.CodePages) == 0 {
		o.CodePages = DefaultCodePages
	}
	for _, c := range o.CodePages {
		if c.high == nil {
			return o, fmt.Errorf("receipt code page %q: not one of this package's", c.Name)
		}
	}
	return o, nil
}

// firstUnprintable returns the first character of text that prints in none
// of pages, and false; or true if every character prints.
func firstUnprintable(text string, pages []CodePage) (rune, bool) {
	for _, r := range text {
		if !printable(r, pages) {
			return r, false
		}
	}
	return 0, true
}

// printable reports whether r prints: as itself in one of pages, as its
// look-alike, or as nothing; '\n' is a line break.
func printable(r rune, pages []CodePage) bool {
	if r == '\n' || isASCII(r) || dropped[r] || lookalikes[r] != "" {
		return true
	}
	for _, c := range pages {
		if _, ok := c.encode(r); ok {
			return true
		}
	}
	return false
}

// primary returns the page a receipt whose text is all selects first: the
// first page that prints all of it, with look-alikes for the punctuation
// it lacks, else the one that prints most of it (others print the rest).
// Look-alikes rather than a later page: the first pages are those every
// printer has, and a receipt in one page is one ESC t.
func primary(all string, pages []CodePage) CodePage {
	missing := func(c CodePage) int {
		n := 0
		for _, r := range all {
			if _, ok := c.encode(r); !ok && r != '\n' && !dropped[r] && lookalikes[r] == "" {
				n++
			}
		}
		return n
	}
	best, least := pages[0], missing(pages[0])
	for _, c := range pages[1:] {
		if least == 0 {
			break
		}
		if n := missing(c); n < least {
			best, least = c, n
		}
	}
	return best
}

// encoder writes a receipt's bytes, switching code pages as its text needs.
type encoder struct {
	b       bytes.Buffer
	pages   []CodePage
	primary CodePage // the receipt's page
	cur     CodePage // the page last selected
}

// selectPage writes ESC t for c and makes it current.
func (e *encoder) selectPage(c CodePage) {
	e.b.Write([]byte{0x1b, 't', c.Select})
	e.cur = c
}

// text writes text wrapped to width columns, each line ended by LF. Render
// checked that every character prints.
func (e *encoder) text(text string, width int) {
	if text == "" {
		return
	}
	for _, line := range wrap(e.spell(text), width) {
		for _, r := range line {
			e.char(r)
		}
		e.b.WriteByte('\n')
	}
}

// spell returns text as it will print: without the characters that print
// as nothing, and with look-alikes for those the receipt's page lacks.
// A character another page has, and that has no look-alike, is kept: char
// switches to that page for it.
func (e *encoder) spell(text string) []rune {
	out := make([]rune, 0, len(text))
	for _, r := range text {
		if dropped[r] {
			continue
		}
		if _, ok := e.primary.encode(r); !ok && lookalikes[r] != "" {
			out = append(out, []rune(lookalikes[r])...)
			continue
		}
		out = append(out, r)
	}
	return out
}

// char writes r in the current page, or selects the receipt's page or else
// the first page that has it.
func (e *encoder) char(r rune) {
	if b, ok := e.cur.encode(r); ok {
		e.b.WriteByte(b)
		return
	}
	for _, c := range append([]CodePage{e.primary}, e.pages...) {
		if b, ok := c.encode(r); ok {
			e.selectPage(c)
			e.b.WriteByte(b)
			return
		}
	}
	panic(fmt.Sprintf("printer: %U passed the check but prints in no page", r)) // a bug of this package
}

// wrap breaks text into lines of at most width characters: at spaces
// where it can, through a word longer than a line where it must. A line
// break in text ends a line (an empty line for two); runs of spaces are one.
func wrap(text []rune, width int) [][]rune {
	var lines [][]rune
	for _, para := range splitRunes(text, '\n') {
		var line []rune
		for _, word := range splitRunes(para, ' ') {
			if len(word) == 0 {
				continue
			}
			if len(line) > 0 && len(line)+1+len(word) <= width {
				line = append(append(line, ' '), word...)
				continue
			}
			if len(line) > 0 {
				lines = append(lines, line)
			}
			for len(word) > width {
				lines = append(lines, word[:width:width])
				word = word[width:]
			}
			line = slices.Clone(word)
		}
		lines = append(lines, line)
	}
	return lines
}

// splitRunes splits s at each sep.
func splitRunes(s []rune, sep rune) [][]rune {
	var out [][]rune
	for {
		i := slices.Index(s, sep)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// qrModule returns the module size, in dots, for a QR code of n bytes on
// paper columns wide: the largest up to qrModuleMax at which the symbol
// and its quiet zone fit the line. A payload too long to print at
// qrModuleMin is an error: a printer given a symbol wider than its paper
// prints nothing, and says nothing.
func qrModule(n, columns int) (int, error) {
	if n == 0 {
		return qrModuleMax, nil
	}
	version := 1
	for qrBytes[version-1] < n {
		version++
	}
	modules := 17 + 4*version + 2*qrQuiet
	m := min(qrModuleMax, columns*dotsPerChar/modules)
	if m < qrModuleMin {
		return 0, fmt.Errorf("receipt qr: %d bytes need a version %d symbol, %d modules across: too wide for %d columns", n, version, modules, columns)
	}
	return m, nil
}
