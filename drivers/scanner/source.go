package scanner

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupported is returned by Open for a valid source whose driver this
// build does not have. Every kind of source has its driver now, so Open
// returns it for none; it stays for code that tells "wrong" from "not in
// this build".
var ErrUnsupported = errors.New("not supported by this build")

// The kinds of source.
const (
	KindSim    = "sim"    // Sim: no hardware
	KindSerial = "serial" // a scanner in USB CDC-ACM mode: serial:PATH
	KindEvdev  = "evdev"  // a scanner in keyboard-wedge mode: evdev:PATH
)

// Layouts are the keyboard layouts an evdev source may name: a wedge
// scanner types key codes, and which character a code stands for depends
// on the layout the scanner was set up for.
var Layouts = []string{"us", "uk", "de", "fr"}

// Defaults and bounds of the options.
const (
	// DefaultIdle ends a code that came without a terminator. A scanner
	// types a whole code in one burst, its keys a few milliseconds apart
	// (USB polls every 1–8 ms), so this much silence means the code is
	// over.
	DefaultIdle = 50 * time.Millisecond
	// MaxIdle bounds idle: each code without a terminator waits this long
	// before the person sees anything, and keys further apart than this
	// are not one scan.
	MaxIdle = time.Second
)

// Source is a parsed scanner source.
type Source struct {
	Kind string // KindSim, KindSerial or KindEvdev
	Path string // serial, evdev: the device file, absolute

	// Layout is the keyboard layout the scanner types in (evdev): one of
	// Layouts, default "us".
	Layout string
	// Idle is how long without a byte ends a code that came without a
	// terminator (serial, evdev; default DefaultIdle, at most MaxIdle).
	Idle time.Duration
	// Grab takes the device for the kiosk alone (evdev, EVIOCGRAB; default
	// true), so what the scanner types reaches no other program: not the
	// browser, not a console. grab=false is for watching a scanner while
	// setting it up.
	Grab bool
	// Record is the size in bytes of one struct input_event as the kernel
	// hands it to this process (evdev): 24 for a 64-bit program, 16 for a
	// 32-bit one. The default is this program's.
	Record int
	// Dedup is how soon the same code read again is the same scan (serial,
	// evdev; default DefaultDedup, at most MaxDedup; dedup=0s turns it
	// off).
	Dedup time.Duration
	// Term holds the bytes that end a scan (serial; default CR and LF, so
	// CR, LF and CR LF all end one, and the empty scan between CR and LF
	// is no scan). term=none leaves only Idle to end a scan. A
	// terminator is never part of the scan.
	Term string
	// Baud is the line speed (serial; default DefaultBaud). A USB CDC-ACM
	// scanner ignores it; a scanner on an RS-232 adapter needs its own.
	Baud int
}

// DefaultBaud is the serial line speed scanners ship with.
const DefaultBaud = 9600

// MaxDedup bounds dedup: a person who scans a card again on purpose, after
// answering the screen, must not be ignored for long.
const MaxDedup = 10 * time.Second

// The terminators term= names.
var terms = map[string]string{
	"cr":   "\r",
	"lf":   "\n",
	"crlf": "\r\n",
	"tab":  "\t",
	"none": "",
}

// nativeRecord is struct input_event's size for this program: a struct
// timeval (two longs) and 8 bytes of type, code and value.
const nativeRecord = 2*strconv.IntSize/8 + 8

// options are the options each kind of source takes, in the order errors
// list them.
var options = map[string][]string{
	KindSim:    nil,
	KindSerial: {"idle", "term", "dedup", "baud"},
	KindEvdev:  {"layout", "idle", "grab", "record", "dedup"},
}

// ParseSource parses a scanner source: "sim", "serial:PATH" or
// "evdev:PATH", the last two with options as a query string
// ("evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16",
// "serial:/dev/kiosk-scanner?term=cr&baud=115200").
// An unknown option is an error, and so is an option given twice. Each
// error names the source and what is wrong with it.
func ParseSource(source string) (Source, error) {
	s, err := parseSource(source)
	if err != nil {
		return Source{}, fmt.Errorf("scanner source %q: %w", source, err)
	}
	return s, nil
}

