package scanner

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
)

func TestEvemuRoundTrip(t *testing.T) {
	evs := []Event{
		{Time: 0, Type: evMsc, Code: mscScan, Value: 0x70004},
		{Time: time.Microsecond, Type: evKey, Code: keyA, Value: 1},
		{Time: time.Microsecond, Type: evSyn, Code: synReport},
		{Time: 1234*time.Second + 567890*time.Microsecond, Type: evKey, Code: 0x2ff, Value: -1},
		{Time: 2 * time.Second, Type: evSyn, Code: synDropped},
	}
	var b bytes.Buffer
	if err := WriteEvemu(&b, evs); err != nil {
		t.Fatal(err)
	}
	want := "E: 0.000000 0004 0004 458756\t# EV_MSC / MSC_SCAN\n" +
		"E: 0.000001 0001 001e 0001\t# EV_KEY / KEY_A\n" +
		"E: 0.000001 0000 0000 0000\t# SYN_REPORT\n" +
		"E: 1234.567890 0001 02ff -001\t# type 1 / code 767\n" +
		"E: 2.000000 0000 0003 0000\t# SYN_DROPPED\n"
	if got := b.String(); got != want {
		t.Errorf("WriteEvemu =\n%s\nwant\n%s", got, want)
	}
	got, err := ReadEvemu(&b)
	if err != nil || !slices.Equal(got, evs) {
		t.Errorf("ReadEvemu(WriteEvemu(evs)) = %v, %v; want %v", got, err, evs)
	}

	// As evemu-record writes it: a device description, comments.
	rec := "# EVEMU 1.3\n# Kernel: 6.1.0\nN: Honeywell Imager\nI: 0003 0c2e 0b61 0111\n" +
		"P: 00 00 00 00 00 00 00 00\nB: 00 0b 00 00 00 00 00 00 00\nA: 00 0 255 0 0 0\nL: 00 0\n" +
		"################################\n#      Waiting for events      #\n################################\n" +
		"E: 0.000001 0004 0004 458756\t# EV_MSC / MSC_SCAN             458756\n" +
		"  E: 0.000001 0001 001e 0001\t# EV_KEY / KEY_A                1\n\n" +
		"E: 0.000001 0000 0000 0000\t# ------------ SYN_REPORT (0) ---------- +0ms\n"
	got, err = ReadEvemu(strings.NewReader(rec))
	if want := []Event{
		{Time: time.Microsecond, Type: evMsc, Code: mscScan, Value: 458756},
		{Time: time.Microsecond, Type: evKey, Code: keyA, Value: 1},
		{Time: time.Microsecond, Type: evSyn, Code: synReport},
	}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadEvemu(evemu-record's output) = %v, %v; want %v", got, err, want)
	}
}

func TestReadEvemuErrors(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"# ok\nX: 1\n", "evemu line 2: want an event"},
		{"E: 0.000001 0001 001e\n", "evemu line 1: 3 fields"},
		{"\n\nE: 0.1 0001 001e 1\n", `evemu line 3: time "0.1"`},
		{"E: -1.000000 0001 001e 1\n", `time "-1.000000"`},
		{"E: 1.00000a 0001 001e 1\n", `time "1.00000a"`},
		{"E: 99999999999.000000 0001 001e 1\n", `time "99999999999.000000"`},
		{"E: 0.000001 10000 001e 1\n", `type "10000", code "001e"`},
		{"E: 0.000001 0001 xyz 1\n", `code "xyz"`},
		{"E: 0.000001 0001 001e 4294967296\n", `value "4294967296"`},
		{"E: 0.000001 0001 001e " + strings.Repeat("1", 70000) + "\n", "evemu line 1: bufio.Scanner: token too long"},
	} {
		if _, err := ReadEvemu(strings.NewReader(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadEvemu(%.40q) = %v; want an error saying %q", tt.text, err, tt.want)
		}
	}
}

