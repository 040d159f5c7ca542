package printer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The kinds of source.
const (
	KindNone   = "none"   // no printer: "" or "none"
	KindSim    = "sim"    // Sim: no hardware
	KindLP     = "lp"     // a USB printer-class device: lp:PATH
	KindSerial = "serial" // a serial line: serial:PATH
)

// Source is a parsed printer source.
type Source struct {
	Kind    string  // one of the Kind constants
	Path    string  // lp, serial: the device file, absolute
	Options Options // sim, lp, serial: the layout (columns=, codepages=)
	Line    Line    // serial: speed and flow control (baud=, flow=)
}

// options are the options each kind of source takes, in the order errors
// list them.
var options = map[string][]string{
	KindNone:   nil,
	KindSim:    {"columns", "codepages"},
	KindLP:     {"columns", "codepages"},
	KindSerial: {"columns", "codepages", "baud", "flow"},
}

// ParseSource parses a printer source: "" or "none", "sim", "lp:PATH" or
// "serial:PATH", the last three with options as a query string:
//
//   - columns=42|32|48: characters a line (Options.Columns);
//   - codepages=NAME[:N],...: the printer's code pages in order of
//     preference, pc858, pc866 and wpc1251, each with the n of its ESC t
//     if the printer numbers it otherwise than Epson
//     ("codepages=pc858,wpc1251:49");
//   - baud=9600 (serial): one of 2400, 4800, 9600, 19200, 38400, 57600,
//     115200;
//   - flow=none|xonxoff|rtscts (serial): the printer's flow control.
//
// For example "lp:/dev/usb/lp0?columns=32" or
// "serial:/dev/ttyUSB0?baud=19200&flow=rtscts". An unknown option is an
// error, and so is an option given twice. Each error names the source and
// what is wrong with it.
func ParseSource(source string) (Source, error) {
	s, err := parseSource(source)
	if err != nil {
		return Source{}, fmt.Errorf("printer source %q: %w", source, err)
	}
	return s, nil
}

func parseSource(source string) (Source, error) {
	if source == "" || source == KindNone {
		return Source{Kind: KindNone}, nil
	}
	head, query, _ := strings.Cut(source, "?")
	kind, path, hasPath := strings.Cut(head, ":")
	switch {
	case kind == KindNone:
		return Source{}, errors.New("none takes no path or options")
	case kind == KindSim && hasPath:
		return Source{}, errors.New("sim takes no path")
	case kind == KindSim:
	case kind != KindLP && kind != KindSerial:
		return Source{}, fmt.Errorf("unknown kind %q; want none, sim, lp:PATH or serial:PATH", kind)
	case path == "":
		return Source{}, fmt.Errorf("no device path; want %s:PATH", kind)
	case !strings.HasPrefix(path, "/"):
		return Source{}, fmt.Errorf("device path %q is not absolute", path)
	}
	s := Source{Kind: kind, Path: path}
	if kind == KindSerial {
		s.Line = Line{Baud: DefaultBaud, Flow: FlowNone}
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

// set sets the option named key, which s's kind takes, to v.
func (s *Source) set(key, v string) error {
	switch key {
	case "columns":
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(columnChoices, n) {
			return errors.New("want 32, 42 or 48")
		}
		s.Options.Columns = n
	case "codepages":
		pages, err := parseCodePages(v)
		if err != nil {
			return err
		}
		s.Options.CodePages = pages
	case "baud":
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(bauds, n) {
			return errors.New("want one of 2400, 4800, 9600, 19200, 38400, 57600, 115200")
		}
		s.Line.Baud = n
	case "flow":
		f := Flow(v)
		if f != FlowNone && f != FlowXonXoff && f != FlowRTSCTS {
			return errors.New("want none, xonxoff or rtscts")
		}
		s.Line.Flow = f
	}
	return nil
}

// parseCodePages parses "pc858,wpc1251:49".
func parseCodePages(v string) ([]CodePage, error) {
	var pages []CodePage
	for item := range strings.SplitSeq(v, ",") {
		name, num, hasNum := strings.Cut(item, ":")
		c, ok := codePages[name]
		if !ok {
			return nil, fmt.Errorf("code page %q: want pc858, pc866 or wpc1251", name)
		}
		if slices.ContainsFunc(pages, func(p CodePage) bool { return p.Name == name }) {
			return nil, fmt.Errorf("code page %s named twice", name)
		}
		if hasNum {
			n, err := strconv.ParseUint(num, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("code page %s:%s: want the n of ESC t n, 0 to 255", name, num)
			}
			c.Select = byte(n)
		}
		pages = append(pages, c)
	}
	return pages, nil
}

// Open returns the printer source names. It touches no hardware: Print and
// Run open the device, so a kiosk whose printer is off or unplugged still
// starts, takes check-ins and reports the printer Absent. "" and "none"
// give None, a printer that is not there: its Print returns ErrNoPrinter.
func Open(source string) (Device, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindSim:
		return NewSim(s.Options), nil
	case KindLP:
		return NewLP(s.Path, s.Options), nil
	case KindSerial:
		return NewSerial(s.Path, s.Line, s.Options), nil
	}
	return None{}, nil
}

// None is the printer of a kiosk that has none: rather than a nil Device,
// so the kiosk needs no special case, and its status says "absent".
type None struct{}

var _ Watcher = None{}

// Print prints nothing and returns ErrNoPrinter: a receipt that was not
// printed is never reported as printed.
func (None) Print(context.Context, Receipt) error { return ErrNoPrinter }

// State is Absent.
func (None) State() State { return State{Condition: Absent, Reason: "no printer configured"} }

// CanRender is false: nothing prints.
func (None) CanRender(string) bool { return false }

// Run waits for ctx to end.
func (None) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
