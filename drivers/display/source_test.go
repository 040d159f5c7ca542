package display

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   Source
	}{
		{"", Source{Kind: KindNone}},
		{"none", Source{Kind: KindNone}},
		{"sim", Source{Kind: KindSim}},
		{"i2c:1", Source{Kind: KindI2C, Bus: "1", Addr: 0x3c}},
		{"i2c:/dev/i2c-1", Source{Kind: KindI2C, Bus: "/dev/i2c-1", Addr: 0x3c}},
		{"i2c:/dev/i2c-1?", Source{Kind: KindI2C, Bus: "/dev/i2c-1", Addr: 0x3c}},
		{"i2c:1?addr=0x3d", Source{Kind: KindI2C, Bus: "1", Addr: 0x3d}},
		{"i2c:1?addr=0x3C&rotated=true", Source{Kind: KindI2C, Bus: "1", Addr: 0x3c, Rotated: true}},
		{"i2c:I2C1?rotated=false&addr=61", Source{Kind: KindI2C, Bus: "I2C1", Addr: 0x3d}},
	} {
		got, err := ParseSource(tc.source)
		if err != nil || got != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tc.source, got, err, tc.want)
		}
	}
}

func TestParseSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   string // the error, after the source it names
	}{
		{"Sim", `unknown kind "Sim"; want none, sim or i2c:BUS`},
		{"gpio:/dev/gpiochip0", `unknown kind "gpio"; want none, sim or i2c:BUS`},
		{"sim:", "sim takes no bus or options"},
		{"sim?x=1", "sim takes no bus or options"},
		{"none:1", "none takes no bus or options"},
		{"i2c", "no bus; want i2c:BUS, e.g. i2c:1 or i2c:/dev/i2c-1"},
		{"i2c:", "no bus; want i2c:BUS, e.g. i2c:1 or i2c:/dev/i2c-1"},
		{"i2c?addr=0x3c", "no bus; want i2c:BUS, e.g. i2c:1 or i2c:/dev/i2c-1"},
		{"i2c:?addr=0x3c", "no bus; want i2c:BUS, e.g. i2c:1 or i2c:/dev/i2c-1"},
		{"i2c:1?addr=0x50", `option addr="0x50": want 0x3c or 0x3d`},
		{"i2c:1?addr=0x1003c", `option addr="0x1003c": want 0x3c or 0x3d`},
		{"i2c:1?addr=", `option addr="": want 0x3c or 0x3d`},
		{"i2c:1?rotated=upside", `option rotated="upside": want true or false`},
		{"i2c:1?contrast=255", `unknown option "contrast"; i2c takes addr, rotated`},
		{"i2c:1?addr=0x3c&addr=0x3d", "option addr given 2 times"},
		{"i2c:1?addr=%zz", `options "addr=%zz": invalid URL escape "%zz"`},
	} {
		got, err := ParseSource(tc.source)
		want := "display source " + strconv.Quote(tc.source) + ": " + tc.want
		if err == nil || err.Error() != want {
			t.Errorf("ParseSource(%q) = %+v, %v; want the error %q", tc.source, got, err, want)
		}
	}
}

func TestOpen(t *testing.T) {
	for _, source := range []string{"", "none"} {
		d, err := Open(source)
		if err != nil {
			t.Fatalf("Open(%q) = %v", source, err)
		}
		if _, ok := d.(None); !ok {
			t.Errorf("Open(%q) = %T; want None", source, d)
		}
		wantState(t, d, State{Absent, "none configured"})
		if err := d.Show(goldenInfo); err != nil {
			t.Errorf("None.Show() = %v", err)
		}
	}

	d, err := Open("sim")
	if _, ok := d.(*Sim); !ok || err != nil {
		t.Errorf(`Open("sim") = %T, %v; want *Sim`, d, err)
	}

	d, err = Open("i2c:1?addr=0x50")
	if d != nil || err == nil {
		t.Errorf("Open of a bad source = %v, %v; want an error", d, err)
	}
}

// TestOpenNoBus opens a bus no machine has: Open succeeds, and the display
// is absent, saying which call failed. Show says the same, and Close works.
func TestOpenNoBus(t *testing.T) {
	d, err := Open("i2c:/dev/i2c-250?addr=0x3d")
	if err != nil {
		t.Fatalf("Open() = %v; want no error for a missing bus", err)
	}
	if _, ok := d.(*SSD1306); !ok {
		t.Fatalf("Open() = %T; want *SSD1306", d)
	}
	st := d.State()
	wantReason := `open i2c bus "/dev/i2c-250": `
	if st.Condition != Absent || !strings.HasPrefix(st.Reason, wantReason) {
		t.Errorf("State() = %+v; want absent, %q…", st, wantReason)
	}
	if err := d.Show(goldenInfo); err == nil || err.Error() != st.Reason {
		t.Errorf("Show() = %v; want %q", err, st.Reason)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

func TestSim(t *testing.T) {
	s := NewSim()
	if s.Image() != nil {
		t.Error("a new Sim has an image")
	}
	wantState(t, s, State{Condition: OK})
	if err := s.Show(goldenInfo); err != nil {
		t.Fatalf("Show() = %v", err)
	}
	if i, n := s.Info(); i != goldenInfo || n != 1 {
		t.Errorf("Info() = %+v, %d; want %+v, 1", i, n, goldenInfo)
	}
	img := s.Image()
	if img == nil || !bytes.Equal(img.Pix, Render(goldenInfo).Pix) {
		t.Fatal("Image() is not Render's image of the Info shown")
	}
	img.Pix[0] = 0xff // a copy: the Sim's screen does not change
	if s.Image().Pix[0] == 0xff {
		t.Error("Image() returned the Sim's own pixels")
	}
	gone := State{Disconnected, "set up ssd1306 at 0x3c on I2C1: sysfs-i2c: remote I/O error"}
	s.SetState(gone)
	wantState(t, s, gone)
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