// TestEncodeEvents: the records are struct input_event as the kernel
// writes them, little-endian, 24 bytes for a 64-bit program, 16 for a
// 32-bit one.
func TestEncodeEvents(t *testing.T) {
	evs := []Event{{Time: 3*time.Second + 5*time.Microsecond, Type: evKey, Code: keyEnter, Value: 1}}
	for _, tt := range []struct {
		record int
		want   string
	}{
		{24, "0300000000000000" + "0500000000000000" + "0100" + "1c00" + "01000000"},
		{16, "03000000" + "05000000" + "0100" + "1c00" + "01000000"},
	} {
		b := EncodeEvents(evs, tt.record)
		if got := hex.EncodeToString(b); got != tt.want {
			t.Errorf("EncodeEvents(%d) = %s; want %s", tt.record, got, tt.want)
		}
		if got, err := DecodeEvents(b, tt.record); err != nil || !slices.Equal(got, evs) {
			t.Errorf("DecodeEvents(%d) = %v, %v; want %v", tt.record, got, err, evs)
		}
	}
	// A 32-bit program's timestamps are signed.
	if got, err := DecodeEvents(EncodeEvents([]Event{{Time: -time.Second}}, 16), 16); err != nil || got[0].Time != -time.Second {
		t.Errorf("DecodeEvents(16, -1s) = %v, %v; want -1s", got, err)
	}
	for _, tt := range []struct {
		n, record int
		want      string
	}{
		{24, 16, "24 bytes are not whole 16-byte records"},
		{23, 24, "23 bytes are not whole 24-byte records"},
		{32, 32, "record size 32; want 16 or 24"},
	} {
		if _, err := DecodeEvents(make([]byte, tt.n), tt.record); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeEvents(%d bytes, %d) = %v; want an error saying %q", tt.n, tt.record, err, tt.want)
		}
	}
}

// The recordings of testdata/evdev: what TestEvdevReplay plays to the
// driver through a FIFO, as 16- and 24-byte records. Each file's comment
// header says what it covers, the layout and idle time to replay it with,
// and the scans it must decode to ("# want:" lines, in order). The files
// listed here are made by the generator (Generate, then edited in code
// where a case needs it); TestEvdevTestdata fails if a file differs from
// what its generator makes, and rewrites them all with
//
//	go test ./drivers/scanner -run TestEvdevTestdata -update-evdev
//
// A recording of a real scanner (evemu-record, or `kiosk scanner record`)
// goes in testdata/evdev with the same header, and no entry here.
var updateEvdev = flag.Bool("update-evdev", false, "rewrite testdata/evdev from its generators")

// evdevFile is one recording of testdata/evdev.
type evdevFile struct {
	name   string // file name, without .evemu
	about  string // what it covers
	layout string
	idle   time.Duration // 0: DefaultIdle
	want   []string      // the scans it decodes to, as show writes them
	events func(t testing.TB) []Event
}

// scanGap is the time between two keyboard reports of a scanner (USB
// keyboards are polled every 1–8 ms); pause, between two scans.
const (
	scanGap = 2 * time.Millisecond
	pause   = 100 * time.Millisecond
)