func parseSource(source string) (Source, error) {
	kind, rest, hasPath := strings.Cut(source, ":")
	switch {
	case source == "":
		return Source{}, errors.New("empty; want sim, serial:PATH or evdev:PATH")
	case kind == KindSim && !hasPath:
		return Source{Kind: KindSim}, nil
	case kind == KindSim || strings.HasPrefix(kind, KindSim+"?"):
		return Source{}, errors.New("sim takes no path or options")
	case kind != KindSerial && kind != KindEvdev:
		return Source{}, fmt.Errorf("unknown kind %q; want sim, serial:PATH or evdev:PATH", kind)
	case !hasPath:
		return Source{}, fmt.Errorf("no device path; want %s:PATH", kind)
	}
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return Source{}, fmt.Errorf("no device path; want %s:PATH", kind)
	}
	if !strings.HasPrefix(path, "/") {
		return Source{}, fmt.Errorf("device path %q is not absolute", path)
	}
	s := Source{Kind: kind, Path: path, Idle: DefaultIdle, Dedup: DefaultDedup}
	switch kind {
	case KindEvdev:
		s.Layout, s.Grab, s.Record = "us", true, nativeRecord
	case KindSerial:
		s.Term, s.Baud = terms["crlf"], DefaultBaud
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return Source{}, fmt.Errorf("options %q: %w", query, err)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) { // the first error is the same on every run
		if !slices.Contains(options[kind], k) {
			return Source{}, fmt.Errorf("unknown option %q; %s takes %s", k, kind, strings.Join(options[kind], ", "))
		}
		if n := len(values[k]); n > 1 {
			return Source{}, fmt.Errorf("option %s given %d times", k, n)
		}
		if err := s.set(k, values[k][0]); err != nil {
			return Source{}, fmt.Errorf("option %s=%q: %w", k, values[k][0], err)
		}
	}
	return s, nil
}

// set sets the option named key, which kind takes, to v.
func (s *Source) set(key, v string) error {
	switch key {
	case "layout":
		if !slices.Contains(Layouts, v) {
			return fmt.Errorf("want one of %s", strings.Join(Layouts, ", "))
		}
		s.Layout = v
	case "idle":
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("want a duration, e.g. 50ms")
		}
		if d <= 0 || d > MaxIdle {
			return fmt.Errorf("want a duration above 0 and at most %v", MaxIdle)
		}
		s.Idle = d
	case "dedup":
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("want a duration, e.g. 1500ms")
		}
		if d < 0 || d > MaxDedup {
			return fmt.Errorf("want a duration from 0s to %v", MaxDedup)
		}
		s.Dedup = d
	case "term":
		t, ok := terms[v]
		if !ok {
			return errors.New("want cr, lf, crlf, tab or none")
		}
		s.Term = t
	case "baud":
		n, err := strconv.Atoi(v)
		if err != nil || n < 50 || n > 4_000_000 {
			return errors.New("want a line speed in bits per second, e.g. 9600")
		}
		s.Baud = n
	case "grab":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		s.Grab = b
	case "record":
		switch v {
		case "16":
			s.Record = 16
		case "24":
			s.Record = 24
		default:
			return errors.New("want 16 (a 32-bit program's input_event) or 24 (a 64-bit one's)")
		}
	}
	return nil
}

// Open returns the scanner source names: a *Sim for "sim", a *Serial for
// "serial:PATH", an *Evdev for "evdev:PATH". It touches no hardware: Run
// opens the device and owns it until it returns, so a kiosk whose scanner
// is unplugged still starts, shows its screen and its help button, and
// reports the scanner Absent or Disconnected until it is plugged in. Only a
// source that does not parse is an error.
func Open(source string) (Device, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindSerial:
		return NewSerial(s), nil
	case KindEvdev:
		return NewEvdev(s), nil
	default:
		return NewSim(), nil
	}
}
