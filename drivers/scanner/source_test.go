package scanner_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
)

// native is struct input_event's size for the test binary, the default
// record.
const native = 2*strconv.IntSize/8 + 8

func TestParseSource(t *testing.T) {
	evdev := func(path string) scanner.Source {
		return scanner.Source{Kind: "evdev", Path: path, Layout: "us", Idle: scanner.DefaultIdle, Grab: true, Record: native}
	}
	for _, tc := range []struct {
		source string
		want   scanner.Source
	}{
		{"sim", scanner.Source{Kind: "sim"}},
		{"serial:/dev/ttyACM0", scanner.Source{Kind: "serial", Path: "/dev/ttyACM0", Idle: scanner.DefaultIdle}},
		{"serial:/dev/ttyACM0?idle=120ms", scanner.Source{Kind: "serial", Path: "/dev/ttyACM0", Idle: 120 * time.Millisecond}},
		{"evdev:/dev/kiosk-scanner", evdev("/dev/kiosk-scanner")},
		{"evdev:/dev/kiosk-scanner?", evdev("/dev/kiosk-scanner")},
		{"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16",
			scanner.Source{Kind: "evdev", Path: "/dev/kiosk-scanner", Layout: "de", Idle: 80 * time.Millisecond, Record: 16}},
		{"evdev:/dev/input/by-id/usb-Scanner-event-kbd?record=24&layout=fr",
			scanner.Source{Kind: "evdev", Path: "/dev/input/by-id/usb-Scanner-event-kbd", Layout: "fr", Idle: scanner.DefaultIdle, Grab: true, Record: 24}},
		{"evdev:/dev/x?layout=uk", func() scanner.Source { s := evdev("/dev/x"); s.Layout = "uk"; return s }()},
		{"evdev:/dev/x?layout=us&grab=1", evdev("/dev/x")},
		{"evdev:/dev/x?idle=1s", func() scanner.Source { s := evdev("/dev/x"); s.Idle = time.Second; return s }()},
	} {
		got, err := scanner.ParseSource(tc.source)
		if err != nil || got != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tc.source, got, err, tc.want)
		}
	}
}

func TestParseSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   string // in the error, after the source it names
	}{
		{"", "empty; want sim, serial:PATH or evdev:PATH"},
		{"SIM", `unknown kind "SIM"`},
		{"bluetooth:x", `unknown kind "bluetooth"; want sim, serial:PATH or evdev:PATH`},
		{"/dev/ttyACM0", `unknown kind "/dev/ttyACM0"`},
		{"sim:", "sim takes no path or options"},
		{"sim:/dev/x", "sim takes no path or options"},
		{"sim?idle=1s", "sim takes no path or options"},
		{"serial", "no device path; want serial:PATH"},
		{"evdev", "no device path; want evdev:PATH"},
		{"evdev:", "no device path; want evdev:PATH"},
		{"evdev:?layout=de", "no device path; want evdev:PATH"},
		{"evdev:dev/input/event3", `device path "dev/input/event3" is not absolute`},
		{"serial:ttyACM0", `device path "ttyACM0" is not absolute`},
		{"evdev:/dev/x?layout=xx", `option layout="xx": want one of us, uk, de, fr`},
		{"evdev:/dev/x?layout=", `option layout="": want one of us, uk, de, fr`},
		{"evdev:/dev/x?layout=DE", `option layout="DE": want one of us, uk, de, fr`},
		{"evdev:/dev/x?idle=80", `option idle="80": want a duration, e.g. 50ms`},
		{"evdev:/dev/x?idle=0s", `option idle="0s": want a duration above 0 and at most 1s`},
		{"evdev:/dev/x?idle=-5ms", `option idle="-5ms": want a duration above 0 and at most 1s`},
		{"evdev:/dev/x?idle=2s", `option idle="2s": want a duration above 0 and at most 1s`},
		{"serial:/dev/ttyACM0?idle=soon", `option idle="soon": want a duration`},
		{"evdev:/dev/x?grab=maybe", `option grab="maybe": want true or false`},
		{"evdev:/dev/x?grab", `option grab="": want true or false`},
		{"evdev:/dev/x?record=32", `option record="32": want 16`},
		{"evdev:/dev/x?record=", `option record="": want 16`},
		{"evdev:/dev/x?speed=9600", `unknown option "speed"; evdev takes layout, idle, grab, record`},
		{"evdev:/dev/x?Layout=de", `unknown option "Layout"; evdev takes layout, idle, grab, record`},
		{"evdev:/dev/x?=1", `unknown option ""; evdev takes layout, idle, grab, record`},
		{"serial:/dev/ttyACM0?layout=de", `unknown option "layout"; serial takes idle`},
		{"serial:/dev/ttyACM0?grab=false", `unknown option "grab"; serial takes idle`},
		{"evdev:/dev/x?layout=de&layout=fr", "option layout given 2 times"},
		{"evdev:/dev/x?layout=de;grab=false", `options "layout=de;grab=false": invalid semicolon separator in query`},
		{"evdev:/dev/x?layout=%zz", `options "layout=%zz": invalid URL escape "%zz"`},
	} {
		got, err := scanner.ParseSource(tc.source)
		want := "scanner source " + strconv.Quote(tc.source) + ": " + tc.want
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseSource(%q) = %+v, %v; want an error %q", tc.source, got, err, want)
		}
	}
}

func TestOpen(t *testing.T) {
	d, err := scanner.Open("sim")
	if err != nil {
		t.Fatalf(`Open("sim") = %v`, err)
	}
	if _, ok := d.(*scanner.Sim); !ok {
		t.Errorf(`Open("sim") = %T; want *scanner.Sim`, d)
	}
	if got := d.State(); got != (scanner.State{Condition: scanner.OK}) {
		t.Errorf(`Open("sim").State() = %+v; want ok`, got)
	}

	for _, source := range []string{"serial:/dev/ttyACM0", "evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16"} {
		d, err := scanner.Open(source)
		want := "scanner source " + strconv.Quote(source) + ": not supported by this build"
		if d != nil || err == nil || err.Error() != want || !errors.Is(err, scanner.ErrUnsupported) {
			t.Errorf("Open(%q) = %v, %v; want ErrUnsupported: %q", source, d, err, want)
		}
	}

	// A source that does not parse says what is wrong, not that the build
	// lacks it.
	d, err = scanner.Open("evdev:/dev/x?layout=xx")
	if d != nil || err == nil || errors.Is(err, scanner.ErrUnsupported) || !strings.Contains(err.Error(), "layout") {
		t.Errorf(`Open("evdev:/dev/x?layout=xx") = %v, %v; want an error about the layout`, d, err)
	}
}