func evdevFiles() []evdevFile {
	var files []evdevFile
	for _, layout := range Layouts {
		code, url := base45Payload(layout), refURL(layout)
		files = append(files, evdevFile{
			name: layout,
			about: fmt.Sprintf("a scanner set up for the %s layout types a signed card's Base45 payload\n"+
				"(not a real card: every Base45 character, one space last) and a reference card's URL.", layout),
			layout: layout,
			want:   []string{code, url},
			events: func(t testing.TB) []Event {
				return join(pause, generate(t, code, layout), generate(t, url, layout))
			},
		})
	}
	code, url := base45Payload("caps"), refURL("caps")
	files = append(files, evdevFile{
		name: "capslock",
		about: "CapsLock and Shift. A scanner that knows CapsLock is on types the payload's\n" +
			"capitals without Shift; CapsLock goes off; the URL's capitals come with Shift\n" +
			"pressed and released around them, left or right; CapsLock goes on again and a\n" +
			"scanner that does not know it types \"Ab1:\": as on a PC, the letters come\n" +
			"out in the other case, the digit and the colon as they are.",
		layout: "us",
		want:   []string{code, url, "aB1:"},
		events: func(t testing.TB) []Event {
			capsLock := generateKeys(keyCapsLock)
			return join(pause,
				join(scanGap, capsLock, generate(t, swapCase(code), "us")),
				join(scanGap, capsLock, rightShiftAlternate(generate(t, url, "us"))),
				join(scanGap, capsLock, generate(t, "Ab1:", "us")))
		},
	})
	files = append(files, evdevFile{
		name: "keypad",
		about: "the keypad's keys, with the MSC_SCAN events a real keyboard sends before\n" +
			"each key, ended by keypad Enter; then a payload ended by Tab.",
		layout: "us",
		want:   []string{"0123456789./*-+", base45Payload("keypad")},
		events: func(t testing.TB) []Event {
			pad := withMscScan(generateKeys(keyKP0, keyKP1, keyKP2, keyKP3, keyKP4, keyKP5, keyKP6, keyKP7,
				keyKP8, keyKP9, keyKPDot, keyKPSlash, keyKPAsterisk, keyKPMinus, keyKPPlus, keyKPEnter))
			tab := join(scanGap, noEnter(generate(t, base45Payload("keypad"), "us")), generateKeys(keyTab))
			return join(pause, pad, tab)
		},
	})
	files = append(files, evdevFile{
		name: "autorepeat",
		about: "keys held long enough for the kernel to repeat them (value 2), a letter's\n" +
			"and Shift's: a repeat types nothing.",
		layout: "de",
		want:   []string{refURL("de")},
		events: func(t testing.TB) []Event { return withRepeats(generate(t, refURL("de"), "de")) },
	})
	files = append(files, evdevFile{
		name: "syn-dropped",
		about: "events lost (SYN_DROPPED): in the middle of a payload, which is rejected,\n" +
			"then scanned again whole; then at the start of a URL's second scan, which is\n" +
			"rejected too (its start is lost), then scanned again whole.",
		layout: "us",
		want:   []string{"!" + RejectLost, code, url, "!" + RejectLost, url},
		events: func(t testing.TB) []Event {
			cut, whole := generate(t, code, "us"), generate(t, code, "us")
			// Cut: the events of 20 key changes lost, the kernel
			// keeping the last one after SYN_DROPPED.
			cut = dropEvents(cut, len(cut)/4*2, 40)
			u := generate(t, url, "us")
			return join(pause, cut, whole, u, dropEvents(u, 0, 10), u)
		},
	})
	files = append(files, evdevFile{
		name: "idle",
		about: "no terminator: each scan ends after idle without a key; the second ends in\n" +
			"a space, which is the scan's.",
		layout: "us",
		idle:   50 * time.Millisecond,
		want:   []string{url, "SDC1:NCFOXN TS3 "},
		events: func(t testing.TB) []Event {
			return join(300*time.Millisecond, noEnter(generate(t, url, "us")), noEnter(generate(t, "SDC1:NCFOXN TS3 ", "us")))
		},
	})
	return files
}

// base45Payload is a card payload for the tests: every Base45 character,
// in an order of its own for each name, and a space last.
func base45Payload(name string) string {
	r := rand.New(rand.NewPCG(1, uint64(len(name))*uint64(name[0])))
	b := []byte(base45Chars)
	r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	return "SDC1:" + string(b) + " "
}

// refURL is a reference card's URL, with the letters layouts move.
func refURL(name string) string {
	return "https://docket.example.gov/c/Qz7_yW-m2K-" + name + "?lang=en&v=1#top~Zy"
}

