package display

import (
	"cmp"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/devices/v3/ssd1306/image1bit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata (go test -run TestGolden -update)")

// golden compares got with testdata/name, or writes it there under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (make it with go test -run TestGolden -update)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for n := range max(len(gl), len(wl)) {
			g, w := line(gl, n), line(wl, n)
			if g != w {
				t.Fatalf("%s:%d differs (if the change is meant, go test -run TestGolden -update)\n got %s\nwant %s", path, n+1, g, w)
			}
		}
	}
}

func line(ls []string, n int) string {
	if n < len(ls) {
		return ls[n]
	}
	return "(none)"
}

// grid draws img as text, '#' lit and '.' dark, a row a line.
func grid(img *image1bit.VerticalLSB) string {
	var b strings.Builder
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.BitAt(x, y) == image1bit.On {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// goldenInfo is a kiosk as a technician would find it.
var goldenInfo = Info{
	KioskID:          "lobby-1",
	IP:               "192.168.1.23",
	Upstream:         "offline 5m",
	Pending:          3,
	Oldest:           5*time.Minute + 12*time.Second,
	Scanner:          "ok",
	StaffFingerprint: "sha256:3fa29c0177be5d0164a1f0e2b7c9d84a6e31f5b2c8d07a9e4b1c6f3d2a5e8b70",
}

// longInfo has every field too long for its line, and characters the font
// lacks.
var longInfo = Info{
	KioskID:          "waiting-room-east-wing-12",
	IP:               "2001:db8:85a3::8a2e:370:7334",
	Upstream:         "offline 2d (tls handshake failed)",
	Pending:          123456,
	Oldest:           50*time.Hour + 30*time.Minute,
	Scanner:          "fault: read /dev/ttyACM0: i/o error",
	StaffFingerprint: "Zertifikat für Büro",
}

// TestGoldenScreen draws each Info as the screen shows it, in
// testdata/screen-*.txt, for a reviewer to see.
func TestGoldenScreen(t *testing.T) {
	for name, i := range map[string]Info{
		"typical": goldenInfo,
		"long":    longInfo,
		"empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			img := Render(i)
			if b := img.Bounds(); b.Dx() != width || b.Dy() != height || b.Min.X != 0 || b.Min.Y != 0 {
				t.Fatalf("Render bounds = %v; want 128x64 at 0,0", b)
			}
			golden(t, "screen-"+name+".txt", grid(img))
		})
	}
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		info Info
		want [6]string
	}{
		{"typical", goldenInfo, [6]string{
			"kiosk lobby-1",
			"ip 192.168.1.23",
			"upstream offline 5m",
			"queue 3 oldest 5m",
			"scanner ok",
			"staff 3fa2 9c01 77be",
		}},
		{"empty", Info{}, [6]string{"kiosk -", "ip -", "upstream -", "queue empty", "scanner -", ""}},
		{"long", longInfo, [6]string{
			"kiosk waiting-room-e…",
			"ip 2001:db8:85a3::8a…",
			"upstream offline 2d …",
			"queue 123456 oldest …",
			"scanner fault: read …",
			"staff Zertifikat f?r…",
		}},
		{"exactly a line", Info{KioskID: "waiting-room-ea", Upstream: "not enrolled", Pending: 1}, [6]string{
			"kiosk waiting-room-ea", // 21 characters: not cut
			"ip -",
			"upstream not enrolled",
			"queue 1",
			"scanner -",
			"",
		}},
		{"ages", Info{Pending: 7, Oldest: 3*time.Hour + 5*time.Minute + 59*time.Second}, [6]string{
			"kiosk -", "ip -", "upstream -", "queue 7 oldest 3h05m", "scanner -", "",
		}},
		{"browser fingerprint", Info{StaffFingerprint: "3F:A2:9C:01:77:BE:5D:01"}, [6]string{
			"kiosk -", "ip -", "upstream -", "queue empty", "scanner -", "staff 3fa2 9c01 77be",
		}},
		{"short fingerprint", Info{StaffFingerprint: "sha256:3fa2"}, [6]string{
			"kiosk -", "ip -", "upstream -", "queue empty", "scanner -", "staff sha256:3fa2",
		}},
		{"not UTF-8", Info{KioskID: "a\xffb\x00c\n"}, [6]string{
			"kiosk a?b?c?", "ip -", "upstream -", "queue empty", "scanner -", "",
		}},
	} {
		var got [6]string
		for n, l := range lines(tc.info) {
			got[n] = fit(l)
		}
		if got != tc.want {
			t.Errorf("%s: lines = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{999 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{59*time.Minute + 59*time.Second, "59m"},
		{time.Hour, "1h00m"},
		{23*time.Hour + 59*time.Minute, "23h59m"},
		{24 * time.Hour, "1d00h"},
		{99*24*time.Hour + 23*time.Hour, "99d23h"},
	} {
		if got := age(tc.d); got != tc.want {
			t.Errorf("age(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

// TestTruncation checks a line cut short on the screen itself: the cut
// line looks exactly like the same line written with its ellipsis, and a
// line of exactly 21 characters is drawn whole.
func TestTruncation(t *testing.T) {
	id := strings.Repeat("0123456789", 10)
	cut := Render(Info{KioskID: id})
	byHand := Render(Info{KioskID: id[:14] + "…"}) // "kiosk " and 14: 20 characters and the ellipsis
	if grid(cut) != grid(byHand) {
		t.Errorf("Render of a 100-character id differs from its first 14 characters and an ellipsis:\n%s", grid(cut))
	}
	whole := Render(Info{KioskID: id[:15]})
	if grid(whole) == grid(byHand) {
		t.Error("Render of a line of exactly 21 characters cut it")
	}
	checkInside(t, cut)
}

// checkInside fails t if img has a pixel lit outside the lines: between
// them, or in the margins left and right.
func checkInside(t *testing.T, img *image1bit.VerticalLSB) {
	t.Helper()
	for y := range height {
		inLine := false
		for _, top := range lineY {
			inLine = inLine || y >= top && y < top+glyphH
		}
		for x := range width {
			inside := inLine && x >= left && x < left+columns*cellW-1
			if img.BitAt(x, y) == image1bit.On && !inside {
				t.Fatalf("pixel %d,%d is lit, outside every line", x, y)
			}
		}
	}
}

// FuzzRender renders any text: it never panics, and never draws outside
// its lines. go test runs the seeds; go test -fuzz FuzzRender searches.
func FuzzRender(f *testing.F) {
	f.Add(longInfo.KioskID, longInfo.IP, longInfo.Upstream, longInfo.Scanner, longInfo.StaffFingerprint, 5, int64(time.Hour))
	f.Add("", "", "", "", "", 0, int64(0))
	f.Add("\xff\xfe", "…………………………………………", "\u202e", "\x00", "sha256:", -1, int64(-1))
	f.Fuzz(func(t *testing.T, id, ip, up, sc, fp string, pending int, oldest int64) {
		img := Render(Info{KioskID: id, IP: ip, Upstream: up, Pending: pending, Oldest: time.Duration(oldest), Scanner: sc, StaffFingerprint: fp})
		checkInside(t, img)
	})
}

// TestGoldenFont checks that every glyph is well formed and that the font has
// all of printable ASCII, and draws it in testdata/font.txt.
func TestGoldenFont(t *testing.T) {
	for r := rune(' '); r <= '~'; r++ {
		if _, ok := font[r]; !ok {
			t.Errorf("font lacks %q", r)
		}
	}
	for r, g := range font {
		for n, row := range g {
			if row != "" && (len(row) != glyphW || strings.Trim(row, ".#") != "") {
				t.Errorf("glyph %q row %d = %q; want %d of . and #", r, n, row, glyphW)
			}
		}
	}
	var b strings.Builder
	b.WriteString("# The display's font (font.go), as the screen draws it.\n")
	chars := []rune{}
	for r := rune(' '); r <= '~'; r++ {
		chars = append(chars, r)
	}
	chars = append(chars, ellipsis)
	for len(chars) > 0 {
		row := chars[:min(16, len(chars))]
		chars = chars[len(row):]
		cells := make([]string, len(row))
		for n, r := range row {
			cells[n] = "  " + string(r) + "  "
		}
		b.WriteString("\n" + strings.TrimRight(strings.Join(cells, " "), " ") + "\n")
		for y := range glyphH {
			for n, r := range row {
				cells[n] = cmp.Or(font[r][y], ".....")
			}
			b.WriteString(strings.Join(cells, " ") + "\n")
		}
	}
	golden(t, "font.txt", b.String())
}
