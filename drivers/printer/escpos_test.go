package printer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A tiny ESC/POS disassembler, so a reviewer can read what a golden file
// does, and the tests can check what Render sends command by command. It
// knows only the commands Render sends: anything else is an error, so a
// control byte that slipped into a receipt's text shows up as one.

// listing is a receipt disassembled.
type listing struct {
	Lines []string // one command or one run of text a line, as a reviewer reads it
	// Printed holds each printed line of text with the width its
	// characters take in font A columns (2 each at double size).
	Printed []printedLine
}

type printedLine struct {
	Text  string
	Width int
}

// disassemble lists b's commands and text, decoding text in the code page
// ESC t selected (among DefaultCodePages, by Epson's numbers, or pages).
func disassemble(b []byte, pages ...CodePage) (listing, error) {
	var l listing
	byNumber := map[byte]CodePage{}
	for _, c := range append(DefaultCodePages, pages...) {
		byNumber[c.Select] = c
	}
	var (
		page   *CodePage
		scale  = 1
		line   strings.Builder
		width  int
		inText bool
	)
	add := func(format string, args ...any) {
		l.Lines = append(l.Lines, fmt.Sprintf(format, args...))
		inText = false
	}
	cmd := func(c, what string) { add("%-14s %s", c, what) }
	need := func(i, n int) error {
		if i+n > len(b) {
			return fmt.Errorf("offset %d: command % x cut short", i, b[i:])
		}
		return nil
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n':
			add("LF")
			l.Printed = append(l.Printed, printedLine{line.String(), width})
			line.Reset()
			width = 0
			i++
		case c >= 0x20 && c != 0x7f:
			r := rune(c)
			if c >= 0x80 {
				if page == nil {
					return l, fmt.Errorf("offset %d: byte %#x before any ESC t", i, c)
				}
				r = page.decode(c)
			}
			if r == utf8.RuneError {
				return l, fmt.Errorf("offset %d: byte %#x prints nothing in %s", i, c, page.Name)
			}
			if inText {
				last := &l.Lines[len(l.Lines)-1]
				*last = strings.TrimSuffix(*last, `"`) + string(r) + `"`
			} else {
				add(`text "%c"`, r)
				inText = true
			}
			line.WriteRune(r)
			width += scale
			i++
		case c == 0x1b: // ESC
			if err := need(i, 2); err != nil {
				return l, err
			}
			switch b[i+1] {
			case '@':
				cmd("ESC @", "initialize")
				page, scale = nil, 1
				i += 2
				continue
			case 't', 'a', 'E':
			default:
				return l, fmt.Errorf("offset %d: unknown command ESC %#x", i, b[i+1])
			}
			if err := need(i, 3); err != nil {
				return l, err
			}
			n := b[i+2]
			switch b[i+1] {
			case 't':
				p, ok := byNumber[n]
				if !ok {
					return l, fmt.Errorf("offset %d: ESC t %d: no such code page", i, n)
				}
				page = &p
				cmd(fmt.Sprintf("ESC t %d", n), "code page "+p.Name)
			case 'a':
				cmd(fmt.Sprintf("ESC a %d", n), "align "+map[byte]string{0: "left", 1: "centre", 2: "right"}[n])
			case 'E':
				cmd(fmt.Sprintf("ESC E %d", n), "bold "+map[byte]string{0: "off", 1: "on"}[n])
			}
			i += 3
		case c == 0x1d: // GS
			if err := need(i, 2); err != nil {
				return l, err
			}
			switch b[i+1] {
			case '!':
				if err := need(i, 3); err != nil {
					return l, err
				}
				n := b[i+2]
				scale = int(n>>4) + 1
				cmd(fmt.Sprintf("GS ! %#02x", n), fmt.Sprintf("size: width x%d, height x%d", n>>4+1, n&0xf+1))
				i += 3
			case 'V':
				if err := need(i, 4); err != nil {
					return l, err
				}
				if b[i+2] != 66 {
					return l, fmt.Errorf("offset %d: GS V %d: not a feed and partial cut", i, b[i+2])
				}
				cmd(fmt.Sprintf("GS V 66 %d", b[i+3]), fmt.Sprintf("feed to the cutter + %d, partial cut", b[i+3]))
				i += 4
			case '(':
				n, err := disassembleQR(b, i, cmd)
				if err != nil {
					return l, err
				}
				i += n
			default:
				return l, fmt.Errorf("offset %d: unknown command GS %#x", i, b[i+1])
			}
		default:
			return l, fmt.Errorf("offset %d: unknown control byte %#x", i, c)
		}
	}
	if line.Len() > 0 {
		return l, fmt.Errorf("text %q not ended by LF: it would print only with the next receipt", line.String())
	}
	return l, nil
}

// disassembleQR lists the GS ( k command at b[i:] and returns its length.
func disassembleQR(b []byte, i int, cmd func(c, what string)) (int, error) {
	if i+7 > len(b) || b[i+2] != 'k' {
		return 0, fmt.Errorf("offset %d: unknown command GS ( % x", i, b[i+2:min(len(b), i+3)])
	}
	n := int(b[i+3]) | int(b[i+4])<<8 // pL pH: the bytes after them
	if i+5+n > len(b) || n < 2 || b[i+5] != 49 {
		return 0, fmt.Errorf("offset %d: GS ( k of %d bytes: not a QR code function", i, n)
	}
	fn, p := b[i+6], b[i+7:i+5+n]
	switch {
	case fn == 65 && len(p) == 2 && p[1] == 0:
		cmd("GS ( k fn 165", fmt.Sprintf("QR model %d", p[0]-48))
	case fn == 67 && len(p) == 1:
		cmd("GS ( k fn 167", fmt.Sprintf("QR module size %d dots", p[0]))
	case fn == 69 && len(p) == 1 && p[0] >= 48 && p[0] <= 51:
		cmd("GS ( k fn 169", fmt.Sprintf("QR error correction %c", "LMQH"[p[0]-48]))
	case fn == 80 && len(p) >= 1 && p[0] == 48:
		cmd("GS ( k fn 180", fmt.Sprintf("QR store %d bytes %q", len(p)-1, p[1:]))
	case fn == 81 && len(p) == 1 && p[0] == 48:
		cmd("GS ( k fn 181", "QR print")
	default:
		return 0, fmt.Errorf("offset %d: GS ( k function %d with % x: not one Render sends", i, fn, p)
	}
	return 5 + n, nil
}

// commands returns l's lines without text: the commands in order.
func (l listing) commands() []string {
	var out []string
	for _, s := range l.Lines {
		if !strings.HasPrefix(s, "text ") {
			out = append(out, s)
		}
	}
	return out
}