// generate is Generate, scanGap apart.
func generate(t testing.TB, text, layout string) []Event {
	t.Helper()
	evs, err := Generate(text, layout, scanGap)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// generateKeys presses and releases each key, scanGap apart.
func generateKeys(codes ...uint16) []Event {
	g := generator{gap: scanGap}
	for _, c := range codes {
		g.tap(c)
	}
	return g.evs
}

// join returns the parts one after the other, each gap after the last
// event of the one before.
func join(gap time.Duration, parts ...[]Event) []Event {
	var evs []Event
	for _, p := range parts {
		shift := time.Duration(0)
		if len(evs) > 0 && len(p) > 0 {
			shift = evs[len(evs)-1].Time + gap - p[0].Time
		}
		for _, ev := range p {
			ev.Time += shift
			evs = append(evs, ev)
		}
	}
	return evs
}

// noEnter is evs without the Enter Generate ends them with.
func noEnter(evs []Event) []Event { return slices.Clone(evs[:len(evs)-4]) }

// swapCase is s with its letters' cases swapped.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// rightShiftAlternate makes every other Shift held the right one.
func rightShiftAlternate(evs []Event) []Event {
	evs = slices.Clone(evs)
	n := 0
	for i, ev := range evs {
		if ev.Type == evKey && ev.Code == keyLeftShift {
			if n%4 >= 2 { // a press and its release
				evs[i].Code = keyRightShift
			}
			n++
		}
	}
	return evs
}

// hidUsage is the HID usage of the keys withMscScan marks, as a USB
// keyboard reports it (HID Usage Tables, Keyboard/Keypad page 0x07).
var hidUsage = map[uint16]int32{
	keyKP1: 0x70059, keyKP2: 0x7005a, keyKP3: 0x7005b, keyKP4: 0x7005c, keyKP5: 0x7005d,
	keyKP6: 0x7005e, keyKP7: 0x7005f, keyKP8: 0x70060, keyKP9: 0x70061, keyKP0: 0x70062,
	keyKPDot: 0x70063, keyKPSlash: 0x70054, keyKPAsterisk: 0x70055, keyKPMinus: 0x70056,
	keyKPPlus: 0x70057, keyKPEnter: 0x70058,
}

// withMscScan puts before each key event an EV_MSC/MSC_SCAN with its HID
// usage, as the kernel's HID driver does.
func withMscScan(evs []Event) []Event {
	var out []Event
	for _, ev := range evs {
		if u, ok := hidUsage[ev.Code]; ok && ev.Type == evKey {
			out = append(out, Event{Time: ev.Time, Type: evMsc, Code: mscScan, Value: u})
		}
		out = append(out, ev)
	}
	return out
}

// withRepeats adds autorepeats, each reported: two after every fifth key
// pressed, and three of Shift after each time it is pressed.
func withRepeats(evs []Event) []Event {
	var out []Event
	n := 0
	for i, ev := range evs {
		out = append(out, ev)
		if ev.Type != evSyn || i == 0 || evs[i-1].Type != evKey || evs[i-1].Value != 1 {
			continue
		}
		key := evs[i-1]
		times := 0
		switch {
		case key.Code == keyLeftShift:
			times = 3
		case key.Code != keyEnter:
			if n++; n%5 == 0 {
				times = 2
			}
		}
		for range times {
			out = append(out,
				Event{Time: ev.Time, Type: evKey, Code: key.Code, Value: 2},
				Event{Time: ev.Time, Type: evSyn, Code: synReport})
		}
	}
	return out
}

// dropEvents returns evs with n events from the one at i lost, as the
// kernel's buffer overflows: SYN_DROPPED, then the last event it kept.
func dropEvents(evs []Event, i, n int) []Event {
	out := slices.Clone(evs[:i])
	out = append(out, Event{Time: evs[i+n].Time, Type: evSyn, Code: synDropped})
	return append(out, evs[i+n:]...)
}

// render is a recording's text: its header, then its events.
func (f evdevFile) render(t testing.TB) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s.evemu: %s\n", f.name, strings.ReplaceAll(f.about, "\n", "\n# "))
	b.WriteString("#\n# Made by TestEvdevTestdata (evemu_test.go), replayed by TestEvdevReplay.\n")
	fmt.Fprintf(&b, "# layout: %s\n", f.layout)
	if f.idle != 0 {
		fmt.Fprintf(&b, "# idle: %v\n", f.idle)
	}
	for _, w := range f.want {
		if reason, ok := strings.CutPrefix(w, "!"); ok {
			fmt.Fprintf(&b, "# want rejected: %s\n", reason)
		} else {
			fmt.Fprintf(&b, "# want: %s\n", strconv.Quote(w))
		}
	}
	if err := WriteEvemu(&b, f.events(t)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEvdevTestdata: each generated recording of testdata/evdev is what
// its generator makes (-update-evdev rewrites them).
func TestEvdevTestdata(t *testing.T) {
	for _, f := range evdevFiles() {
		path := filepath.Join("testdata", "evdev", f.name+".evemu")
		b := f.render(t)
		if *updateEvdev {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (make it with -update-evdev)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s is not what its generator makes; rewrite it with -update-evdev", path)
		}
	}
}

// recording is a recording of testdata/evdev, as its header says to replay it.
type recording struct {
	layout string
	idle   time.Duration
	want   []string
	events []Event
}

// readRecording reads a recording of testdata/evdev and its header.
func readRecording(path string) (recording, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return recording{}, err
	}
	rec := recording{idle: DefaultIdle}
	for i, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		switch k {
		case "layout":
			rec.layout = v
		case "idle":
			rec.idle, err = time.ParseDuration(v)
		case "want":
			v, err = strconv.Unquote(v)
			rec.want = append(rec.want, v)
		case "want rejected":
			rec.want = append(rec.want, "!"+v)
		}
		if err != nil {
			return recording{}, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
	}
	if rec.layout == "" || len(rec.want) == 0 {
		return recording{}, fmt.Errorf("%s: no '# layout:' or no '# want:' line", path)
	}
	rec.events, err = ReadEvemu(bytes.NewReader(b))
	if err != nil {
		return recording{}, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// Record: what a device sends comes out event by event, its times counted
// from the first, until ctx ends; a device that goes away ends it.
func TestRecord(t *testing.T) {
	want, err := Generate("SDC1:AB", "us", 3*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, record := range []int{16, 24} {
		path := filepath.Join(t.TempDir(), "event0")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		// Read-write: open at once, and a writer there before the
		// recorder looks (a FIFO without one reads as ended).
		w, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer w.Close()
			b := EncodeEvents(want, record)
			// Split mid-record: the recorder must put records together.
			w.Write(b[:record+5])
			time.Sleep(10 * time.Millisecond)
			w.Write(b[record+5:])
		}()
		var got []Event
		err = Record(context.Background(), Source{Kind: KindEvdev, Path: path, Record: record}, func(ev Event) error {
			got = append(got, ev)
			return nil
		})
		if !errors.Is(err, errHangup) {
			t.Errorf("record %d: Record() = %v; want a hang-up when the writer closes", record, err)
		}
		first := want[0].Time
		for i := range want {
			want[i].Time -= first
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: recorded %d events, want %d:\n%v\nwant\n%v", record, len(got), len(want), got, want)
		}
	}
	// Grabbed, as the daemon does: a FIFO cannot be.
	path := filepath.Join(t.TempDir(), "event1")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Record(context.Background(), Source{Kind: KindEvdev, Path: path, Grab: true}, nil); err == nil || !strings.Contains(err.Error(), "grab") {
		t.Errorf("Record(grab a FIFO) = %v; want the grab's error", err)
	}
}
