package display

import (
	"fmt"
	"image"
	"strings"
	"time"

	"periph.io/x/devices/v3/ssd1306/image1bit"
)

// The screen, in pixels.
const (
	width  = 128
	height = 64
)

// columns is how many characters a line holds: 21 cells of 6 pixels, with
// a dark column at the left edge and two at the right.
const columns = width / cellW

// left is where a line's first glyph starts.
const left = 1

// lineY holds the top row of each line. The first line sits alone in the
// top 16 rows: many of these modules are two-coloured, yellow above row 16
// and blue below with a dark gap between, and a line drawn across the gap
// would be cut in two. The other five share the 48 blue rows, 9 apart, so
// a descender (row 7 of a glyph) never touches the line below.
var lineY = [...]int{4, 18, 27, 36, 45, 54}

// Render lays i out on a 128x64 image, one field a line, in the order of
// Info: the kiosk, its address, the upstream, the queue, the scanner and the
// staff dashboard's fingerprint (a blank line until there is one). An empty
// field reads "-". A line longer than the screen's 21 characters is cut at
// 20 and ends with "…"; a character the font lacks (anything but printable
// ASCII) is drawn as "?". Render only reads i: the same Info gives the same
// image.
func Render(i Info) *image1bit.VerticalLSB {
	img := image1bit.NewVerticalLSB(image.Rect(0, 0, width, height))
	for n, l := range lines(i) {
		drawLine(img, lineY[n], fit(l))
	}
	return img
}

// lines returns the text of each line of i, before fit.
func lines(i Info) [len(lineY)]string {
	return [...]string{
		"kiosk " + orDash(i.KioskID),
		"ip " + orDash(i.IP),
		"upstream " + orDash(i.Upstream),
		queue(i.Pending, i.Oldest),
		"scanner " + orDash(i.Scanner),
		staff(i.StaffFingerprint),
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// queue says how many check-ins wait and for how long.
func queue(pending int, oldest time.Duration) string {
	switch {
	case pending == 0:
		return "queue empty"
	case oldest <= 0:
		return fmt.Sprintf("queue %d", pending)
	default:
		return fmt.Sprintf("queue %d oldest %s", pending, age(oldest))
	}
}

// age writes d in at most five characters, to its two largest units:
// 45s, 12m, 3h05m, 2d07h.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// staff shortens the dashboard's fingerprint to its first 12 hex digits
// (48 bits) in groups of four, "3fa2 9c01 77be", which fit the line and
// are enough to tell the kiosk's own certificate from one an attacker
// made. It takes what the project prints ("sha256:" and hex) and what
// browsers show ("3F:A2:9C…", "3F A2 9C…"). Anything else is shown as
// given, cut to the line.
func staff(fp string) string {
	if fp == "" {
		return ""
	}
	h := fp
	if len(h) >= len("sha256:") && strings.EqualFold(h[:len("sha256:")], "sha256:") {
		h = h[len("sha256:"):]
	}
	h = strings.NewReplacer(":", "", " ", "", "-", "").Replace(h)
	if len(h) < 12 || strings.Trim(h, "0123456789abcdefABCDEF") != "" {
		return "staff " + fp
	}
	h = strings.ToLower(h)
	return "staff " + h[0:4] + " " + h[4:8] + " " + h[8:12]
}

// fit makes s drawable on one line: each character the font lacks becomes
// replacement, and a line too long is cut, ending with an ellipsis.
func fit(s string) string {
	rs := []rune(s)
	for n, r := range rs {
		if _, ok := font[r]; !ok {
			rs[n] = replacement
		}
	}
	if len(rs) > columns {
		rs = append(rs[:columns-1], ellipsis)
	}
	return string(rs)
}

// drawLine draws s, which fit made drawable, with its top at row y.
func drawLine(img *image1bit.VerticalLSB, y int, s string) {
	x := left
	for _, r := range s {
		for row, bits := range font[r] {
			for col, c := range bits {
				if c == '#' {
					img.SetBit(x+col, y+row, image1bit.On)
				}
			}
		}
		x += cellW
	}
}
