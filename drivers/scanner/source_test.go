package scanner_test

import (
	"errors"
	"fmt"
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
		return scanner.Source{Kind: "evdev", Path: path, Layout: "us", Idle: scanner.DefaultIdle, Grab: true, Record: native,
			Dedup: scanner.DefaultDedup}
	}
	serial := func(path string) scanner.Source {
		return scanner.Source{Kind: "serial", Path: path, Idle: scanner.DefaultIdle, Dedup: scanner.DefaultDedup,
			Term: "\r\n", Baud: 9600}
	}
	// with returns s changed by set.
	with := func(s scanner.Source, set func(*scanner.Source)) scanner.Source { set(&s); return s }
	for _, tc := range []struct {
		source string
		want   scanner.Source
	}{
		{"sim", scanner.Source{Kind: "sim"}},
		{"serial:/dev/ttyACM0", serial("/dev/ttyACM0")},
		{"serial:/dev/ttyACM0?", serial("/dev/ttyACM0")},
		{"serial:/dev/ttyACM0?idle=120ms", with(serial("/dev/ttyACM0"), func(s *scanner.Source) { s.Idle = 120 * time.Millisecond })},
		{"serial:/dev/x?term=cr", with(serial("/dev/x"), func(s *scanner.Source) { s.Term = "\r" })},
		{"serial:/dev/x?term=lf", with(serial("/dev/x"), func(s *scanner.Source) { s.Term = "\n" })},
		{"serial:/dev/x?term=crlf", serial("/dev/x")},
		{"serial:/dev/x?term=tab", with(serial("/dev/x"), func(s *scanner.Source) { s.Term = "\t" })},
		{"serial:/dev/x?term=none", with(serial("/dev/x"), func(s *scanner.Source) { s.Term = "" })},
		{"serial:/dev/x?dedup=0s", with(serial("/dev/x"), func(s *scanner.Source) { s.Dedup = 0 })},
		{"serial:/dev/x?dedup=0", with(serial("/dev/x"), func(s *scanner.Source) { s.Dedup = 0 })},
		{"serial:/dev/x?dedup=10s", with(serial("/dev/x"), func(s *scanner.Source) { s.Dedup = 10 * time.Second })},
		{"serial:/dev/x?baud=115200", with(serial("/dev/x"), func(s *scanner.Source) { s.Baud = 115200 })},
		{"serial:/dev/x?baud=50", with(serial("/dev/x"), func(s *scanner.Source) { s.Baud = 50 })},
		{"serial:/dev/x?baud=4000000", with(serial("/dev/x"), func(s *scanner.Source) { s.Baud = 4_000_000 })},
		{"serial:/dev/kiosk-scanner?term=none&idle=5ms&dedup=2s&baud=19200", scanner.Source{Kind: "serial",
			Path: "/dev/kiosk-scanner", Idle: 5 * time.Millisecond, Dedup: 2 * time.Second, Baud: 19200}},
		{"evdev:/dev/kiosk-scanner", evdev("/dev/kiosk-scanner")},
		{"evdev:/dev/kiosk-scanner?", evdev("/dev/kiosk-scanner")},
		{"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16",
			scanner.Source{Kind: "evdev", Path: "/dev/kiosk-scanner", Layout: "de", Idle: 80 * time.Millisecond, Record: 16,
				Dedup: scanner.DefaultDedup}},
		{"evdev:/dev/input/by-id/usb-Scanner-event-kbd?record=24&layout=fr",
			with(evdev("/dev/input/by-id/usb-Scanner-event-kbd"), func(s *scanner.Source) { s.Layout, s.Record = "fr", 24 })},
		{"evdev:/dev/x?layout=uk", with(evdev("/dev/x"), func(s *scanner.Source) { s.Layout = "uk" })},
		{"evdev:/dev/x?layout=us&grab=1", evdev("/dev/x")},
		{"evdev:/dev/x?idle=1s", with(evdev("/dev/x"), func(s *scanner.Source) { s.Idle = time.Second })},
		{"evdev:/dev/x?dedup=750ms", with(evdev("/dev/x"), func(s *scanner.Source) { s.Dedup = 750 * time.Millisecond })},
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
		{"evdev:/dev/x?speed=9600", `unknown option "speed"; evdev takes layout, idle, grab, record, dedup`},
		{"evdev:/dev/x?Layout=de", `unknown option "Layout"; evdev takes layout, idle, grab, record, dedup`},
		{"evdev:/dev/x?=1", `unknown option ""; evdev takes layout, idle, grab, record, dedup`},
		{"evdev:/dev/x?term=cr", `unknown option "term"; evdev takes layout, idle, grab, record, dedup`},
		{"evdev:/dev/x?baud=9600", `unknown option "baud"; evdev takes layout, idle, grab, record, dedup`},
		{"serial:/dev/ttyACM0?layout=de", `unknown option "layout"; serial takes idle, term, dedup, baud`},
		{"serial:/dev/ttyACM0?grab=false", `unknown option "grab"; serial takes idle, term, dedup, baud`},
		{"serial:/dev/ttyACM0?speed=9600", `unknown option "speed"; serial takes idle, term, dedup, baud`},
		{"serial:/dev/x?term=CR", `option term="CR": want cr, lf, crlf, tab or none`},
		{"serial:/dev/x?term=", `option term="": want cr, lf, crlf, tab or none`},
		{"serial:/dev/x?term=%0D", `option term="\r": want cr, lf, crlf, tab or none`},
		{"serial:/dev/x?term=cr&term=lf", "option term given 2 times"},
		{"serial:/dev/x?dedup=1", `option dedup="1": want a duration, e.g. 1500ms`},
		{"serial:/dev/x?dedup=-1s", `option dedup="-1s": want a duration from 0s to 10s`},
		{"serial:/dev/x?dedup=11s", `option dedup="11s": want a duration from 0s to 10s`},
		{"evdev:/dev/x?dedup=forever", `option dedup="forever": want a duration, e.g. 1500ms`},
		{"serial:/dev/x?baud=fast", `option baud="fast": want a line speed in bits per second, e.g. 9600`},
		{"serial:/dev/x?baud=", `option baud="": want a line speed`},
		{"serial:/dev/x?baud=49", `option baud="49": want a line speed`},
		{"serial:/dev/x?baud=4000001", `option baud="4000001": want a line speed`},
		{"serial:/dev/x?baud=-9600", `option baud="-9600": want a line speed`},
		{"serial:/dev/x?baud=9600.5", `option baud="9600.5": want a line speed`},
		{"serial:/dev/x?idle=0s", `option idle="0s": want a duration above 0 and at most 1s`},
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

	// A real scanner's source opens nothing: the device need not exist,
	// and is Absent until Run finds it.
	for _, tc := range []struct {
		source string
		want   string // the type
	}{
		{"serial:/dev/nonexistent-ttyACM9", "*scanner.Serial"},
		{"serial:/dev/kiosk-scanner?term=cr&idle=80ms&dedup=0s&baud=115200", "*scanner.Serial"},
		{"evdev:/dev/nonexistent-event99", "*scanner.Evdev"},
		{"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16", "*scanner.Evdev"},
	} {
		d, err := scanner.Open(tc.source)
		if err != nil {
			t.Errorf("Open(%q) = %v; want a device", tc.source, err)
			continue
		}
		if got := fmt.Sprintf("%T", d); got != tc.want {
			t.Errorf("Open(%q) = %s; want %s", tc.source, got, tc.want)
		}
		if got := d.State(); got.Condition != scanner.Absent {
			t.Errorf("Open(%q).State() = %+v; want absent before Run", tc.source, got)
		}
	}

	// A source that does not parse says what is wrong; no valid source is
	// unsupported.
	d, err = scanner.Open("evdev:/dev/x?layout=xx")
	if d != nil || err == nil || errors.Is(err, scanner.ErrUnsupported) || !strings.Contains(err.Error(), "layout") {
		t.Errorf(`Open("evdev:/dev/x?layout=xx") = %v, %v; want an error about the layout`, d, err)
	}
	d, err = scanner.Open("serial:/dev/x?baud=fast")
	if d != nil || err == nil || !strings.Contains(err.Error(), "baud") {
		t.Errorf(`Open("serial:/dev/x?baud=fast") = %v, %v; want an error about the baud`, d, err)
	}
}
